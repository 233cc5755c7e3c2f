"""Circuit.twin and Circuit.same_state: the counterfactual's building blocks."""

from __future__ import annotations

import random

from sim.models.base import StepEnv
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
