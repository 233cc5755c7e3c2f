import random

import pytest

from sim.models import EvCharger
from tests.sim.models.envs import constant

H = 3600.0


def fixed(energy: float = 20.0, **kw) -> EvCharger:
    """Arrives 18:00, leaves 07:00, always `energy` kWh: no randomness left."""
    args = dict(session_probability=1.0, arrival_sd_h=0.0, departure_sd_h=0.0,
                mean_energy_kwh=energy, energy_min_kwh=energy, energy_max_kwh=energy)
    args.update(kw)
    return EvCharger("ev1", "EV Charger", 50, rng=random.Random(1), **args)


def drive(ev: EvCharger, start: float, stop: float, dt: float = 60.0, shed=None):
    """Step from start to stop; `shed(t)` gives the request in kW (None: restore)."""
    t = start
    powers = []
    while t < stop - 1e-9:
        if shed is not None:
            request = shed(t)
            if request:
                ev.curtail(request)
            else:
                ev.restore()
        powers.append(ev.step(constant(t), dt))
        t += dt
    return powers


def test_uncurtailed_session_charges_at_full_rate():
    ev = fixed()
    powers = drive(ev, 0.0, 24 * H)
    assert max(powers) == 7.2
    assert ev.energy_delivered_kwh == pytest.approx(20.0)
    assert ev.session_energy_needed_kwh == 20.0
    assert ev.energy_kwh == pytest.approx(20.0)
    assert all(p == 0.0 for p in powers[: 18 * 60])  # nothing before arrival
    on_minutes = sum(p > 0 for p in powers)
    assert on_minutes == pytest.approx(20.0 / 7.2 * 60, abs=1.01)
    assert ev.plugged_in and ev.shed_capability_kw() == 0.0  # full but still plugged in


def test_curtailed_energy_is_deferred_not_lost():
    ev = fixed()
    powers = drive(ev, 0.0, 31 * H + 60, shed=lambda t: 7.2 if 18 * H <= t < 26 * H else None)
    assert all(p == 0.0 for p in powers[18 * 60 : 26 * 60])
    assert ev.energy_delivered_kwh == pytest.approx(20.0)
    assert ev.unmet_energy_kwh == 0.0
    assert ev.sessions_completed == 1


def test_partial_curtailment_caps_the_rate():
    ev = fixed()
    drive(ev, 0.0, 18 * H)
    ev.curtail(3.0)
    assert ev.step(constant(18 * H), 60.0) == pytest.approx(4.2)
    assert ev.shed_capability_kw() == 7.2


@pytest.mark.parametrize("dt", [1.0, 60.0, 900.0])
def test_locks_out_to_finish_by_departure(dt):
    ev = fixed()
    drive(ev, 0.0, 18 * H, dt=dt)
    ev.curtail(7.2)  # all night
    t = 18 * H
    lock_t = None
    while t < 31 * H:
        p = ev.step(constant(t), dt)
        if ev.locked_out and lock_t is None:
            lock_t = t
            assert ev.floor_kw() == 7.2 and ev.shed_capability_kw() == 0.0
        if lock_t is None:
            assert p == 0.0
        t += dt
    # It waited until the energy only just fits at full rate before 07:00.
    assert lock_t == pytest.approx(31 * H - 20.0 / 7.2 * H, abs=dt + 1e-6)
    assert ev.energy_delivered_kwh == pytest.approx(20.0, abs=1e-6)
    assert ev.unmet_energy_kwh == 0.0


def test_infeasible_session_charges_flat_out_and_records_shortfall():
    ev = fixed(energy=200.0, battery_kwh=300.0)
    drive(ev, 0.0, 18 * H)
    ev.curtail(7.2)
    powers = drive(ev, 18 * H, 31 * H + 60)
    assert all(p == 7.2 for p in powers[: 13 * 60])
    assert ev.unmet_energy_kwh == pytest.approx(200.0 - 13 * 7.2)


def test_arrival_mid_step_is_exact():
    ev = EvCharger("ev1", "EV Charger", 50, session_probability=0.0)
    ev.add_session(arrival_t=450.0, departure_t=5 * H, energy_kwh=10.0)
    p = ev.step(constant(0.0), 900.0)
    assert p == pytest.approx(7.2 * 450.0 / 900.0)
    drive(ev, 900.0, 6 * H, dt=900.0)
    assert ev.energy_delivered_kwh == pytest.approx(10.0)
    assert not ev.plugged_in


def test_no_sessions_when_probability_zero():
    ev = EvCharger("ev1", "EV Charger", 50, rng=random.Random(5), session_probability=0.0)
    assert sum(drive(ev, 0.0, 3 * 24 * H)) == 0.0


def test_random_sessions_follow_parameters():
    ev = EvCharger("ev1", "EV Charger", 50, rng=random.Random(7))
    needed = set()
    t = 0.0
    for _ in range(20 * 24 * 60):
        ev.step(constant(t), 60.0)
        if ev.plugged_in:
            needed.add(ev.session_energy_needed_kwh)
        t += 60.0
    assert 10 <= ev.sessions_completed <= 20  # 85 % of days
    assert len(needed) >= ev.sessions_completed
    assert all(8.0 <= e <= 25.0 for e in needed)
    assert ev.unmet_energy_kwh == 0.0


def test_disabled_charger_defers_like_a_shed():
    ev = fixed()
    drive(ev, 0.0, 18 * H)
    ev.enabled = False
    assert sum(drive(ev, 18 * H, 22 * H)) == 0.0
    ev.enabled = True
    drive(ev, 22 * H, 31 * H + 60)
    assert ev.sessions_completed == 1 and ev.unmet_energy_kwh == 0.0


@pytest.mark.parametrize("kw", [3.3, 7.2, 11.5])
def test_managed_charging_pauses_for_the_peak_and_still_meets_departure(kw):
    # Every charger level, paused 18:00-22:00 by a managed-charging program: the 20 kWh
    # session resumes after the pause and is complete at the 07:00 departure.
    ev = fixed(charger_kw=kw)
    powers = drive(ev, 0.0, 31 * H + 60, shed=lambda t: kw if 18 * H <= t < 22 * H else None)
    assert all(p == 0.0 for p in powers[18 * 60 : 22 * 60])
    assert max(powers) == pytest.approx(kw)
    assert ev.sessions_completed == 1
    assert ev.unmet_energy_kwh == pytest.approx(0.0, abs=1e-9)
    assert ev.energy_kwh == pytest.approx(20.0)


def test_car_soc_rises_while_charging_and_is_none_without_a_car():
    # 60 kWh car needing 20 kWh: arrives at 0.9 - 20/60, leaves at 0.9 (the daily limit).
    ev = fixed(battery_kwh=60.0)
    socs = []
    powers = []
    t = 0.0
    while t < 31 * H + 60:
        shed = 7.2 if 18 * H <= t < 22 * H else 0.0  # managed: paused 18:00-22:00
        ev.curtail(shed) if shed else ev.restore()
        powers.append(ev.step(constant(t), 60.0))
        socs.append(ev.car_soc)
        t += 60.0
    assert all(s is None for s in socs[: 18 * 60])  # no car before 18:00
    assert socs[18 * 60] == pytest.approx(0.9 - 20.0 / 60.0)  # paused: still at arrival
    assert socs[22 * 60 - 1] == socs[18 * 60]
    leaves = 31 * 60 - 1  # the step ending at 07:00: the car has just left
    assert all(s is not None for s in socs[18 * 60 : leaves])
    for i in range(18 * 60 + 1, leaves):  # rises by exactly the energy of each minute
        assert socs[i] - socs[i - 1] == pytest.approx(powers[i] / 60.0 / 60.0, abs=1e-12)
    assert socs[leaves - 1] == pytest.approx(0.9)  # met the 07:00 deadline
    assert all(s is None for s in socs[leaves:])


def test_a_session_asks_no_more_than_the_car_takes():
    ev = fixed(energy=50.0, battery_kwh=40.0)
    drive(ev, 0.0, 31 * H + 60)
    assert ev.energy_kwh == pytest.approx(0.9 * 40.0) and ev.unmet_energy_kwh == 0.0


def test_expected_draw_is_full_rate_until_done_as_if_never_curtailed():
    """The charger's forecast of its free draw: the twin's draw, whatever the curtailment."""
    free, cut = fixed(), fixed()
    shed = lambda t: 7.2 if 18 * H <= t < 19 * H else None  # noqa: E731
    forecast, actual = [], []
    t = 0.0
    while t < 24 * H:
        drive(cut, t, t + 300.0, shed=shed)
        actual.append(sum(drive(free, t, t + 300.0)) / 5)  # 5-minute mean of the free twin
        forecast.append(cut.expected_kw())
        t += 300.0
    # Before arrival, while charging, after the energy would have been in: 0, 7.2, 0.
    assert forecast[: 18 * 12] == [0.0] * (18 * 12)
    full = [i for i, kw in enumerate(forecast) if kw == 7.2]
    assert full[0] == 18 * 12 and full == list(range(full[0], full[-1] + 1))
    assert forecast[-1] == 0.0 and cut.remaining_kwh == 0.0
    # It matches the free charger's draw in every whole interval, though the curtailed one
    # charged an hour later (the last partial interval of the free session aside).
    assert sum(a != f for a, f in zip(actual, forecast, strict=True)) <= 1
    cut.enabled = False
    assert cut.expected_kw() == 0.0
