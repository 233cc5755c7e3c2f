"""Thermal comfort past setpoint plus tolerance: minutes and degree-minutes."""

from __future__ import annotations

import random

import pytest

from sim.comfort import discomfort, thermal
from sim.models.house import build_circuits


def test_minutes_and_degree_minutes_past_setpoint_plus_tolerance() -> None:
    hvac, heater = build_circuits("house", {"hvac_setpoint_c": 24.0}, random.Random(2))[:2]
    assert thermal(hvac) and not thermal(heater)
    hvac.indoor_c = 25.0  # within the 1 C tolerance
    assert discomfort(hvac, 300.0) == (0.0, 0.0)
    hvac.indoor_c = 26.5  # 1.5 C past it for 5 minutes
    assert discomfort(hvac, 300.0) == pytest.approx((5.0, 7.5))
    hvac.mode = "heat"  # heating: too cold is what counts
    assert discomfort(hvac, 300.0) == (0.0, 0.0)
    hvac.indoor_c = 22.0
    assert discomfort(hvac, 600.0, tolerance_c=0.5) == pytest.approx((10.0, 15.0))
