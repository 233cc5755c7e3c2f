"""The simulation domain: scenarios, the world, circuit physics, DR logic and records.

Plain Python that imports nothing of ours above it (no `actors`, no `ven_sim`) and no
pykka, paho, click, amqtt or boto3 (tests/test_layers.py). Reading a scenario file is
`sim.scenario_loader.load_scenario`, not re-exported: it loads jsonschema and ruamel.yaml,
which `import sim` should not pay for.
"""

from __future__ import annotations

from sim.commands import Command, CommandError, parse_command
from sim.curtailment import CircuitInfo, Curtailment, ShedPlanner
from sim.fleetlog import FleetLog
from sim.mv import EventWindow
from sim.records import (
    CircuitReading,
    EndEvent,
    EventAck,
    EventEnded,
    SetLoad,
    SetPanel,
    ShedLoad,
    StartEvent,
    Telemetry,
)
from sim.scenario import EventSpec, FleetGroup, Scenario, ScenarioError
from sim.world import Weather, World

__all__ = [
    "CircuitInfo",
    "CircuitReading",
    "Command",
    "CommandError",
    "Curtailment",
    "EndEvent",
    "EventAck",
    "EventEnded",
    "EventSpec",
    "EventWindow",
    "FleetGroup",
    "FleetLog",
    "Scenario",
    "ScenarioError",
    "SetLoad",
    "SetPanel",
    "ShedLoad",
    "ShedPlanner",
    "StartEvent",
    "Telemetry",
    "Weather",
    "World",
    "parse_command",
]
