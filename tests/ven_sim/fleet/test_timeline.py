"""A fleet's timeline rows (ven_sim/fleet/timeline.py), from a runner's metrics."""

from __future__ import annotations

import pytest

from ven_sim.fleet.metrics import FleetMetrics
from ven_sim.fleet.timeline import interval_mark, timeline_row


class _Runner:
    """What a row reads of a `FleetRunner`: its metrics, no probe, the open interval."""

    def __init__(self) -> None:
        self.metrics = FleetMetrics()
        self.probe = None
        self.interval_mark = interval_mark()
        self.closed = (0.0, 0)

    def run_on(self, seconds: float, reports_per_s: float) -> None:
        """As if `seconds` more of the run had gone by, sending telemetry at that rate."""
        self.metrics.t0 -= seconds
        self.metrics.telemetry_published += round(seconds * reports_per_s)


def test_the_rate_after_a_close_counts_from_its_unrounded_time() -> None:
    """The first row after a close covers about a second: measured from the close's t_s
    rounded to 0.1 s, its rate was off by up to 5 % (here 1,000/s read as 961.5)."""
    runner = _Runner()
    runner.run_on(10.04, 1000.0)
    closing = timeline_row(runner, "2026-12-03T18:00:00Z", close=True)
    assert closing["t_s"] == pytest.approx(10.0, abs=0.05)  # the row's own, rounded
    assert closing["telemetry_per_s"] == pytest.approx(1000.0, rel=0.005)

    runner.run_on(1.0, 1000.0)
    row = timeline_row(runner, "2026-12-03T18:00:10Z", close=False)
    assert row["telemetry_per_s"] == pytest.approx(1000.0, rel=0.005)
    assert "histograms" not in row  # only a closing row carries them


def test_a_close_starts_the_next_interval_s_figures() -> None:
    runner = _Runner()
    runner.run_on(10.0, 500.0)
    timeline_row(runner, "2026-12-03T18:00:00Z", close=True)
    mark, closed = runner.interval_mark, runner.closed
    runner.run_on(2.0, 2000.0)
    row = timeline_row(runner, "2026-12-03T18:00:10Z", close=False)
    assert row["telemetry_per_s"] == pytest.approx(2000.0, rel=0.005)  # not the 10 s before
    assert (runner.interval_mark, runner.closed) == (mark, closed)  # an open row moves neither
