"""Occupants in a run: off by default, and when on, households opt out and M&V counts them."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from sim.occupants import OptOutSpec
from sim.scenario import Scenario, ScenarioError
from sim.scenario_loader import load_scenario
from tests.ven_sim.test_counterfactual import _check_exact
from ven_sim.runner import run_scenario
from ven_sim.wire import open_wire

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
START = 15 * 3600.0  # peak_event's event


def _peak(rate: float | None, **weather: float):
    base = load_scenario(SCENARIOS / "peak_event.yaml")
    opt_out = None if rate is None else OptOutSpec(rate)
    return dataclasses.replace(
        base, opt_out=opt_out, weather=dataclasses.replace(base.weather, **weather)
    )


def _ending_with_the_event(scenario: Scenario) -> Scenario:
    """The day cut at 17:00, when the event ends: for tests about who opts out, and when
    (households opt out only during an event)."""
    return dataclasses.replace(scenario, duration_s=START + 2 * 3600.0)


def test_off_changes_nothing() -> None:
    # Nobody opting out (a rate of 0 still draws) is the run without occupants, row for row.
    off, zero = run_scenario(_peak(None)), run_scenario(_peak(0.0))
    assert off.log.sorted_rows() == zero.log.sorted_rows()  # rows are NamedTuples: field by field
    assert "opt_outs" not in off.summary["events"][0]
    event = dict(zero.summary["events"][0])
    assert event.pop("opt_outs")["count"] == 0
    assert event == off.summary["events"][0]


def test_opt_outs_are_counted_and_restore_to_the_counterfactual() -> None:
    run = run_scenario(_peak(2.0))
    event = run.summary["events"][0]
    outs = run.log.opt_outs
    assert event["opt_outs"]["count"] == len(outs) >= 6
    assert event["opt_outs"]["share"] == pytest.approx(len(outs) / 24, abs=1e-3)
    assert sorted(m for _, _, m in outs) == event["opt_outs"]["minutes_into_event"]
    assert all(0 < m < 120 for _, _, m in outs)
    left = {ven: START + m * 60.0 for ven, _, m in outs}
    after = [r for r in run.log.rows if r.ven_id in left and r.t0 >= left[r.ven_id] + 300.0]
    # Out of the event: nothing curtailed, and the homes draw what they would have without it.
    assert after and all(r.event_id is None and r.shed_kw == 0.0 for r in after)
    late = [r for r in after if r.t0 >= START + 4 * 3600.0]
    assert sum(r.power_kw for r in late) == pytest.approx(
        sum(r.counterfactual_kw or r.power_kw for r in late), rel=0.05
    )
    stayed = [r for r in run.log.rows if r.ven_id not in left and START <= r.t0 < START + 7200]
    assert all(r.event_id == "evt-peak-1" for r in stayed)


def test_a_higher_rate_opts_out_a_superset_no_later() -> None:
    # Until it opts out a home's run does not depend on the rate: a higher one can only
    # bring each opt-out forward.
    low = {v: m for v, _, m in run_scenario(_ending_with_the_event(_peak(0.3))).log.opt_outs}
    high = {v: m for v, _, m in run_scenario(_ending_with_the_event(_peak(1.0))).log.opt_outs}
    assert set(low) < set(high)
    assert all(high[v] <= low[v] for v in low)


def test_hotter_day_more_opt_outs() -> None:
    # Small air conditioners fall behind on the hotter day: warmer homes, more overrides.
    def count(max_c: float) -> int:
        scenario = _peak(0.5, max_c=max_c)
        fleet = tuple(
            dataclasses.replace(g, params={**g.params, "hvac_kw": 2.0}) for g in scenario.fleet
        )
        hotter = dataclasses.replace(scenario, fleet=fleet)
        return len(run_scenario(_ending_with_the_event(hotter)).log.opt_outs)

    assert count(40.0) > count(30.0)


def test_counterfactual_stays_exact_with_opt_outs() -> None:
    scenario = _peak(2.0).with_overrides(vens=8)
    run = run_scenario(scenario)
    assert run.log.opt_outs
    assert _check_exact(scenario, run, "evt-peak-1") == 8 * 108
    assert run.summary["events"][0]["counterfactual_exact"] is True


def test_loader_reads_the_block_and_points_at_bad_values(tmp_path: Path) -> None:
    text = (SCENARIOS / "peak_event.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(text + "\noccupants:\n  opt_out: {per_hour_at_1c: 0.25}\n")
    assert load_scenario(good).opt_out == OptOutSpec(0.25)
    assert load_scenario(SCENARIOS / "peak_event.yaml").opt_out is None
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + textwrap.dedent("""
        occupants:
          opt_out:
            per_hour_at_1c: -1
    """))
    line = text.count("\n") + 4
    with pytest.raises(ScenarioError, match=rf"bad.yaml:{line}:.*per_hour_at_1c"):
        load_scenario(bad)


def test_the_backend_sees_each_opt_out_in_the_shadow() -> None:
    """Over the in-process bus with its shadow service: `reported.optOut` names the event."""
    scenario = _ending_with_the_event(_peak(2.0))
    wire = open_wire("inprocess")
    try:
        run = run_scenario(scenario, wire=wire)
    finally:
        wire.close()
    store = wire.transport.bus.shadows
    event_id = scenario.events[0].id
    started = scenario.start.timestamp() + START
    outs = {ven: minutes for ven, _, minutes in run.log.opt_outs}
    assert 0 < len(outs) < scenario.ven_count
    assert store.things() == sorted(ven.ven_id for ven in run.vens)
    for ven in store.things():
        reported = store.document(ven)["state"]["reported"]
        if ven in outs:  # when it left, to the second, as the run's own count has it
            at = reported["optOut"].pop("at")
            assert reported["optOut"] == {"eventId": event_id}
            assert at == pytest.approx(started + outs[ven] * 60.0, abs=1.0)
        else:  # never opted out: the document is as it was before opt-outs existed
            assert "optOut" not in reported
