"""The runner's clock: batched quiet intervals give the same results as one tick each."""

from __future__ import annotations

import dataclasses
import gc
from pathlib import Path

import pytest

from sim.scenario import MvSpec
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


def test_warmup_days_feed_prior_day_baselines_and_stay_out_of_the_outputs() -> None:
    base = load_scenario(SCENARIOS / "peak_event.yaml").with_overrides(vens=3)
    warm = dataclasses.replace(base, mv=MvSpec("caiso_10in10", warmup_days=12))
    plain, warmed = runner.run_scenario(base), runner.run_scenario(warm)
    (cold_event,), (event,) = plain.summary["events"], warmed.summary["events"]
    assert cold_event["baselines"]["caiso_10in10"]["baseline_kw"] is None  # no prior days
    assert event["settlement"] == "caiso_10in10"
    assert event["baseline_kw"] == event["baselines"]["caiso_10in10"]["baseline_kw"] is not None
    assert event["baselines"]["pjm_hi4of5"]["baseline_kw"] is not None
    assert (event["start"], event["start_s"]) == (cold_event["start"], cold_event["start_s"])
    rows = warmed.log.sorted_rows()
    assert len(rows) == len(plain.log.rows) and rows[0].t1 == 300.0
    assert warmed.summary["simulated_seconds"] == 86400 and warmed.summary["warmup_days"] == 12
    # The error of every method is measured against the same counterfactual.
    assert event["baselines"]["control_group"]["baseline_kw"] is None  # no control group
    for figures in event["baselines"].values():
        if figures["baseline_kw"] is None:
            continue
        assert figures["error_kw"] == pytest.approx(
            figures["baseline_kw"] - event["counterfactual_kw"], abs=2e-3
        )


def test_control_group_is_never_dispatched_and_does_not_depend_on_fleet_size() -> None:
    base = load_scenario(SCENARIOS / "peak_event.yaml")
    scenario = dataclasses.replace(
        base.with_overrides(vens=8), mv=MvSpec("control_group", control_share=0.3)
    )
    ids = [f"ven-x-{i:04d}" for i in range(200)]
    held = runner.control_group(scenario, ids)
    assert 30 <= len(held) <= 90  # about 30 % of 200
    assert runner.control_group(scenario, ids[:50]) == held & set(ids[:50])
    result = runner.run_scenario(scenario)
    (window,), (event,) = result.windows, result.summary["events"]
    assert window.control and not set(window.control) & set(window.vens)
    for row in result.log.rows:
        if row.ven_id in window.control:
            assert row.event_id is None and row.counterfactual_kw is None
    assert event["settlement"] == "control_group"
    assert event["baseline_kw"] == event["baselines"]["control_group"]["baseline_kw"] is not None


def test_collector_is_paused_only_while_a_run_at_speed_max_computes() -> None:
    scenario = load_scenario(SCENARIOS / "peak_event.yaml").with_overrides(vens=2)
    seen: list[bool] = []
    runner.run_scenario(scenario, progress=lambda _t: seen.append(gc.isenabled()))
    assert seen and not any(seen)  # paused throughout the run
    assert gc.isenabled()  # and on again after it
    with pytest.raises(RuntimeError), runner._collector_paused(True):
        raise RuntimeError("a run that fails")
    assert gc.isenabled()  # a failed run turns it back on too
    gc.disable()  # a caller that turned it off keeps it off
    try:
        with runner._collector_paused(True):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
