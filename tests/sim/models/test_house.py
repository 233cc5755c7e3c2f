import random

import pytest

from sim.models import TEMPLATE_PARAMS, TEMPLATES, build_circuits, panel_facts
from tests.sim.models.envs import hot_day

SPEC_PARAMS = {
    "panel_amps", "hvac_setpoint_c", "comfort_band_c", "hvac_kw",
    "thermal_resistance_c_per_kw", "thermal_capacitance_kwh_per_c", "initial_indoor_c",
    "water_heater_liters", "hot_water_liters_per_day", "has_ev", "ev_charger_kw",
    "ev_arrival_hour", "ev_departure_hour", "ev_energy_kwh", "pv_kw", "battery_kwh",
    "battery_kw", "load_scale",
}


def day_series(circuits, steps: int = 1440, dt: float = 60.0):
    out = []
    for i in range(steps):
        env = hot_day(i * dt)
        out.append(tuple(c.step(env, dt) for c in circuits))
    return out


def test_default_house_circuits():
    circuits = build_circuits("house", {}, random.Random(1))
    facts = [(c.id, c.name, c.type, c.breaker_amps, c.critical, c.priority) for c in circuits]
    assert facts == [
        ("hvac1", "HVAC", "HVAC", 30, True, 3),
        ("heater1", "Water Heater", "Water Heater", 30, False, 7),
        ("ev1", "EV Charger", "EV Charger", 50, False, 8),
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
                                        "initial_indoor_c": 23.0, "ev_charger_kw": 9.6,
                                        "water_heater_liters": 300.0}, random.Random(3))
    by_id = {c.id: c for c in circuits}
    assert by_id["hvac1"].setpoint_c == 22.0 and by_id["hvac1"].comfort_band_c == 1.5
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
    assert 3.0 <= mean_total <= 8.0
    assert 2.0 <= mean_shed <= 5.0


def test_template_tables():
    assert set(TEMPLATE_PARAMS) == SPEC_PARAMS
    assert set(TEMPLATES) >= {"house", "apartment", "solar_home"}
    for name, defaults in TEMPLATES.items():
        assert set(defaults) <= SPEC_PARAMS
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
