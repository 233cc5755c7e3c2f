import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.models import TEMPLATE_PARAMS, TEMPLATES, build_circuits, panel_facts
from sim.scenario import sample_params, ven_ids
from sim.scenario_loader import load_scenario
from sim.world import Weather, World
from tests.sim.models.envs import hot_day

SPEC_PARAMS = {
    "panel_amps", "hvac_mode", "hvac_setpoint_c", "heating_setpoint_c", "cooling_setpoint_c",
    "comfort_band_c", "precool_c", "precool_from_hour", "precool_to_hour", "hvac_kw",
    "heat_source", "heating_kw", "backup_kw",
    "thermal_resistance_c_per_kw", "thermal_capacitance_kwh_per_c", "initial_indoor_c",
    "water_heater_liters", "hot_water_liters_per_day", "has_ev", "ev_share", "ev_charger_kw",
    "ev_arrival_hour", "ev_departure_hour", "ev_energy_kwh", "ev_battery_kwh", "pv_kw",
    "battery_kwh",
    "battery_kw", "battery_mode", "load_scale",
}


def day_series(circuits, steps: int = 1440, dt: float = 60.0):
    out = []
    for i in range(steps):
        env = hot_day(i * dt)
        out.append(tuple(c.step(env, dt) for c in circuits))
    return out


def test_default_house_circuits():
    circuits = build_circuits("house", {"has_ev": True, "ev_charger_kw": 7.2},
                              random.Random(1))
    facts = [(c.id, c.name, c.type, c.breaker_amps, c.critical, c.priority) for c in circuits]
    assert facts == [
        ("hvac1", "HVAC", "HVAC", 30, True, 3),
        ("heater1", "Water Heater", "Water Heater", 30, False, 7),
        ("ev1", "EV Charger", "EV Charger", 40, False, 8),  # 30 A continuous: 40 A (NEC 80 %)
        ("dryer1", "Dryer", "Dryer", 30, False, 6),
        ("range1", "Electric Range", "Electric Range", 40, False, 2),
        ("lights1", "Lighting Circuits", "Lighting Circuits", 15, False, 4),
        ("outlets1", "General Outlets", "General Outlets", 20, False, 2),
        ("fridge1", "Refrigerator", "Refrigerator", 15, True, 1),
    ]
    assert circuits[0].rated_kw == pytest.approx(7.2)


def test_apartment_and_solar_home():
    apt = build_circuits("apartment", {}, random.Random(1))
    assert [c.id for c in apt] == ["hvac1", "heater1", "lights1", "outlets1", "fridge1",
                                   "range1"]
    assert apt[0].compressor_kw == 2.5
    solar = build_circuits("solar_home", {}, random.Random(1))
    ids = [c.id for c in solar]
    assert ids[-2:] == ["pv1", "battery1"]
    pv, batt = solar[-2], solar[-1]
    assert pv.kw_peak == 6.0 and pv.priority == 1
    assert batt.capacity_kwh == 13.5 and batt.max_kw == 5.0 and batt.priority == 9
    assert 0.0 <= batt.soc <= 1.0
    no_ev = build_circuits("house", {"has_ev": False, "pv_kw": 4}, random.Random(1))
    assert "ev1" not in [c.id for c in no_ev] and no_ev[-1].id == "pv1"


def test_same_seed_same_day_different_seed_different_day():
    params = {"pv_kw": 5.0, "battery_kwh": 10.0, "load_scale": 1.2}
    a = day_series(build_circuits("house", params, random.Random(42)))
    b = day_series(build_circuits("house", params, random.Random(42)))
    c = day_series(build_circuits("house", params, random.Random(43)))
    assert a == b
    assert a != c


def test_params_reach_the_models():
    circuits = build_circuits("house", {"hvac_setpoint_c": 22, "comfort_band_c": 1.5,
                                        "has_ev": True,
                                        "initial_indoor_c": 23.0, "ev_charger_kw": 9.6,
                                        "water_heater_liters": 300.0}, random.Random(3))
    by_id = {c.id: c for c in circuits}
    hvac = by_id["hvac1"]
    assert hvac.cooling_setpoint_c == 22.0 and hvac.comfort_band_c == 1.5
    assert hvac.heating_setpoint_c == 20.0 and hvac.mode == "auto"
    assert by_id["hvac1"].indoor_c == 23.0
    assert by_id["ev1"].charger_kw == 9.6 and by_id["ev1"].breaker_amps == 50
    assert by_id["heater1"].tank_liters == 300.0


def test_hot_afternoon_draw_and_sheddable_load():
    totals, sheddable = [], []
    for seed in range(12):
        circuits = build_circuits("house", {}, random.Random(seed))
        for i in range(16 * 60):  # to 16:00 on a hot day
            env = hot_day(i * 60.0)
            power = sum(c.step(env, 60.0) for c in circuits)
            if i >= 14 * 60:
                totals.append(power)
                sheddable.append(sum(c.shed_capability_kw() for c in circuits))
    mean_total = sum(totals) / len(totals)
    mean_shed = sum(sheddable) / len(sheddable)
    # Two-node house (R 3, C 8): ~1.8 kW of AC at 15:00 plus the rest of the house.
    assert 2.0 <= mean_total <= 6.0
    assert 1.0 <= mean_shed <= 4.0


def test_template_tables():
    assert set(TEMPLATE_PARAMS) == SPEC_PARAMS
    assert set(TEMPLATES) >= {"house", "apartment", "solar_home", "heat_pump_home"}
    for name, defaults in TEMPLATES.items():
        assert set(defaults) <= SPEC_PARAMS
        assert {"hvac_mode", "heat_source", "ev_share"} <= set(defaults)  # all heat
        for key, value in defaults.items():
            assert isinstance(value, TEMPLATE_PARAMS[key]), (name, key)
        build_circuits(name, defaults, random.Random(0))


@pytest.mark.parametrize(
    ("template", "params"),
    [
        ("castle", {}),
        ("house", {"pool_pump": True}),
        ("house", {"panel_amps": 125}),
        ("house", {"panel_amps": 200.0}),
        ("house", {"has_ev": 1}),
        ("house", {"hvac_kw": "3.5"}),
        ("house", {"hvac_kw": -1.0}),
        ("house", {"pv_kw": float("nan")}),
        ("house", {"ev_arrival_hour": 25}),
        ("house", {"load_scale": True}),
        ("house", {"hvac_mode": "fan"}),
        ("house", {"heat_source": "wood"}),
        ("house", {"ev_share": 1.5}),
        ("solar_home", {"battery_mode": "arbitrage"}),
        ("house", {"heating_setpoint_c": 23.9, "cooling_setpoint_c": 24.0}),
    ],
)
def test_bad_template_or_params_raise(template, params):
    with pytest.raises(ValueError):
        build_circuits(template, params, random.Random(0))


def test_panel_facts():
    assert panel_facts(150) == {"panelAmperageRating": 150, "panelVoltage": 240,
                                "panelMaxKw": 36.0}
    with pytest.raises(ValueError):
        panel_facts(60)


def test_run_is_the_same_physics_as_stepping() -> None:
    """Circuit.run (the actors' inner loop) matches step() called in a loop."""
    stepped = build_circuits("solar_home", {}, random.Random(5))
    ran = build_circuits("solar_home", {}, random.Random(5))
    for a, b in zip(stepped, ran, strict=True):
        energy_before = a.energy_kwh
        for i in range(30):
            a.step(hot_day(12 * 3600 + i * 60.0), 60.0)
        energy, _comfort_s, _violated = b.run(hot_day, 12 * 3600, 12 * 3600 + 1800.0, 60.0)
        assert energy == pytest.approx(a.energy_kwh - energy_before, rel=1e-9, abs=1e-12)
        assert b.power_kw == pytest.approx(a.power_kw)


def house_day(template: str, low: float, high: float, seeds: int = 10) -> list[float]:
    """kWh of each of `seeds` houses over the second of two days between low and high C.

    The date matches the season (the sun's path depends on it): July hot, April mild,
    January cold.
    """
    month = 7 if low >= 20.0 else 4 if low >= 5.0 else 1
    world = World(datetime(2026, month, 15, tzinfo=UTC), Weather(low, high, 15.0))
    days = []
    for seed in range(seeds):
        circuits = build_circuits(template, {"has_ev": False}, random.Random(seed))
        kwh = 0.0
        for i in range(2 * 1440):
            env = world.env_at(i * 60.0)
            power = sum(c.step(env, 60.0) for c in circuits)
            if i >= 1440:
                kwh += power / 60.0
        days.append(kwh)
    return days


@pytest.mark.parametrize(
    ("template", "low", "high", "kwh_range"),
    [
        # Central AC on a hot day: 40-60 kWh/day for a US house with AC (RECS 2020 cooling
        # days); mild: no HVAC, the base loads alone (RECS: 25-35 kWh/day without EV).
        ("house", 22.0, 36.0, (35.0, 60.0)),
        ("house", 8.0, 20.0, (18.0, 35.0)),
        # Cold day -8..3 C with a heat pump: 40-120 kWh/day of heat plus the base loads.
        ("heat_pump_home", -8.0, 3.0, (60.0, 130.0)),
        # Gas heat: only the blower on the panel.
        ("house", -8.0, 3.0, (18.0, 40.0)),
    ],
)
def test_daily_energy_on_a_hot_a_mild_and_a_cold_day(template, low, high, kwh_range):
    days = house_day(template, low, high)
    mean = sum(days) / len(days)
    assert kwh_range[0] <= mean <= kwh_range[1], days


def test_ev_share_is_the_fleet_penetration():
    evs = sum(any(c.id == "ev1" for c in build_circuits("house", {}, random.Random(s)))
              for s in range(400))
    assert 0.10 * 400 <= evs <= 0.20 * 400
    levels = {c.charger_kw for s in range(400)
              for c in build_circuits("house", {"has_ev": True}, random.Random(s))
              if c.id == "ev1"}
    assert levels == {3.3, 7.2, 11.5}


def test_winter_scenario_without_events_holds_the_heating_setpoint():
    """scenarios/winter_morning.yaml, each VEN built as the runner builds it, no event."""
    scenario = load_scenario(Path(__file__).resolve().parents[3] / "scenarios" /
                             "winter_morning.yaml")
    world = World(scenario.start, scenario.weather)
    step = scenario.physics_step_s
    for ven_id, group in ven_ids(scenario):
        rng = random.Random(f"{scenario.seed}:{ven_id}")
        circuits = build_circuits(group.template, sample_params(group.params, rng), rng)
        hvac = circuits[0]
        low = high = hvac.heating_setpoint_c
        kwh = 0.0
        t = 0.0
        while t < scenario.duration_s:
            env = world.env_at(t)
            power = sum(c.step(env, step) for c in circuits)
            kwh += power * step / 3600.0
            if t >= 3600.0:  # after the first hour's settling
                low, high = min(low, hvac.indoor_c), max(high, hvac.indoor_c)
            t += step
        assert hvac.setpoint_c == hvac.heating_setpoint_c, ven_id
        assert hvac.heating_setpoint_c - 1.0 <= low and high <= hvac.heating_setpoint_c + 1.0
        # Heat pump with strips: 50-140 kWh/day for the house; gas: only the blower (plus up to
        # ~25 kWh for the 15 % of homes with an EV).
        span = (50.0, 140.0) if group.template == "heat_pump_home" else (15.0, 55.0)
        assert span[0] <= kwh <= span[1], (ven_id, kwh)


def test_having_an_ev_or_not_leaves_the_other_circuits_random_streams_alone():
    with_ev = build_circuits("house", {"has_ev": True}, random.Random(9))
    without = build_circuits("house", {"has_ev": False}, random.Random(9))
    others = [c for c in with_ev if c.id != "ev1"]
    assert [c.id for c in others] == [c.id for c in without]
    for i in range(1440):
        env = hot_day(i * 60.0)
        assert [c.step(env, 60.0) for c in others] == [c.step(env, 60.0) for c in without]


def test_the_fleet_cooling_peak_lags_the_outdoor_peak_into_the_evening() -> None:
    # 40 houses on a clear 22-36 C July day, outdoor peak at 15:00: sun on the west walls and
    # windows, and the roof's heat through the envelope hours later, put the HVAC load's
    # peak hour at 16:00-18:00 (as in metered residential cooling), not with the outdoor one.
    world = World(datetime(2026, 7, 15, tzinfo=UTC), Weather(22.0, 36.0, 15.0))
    hourly = [0.0] * 24
    for seed in range(40):
        hvac = build_circuits("house", {"has_ev": False}, random.Random(seed))[0]
        for i in range(2 * 1440):  # the second day: the first settles the mass
            power = hvac.step(world.env_at(i * 60.0), 60.0)
            if i >= 1440:
                hourly[(i - 1440) // 60] += power / 60.0
    peak = max(range(24), key=hourly.__getitem__)
    assert 16 <= peak <= 18, [round(kwh / hourly[peak], 2) for kwh in hourly]
    assert hourly[15] < 0.97 * hourly[peak]  # a peak, not a plateau from 15:00 on
