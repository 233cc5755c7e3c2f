"""House templates: which circuits a VEN's panel has, with per-house variation."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from sim.limits import PANEL_SIZES
from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE, Circuit
from sim.models.battery import BATTERY_MODES, Battery
from sim.models.ev import EvCharger
from sim.models.heating import HEAT_SOURCES, GasFurnace, HeatPump, HeatSource, ResistanceHeat
from sim.models.hvac import MODES, Hvac
from sim.models.profile import Dryer, ElectricRange, Lighting, Outlets, Refrigerator
from sim.models.pv import SolarPv
from sim.models.water_heater import WaterHeater

_BREAKER_SIZES = (15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 125)

TEMPLATE_PARAMS: dict[str, type] = {
    "panel_amps": int,
    "hvac_mode": str,
    "hvac_setpoint_c": float,  # the setpoint of a cool or heat unit; in auto the cooling one
    "heating_setpoint_c": float,
    "cooling_setpoint_c": float,
    "comfort_band_c": float,
    "precool_c": float,  # lower the cooling setpoint this much over the pre-cool hours
    "precool_from_hour": float,
    "precool_to_hour": float,
    "hvac_kw": float,
    "heat_source": str,
    "heating_kw": float,  # resistance: electric kW; gas: furnace heat output kW
    "backup_kw": float,  # heat pump resistance strips
    "thermal_resistance_c_per_kw": float,
    "thermal_capacitance_kwh_per_c": float,
    "initial_indoor_c": float,  # absent: random within the deadband
    "water_heater_liters": float,
    "hot_water_liters_per_day": float,
    "has_ev": bool,  # absent: drawn with probability ev_share
    "ev_share": float,
    "ev_charger_kw": float,  # absent: drawn from the charger levels
    "ev_arrival_hour": float,
    "ev_departure_hour": float,
    "ev_energy_kwh": float,
    "ev_battery_kwh": float,  # the car's usable battery (its state of charge in circuits.csv)
    "pv_kw": float,
    "battery_kwh": float,
    "battery_kw": float,
    "battery_mode": str,
    "load_scale": float,
}

# EV charger levels (kW) and their shares of home chargers: Level 2 at 16, 30 and 48 A
# continuous, and the 3.3 kW on-board chargers of older and plug-in hybrid cars.
EV_CHARGER_LEVELS = ((3.3, 0.2), (7.2, 0.65), (11.5, 0.15))

_HOUSE: dict[str, Any] = {
    "panel_amps": 200,
    "hvac_mode": "auto",
    "heating_setpoint_c": 20.0,
    "cooling_setpoint_c": 24.0,
    "comfort_band_c": 2.0,
    "precool_c": 0.0,
    "precool_from_hour": 13.0,
    "precool_to_hour": 15.0,
    "hvac_kw": 3.5,
    "heat_source": "gas",
    "heating_kw": 18.0,  # a 60 kBtu/h furnace
    "backup_kw": 5.0,
    "thermal_resistance_c_per_kw": 3.0,
    "thermal_capacitance_kwh_per_c": 8.0,
    "water_heater_liters": 190.0,
    "hot_water_liters_per_day": 180.0,
    "ev_share": 0.15,
    "ev_arrival_hour": 18.0,
    "ev_departure_hour": 7.0,
    "ev_energy_kwh": 15.0,
    "ev_battery_kwh": 60.0,
    "pv_kw": 0.0,
    "battery_kwh": 0.0,
    "battery_kw": 5.0,
    "battery_mode": "self_consumption",
    "load_scale": 1.0,
}

TEMPLATES: dict[str, dict[str, Any]] = {
    "house": dict(_HOUSE),
    # Smaller space with neighbours on most sides: less envelope, less mass, baseboards.
    "apartment": {
        **_HOUSE,
        "panel_amps": 100,
        "hvac_kw": 2.5,
        "heat_source": "resistance",
        "heating_kw": 5.0,
        "thermal_resistance_c_per_kw": 8.0,  # UA 0.125 kW/C: neighbours on most sides
        "thermal_capacitance_kwh_per_c": 4.0,
        "water_heater_liters": 150.0,
        "hot_water_liters_per_day": 110.0,
        "ev_share": 0.05,
        "load_scale": 0.7,
    },
    "solar_home": {**_HOUSE, "pv_kw": 6.0, "battery_kwh": 13.5, "battery_kw": 5.0},
    "heat_pump_home": {**_HOUSE, "heat_source": "heat_pump"},
}

# Solar absorptance of the opaque envelope, effective: light to medium walls take 0.4-0.6 of
# the sun, a shingle roof 0.8-0.9 of which the ventilated attic passes about half to the
# ceiling (ASHRAE Fundamentals, ch. 18: alpha/h_out 0.026 m2K/W for light surfaces).
ENVELOPE_ABSORPTANCE = 0.4
# Sun through the windows (SHGC x glass area behind blinds, m2) and internal gains (kW, daily
# mean) by template: an apartment has fewer sunlit walls.
_GAINS = {"house": (2.0, 0.8), "apartment": (1.0, 0.5), "solar_home": (2.0, 0.8),
          "heat_pump_home": (2.0, 0.8)}

_POSITIVE = {"hvac_kw", "heating_kw", "thermal_resistance_c_per_kw",
             "thermal_capacitance_kwh_per_c", "water_heater_liters", "ev_charger_kw",
             "ev_energy_kwh", "ev_battery_kwh", "battery_kw"}
_NON_NEGATIVE = {"comfort_band_c", "hot_water_liters_per_day", "pv_kw", "battery_kwh",
                 "load_scale", "backup_kw", "precool_c"}
_HOURS = {"ev_arrival_hour", "ev_departure_hour", "precool_from_hour", "precool_to_hour"}
_CHOICES = {"hvac_mode": MODES, "heat_source": HEAT_SOURCES, "battery_mode": BATTERY_MODES}


def panel_facts(panel_amps: int) -> dict[str, Any]:
    """Panel-level facts reported by a VEN."""
    if panel_amps not in PANEL_SIZES:
        raise ValueError(f"panel_amps must be one of {PANEL_SIZES}, not {panel_amps!r}")
    return {
        "panelAmperageRating": panel_amps,
        "panelVoltage": PANEL_VOLTAGE,
        "panelMaxKw": round(panel_amps * KW_PER_BREAKER_AMP, 3),
    }


def resolve_params(template: str, params: dict[str, Any]) -> dict[str, Any]:
    """Template defaults overlaid with validated `params`; ValueError on anything unknown."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown house template {template!r}; known: {sorted(TEMPLATES)}")
    unknown = sorted(set(params) - set(TEMPLATE_PARAMS))
    if unknown:
        raise ValueError(f"unknown house params {unknown}; known: {sorted(TEMPLATE_PARAMS)}")
    resolved = dict(TEMPLATES[template])
    for name, value in params.items():
        resolved[name] = _check(name, value)
    return resolved


def _check(name: str, value: Any) -> Any:
    kind = TEMPLATE_PARAMS[name]
    if kind is bool or kind is str:
        ok = isinstance(value, kind)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:  # float: ints are fine, bools and NaN are not
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise ValueError(f"house param {name!r} must be {kind.__name__}, got {value!r}")
    if kind is float:
        value = float(value)
    if name == "panel_amps" and value not in PANEL_SIZES:
        raise ValueError(f"panel_amps must be one of {PANEL_SIZES}, not {value!r}")
    if name in _POSITIVE and value <= 0:
        raise ValueError(f"house param {name!r} must be > 0, got {value!r}")
    if name in _NON_NEGATIVE and value < 0:
        raise ValueError(f"house param {name!r} must be >= 0, got {value!r}")
    if name in _HOURS and not 0.0 <= value < 24.0:
        raise ValueError(f"house param {name!r} must be an hour in [0, 24), got {value!r}")
    if name == "ev_share" and not 0.0 <= value <= 1.0:
        raise ValueError(f"house param 'ev_share' must be a share in [0, 1], got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"house param {name!r} must be one of {', '.join(_CHOICES[name])}, "
                         f"got {value!r}")
    return value


def setpoints(p: dict[str, Any]) -> tuple[float, float]:
    """(heating, cooling) setpoints; a legacy `hvac_setpoint_c` is the active mode's one."""
    heat, cool = p["heating_setpoint_c"], p["cooling_setpoint_c"]
    legacy = p.get("hvac_setpoint_c")
    if legacy is None:
        return heat, cool
    if p["hvac_mode"] == "heat":
        return legacy, cool
    # An auto house given only the cooling setpoint keeps its heating one 2 C below it.
    return min(heat, legacy - 2.0), legacy


def heat_source_for(p: dict[str, Any]) -> HeatSource:
    kind = p["heat_source"]
    if kind == "heat_pump":
        return HeatPump(p["hvac_kw"], backup_kw=p["backup_kw"])
    if kind == "resistance":
        return ResistanceHeat(p["heating_kw"])
    return GasFurnace(p["heating_kw"])


def breaker_for(kw: float, minimum: int = 15) -> int:
    """Smallest standard breaker carrying `kw` continuously (80 % rule)."""
    amps = kw / KW_PER_BREAKER_AMP / 0.8
    for size in _BREAKER_SIZES:
        if size >= max(amps, minimum):
            return size
    return _BREAKER_SIZES[-1]


def build_circuits(
    template: str, params: dict[str, Any], rng: random.Random,
    stream: Callable[[int], Any] = random.Random,
) -> list[Circuit]:
    """The circuits of one house, deterministic for a given rng state and params.

    Physical constants (R, C, COP) vary +-10 % per house and each circuit gets its own
    forked rng, `stream(seed)`, so a fleet does not cycle in lock-step and circuits stepped
    by separate actors in any order stay reproducible (a load test's VENs take the lighter
    `sim.streams.SplitMix64`).
    """
    p = resolve_params(template, params)
    scale = p["load_scale"]
    heating, cooling = setpoints(p)
    mode = p["hvac_mode"]
    offset = rng.uniform(-0.5, 0.5)
    initial = p.get("initial_indoor_c")  # absent: where the thermostat holds it, +-0.5 C
    r_value = p["thermal_resistance_c_per_kw"] * rng.uniform(0.9, 1.1)
    c_value = p["thermal_capacitance_kwh_per_c"] * rng.uniform(0.9, 1.1)
    cop = 3.0 * rng.uniform(0.93, 1.07)
    solar_gain, internal_gain = _GAINS[template]
    # Drawn whatever the params say, so an explicit choice does not shift later draws.
    ev_drawn = rng.random() < p["ev_share"]
    level = rng.choices([kw for kw, _ in EV_CHARGER_LEVELS],
                        weights=[w for _, w in EV_CHARGER_LEVELS])[0]
    has_ev = p["has_ev"] if p.get("has_ev") is not None else ev_drawn
    ev_kw = p["ev_charger_kw"] if p.get("ev_charger_kw") is not None else level

    def fork() -> random.Random:
        return stream(rng.getrandbits(64))  # type: ignore[no-any-return]

    source = heat_source_for(p)
    if isinstance(source, HeatPump):
        # Strips come on where the compressor alone no longer carries the house.
        source.backup_below_c = source.balance_point_c(1.0 / r_value, heating, internal_gain)
    hvac_kw = max(p["hvac_kw"], source.max_electric_kw if mode != "cool" else 0.0)
    hvac_breaker = 30 if hvac_kw > 2.5 else 20
    hvac = Hvac("hvac1", "HVAC", max(hvac_breaker, breaker_for(hvac_kw)), critical=True,
                priority=3, rng=fork(), mode=mode, setpoint_c=cooling,
                heating_setpoint_c=heating, cooling_setpoint_c=cooling,
                comfort_band_c=p["comfort_band_c"], precool_c=p["precool_c"],
                precool_from_hour=p["precool_from_hour"], precool_to_hour=p["precool_to_hour"],
                r_c_per_kw=r_value, c_kwh_per_c=c_value,
                compressor_kw=p["hvac_kw"], cop=cop, heat_source=source,
                initial_indoor_c=initial, initial_offset_c=offset, window_gain_m2=solar_gain,
                internal_gain_kw=internal_gain, absorptance=ENVELOPE_ABSORPTANCE,
                compressor_on=rng.random() < 0.5)
    heater = WaterHeater("heater1", "Water Heater", 30, priority=7, rng=fork(),
                         tank_liters=p["water_heater_liters"],
                         liters_per_day=p["hot_water_liters_per_day"])
    circuits: dict[str, Circuit] = {"hvac1": hvac, "heater1": heater}
    ev_rng = fork()  # forked with or without a car, so the circuits after keep their streams
    if has_ev:
        circuits["ev1"] = EvCharger(
            "ev1", "EV Charger", max(40, breaker_for(ev_kw)), priority=8,
            rng=ev_rng, charger_kw=ev_kw, arrival_hour=p["ev_arrival_hour"],
            departure_hour=p["ev_departure_hour"], mean_energy_kwh=p["ev_energy_kwh"],
            energy_min_kwh=0.55 * p["ev_energy_kwh"], energy_max_kwh=1.65 * p["ev_energy_kwh"],
            battery_kwh=p["ev_battery_kwh"])
    if template != "apartment":
        circuits["dryer1"] = Dryer("dryer1", "Dryer", 30, priority=6, rng=fork(), scale=scale)
    circuits["range1"] = ElectricRange("range1", "Electric Range", 40, priority=2, rng=fork(),
                                       scale=scale)
    circuits["lights1"] = Lighting("lights1", "Lighting Circuits", 15, priority=4, rng=fork(),
                                   scale=scale)
    circuits["outlets1"] = Outlets("outlets1", "General Outlets", 20, priority=2, rng=fork(),
                                   scale=scale)
    circuits["fridge1"] = Refrigerator("fridge1", "Refrigerator", 15, critical=True, priority=1,
                                       rng=fork(), scale=scale)
    pv_ac_kw = 0.0
    if p["pv_kw"] > 0:
        pv = SolarPv("pv1", "Solar PV", breaker_for(p["pv_kw"]), priority=1, rng=fork(),
                     kw_peak=p["pv_kw"])
        circuits["pv1"] = pv
        pv_ac_kw = pv.kw_peak * pv.derate
    if p["battery_kwh"] > 0:
        circuits["battery1"] = Battery(
            "battery1", "Battery", breaker_for(p["battery_kw"]), priority=9, rng=fork(),
            capacity_kwh=p["battery_kwh"], max_kw=p["battery_kw"], mode=p["battery_mode"],
            pv_kw_peak=pv_ac_kw, initial_soc=rng.uniform(0.4, 0.8))
    order = _APARTMENT_ORDER if template == "apartment" else _HOUSE_ORDER
    return [circuits[cid] for cid in order if cid in circuits]


_HOUSE_ORDER = ("hvac1", "heater1", "ev1", "dryer1", "range1", "lights1", "outlets1", "fridge1",
                "pv1", "battery1")
_APARTMENT_ORDER = ("hvac1", "heater1", "ev1", "lights1", "outlets1", "fridge1", "range1", "pv1",
                    "battery1")
