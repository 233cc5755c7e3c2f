import math

import pytest

from sim.models import Hvac
from tests.sim.models.envs import constant, runs


def make(**kw) -> Hvac:
    args = dict(setpoint_c=24.0, r_c_per_kw=2.0, c_kwh_per_c=2.0, compressor_kw=3.5, cop=3.0,
                solar_gain_kw=0.0, internal_gain_kw=0.0, initial_indoor_c=24.0)
    args.update(kw)
    return Hvac("hvac1", "HVAC", 30, **args)


def settle(h: Hvac, seconds: float, dt: float = 60.0, t: float = 0.0, out: float = 35.0):
    powers, temps = [], []
    for _ in range(int(seconds / dt)):
        powers.append(h.step(constant(t, out), dt))
        temps.append(h.indoor_c)
        t += dt
    return powers, temps, t


@pytest.mark.parametrize("dt", [1.0, 60.0, 900.0])
def test_off_drift_matches_rc_solution(dt):
    # Setpoint far above outdoor: the compressor never runs, the house just warms.
    h = make(setpoint_c=50.0, initial_indoor_c=22.0)
    tau = 2.0 * 2.0 * 3600.0
    t = 0.0
    for _ in range(int(4 * 3600 / dt)):
        assert h.step(constant(t, 35.0), dt) == 0.0
        t += dt
        assert h.indoor_c == pytest.approx(35.0 + (22.0 - 35.0) * math.exp(-t / tau), abs=1e-6)


def test_gains_shift_the_equilibrium():
    h = make(setpoint_c=90.0, solar_gain_kw=1.0, internal_gain_kw=0.5, initial_indoor_c=30.0)
    env = constant(0.0, 35.0, irradiance=1.0)
    for _ in range(2000):
        h.step(env, 900.0)
    assert h.indoor_c == pytest.approx(35.0 + 2.0 * 1.5, abs=1e-6)


def test_duty_cycle_within_deadband():
    h = make()
    powers, temps, _ = settle(h, 12 * 3600)
    later = temps[180:]  # after 3 h
    assert min(later) >= 24.0 - 0.5 - 0.1
    assert max(later) <= 24.0 + 0.5 + 0.1
    duty = sum(p > 0 for p in powers[180:]) / len(powers[180:])
    # Load (35-24)/R = 5.5 kW thermal over 10.5 kW of cooling: about 52 % duty.
    assert duty == pytest.approx(5.5 / 10.5, abs=0.06)
    assert sum(powers[180:]) / len(powers[180:]) == pytest.approx(h.natural_kw(), rel=0.12)
    assert all(p in (0.0, 3.5) for p in powers)


@pytest.mark.parametrize("dt", [1.0, 60.0])
def test_min_on_and_off_times_respected(dt):
    # Tiny thermal mass: the thermostat alone would switch every minute or two.
    h = make(c_kwh_per_c=0.1)
    powers, _, _ = settle(h, 6 * 3600, dt=dt)
    segments = runs(powers)[1:-1]  # first and last runs are cut by the window
    assert len(segments) > 10
    assert all(steps * dt >= 300.0 for _, steps in segments)


def test_setpoint_offset_sheds_and_keeps_comfort():
    base, cut = make(), make()
    _, _, t = settle(base, 3 * 3600)
    settle(cut, 3 * 3600)
    assert base.indoor_c == cut.indoor_c
    natural = cut.natural_kw()
    assert cut.shed_capability_kw() > 1.5
    cut.curtail(natural)  # asks for all of it: full comfort band
    assert cut.offset_c == pytest.approx(2.0)
    p_base, _, _ = settle(base, 3600, t=t)
    p_cut, temps, _ = settle(cut, 3600, t=t)
    assert sum(p_cut) / 60 < 0.6 * sum(p_base) / 60
    assert max(temps) <= 24.0 + 2.0 + 1e-9
    assert not cut.comfort_violated()
    cut.restore()
    assert cut.offset_c == 0.0


def test_partial_request_gives_partial_offset():
    h = make()
    settle(h, 600)
    h.curtail(h.natural_kw() / 4)
    assert h.offset_c == pytest.approx(0.5)
    h.curtail(h.natural_kw() * 10)  # capped at the comfort band
    assert h.offset_c == pytest.approx(2.0)


def test_request_set_directly_is_honoured():
    h = make()
    h.shed_request_kw = 100.0
    h.step(constant(0.0), 60.0)
    assert h.offset_c == pytest.approx(2.0)


def test_locks_out_at_the_comfort_limit():
    h = make()
    _, _, t = settle(h, 3600)
    h.curtail(50.0)
    powers, temps, _ = settle(h, 4 * 3600, t=t)
    assert max(temps) <= 26.0 + 1e-9
    assert any(p > 0 for p in powers[-60:])  # still cooling: never hard off
    # Near the limit the model reports it cannot shed any more.
    for _ in range(60):
        h.step(constant(t), 60.0)
        t += 60.0
        if h.locked_out:
            assert h.shed_capability_kw() == 0.0
            assert h.floor_kw() == 3.5
            break
    else:
        pytest.fail("never locked out at the comfort limit")


def test_heating_mode():
    h = make(mode="heat", setpoint_c=21.0, initial_indoor_c=21.0)
    _, temps, t = settle(h, 8 * 3600, out=0.0)
    assert min(temps[120:]) >= 21.0 - 0.6 and max(temps[120:]) <= 21.0 + 0.6
    h.curtail(100.0)
    _, temps, _ = settle(h, 4 * 3600, t=t, out=0.0)
    assert min(temps) >= 21.0 - 2.0 - 1e-9
    assert not h.comfort_violated()


def test_comfort_violated_outside_band():
    h = make(initial_indoor_c=26.6)
    assert h.comfort_violated()
    h.indoor_c = 26.4
    assert not h.comfort_violated()
    h.indoor_c = 21.4
    assert h.comfort_violated()


def test_bad_mode_rejected():
    with pytest.raises(ValueError):
        make(mode="fan")


def test_disabled_unit_draws_nothing_but_the_house_still_warms():
    h = make(initial_indoor_c=24.0)
    h.enabled = False
    t = 0.0
    for _ in range(120):
        assert h.step(constant(t), 60.0) == 0.0
        t += 60.0
    tau = 2.0 * 2.0 * 3600.0
    assert h.indoor_c == pytest.approx(35.0 + (24.0 - 35.0) * math.exp(-t / tau), abs=1e-6)
    assert h.energy_kwh == 0.0
    h.enabled = True
    assert h.step(constant(t), 60.0) == 3.5  # catches up once switched back on
