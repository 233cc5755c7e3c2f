"""The VEN's own shed estimate: per circuit, natural draw learnt while free, minus draw now."""

from __future__ import annotations

import pytest

from sim.curtailment import CircuitInfo
from sim.records import CircuitReading
from sim.shed_estimate import NATURAL_TAU_S, estimated_shed_kw


def _reading(cid: str, t: float, kw: float, shed: float = 0.0) -> CircuitReading:
    return CircuitReading(cid, t, kw, kw * 300 / 3600, 1.0, False, False, 0.0, shed, 0.0)


def _info(cid: str) -> CircuitInfo:
    return CircuitInfo(cid, cid, 30, False, 5)


def test_natural_draw_is_a_time_weighted_running_mean_frozen_while_held() -> None:
    heater = _info("heater")
    heater.update(_reading("heater", 300.0, 4.0))  # first reading: taken as is
    heater.update(_reading("heater", 300.0 + NATURAL_TAU_S / 4, 0.0))  # 4 + 1/4 (0 - 4) = 3
    assert heater.natural_kw == pytest.approx(3.0)
    heater.update(_reading("heater", 300.0 + NATURAL_TAU_S / 2, 0.0, shed=2.0))  # held
    assert heater.natural_kw == pytest.approx(3.0) and heater.held


def test_only_held_circuits_count_as_shed() -> None:
    circuits = {cid: _info(cid) for cid in ("heater", "pv", "battery")}
    for cid, kw in (("heater", 4.0), ("pv", -3.0), ("battery", 0.5)):
        circuits[cid].update(_reading(cid, 300.0, kw))
    circuits["heater"].update(_reading("heater", 600.0, 0.0, shed=4.0))
    circuits["battery"].update(_reading("battery", 600.0, -5.0, shed=5.0))
    circuits["pv"].update(_reading("pv", 600.0, -1.0))  # a cloud: not shed, not counted
    assert estimated_shed_kw(circuits.values()) == pytest.approx((4.0 - 0.0) + (0.5 + 5.0))


def test_a_circuit_released_mid_event_counts_its_catch_up_against_the_shed() -> None:
    heater = _info("heater")
    heater.update(_reading("heater", 300.0, 3.0))  # free: natural 3 kW
    heater.update(_reading("heater", 600.0, 0.0, shed=3.0))  # held: sheds 3
    assert estimated_shed_kw([heater]) == pytest.approx(3.0)
    heater.update(_reading("heater", 900.0, 4.5))  # released, reheating: 1.5 kW paid back
    assert not heater.held and heater.engaged
    assert heater.natural_kw == pytest.approx(3.0)  # the catch-up is not its natural draw
    assert estimated_shed_kw([heater]) == pytest.approx(-1.5)
    heater.engaged = False  # the event is over (the controller's restore)
    heater.update(_reading("heater", 1200.0, 4.5))
    assert estimated_shed_kw([heater]) == 0.0 and heater.natural_kw > 3.0


def test_a_devices_own_forecast_is_its_natural_draw_held_or_free() -> None:
    hvac = _info("hvac")
    hvac.update(_reading("hvac", 300.0, 0.0)._replace(expected_kw=1.8))  # compressor off now
    assert hvac.natural_kw == 1.8  # not the running mean of 0.0
    hvac.update(_reading("hvac", 600.0, 0.5, shed=1.0)._replace(expected_kw=2.1))
    assert hvac.natural_kw == 2.1  # the forecast moves with the weather while held
    assert estimated_shed_kw([hvac]) == pytest.approx(2.1 - 0.5)
