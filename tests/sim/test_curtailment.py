"""The shed planner: target met by priority, floors kept, lockouts honoured."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sim.curtailment import (
    CircuitInfo,
    Curtailment,
    ShedPlanner,
    _shed_order,
    load_rows,
    restore_plan,
    restore_schedule,
)


def circuits() -> list[CircuitInfo]:
    return [
        CircuitInfo("hvac1", "HVAC", 30, True, 3, power_kw=3.5, capability_kw=2.0, floor_kw=2.5),
        CircuitInfo("heater1", "Water Heater", 30, False, 7, power_kw=4.5, capability_kw=4.5),
        CircuitInfo("ev1", "EV Charger", 50, False, 8, power_kw=7.2, capability_kw=7.2),
        CircuitInfo("lights1", "Lighting", 15, False, 4, power_kw=0.6, capability_kw=0.2),
        CircuitInfo("fridge1", "Refrigerator", 15, True, 1, power_kw=0.15, floor_kw=0.15),
    ]


def test_sheds_highest_priority_number_first() -> None:
    plan = ShedPlanner().start(5.0, circuits())
    assert plan["ev1"] == 5.0
    assert sum(plan.values()) == 5.0
    assert plan["heater1"] == plan["hvac1"] == plan["fridge1"] == 0.0


def test_large_request_spreads_down_the_priorities_and_keeps_critical_floors() -> None:
    planner = ShedPlanner()
    plan = planner.start(100.0, circuits())
    assert plan["ev1"] == 7.2 and plan["heater1"] == 4.5 and plan["lights1"] == 0.2
    # HVAC is critical: at most power - floor = 1.0 kW, even though it claims 2.0.
    assert plan["hvac1"] == 1.0
    assert plan["fridge1"] == 0.0
    acks = {a["id"]: a for a in planner.acks()}
    assert acks["hvac1"]["final_kw"] == 2.5
    assert set(acks["ev1"]) == {
        "id",
        "name",
        "breaker_amps",
        "original_kw",
        "curtailed_kw",
        "final_kw",
        "critical",
    }


def test_zero_request_is_a_value_not_missing() -> None:
    planner = ShedPlanner()
    plan = planner.start(0.0, circuits())
    assert planner.active
    assert all(kw == 0.0 for kw in plan.values())


def test_locked_out_circuit_is_covered_by_the_others() -> None:
    planner = ShedPlanner()
    cs = circuits()
    planner.start(9.0, cs)
    cs[2].locked_out = True  # the EV must charge to make its departure
    plan = planner.update(delivered_kw=9.0, circuits=cs)
    assert plan["ev1"] == 0.0
    assert plan["heater1"] == 4.5
    assert plan["hvac1"] > 0.0


def test_closed_loop_raises_shedding_when_delivery_falls_short() -> None:
    planner = ShedPlanner(gain=0.5)
    cs = circuits()
    first = sum(planner.start(4.0, cs).values())
    second = sum(planner.update(delivered_kw=2.0, circuits=cs).values())
    assert second == first + 1.0
    # Over-delivery backs off again.
    third = sum(planner.update(delivered_kw=6.0, circuits=cs).values())
    assert third < second


def test_restore_is_staggered() -> None:
    schedule = restore_schedule(["a", "b", "c"], at=100.0, delay_s=30.0, stagger_s=60.0)
    assert schedule == [(130.0, "a"), (190.0, "b"), (250.0, "c")]


def test_restore_plan_without_a_window_is_the_stagger() -> None:
    plan = restore_plan(["a", "b"], 100.0, random.Random(1), 60.0, None)
    delay = random.Random(1).uniform(0.0, 60.0)
    assert plan == restore_schedule(["a", "b"], at=100.0, delay_s=delay, stagger_s=60.0)


def test_restore_plan_spreads_each_circuit_within_the_vens_span() -> None:
    rng = random.Random(5)
    plan = restore_plan(["a", "b", "c"], 100.0, random.Random(5), 60.0, (900.0, 1800.0))
    span = rng.uniform(900.0, 1800.0)
    delays = sorted(rng.uniform(0.0, span) for _ in range(3))
    assert plan == [(100.0 + d, cid) for d, cid in zip(delays, "abc", strict=True)]
    assert all(100.0 <= at <= 100.0 + span for at, _ in plan)


def test_take_returns_the_headroom_after_the_reading() -> None:
    # Each case: (critical, enabled, power, capability, floor, locked out).
    cases = [
        (False, True, 3.0, 2.0, 0.0, False),  # its capability
        (True, True, 3.5, 2.0, 2.5, False),  # a critical load down to its floor: 1.0
        (True, True, 2.0, 2.0, 2.5, False),  # below its floor already: nothing
        (False, True, 3.0, 2.0, 0.0, True),  # locked out: nothing
        (False, False, 3.0, 2.0, 0.0, False),  # switched off: nothing
        (False, True, 3.0, -0.5, 0.0, False),  # a negative capability: nothing
    ]
    for critical, enabled, power, capability, floor, locked in cases:
        info = CircuitInfo("c1", "C", 20, critical, 3, enabled=enabled)
        headroom = info.take(300.0, power, capability, floor, locked, 0.0, None)
        assert headroom == info.headroom_kw(), (critical, enabled, power, capability, floor)
    assert [CircuitInfo("c", "C", 20, c, 3, enabled=e).take(300.0, p, k, f, lo, 0.0, None)
            for c, e, p, k, f, lo in cases] == [2.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def _rows_as_unpacked(circuits: list[CircuitInfo], plan: dict[str, Curtailment],
                      extras: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """load_rows' rows as a dict literal with the extras unpacked last, key order included."""
    return tuple({"id": c.id, "name": c.name, "breaker_amps": c.breaker_amps,
                  "critical": c.critical, "priority": c.priority, "enabled": c.enabled,
                  "power_kw": c.power_kw, "shed_capability_kw": c.headroom_kw(),
                  "curtailed_kw": plan[c.id].curtailed_kw if c.id in plan else 0.0,
                  **extras.get(c.id, {})} for c in circuits)


_EXTRA_KEYS = st.sampled_from(["indoor_c", "tank_c", "soc", "car_soc", "power_kw", "id"])


@given(
    circuits=st.lists(st.builds(
        CircuitInfo, st.sampled_from(["hvac", "wh", "ev", "fridge"]), st.just("Load"),
        st.integers(1, 60), st.booleans(), st.integers(1, 9), st.booleans(),
        st.floats(-5.0, 20.0), st.floats(0.0, 10.0), st.floats(0.0, 2.0), st.booleans()),
        max_size=6, unique_by=lambda c: c.id),
    curtailed=st.dictionaries(st.sampled_from(["hvac", "wh", "ev"]), st.floats(0.0, 5.0)),
    extras=st.dictionaries(st.sampled_from(["hvac", "wh", "ev", "fridge"]),
                           st.dictionaries(_EXTRA_KEYS, st.floats(-10.0, 90.0) | st.none(),
                                           max_size=2)),
)
def test_load_rows_are_the_literal_with_extras_last(circuits: list[CircuitInfo],
                                                    curtailed: dict[str, float],
                                                    extras: dict[str, dict[str, Any]]) -> None:
    plan = {cid: Curtailment(cid, "Load", 20, False, 1.0, kw) for cid, kw in curtailed.items()}
    rows = load_rows(circuits, plan, extras)
    expected = _rows_as_unpacked(circuits, plan, extras)
    assert [list(row.items()) for row in rows] == [list(row.items()) for row in expected]


@given(st.lists(st.tuples(st.integers(1, 9), st.text(min_size=1, max_size=4)), max_size=12,
                unique_by=lambda pair: pair[1]))
def test_circuits_shed_in_priority_order_ties_by_id(pairs: list[tuple[int, str]]) -> None:
    """The allocation's order (two stable sorts) is sorted by (-priority, id)."""
    infos = [CircuitInfo(cid, cid, 15, False, priority) for priority, cid in pairs]
    assert _shed_order(infos) == sorted(infos, key=lambda c: (-c.priority, c.id))
