"""Messages the VEN actors tell each other. Immutable, so they are safe to share.

The domain's requests and records (StartEvent, Telemetry, EventAck...) live in
`sim.records` and are re-exported here, so every message an actor receives has one
import path on this side.

The ones sent per tick per circuit are NamedTuples: they build several times
faster than frozen dataclasses, and these are the bulk of all messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sim.curtailment import CircuitInfo
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

if TYPE_CHECKING:
    from actors.connection import Connection

__all__ = [
    "AddCircuit",
    "Advance",
    "AdvanceBatch",
    "Attach",
    "CircuitBatch",
    "CircuitReading",
    "ConfigChanged",
    "Curtail",
    "EndEvent",
    "EventAck",
    "EventEnded",
    "Fork",
    "Inbound",
    "LinkState",
    "ReadingRound",
    "Restore",
    "SetLoad",
    "SetPanel",
    "ShedLoad",
    "StartEvent",
    "Subscribe",
    "Telemetry",
    "TelemetryBatch",
    "TelemetrySent",
    "Tick",
]


class Tick(NamedTuple):
    """Advance the VEN's circuits to simulated time `t`; `report` closes an interval.

    `earlier` lists report times before `t` that this one tick also covers: a fast run
    batches quiet intervals so circuits step them in one message (see ControllerActor).
    """

    t: float
    report: bool = True
    earlier: tuple[float, ...] = ()


class Advance(NamedTuple):
    """Circuit: step physics from where you are up to `t`; the reading goes `into` the VEN's
    round (None: told to the controller on its own)."""

    t: float
    into: ReadingRound | None = None


class AdvanceBatch(NamedTuple):
    """Circuit: step to each of `times` in turn, one reading per time, in one reply."""

    times: tuple[float, ...]
    into: ReadingRound | None = None


class ReadingRound:
    """What a VEN's circuits read for one Advance or AdvanceBatch, gathered for its controller.

    Each circuit puts its reading (or its batch of readings) in under its id, and the last one
    in tells the round to the controller: one message per VEN per round, not one per circuit.
    The one mutable message, and safe: a VEN's actors share one dispatcher, which handles one
    message at a time, and the controller reads the round only once every circuit is in.
    """

    __slots__ = ("controller", "pending", "readings")

    def __init__(self, controller: Any, pending: int) -> None:
        self.controller = controller  # pykka.ActorRef of the VEN's ControllerActor
        self.pending = pending
        self.readings: dict[str, Any] = {}  # circuit id -> its CircuitReading, or a batch's tuple

    def put(self, circuit_id: str, reading: Any) -> None:
        self.readings[circuit_id] = reading
        self.pending -= 1
        if not self.pending:
            self.controller.tell(self)


class CircuitBatch(NamedTuple):
    """Circuit -> controller after an AdvanceBatch: one reading per time."""

    circuit_id: str
    readings: tuple[CircuitReading, ...]


class Curtail(NamedTuple):
    """Controller -> circuit: shed `reduce_kw` below natural draw until told otherwise."""

    reduce_kw: float


class Fork(NamedTuple):
    """Controller -> circuit as an event starts: keep a twin that never sees this event.

    The twin is the circuit as it would be had the event not come: it keeps what earlier
    events left (a shed still held is released at `restore_at`, when the restore that the
    event cancelled was due) and gets no Curtail, so it draws the exact counterfactual.
    """

    event_id: str
    restore_at: float | None
    end: float  # the event's end: until then the circuit may be curtailed any time


@dataclass(frozen=True, slots=True)
class Restore:
    """Controller -> circuit: stop curtailing."""


@dataclass(frozen=True, slots=True)
class AddCircuit:
    """Wiring: the controller meters and curtails this circuit actor."""

    info: CircuitInfo
    ref: Any  # pykka.ActorRef


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Wiring: tell `ref` every Telemetry and EventAck of this VEN."""

    ref: Any  # pykka.ActorRef
    loads: bool = False  # also fill Telemetry.loads with a row per circuit
    batches: bool = False  # take a batch of quiet intervals' Telemetry as one TelemetryBatch


class TelemetryBatch(NamedTuple):
    """Controller -> a listener that asked for batches: the Telemetry of a batch of quiet
    intervals (see ControllerActor), in order, as one message rather than one each."""

    reports: tuple[Telemetry, ...]


class TelemetrySent(NamedTuple):
    """Gateway -> its listeners: a Telemetry it published, with its `loads` array's text as
    published, so a shadow report carries them without encoding them again; the Telemetry's own
    `loads` then empty (the rows are that text). If the text is not found (None), the rows stay.
    A Telemetry not published (more often than the report interval) goes on its own."""

    telemetry: Telemetry
    loads_json: bytes | None


@dataclass(frozen=True, slots=True)
class Inbound:
    """Network -> gateway or shadow syncer: an MQTT message arrived."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class LinkState:
    """Network -> gateway or shadow syncer: the MQTT connection went up or down."""

    connected: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ClockSkew:
    """A clock_skew fault -> gateway: stamp what goes on the wire `offset_s` off true time."""

    offset_s: float


@dataclass(frozen=True, slots=True)
class ConfigChanged:
    """Gateway -> subscribers: the VEN's settings changed (set/setConfig or a shadow delta)."""

    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attach:
    """Ven -> gateway and shadow syncer: the VEN's one MQTT connection is ready to use."""

    connection: Connection
