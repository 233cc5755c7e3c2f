"""timeline.png: every line drawn is a column of timeline.csv, each interval's value across
its interval."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ven_sim.fleet.results import TIMELINE_FIELDS
from ven_sim.fleet.timeline_plot import (
    LATENCY_COLUMNS,
    interval_steps,
    read_timeline,
    write_timeline_png,
)

ROWS = [  # a ramp, then steady; connect p99 known from the start, round trips later
    {"t_s": 10.0, "connected": 400, "telemetry_per_s": 12.5, "connect_p99_ms": 31.0,
     "puback_p99_ms": 2.0, "telemetry_latency_p99_ms": "", "command_rtt_p99_ms": "",
     "machine_busy_percent": 97.5},
    {"t_s": 20.0, "connected": 900, "telemetry_per_s": 150.0, "connect_p99_ms": 44.0,
     "puback_p99_ms": 2.5, "telemetry_latency_p99_ms": 7.0, "command_rtt_p99_ms": 12.0,
     "machine_busy_percent": 60.0},
    {"t_s": 27.3, "connected": 1000, "telemetry_per_s": 201.0, "connect_p99_ms": 45.0,
     "puback_p99_ms": 2.4, "telemetry_latency_p99_ms": 6.5, "command_rtt_p99_ms": 15.0,
     "machine_busy_percent": ""},
]


def write_csv(path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMELINE_FIELDS, restval="0")
        writer.writeheader()
        writer.writerows(ROWS)


def test_the_plotted_series_are_the_csv_columns(tmp_path: Path) -> None:
    write_csv(tmp_path / "timeline.csv")
    png = tmp_path / "timeline.png"
    drawn = write_timeline_png(tmp_path / "timeline.csv", png, title="test", target=1000)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    t = [10.0, 20.0, 27.3]
    assert drawn["connected"] == (t, [400.0, 900.0, 1000.0])  # a count at each row's instant
    # A rate or a p99 is its interval's: flat from the row before (the run's start) to its row.
    steps = [0.0, 10.0, 10.0, 20.0, 20.0, 27.3]
    assert drawn["telemetry_per_s"] == (steps, [12.5, 12.5, 150.0, 150.0, 201.0, 201.0])
    assert drawn["connect_p99_ms"] == (steps, [31.0, 31.0, 44.0, 44.0, 45.0, 45.0])
    # Empty cells (no samples yet) are left out, not drawn as zero.
    assert drawn["command_rtt_p99_ms"] == ([10.0, 20.0, 20.0, 27.3], [12.0, 12.0, 15.0, 15.0])
    # How busy the machine was, per interval too (the last row had no reading).
    assert drawn["machine_busy_percent"] == ([0.0, 10.0, 10.0, 20.0], [97.5, 97.5, 60.0, 60.0])
    assert set(drawn) == {"connected", "telemetry_per_s", *LATENCY_COLUMNS,
                          "machine_busy_percent"}
    assert read_timeline(tmp_path / "timeline.csv")["telemetry_latency_p99_ms"][0] is None


def test_an_interval_without_samples_breaks_the_line_instead_of_bridging_it() -> None:
    xs, ys = interval_steps([10.0, 20.0, 30.0, 40.0], [5.0, None, None, 7.0])
    assert xs == [0.0, 10.0, 30.0, 30.0, 40.0]
    assert ys[:2] == [5.0, 5.0] and math.isnan(ys[2]) and ys[3:] == [7.0, 7.0]
    assert interval_steps([10.0], [None]) == ([], [])
    assert interval_steps([10.0, 20.0], [3.0, None]) == ([0.0, 10.0], [3.0, 3.0])  # no tail
