"""The runner's clock: batched quiet intervals give the same results as one tick each."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.scenario_loader import load_scenario
from ven_sim import runner

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_batches_never_cross_an_event_boundary() -> None:
    scenario = load_scenario(SCENARIOS / "heat_wave.yaml")
    boundaries = {e.start_s for e in scenario.events} | {e.end_s for e in scenario.events}
    plan = runner.tick_plan(scenario, batch=12)
    covered = [t for tick in plan if tick.report for t in (*tick.earlier, tick.t)]
    assert covered == [t for t, report in runner.tick_times(scenario) if report]
    for tick in plan:
        assert not boundaries & set(tick.earlier)  # a boundary can only end a batch
        assert len(tick.earlier) < 12


def test_batched_run_is_identical_to_one_tick_per_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = load_scenario(SCENARIOS / "heat_wave.yaml").with_overrides(vens=12)
    results = []
    for batch in (1, 12):
        monkeypatch.setattr(runner, "BATCH_INTERVALS", batch)
        result = runner.run_scenario(scenario)
        result.summary.pop("wall_seconds")
        results.append((result.summary, result.log.sorted_rows()))
    assert results[0] == results[1]
