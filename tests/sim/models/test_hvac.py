from datetime import UTC, datetime

import pytest

from sim.comfort import warm_and_felt
from sim.models import Hvac
from sim.models.envelope import Envelope
from sim.models.house import ENVELOPE_ABSORPTANCE
from sim.models.hvac import OCCUPANCY
from sim.world import Weather, World
from tests.sim.models.envs import assert_walks_as_steps, constant, hot_day, runs


def make(**kw) -> Hvac:
    args = dict(setpoint_c=24.0, r_c_per_kw=2.0, c_kwh_per_c=8.0, compressor_kw=3.5, cop=3.0,
                window_gain_m2=0.0, internal_gain_kw=0.0, initial_indoor_c=24.0)
    args.update(kw)
    return Hvac("hvac1", "HVAC", 30, **args)


def rk4(env: Envelope, outdoor: float, q_air: float, q_mass: float, seconds: float):
    """Ground truth: the two-node ODE integrated with small RK4 steps (hours, kW)."""
    def deriv(a: float, m: float) -> tuple[float, float]:
        return ((env.g_air * (outdoor - a) + env.h_kw_per_c * (m - a) + q_air) / env.c_air,
                (env.g_mass * (outdoor - m) + env.h_kw_per_c * (a - m) + q_mass) / env.c_mass)
    a, m = env.air_c, env.mass_c
    h = 1.0 / 3600.0
    for _ in range(int(seconds)):
        k1 = deriv(a, m)
        k2 = deriv(a + h / 2 * k1[0], m + h / 2 * k1[1])
        k3 = deriv(a + h / 2 * k2[0], m + h / 2 * k2[1])
        k4 = deriv(a + h * k3[0], m + h * k3[1])
        a += h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        m += h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    return a, m


def settle(h: Hvac, seconds: float, dt: float = 60.0, t: float = 0.0, out: float = 35.0):
    powers, temps = [], []
    for _ in range(int(seconds / dt)):
        powers.append(h.step(constant(t, out), dt))
        temps.append(h.indoor_c)
        t += dt
    return powers, temps, t


@pytest.mark.parametrize("dt", [1.0, 60.0, 900.0])
def test_off_drift_matches_the_two_node_ode(dt):
    # Setpoint far above outdoor: the compressor never runs, the house just warms.
    h = make(setpoint_c=50.0, initial_indoor_c=22.0, r_c_per_kw=3.0, c_kwh_per_c=8.0,
             internal_gain_kw=0.5)
    truth = Envelope(3.0, 8.0, air_share=0.2, air_c=22.0)
    t = 0.0
    for hour in range(1, 5):
        while t < hour * 3600.0 - 1e-9:
            assert h.step(constant(t, 35.0), dt) == 0.0
            t += dt
        gain = 0.5 * OCCUPANCY[hour - 1]  # internal gains follow the hour of day
        truth.air_c, truth.mass_c = rk4(truth, 35.0, gain, 0.0, 3600.0)
        assert h.indoor_c == pytest.approx(truth.air_c, abs=1e-6)
        assert h.envelope.mass_c == pytest.approx(truth.mass_c, abs=1e-6)


def test_gains_shift_the_equilibrium():
    # All walls through the air (wall_share 0): the air settles R * gains above outdoor and
    # the mass, which takes the sun, sits above the air by its gain over H.
    h = make(setpoint_c=90.0, window_gain_m2=2.0, internal_gain_kw=0.5, initial_indoor_c=30.0,
             wall_share=0.0)
    env = constant(0.0, 35.0, window_sun=0.5)  # 2 m2 of window in 0.5 kW/m2 of sun: 1 kW
    for _ in range(2000):
        h.step(env, 900.0)
    gains = 1.0 + 0.5 * OCCUPANCY[0]  # sun, and the occupants' heat at midnight
    assert h.indoor_c == pytest.approx(35.0 + 2.0 * gains, abs=1e-6)
    assert h.envelope.mass_c == pytest.approx(h.indoor_c + 0.6 / 5.0, abs=1e-6)


def test_drift_with_the_ac_off_on_a_hot_afternoon():
    # House defaults (R 3 C/kW, C 8 kWh/C, 2 m2 of window, 0.8 kW of internal gains, sun on
    # roof and walls at absorptance 0.4) on a 22-36 C clear July day: the AC
    # holds 24 C until 14:00, then is switched off; the room warms 0.5-1.5 C per hour (not
    # the 3-4 C/h of a house without mass). Measured from the mean of the last cooling
    # half-hour, so where in its cycle the compressor stopped does not count.
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(22.0, 36.0, 15.0))
    h = make(r_c_per_kw=3.0, window_gain_m2=2.0, internal_gain_kw=0.8,
             absorptance=ENVELOPE_ABSORPTANCE)
    t, last = 0.0, []
    while t < 14 * 3600.0:
        h.step(world.env_at(t), 60.0)
        last = [*last[-29:], h.indoor_c]
        t += 60.0
    h.enabled = False
    before = sum(last) / len(last)
    for _ in range(3):
        for _ in range(60):
            h.step(world.env_at(t), 60.0)
            t += 60.0
        assert 0.5 <= h.indoor_c - before <= 1.5
        before = h.indoor_c


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
    # R 3 C/kW: 7 kW of heat loss at 0 C, which a 3.5 kW heat pump (COP 2.9) carries.
    h = make(mode="heat", setpoint_c=21.0, initial_indoor_c=21.0, r_c_per_kw=3.0)
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
    truth = Envelope(2.0, 8.0, air_share=0.2, air_c=24.0)
    assert h.indoor_c == pytest.approx(rk4(truth, 35.0, 0.0, 0.0, t)[0], abs=1e-6)
    assert h.energy_kwh == 0.0
    h.enabled = True
    assert h.step(constant(t), 60.0) == 3.5  # catches up once switched back on


def test_auto_mode_heats_in_the_cold_and_cools_in_the_heat():
    h = make(mode="auto", heating_setpoint_c=20.0, cooling_setpoint_c=24.0,
             initial_indoor_c=22.0, r_c_per_kw=3.0)
    _, temps, t = settle(h, 12 * 3600, out=-5.0)
    assert h.setpoint_c == 20.0
    assert min(temps[360:]) >= 20.0 - 0.6 and max(temps[360:]) <= 20.0 + 0.6
    _, temps, _ = settle(h, 24 * 3600, t=t, out=35.0)
    assert h.setpoint_c == 24.0
    assert min(temps[-360:]) >= 24.0 - 0.6 and max(temps[-360:]) <= 24.0 + 0.6


def test_auto_setpoints_must_leave_a_gap():
    with pytest.raises(ValueError, match="two deadbands below"):
        make(mode="auto", heating_setpoint_c=23.8, cooling_setpoint_c=24.0)


def test_without_an_initial_temperature_the_house_starts_where_the_thermostat_holds_it():
    h = make(mode="auto", heating_setpoint_c=20.0, cooling_setpoint_c=24.0,
             initial_indoor_c=None, initial_offset_c=0.3)
    h.step(constant(0.0, -5.0), 60.0)
    assert h.indoor_c == pytest.approx(20.3, abs=0.2) and h.setpoint_c == 20.0


def test_precooling_banks_cold_in_the_mass_for_the_event():
    # Same house and day, a full 15:00-18:00 curtailment with a 1 C comfort band; one house
    # pre-cools 2 C from 13:00. (With mass, a 2 C band alone coasts through 2 h unaided.)
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(22.0, 36.0, 15.0))
    results = {}
    for precool in (0.0, 2.0):
        h = make(r_c_per_kw=3.0, window_gain_m2=2.0, internal_gain_kw=0.8, precool_c=precool,
                 absorptance=ENVELOPE_ABSORPTANCE,
                 precool_from_hour=13.0, precool_to_hour=15.0, comfort_band_c=1.0)
        t, before, during, peak = 0.0, 0.0, 0.0, 0.0
        while t < 18 * 3600.0:
            if t == 15 * 3600.0:
                h.curtail(100.0)
            p = h.step(world.env_at(t), 60.0)
            if t == 15 * 3600.0:
                assert h.setpoint_c == 24.0  # the pre-cool window is over
            if 13 * 3600.0 <= t < 15 * 3600.0:
                before += p / 60.0
            elif t >= 15 * 3600.0:
                during += p / 60.0
                peak = max(peak, h.indoor_c)
            t += 60.0
        results[precool] = (before, during, peak)
    (b0, d0, p0), (b1, d1, p1) = results[0.0], results[2.0]
    # Measured: 4.3 vs 7.0 kWh over 13:00-15:00, then 4.8 vs 2.6 kWh over the event.
    assert b1 > b0 + 2.0  # it costs energy before the event...
    assert d1 < d0 - 2.0  # ...and the event needs far less of the compressor
    assert max(p0, p1) <= 24.0 + 1.0 + 1e-9  # both inside the comfort band


def test_expected_draw_is_the_thermostats_steady_state_at_its_plain_setpoint():
    h = make()
    settle(h, 3 * 3600)
    assert h.expected_kw() == h.natural_kw() > 0.0
    h.curtail(h.natural_kw())  # the forecast ignores the offset: it is the free house's
    assert h.expected_kw() == h.natural_kw()



@pytest.mark.parametrize("mode", ["cool", "heat", "auto"])
def test_run_steps_walks_a_span_as_step_by_step_would(mode):
    """A span walked in one loop gives, bit for bit, the energy, the comfort seconds and the
    state that stepping one step at a time gives: over two days with a pre-cool window, a
    shed, a switch-off and a house that starts settled."""

    def make_unit():
        return Hvac("h1", "HVAC", 30, mode=mode, cooling_setpoint_c=24.0,
                    heating_setpoint_c=20.0, precool_c=1.0, initial_offset_c=0.5)

    env_at = hot_day if mode != "heat" else (lambda t: constant(t, outdoor_c=2.0))
    assert_walks_as_steps(make_unit(), make_unit(), env_at, 1.0)


@pytest.mark.parametrize("mode", ["cool", "heat", "auto"])
def test_reading_estimates_are_the_separate_estimates_from_one_read(mode):
    """`reading_estimates` gives, bit for bit, what `shed_outlook`, `locked_out`, `floor_kw`,
    `warm_and_felt` and `indoor_c` give one at a time: over a day with a pre-cool window and
    a full shed that drives the house past its comfort band (locked out, warm and felt
    minutes) and back."""
    h = Hvac("h1", "HVAC", 30, mode=mode, cooling_setpoint_c=24.0, heating_setpoint_c=20.0,
             precool_c=1.0, comfort_band_c=1.5, initial_offset_c=0.5)
    env_at = hot_day if mode != "heat" else (lambda t: constant(t, outdoor_c=-5.0))
    seen_locked = seen_warm = seen_capability = 0
    for minute in range(24 * 60):
        t = minute * 60.0
        if t == 14 * 3600.0:
            h.curtail(100.0)
        elif t == 20 * 3600.0:
            h.restore()
        h.step(env_at(t), 60.0)
        capability, expected, locked, floor, warm, felt, indoor = h.reading_estimates(300.0)
        assert (capability, expected) == h.shed_outlook()
        assert (locked, floor) == (h.locked_out, h.floor_kw())
        assert (warm, felt) == warm_and_felt(h, 300.0)
        assert indoor == h.indoor_c
        seen_locked += h.locked_out
        seen_warm += warm[0] > 0.0
        seen_capability += capability > 0.0
    assert seen_locked and seen_warm and seen_capability  # every branch was taken
