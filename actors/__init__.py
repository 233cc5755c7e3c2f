"""The VEN's actors: a controller, its circuits, the MQTT gateway, the shadow syncer and more.

Imports `sim` and pykka only (tests/test_layers.py).
"""

from __future__ import annotations

from actors.circuit import CircuitActor
from actors.connection import Connection, Transport
from actors.controller import ControllerActor
from actors.gateway import GatewayActor
from actors.live_state import LiveState, LiveStateActor
from actors.messages import Subscribe, Tick
from actors.recorder import RecorderActor
from actors.runtime import (
    BlockingGetError,
    DispatchedActor,
    Dispatcher,
    default_dispatcher,
    no_blocking_gets,
    stop_actors,
)
from actors.shadow import ShadowSyncerActor
from actors.ven import Ven

__all__ = [
    "BlockingGetError",
    "CircuitActor",
    "Connection",
    "ControllerActor",
    "DispatchedActor",
    "Dispatcher",
    "GatewayActor",
    "LiveState",
    "LiveStateActor",
    "RecorderActor",
    "ShadowSyncerActor",
    "Subscribe",
    "Tick",
    "Transport",
    "Ven",
    "default_dispatcher",
    "no_blocking_gets",
    "stop_actors",
]
