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


def test_tou_charges_off_peak_covers_the_peak_and_idles_between():
    b = battery()
    assert b.step(constant(8 * H), 60.0) == 0.0
    assert b.soc == 0.5
    p = b.step(constant(1 * H), 60.0)  # off-peak: gentle grid charging
    assert p == pytest.approx(1.5)
    assert b.soc == pytest.approx(0.5 + 1.5 / 60 * 0.9 / 10.0)
    assert b.step(constant(17 * H), 60.0) == pytest.approx(-0.8)  # peak: covers the house


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
    assert b.step(constant(12 * H), 60.0) == pytest.approx(-2.0)


def test_capability_is_bounded_by_the_energy_left_over_the_event():
    # 10 kWh at 50 %: 0.4 x 10 x 0.9 = 3.6 kWh above the reserve, 1.8 kW over 2 h, not 5.
    b = battery()
    b.step(constant(12 * H), 60.0)
    capability = b.shed_capability_kw()
    assert capability == pytest.approx(b.available_kwh / 2.0)
    assert capability < 5.0
    # And it can really hold that for the whole event.
    b.curtail(capability)
    t = 12 * H + 60.0
    for _ in range(119):
        assert b.step(constant(t), 60.0) == pytest.approx(-capability, rel=1e-6)
        t += 60.0
    full = battery(initial_soc=1.0, capacity_kwh=13.5)
    full.step(constant(12 * H), 60.0)
    assert full.shed_capability_kw() == 5.0  # 10.9 kWh over 2 h: the power limit binds


def test_self_consumption_charges_only_from_pv_surplus():
    b = battery(mode="self_consumption", pv_kw_peak=5.0, house_kw=0.8)
    assert b.step(constant(19 * H), 60.0) == pytest.approx(-0.8)  # evening: covers the house
    assert b.step(constant(2 * H), 60.0) == 0.0  # small hours: idle rather than export
    b = battery(mode="self_consumption", pv_kw_peak=5.0, house_kw=0.8)
    noon = constant(12 * H, irradiance=0.6)
    assert b.step(noon, 60.0) == pytest.approx(5.0 * 0.6 - 0.8)  # the surplus, not more
    empty = battery(mode="self_consumption", initial_soc=0.1, pv_kw_peak=5.0)
    for i in range(600):  # ten hours of night: never charges from the grid
        assert empty.step(constant(i * 60.0), 60.0) <= 0.0
    assert empty.soc == pytest.approx(0.1) and empty.locked_out


def test_backup_stays_full_and_recharges_after_an_event():
    b = battery(mode="backup", initial_soc=1.0)
    assert b.step(constant(12 * H), 60.0) == 0.0
    b.curtail(5.0)
    t = 12 * H
    for _ in range(60):
        b.step(constant(t), 60.0)
        t += 60.0
    # Asked for 5 kW: 5 kW in the first minute (full, so not charging), then 3.5 kW
    # for the rest of the hour as it wanted to charge at 1.5 kW again.
    assert b.soc == pytest.approx(1.0 - (5.0 + 59 * 3.5) / 60 / 0.9 / 10.0)
    b.restore()
    while b.soc < 1.0 and t < 48 * H:
        assert b.step(constant(t), 60.0) > 0.0  # back to full from the grid
        t += 60.0
    assert b.soc == 1.0


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
    assert b.step(constant(1 * H), 60.0) == 0.0
    assert b.soc == 1.0
