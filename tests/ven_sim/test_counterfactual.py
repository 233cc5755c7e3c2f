"""The recorded counterfactual is exact: it equals a run with the event removed.

Same scenario, same seed, the event left out: every VEN's power in every interval of the
event's horizon (from its start to the next event that VEN takes) must match the twins'.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sim.counterfactual import horizons
from sim.scenario import EventSpec, Scenario
from sim.scenario_loader import load_scenario
from ven_sim.runner import RunResult, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _without(scenario: Scenario, event_id: str) -> Scenario:
    return dataclasses.replace(
        scenario, events=tuple(e for e in scenario.events if e.id != event_id)
    )


def _check_exact(scenario: Scenario, run: RunResult, event_id: str) -> int:
    """Compare one event's counterfactual with the run without it; returns intervals compared."""
    without = run_scenario(_without(scenario, event_id))
    removed = {(r.ven_id, r.t1): r.power_kw for r in without.log.rows}
    comfort = {
        (r.ven_id, r.t1): (r.comfort_minutes, r.warm, r.cold_water[0]) for r in without.log.rows
    }
    windows = run.windows
    window = next(w for w in windows if w.id == event_id)
    ends = horizons(window, windows)
    compared = 0
    for row in run.log.rows:
        if row.ven_id not in ends or not window.start <= row.t0 < ends[row.ven_id]:
            continue
        assert row.counterfactual_kw == pytest.approx(removed[(row.ven_id, row.t1)], abs=1e-9), (
            event_id, row.ven_id, row.t1)
        minutes, warm, cold = comfort[(row.ven_id, row.t1)]
        assert row.counterfactual_comfort_minutes == pytest.approx(minutes, abs=1e-9)
        assert row.counterfactual_warm == pytest.approx(warm, abs=1e-9)
        assert row.cold_water[1] == pytest.approx(cold, abs=1e-9)
        compared += 1
    # Before the event both runs are the same run.
    for row in run.log.rows:
        if row.t1 <= window.start:
            assert row.power_kw == removed[(row.ven_id, row.t1)]
    return compared


def test_peak_event_counterfactual_is_the_run_without_the_event() -> None:
    scenario = load_scenario(SCENARIOS / "peak_event.yaml").with_overrides(vens=8)
    run = run_scenario(scenario)
    # 15:00 to midnight, 8 VENs, 5-minute intervals.
    assert _check_exact(scenario, run, "evt-peak-1") == 8 * 108
    event = run.summary["events"][0]
    assert event["counterfactual_exact"] is True
    assert event["true_delivered_kw"] != pytest.approx(event["delivered_kw"], abs=0.5)
    # The day's peak without the event is the peak of the run without it (a one-day run).
    without = run_scenario(_without(scenario, "evt-peak-1"))
    assert event["counterfactual_day_peak_kw"] == without.summary["fleet"]["peak_kw"]
    assert event["event_day_peak_kw"] == run.summary["fleet"]["peak_kw"]
    assert event["event_day_peak_kw"] != event["counterfactual_day_peak_kw"]


def test_each_day_peak_without_the_event_is_that_days_peak_without_it() -> None:
    scenario = load_scenario(SCENARIOS / "heat_wave.yaml").with_overrides(vens=6)
    run = run_scenario(scenario)
    for event in run.summary["events"]:
        without = run_scenario(_without(scenario, event["id"]))
        day0 = event["start_s"] - event["start_s"] % 86400.0
        peak = fleet_peak(without.log.rows, day0, day0 + 86400.0)
        assert event["counterfactual_day_peak_kw"] == pytest.approx(peak, abs=1e-3), event["id"]
        assert event["event_day_peak_kw"] == pytest.approx(
            fleet_peak(run.log.rows, day0, day0 + 86400.0), abs=1e-3)


def fleet_peak(rows, lo: float, hi: float) -> float:
    sums: dict[float, float] = {}
    for r in rows:
        if r.t0 >= lo and r.t1 <= hi:
            sums[r.t1] = sums.get(r.t1, 0.0) + r.power_kw
    return max(sums.values())


def test_each_event_of_a_multi_event_run_is_exact() -> None:
    scenario = load_scenario(SCENARIOS / "heat_wave.yaml").with_overrides(vens=6)
    run = run_scenario(scenario)
    for event in scenario.events:
        assert _check_exact(scenario, run, event.id) > 0


def test_back_to_back_second_event_keeps_the_first_ones_restores() -> None:
    # The second event starts as the first ends: the first's staggered restores are still
    # due, and the second's twins must make them on time, as the run without it does.
    base = load_scenario(SCENARIOS / "peak_event.yaml").with_overrides(vens=6)
    events = (
        EventSpec("first", 15 * 3600.0, 3600.0, 10.0, None, "all"),
        EventSpec("second", 16 * 3600.0, 3600.0, 10.0, None, "all"),
    )
    scenario = dataclasses.replace(base, events=events)
    run = run_scenario(scenario)
    assert _check_exact(scenario, run, "second") == 6 * 96
    assert _check_exact(scenario, run, "first") == 6 * 12  # up to where the second starts


def test_cold_water_minutes_are_the_water_heaters_and_net_of_the_run_without_the_event() -> None:
    # Small tanks, heavy draws and a 4-hour evening event: some showers run lukewarm.
    base = load_scenario(SCENARIOS / "peak_event.yaml")
    group = base.fleet[0]
    params = {**group.params, "water_heater_liters": 80.0, "hot_water_liters_per_day": 600.0}
    scenario = dataclasses.replace(
        base,
        fleet=(dataclasses.replace(group, params=params, count=4),),
        events=(EventSpec("wh", 17 * 3600.0, 4 * 3600.0, 40.0, None, "all"),),
    )
    run = run_scenario(scenario)
    assert _check_exact(scenario, run, "wh") > 0  # twins' cold-water minutes included
    event = run.summary["events"][0]
    without = run_scenario(_without(scenario, "wh"))
    end = 21 * 3600.0 + 3600.0  # the event and the hour after

    def cold(result: RunResult) -> float:
        return sum(r.cold_water[0] for r in result.log.rows if 17 * 3600.0 <= r.t0 < end)

    assert event["hot_water_minutes"] == pytest.approx(cold(run), abs=0.05)
    assert event["hot_water_minutes"] > 0
    assert event["net_hot_water_minutes"] == pytest.approx(cold(run) - cold(without), abs=0.05)
    assert 0 < event["vens_hot_water_affected"] <= 4
    # Cold-water minutes are the water heaters' share of the models' own comfort minutes.
    assert event["hot_water_minutes"] <= event["comfort_violation_minutes"]
