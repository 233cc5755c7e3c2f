"""The VEN's own shed estimate: per circuit, natural draw learnt while free, minus draw now."""

from __future__ import annotations

import pytest

from sim.records import CircuitReading
from sim.shed_estimate import ShedEstimator


def _reading(cid: str, t: float, kw: float, shed: float = 0.0) -> CircuitReading:
    return CircuitReading(cid, t, kw, kw * 300 / 3600, 1.0, False, False, 0.0, shed, 0.0)


def test_natural_draw_is_a_time_weighted_running_mean_frozen_while_held() -> None:
    est = ShedEstimator(tau_s=1200.0)
    est.observe(_reading("heater", 300.0, 4.0))  # first reading: taken as is
    est.observe(_reading("heater", 600.0, 0.0))  # weight 300 / 1200: 4 + 0.25 * (0 - 4) = 3
    assert est.natural_kw["heater"] == pytest.approx(3.0)
    est.observe(_reading("heater", 900.0, 0.0, shed=2.0))  # held: learns nothing
    assert est.natural_kw["heater"] == pytest.approx(3.0)


def test_only_held_circuits_count_as_shed() -> None:
    est = ShedEstimator(tau_s=300.0)
    for cid, kw in (("heater", 4.0), ("pv", -3.0), ("battery", 0.5)):
        est.observe(_reading(cid, 300.0, kw))
    est.observe(_reading("heater", 600.0, 0.0, shed=4.0))
    est.observe(_reading("battery", 600.0, -5.0, shed=5.0))
    est.observe(_reading("pv", 600.0, -1.0))  # a cloud: not shed, not counted
    draws = [("heater", 0.0), ("battery", -5.0), ("pv", -1.0)]
    assert est.shed_kw(draws) == pytest.approx((4.0 - 0.0) + (0.5 + 5.0))
