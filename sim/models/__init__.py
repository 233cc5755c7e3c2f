"""Circuit physics: plain Python models stepped by circuit actors or by a plain loop."""

from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE, Circuit, StepEnv
from sim.models.battery import Battery
from sim.models.ev import EvCharger
from sim.models.house import TEMPLATE_PARAMS, TEMPLATES, build_circuits, panel_facts
from sim.models.hvac import Hvac
from sim.models.profile import (
    ApplianceLoad,
    Dryer,
    ElectricRange,
    Lighting,
    Outlets,
    Refrigerator,
    ShapedLoad,
)
from sim.models.pv import SolarPv
from sim.models.water_heater import WaterHeater

__all__ = [
    "KW_PER_BREAKER_AMP",
    "PANEL_VOLTAGE",
    "TEMPLATES",
    "TEMPLATE_PARAMS",
    "ApplianceLoad",
    "Battery",
    "Circuit",
    "Dryer",
    "ElectricRange",
    "EvCharger",
    "Hvac",
    "Lighting",
    "Outlets",
    "Refrigerator",
    "ShapedLoad",
    "SolarPv",
    "StepEnv",
    "WaterHeater",
    "build_circuits",
    "panel_facts",
]
