import random

import pytest

from sim.models import Battery, SolarPv
from tests.sim.models.envs import constant, hot_day

H = 3600.0


def test_pv_generates_negative_power_by_day_only():
    pv = SolarPv("pv1", "Solar PV", 40, kw_peak=6.0, derate=0.85)
    powers = []
    for i in range(1440):
        env = hot_day(i * 60.0)
        p = pv.step(env, 60.0)
        powers.append(p)
        assert p <= 0.0
        assert p == pytest.approx(-6.0 * 0.85 * env.irradiance)
        if env.hour < 6.0 or env.hour > 19.0:
            assert p == 0.0
    assert min(powers) == pytest.approx(-6.0 * 0.85, rel=1e-3)
    assert pv.energy_kwh < -20.0
    pv.curtail(3.0)
    assert pv.shed_capability_kw() == 0.0
    assert pv.step(hot_day(12.5 * H), 60.0) == pytest.approx(-5.1 * hot_day(12.5 * H).irradiance)


def battery(**kw) -> Battery:
    args = dict(capacity_kwh=10.0, max_kw=5.0, round_trip_efficiency=0.81, reserve_soc=0.1,
                initial_soc=0.5)
    args.update(kw)
    return Battery("battery1", "Battery", 30, **args)


def test_idle_outside_window_and_charges_gently_inside():
    b = battery()
    assert b.step(constant(8 * H), 60.0) == 0.0
    assert b.soc == 0.5
    p = b.step(constant(11 * H), 60.0)
    assert p == pytest.approx(1.5)
    assert b.soc == pytest.approx(0.5 + 1.5 / 60 * 0.9 / 10.0)


def test_discharge_honours_power_limit_and_reserve():
    b = battery()
    b.curtail(8.0)
    t = 16 * H
    delivered = 0.0
    while t < 22 * H:
        p = b.step(constant(t), 60.0)
        assert -5.0 - 1e-12 <= p <= 0.0
        delivered -= p / 60.0
        t += 60.0
    assert b.soc == pytest.approx(0.1)
    assert b.locked_out and b.shed_capability_kw() == 0.0
    # 0.4 of 10 kWh stored, sqrt(0.81) = 0.9 efficient on the way out.
    assert delivered == pytest.approx(0.4 * 10.0 * 0.9)
    assert b.step(constant(t), 60.0) == 0.0


def test_small_request_discharges_only_what_is_asked():
    b = battery()
    b.curtail(2.0)
    assert b.step(constant(17 * H), 60.0) == pytest.approx(-2.0)
    assert b.shed_capability_kw() == 5.0


def test_soc_stays_bounded_under_random_requests():
    b = battery(initial_soc=0.95)
    rng = random.Random(11)
    t = 0.0
    for _ in range(5000):
        if rng.random() < 0.1:
            b.curtail(rng.uniform(0.0, 9.0)) if rng.random() < 0.5 else b.restore()
        p = b.step(constant(t), rng.choice([1.0, 60.0, 900.0]))
        assert -5.0 - 1e-9 <= p <= 5.0
        assert 0.1 - 1e-12 <= b.soc <= 1.0 + 1e-12
        t += 600.0


def test_full_battery_does_not_charge():
    b = battery(initial_soc=1.0)
    assert b.step(constant(11 * H), 60.0) == 0.0
    assert b.soc == 1.0
