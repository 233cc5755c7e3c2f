"""The probe VTN of a fleet run: command round trips, event fan-out, telemetry latency.

It is one more MQTT client, or several (`--vtn-connections`; never a VEN's client ID), that
does what the backend does: publishes commands on `ven/cmd/{venId}` and reads acks on
`ven/ack/+` (with several shards on a broker given by URL, on its own VENs' ack topics
alone: `plan.reads_own_acks`). At `--probe-rate` it
sends a random connected VEN, in turn, a ping or a short DR event, and restores that event
as soon as it is acknowledged: all three ops time into `command_rtt`, each also into its own
`command_rtt_{op}`. The fan-out sends one DR event to every VEN at once and times each VEN's
ack from the moment the dispatch began; `restore_fanout` then ends it on every VEN it went
to, timed the same way (`fanout_restore`). It also follows the telemetry topics of a few
VENs and times each message from the VEN's publish() to its arrival here.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sim import bounded, contract
from sim.fleet_scenario import FleetEvent
from sim.limits import MAX_INFLIGHT_PUBLISHES
from ven_sim.fleet.metrics import FANOUT_STAGES, PROBE_OPS, FleetMetrics
from ven_sim.fleet.plan import DEFAULT_FANOUT, PROBE_TELEMETRY_TOPICS
from ven_sim.transports.base import BaseTransport
from ven_sim.transports.paho import PahoTransport

__all__ = ["PROBE_EVENT", "AckTally", "ProbeVtn", "ack_fields", "ack_filters"]

# A probe's own DR event: small and short, restored as soon as it is acknowledged.
PROBE_EVENT = FleetEvent("probe", None, 0.1, 60.0)
FANOUT_KINDS = ("fanout", "fanout_restore")
WIRE_OP = {"ping": "ping", "event": "event", "restore": "restore", "fanout": "event",
           "fanout_restore": "restore"}  # what each kind of command is on the wire
# How an ack begins as `sim.contract` writes it (compact, its keys in this order): the two
# fields the probe needs, top-level members of the object, strings without escapes.
_ACK_HEAD = re.compile(
    rb'\{"op":"[a-z_]{1,32}","correlationId":"([^"\\\x00-\x1f]*)","venId":"[^"\\\x00-\x1f]*",'
    rb'"ok":(true|false)[,}]')


@dataclass
class AckTally:
    sent: int = 0
    acked: int = 0
    errors: int = 0  # acks with ok false


@dataclass(frozen=True)
class _Sent:
    kind: str  # a key of WIRE_OP
    at: float  # monotonic: when sent, or when its fan-out's dispatch began
    ven_id: str
    event_id: str = ""


class ProbeVtn:
    """The backend's stand-in. With `connections` K > 1 it holds K MQTT connections, as a
    backend that dispatches over many does: the fan-out's commands go out over all of them in
    turn, and the acks come in over all of them, each ack to one, through a shared
    subscription (`$share/{client_id}/ven/ack/+`); pings, probe events and the followed
    telemetry use the first. On AWS IoT Core each connection may publish and receive 100
    messages a second, so one connection makes a fan-out to N VENs take N / 100 s. With
    `own_acks` (its shard's VENs) it subscribes to their ack topics alone (`ack_filters`)."""

    def __init__(
        self, transport: BaseTransport, client_id: str, metrics: FleetMetrics, traced: list[str],
        seed: int = 0, connections: int = 1, own_acks: list[str] | None = None,
    ) -> None:
        if connections < 1:
            raise ValueError(f"a probe needs at least one connection, not {connections}")
        self.metrics = metrics
        self.rng = random.Random(f"{seed}:probe")
        self._lock = threading.Lock()
        self._waiting: dict[str, _Sent] = {}  # correlationId -> the command awaiting its ack
        self._fanout_targets: dict[str, list[str]] = {}  # event id -> VENs, until restored
        self.tally = {kind: AckTally() for kind in WIRE_OP}
        # Acks no command of this probe awaits: another shard's (every probe reads `ven/ack/+`),
        # a redelivered or late one, or a second copy (were a shared subscription not shared).
        self.unmatched_acks = 0
        self._probes = 0
        # The fan-out's window, monotonic: when the first dispatch began, the latest ack.
        self.fanout_began: float | None = None
        self.last_fanout_ack: float | None = None
        self.ready = threading.Event()  # once every connection has been up
        self._up: set[int] = set()
        self._wanted_up = connections  # (a transport may report one up inside its open())
        # As a backend's VTN: served ahead of the VENs sharing its loop, its acks read as
        # they arrive and its commands sent in one burst, so its queue is not timed as theirs.
        first = {"serve_first": True} if isinstance(transport, PahoTransport) else {}
        client_ids = [client_id] + [f"{client_id}-{k}" for k in range(1, connections)]
        self.connections = [
            transport.open(cid, self._on_message, partial(self._on_state, k), **first)
            for k, cid in enumerate(client_ids)
        ]
        self.connection = self.connections[0]
        acks = ack_filters(client_id, connections, own_acks)
        self.ack_subscriptions = len(acks) * connections
        for connection in self.connections:
            if hasattr(connection, "max_inflight"):  # a paho connection: 20 by default
                # The fan-out is N commands at once, and a backend sends them as fast as the
                # broker takes them, not 20 at a time like a device. AWS IoT (the transport
                # limits the publish rate there) takes at most 100 unacknowledged from one client.
                limited = getattr(transport, "max_publish_rate", None) is not None
                connection.max_inflight = MAX_INFLIGHT_PUBLISHES if limited else None
            for topic_filter in acks:
                connection.subscribe(topic_filter)
        for ven_id in traced[:PROBE_TELEMETRY_TOPICS]:
            topic = contract.topics(ven_id).telemetry
            metrics.traced[topic] = deque()
            self.connection.subscribe(topic)

    def _on_state(self, index: int, up: bool, _reason: str | None) -> None:
        if up:
            with self._lock:
                self._up.add(index)
                everyone = len(self._up) == self._wanted_up
            if everyone:
                self.ready.set()

    @property
    def last_error(self) -> str | None:
        """The first connection error any of its connections met, if one did."""
        errors = (connection.stats.last_error for connection in self.connections)
        return next((error for error in errors if error), None)

    def probe(self, ven_id: str) -> None:
        """The next probe of `ven_id`: a ping, or (every other time) an event to restore."""
        self._probes += 1
        if self._probes % 2:
            self._command("ping", ven_id, {})
            return
        event_id = f"{PROBE_EVENT.id}-{self.rng.getrandbits(32):08x}"
        self._command("event", ven_id, _event_data(PROBE_EVENT, event_id), event_id)

    def fanout(self, ven_ids: list[str], event: FleetEvent = DEFAULT_FANOUT) -> None:
        """One DR event to every VEN in `ven_ids`, as fast as the loop takes them."""
        started = time.monotonic()
        # Before anything counts as sent: an event that cannot be encoded leaves nothing
        # awaiting an ack, or a restore, that never comes.
        encoded = contract.command_encoder(WIRE_OP["fanout"], _event_data(event, event.id))
        if self.fanout_began is None:
            self.fanout_began = started
        self.metrics.fanout_open = True  # the VENs' connections note their stages from now
        with self._lock:
            self._fanout_targets[event.id] = list(ven_ids)
        self._send_all("fanout", ven_ids, encoded, event.id, started)

    def restore_fanout(self, event_id: str) -> None:
        """The event is over: restore to every VEN it went to, as the backend does."""
        started = time.monotonic()
        encoded = contract.command_encoder(WIRE_OP["fanout_restore"], {"event_id": event_id})
        with self._lock:
            ven_ids = self._fanout_targets.pop(event_id, [])
        self._send_all("fanout_restore", ven_ids, encoded, event_id, started)

    def pending(self, kind: str, event_id: str | None = None) -> int:
        """Commands of `kind` (of one event, if given) still waiting for their ack."""
        with self._lock:
            return sum(1 for sent in self._waiting.values() if sent.kind == kind
                       and (event_id is None or sent.event_id == event_id))

    @property
    def fanout_pending(self) -> int:
        """Fan-out acks still out, restores included, and restores not yet sent."""
        with self._lock:
            waiting = sum(1 for sent in self._waiting.values() if sent.kind in FANOUT_KINDS)
            return waiting + len(self._fanout_targets)

    def _command(self, kind: str, ven_id: str, data: dict[str, Any], event_id: str = "") -> None:
        cid = self._correlation_id(kind, ven_id)
        sent_at = time.monotonic()  # its encoding is part of its round trip
        # Encoded before it counts as sent: one that cannot be awaits no ack.
        payload = contract.encode(contract.command_payload(WIRE_OP[kind], cid, ven_id, data))
        with self._lock:
            self._waiting[cid] = _Sent(kind, sent_at, ven_id, event_id)
            self.tally[kind].sent += 1
        self.connection.publish(contract.topics(ven_id).command, payload)

    def _correlation_id(self, kind: str, ven_id: str) -> str:
        """A command's correlation ID: its kind and VEN, and 48 random bits."""
        return f"{kind}-{ven_id}-{self.rng.getrandbits(48):012x}"

    def _send_all(self, kind: str, ven_ids: list[str], encoded: Callable[[str, str], bytes],
                  event_id: str, started: float) -> None:
        """The same command to every VEN in `ven_ids`, each timed from `started` (when the
        dispatch began): all awaited under one hold of the lock before the first is sent,
        and the payload encoded once but for its two IDs (`encoded`, from
        `contract.command_encoder`)."""
        cids = [self._correlation_id(kind, ven_id) for ven_id in ven_ids]
        with self._lock:
            for cid, ven_id in zip(cids, ven_ids, strict=True):
                self._waiting[cid] = _Sent(kind, started, ven_id, event_id)
            self.tally[kind].sent += len(ven_ids)
        publishes = [connection.publish for connection in self.connections]
        for n, (cid, ven_id) in enumerate(zip(cids, ven_ids, strict=True)):
            publishes[n % len(publishes)](contract.topics(ven_id).command, encoded(cid, ven_id))

    def _on_message(self, topic: str, payload: bytes) -> None:
        # The network loop's thread.
        now = time.monotonic()
        trace = self.metrics.traced.get(topic)
        if trace is not None:
            if trace:
                published = trace.popleft()
                self.metrics.add_run("telemetry_latency", (now - published) * 1000.0, published)
            return
        fields = ack_fields(payload)
        if fields is None:
            return
        cid, ok = fields
        with self._lock:
            sent = self._waiting.pop(cid, None)
            if sent is not None:
                self.tally[sent.kind].acked += 1
                self.tally[sent.kind].errors += not ok
            else:
                self.unmatched_acks += 1
        if sent is None:
            return
        ms = (now - sent.at) * 1000.0
        if sent.kind not in PROBE_OPS:
            self.metrics.add(sent.kind, ms)
            if sent.kind == "fanout":
                self.last_fanout_ack = now
                self._fanout_stages(sent)
            return
        self.metrics.add_run("command_rtt", ms, sent.at)
        self.metrics.add(f"command_rtt_{sent.kind}", ms)
        if sent.kind == "event":  # as soon as it is in place, take it back
            self._command("restore", sent.ven_id, {"event_id": sent.event_id}, sent.event_id)

    def _fanout_stages(self, sent: _Sent) -> None:
        """When the VEN read its command and published its ack, from the dispatch's start
        (its latest command and ack: a probe ping in between would stand in for them)."""
        stamps = (self.metrics.commands_read, self.metrics.acks_sent)
        for stage, times in zip(FANOUT_STAGES, stamps, strict=True):
            at = times.pop(sent.ven_id, None)
            if at is not None and at >= sent.at:
                self.metrics.add(f"fanout_{stage}", (at - sent.at) * 1000.0)

    def fanout_window(self) -> dict[str, float] | None:
        """The fan-out's window on the wall clock (epoch seconds, to line it up with other
        processes' readings): from its first dispatch to its latest ack; None before one."""
        if self.fanout_began is None or self.last_fanout_ack is None:
            return None
        to_epoch = time.time() - time.monotonic()
        return {"began_at": round(self.fanout_began + to_epoch, 3),
                "last_ack_at": round(self.last_fanout_ack + to_epoch, 3)}

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def ack_filters(client_id: str, connections: int, own: list[str] | None = None) -> list[str]:
    """What each of a probe's `connections` subscribes to for the VENs' acks: `ven/ack/+`, or
    with `own` the ack topic of each of those VENs alone (`reads_own_acks`); with more than
    one connection each filter is shared among them, in a group named after `client_id`."""
    topics = [contract.EVERY_VEN.ack] if own is None else [
        contract.topics(ven_id).ack for ven_id in own]
    if connections == 1:
        return topics
    return [contract.shared_subscription(client_id, topic) for topic in topics]


def ack_fields(payload: bytes) -> tuple[str, bool] | None:
    """An ack's `correlationId` (as text) and whether its `ok` is true; None if the payload
    is not a JSON object.

    An ack as the VENs write it is read from its head (`_ACK_HEAD`) without parsing the rest:
    json.loads of a 700-byte event ack (its circuits) cost 10 µs, a twentieth of a fan-out's
    network-loop time. Only where the fields are is checked, and that the payload ends the
    object and names `correlationId` and `ok` once each (JSON keeps the last of repeated
    keys); unlike `bounded.loads` (and `sim.bounded.top_level_int`), neither its size nor
    its nesting is checked, and a payload that is not JSON further on is not noticed: an
    instrument's read of what the VENs answer. Any other payload is parsed whole, by
    `bounded.loads`.
    """
    head = _ACK_HEAD.match(payload)
    if (head is not None and payload.endswith(b"}")
            and payload.count(b'"correlationId"') == 1 and payload.count(b'"ok":') == 1):
        try:
            return head.group(1).decode(), head.group(2) == b"true"
        except UnicodeDecodeError:
            pass  # bounded.loads refuses it too
    try:
        ack = bounded.loads(payload)
        return str(ack.get("correlationId")), ack.get("ok") is True
    except (ValueError, AttributeError):  # bounded.BadJson is a ValueError
        return None


def _event_data(event: FleetEvent, event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "requestedReductionKw": event.kw,
            "duration_s": event.duration_s}
