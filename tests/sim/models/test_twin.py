"""Circuit.twin and Circuit.same_state: the counterfactual's building blocks."""

from __future__ import annotations

import random

import pytest

from sim.models.base import StepEnv, step_plan
from sim.models.house import build_circuits


def _env(t: float) -> StepEnv:
    return StepEnv(t, 1.78e9 + t, (12.0 + t / 3600.0) % 24.0, 30.0, 0.6)


def test_a_twin_draws_exactly_as_its_circuit_random_streams_included() -> None:
    for circuit in build_circuits("solar_home", {"has_ev": True}, random.Random(3)):
        circuit.run(_env, 0.0, 3600.0, 60.0)
        twin = circuit.twin()
        assert twin is not circuit and twin.same_state(circuit)
        for t in range(3600, 3 * 86400, 3600):  # over days: new random plans each day
            assert twin.run(_env, t, t + 3600, 60.0) == circuit.run(_env, t, t + 3600, 60.0)
        assert twin.same_state(circuit)


def test_same_state_sees_a_curtailment_a_changed_field_and_a_spent_random_draw() -> None:
    hvac, heater = build_circuits("house", {}, random.Random(5))[:2]
    twin = hvac.twin()
    twin.curtail(1.0)
    assert not twin.same_state(hvac)
    twin = heater.twin()
    twin.tank_c += 0.001
    assert not twin.same_state(heater)
    twin = heater.twin()
    twin._rng.random()  # the same fields, a different future
    assert not twin.same_state(heater)
    twin = heater.twin()
    twin.energy_kwh += 5.0  # metered totals are history, not state
    assert twin.same_state(heater)


def test_a_run_over_a_step_plan_is_step_for_step_the_same_physics() -> None:
    # A span that is no multiple of the step ends on a shorter step, as step() would take it.
    stepped = build_circuits("solar_home", {"has_ev": True}, random.Random(4))
    planned = [circuit.twin() for circuit in stepped]
    for t in range(0, 2 * 86400, 3590):
        plan = step_plan(_env, float(t), t + 3590.0, 60.0)
        assert [dt for _env_t, dt in plan] == [60.0] * 59 + [pytest.approx(50.0)]
        for circuit, twin in zip(stepped, planned, strict=True):
            kwh = sum(circuit.step(env, dt) * dt for env, dt in plan) / 3600.0
            assert twin.run_steps(plan)[0] == kwh  # the same sum, bit for bit
            assert twin.same_state(circuit) and twin.power_kw == circuit.power_kw
    assert step_plan(_env, 60.0, 60.0, 60.0) == ()  # an empty span takes no step


def test_a_twin_copies_each_random_stream_once_shared_streams_stay_shared() -> None:
    heater = build_circuits("house", {}, random.Random(6))[1]
    heater.spare = heater._rng  # a second reference to the same stream (as a part might hold)
    twin = heater.twin()
    assert twin._rng is not heater._rng and twin.spare is twin._rng  # copied once, still shared
    assert twin._rng.getstate() == heater._rng.getstate()
    drawn = [twin._rng.random() for _ in range(3)]  # the copy draws as the original would...
    assert drawn == [heater._rng.random() for _ in range(3)]
    twin._rng.random()  # ...and on its own from there: the original's state is not the copy's
    assert twin._rng.getstate() != heater._rng.getstate()
