"""What a fleet run measures, and the transport wrapper that measures it.

`MeteredTransport` sits between each `Ven` and the real transport: it notes when a VEN opened
its connection and when it came up (connect latency, the ramp as it happened), why it went
down, and when it published telemetry (for the probe's end-to-end latency). The transport's
observer adds the TCP connect, TLS handshake, CONNACK and PUBACK times. Histograms are log-bucketed
(`Histogram`) so shards merge exactly.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from sim import contract
from ven_sim.fleet.histogram import Histogram
from ven_sim.transports.base import BaseConnection, BaseTransport, MessageHandler, StateHandler

__all__ = [
    "FANOUT_STAGES", "HISTOGRAMS", "INTERVAL_HISTOGRAMS", "PROBE_OPS", "FleetMetrics",
    "MeteredTransport", "disconnect_kind",
]

PROBE_OPS = ("ping", "event", "restore")  # the probe VTN's commands to sampled VENs
# Where a fan-out's time goes, each from the dispatch's start: the VEN read its command
# (probe send queue, broker, the VEN's socket), then published its ack (its actors).
FANOUT_STAGES = ("received", "ack_sent")
HISTOGRAMS = ("connect", "tcp", "tls", "connack", "puback", "telemetry_latency", "command_rtt",
              *(f"command_rtt_{op}" for op in PROBE_OPS), "fanout", "fanout_restore",
              "telemetry_latency_steady", "command_rtt_steady", "loop_round", "schedule_lag",
              *(f"fanout_{stage}" for stage in FANOUT_STAGES))
# The ones each timeline row keeps for its own 10 s (timeline_hist.jsonl), so shards merge.
INTERVAL_HISTOGRAMS = ("connect", "puback", "telemetry_latency", "command_rtt", "fanout",
                       "fanout_restore", "loop_round", "schedule_lag")


def disconnect_kind(reason: str | None) -> str:
    """A short, countable name for a `PahoConnection` reason (which carries details)."""
    text = (reason or "").lower()
    for needle, kind in (("rc=7", "takeover_rc7"), ("keepalive", "keepalive_timeout"),
                         ("no connack", "no_connack"), ("refused", "refused"),
                         ("certificate", "tls"), ("tls", "tls"), ("cannot connect", "unreachable"),
                         ("connection lost", "connection_lost")):
        if needle in text:
            return kind
    return "other"


class FleetMetrics:
    """Counters and histograms of one run; safe to update from the loop and kernel threads."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.hist = {name: Histogram() for name in HISTOGRAMS}
        self.opened: dict[str, float] = {}  # client_id -> when open() was called (run time)
        self.first_up: dict[str, float] = {}  # client_id -> first connection up (run time)
        self.up: set[str] = set()
        self.disconnects: Counter[str] = Counter()
        self.connect_failures: Counter[str] = Counter()
        self.unexpected_disconnects = 0
        self.reconnects = 0  # a VEN back up after it had been up (its transport reconnected)
        self.telemetry_published = 0  # touched by the dispatcher thread only
        self.published = 0  # every VEN publish (telemetry, shadow, acks); dispatcher thread
        self.stopping = False  # set before a clean shutdown: later disconnects are expected
        # All connected and the fan-out over (monotonic): what starts from then on is steady.
        self.steady_since: float | None = None
        self.traced: dict[str, deque[float]] = {}  # telemetry topic -> publish times (probe)
        # From the first fan-out on (the probe sets it): VEN -> when its last command was read,
        # and when it last published an ack (monotonic; the probe and VENs share a clock).
        self.fanout_open = False
        self.commands_read: dict[str, float] = {}
        self.acks_sent: dict[str, float] = {}
        self._interval_from = {name: Histogram() for name in INTERVAL_HISTOGRAMS}

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, name: str, value_ms: float) -> None:
        with self.lock:
            self.hist[name].add(value_ms)

    def open_steady(self) -> None:
        self.steady_since = time.monotonic()

    def add_run(self, name: str, value_ms: float, started: float) -> None:
        """Into `name`, and into `name_steady` too if what it times started (monotonic) at
        steady state: a round trip begun in a fan-out and ended after it is the fan-out's."""
        with self.lock:
            self.hist[name].add(value_ms)
            if self.steady_since is not None and started >= self.steady_since:
                self.hist[f"{name}_steady"].add(value_ms)

    def observe(self, event: str, _client_id: str, seconds: float) -> None:
        """The transport's observer: tcp, tls, connack and puback times."""
        self.add(event, seconds * 1000.0)

    def summary(self, name: str, *quantiles: str) -> dict[str, float | None]:
        with self.lock:
            return self.hist[name].summary(*quantiles)

    def histograms(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {name: hist.to_dict() for name, hist in self.hist.items()}

    def interval(self, *, close: bool) -> dict[str, Histogram]:
        """The samples of each `INTERVAL_HISTOGRAMS` since the last interval closed; `close`
        starts the next one (a copy per 10 s, nothing on the hot path)."""
        with self.lock:
            now = {name: self.hist[name].copy() for name in INTERVAL_HISTOGRAMS}
        delta = {name: now[name].since(self._interval_from[name]) for name in now}
        if close:
            self._interval_from = now
        return delta

    def on_state(self, client_id: str, up: bool, reason: str | None) -> None:
        now = self.now()
        with self.lock:
            if up:
                if client_id not in self.first_up:
                    self.first_up[client_id] = now
                    self.hist["connect"].add((now - self.opened[client_id]) * 1000.0)
                elif client_id not in self.up:
                    self.reconnects += 1
                self.up.add(client_id)
                return
            kind = disconnect_kind(reason)
            if client_id in self.up:
                self.up.discard(client_id)
                self.disconnects[kind] += 1
                if not self.stopping:
                    self.unexpected_disconnects += 1
            else:
                self.connect_failures[kind] += 1

    @property
    def connected(self) -> int:
        return len(self.up)


class MeteredConnection(BaseConnection):
    """A connection that counts telemetry and times the probe's traced topics, and notes its
    link's ups and downs and when a command is read (its own bound methods are the inner
    connection's callbacks: no closures, with their cells, per VEN)."""

    inner: BaseConnection  # set by `MeteredTransport.open` once the inner one is open

    def __init__(self, client_id: str, metrics: FleetMetrics, on_message: MessageHandler,
                 on_state: StateHandler | None) -> None:
        self.client_id = client_id
        self.metrics = metrics
        self.on_message, self.on_state = on_message, on_state
        topics = contract.topics(client_id)
        self.telemetry_topic, self.ack_topic = topics.telemetry, topics.ack
        self.command_topic = topics.command

    def _state(self, up: bool, reason: str | None) -> None:
        self.metrics.on_state(self.client_id, up, reason)
        if self.on_state is not None:
            self.on_state(up, reason)

    def _message(self, topic: str, payload: bytes) -> None:
        metrics = self.metrics
        if metrics.fanout_open and topic == self.command_topic:
            metrics.commands_read[self.client_id] = time.monotonic()
        self.on_message(topic, payload)

    @property
    def connected(self) -> bool:
        return self.inner.connected

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.metrics.published += 1
        if topic == self.telemetry_topic:
            self.metrics.telemetry_published += 1
            trace = self.metrics.traced.get(topic)
            if trace is not None:
                trace.append(time.monotonic())
        elif topic == self.ack_topic and self.metrics.fanout_open:
            self.metrics.acks_sent[self.client_id] = time.monotonic()
        self.inner.publish(topic, payload, qos)

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.inner.subscribe(topic_filter, qos)

    def close(self) -> None:
        self.inner.close()


class MeteredTransport(BaseTransport):
    """Opens the inner transport's connections wrapped in `MeteredConnection`."""

    def __init__(self, inner: BaseTransport, metrics: FleetMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def open(
        self, client_id: str, on_message: MessageHandler, on_state: StateHandler | None = None,
        *, will: tuple[str, bytes] | None = None,
    ) -> MeteredConnection:
        metrics = self.metrics
        connection = MeteredConnection(client_id, metrics, on_message, on_state)
        with metrics.lock:
            metrics.opened[client_id] = metrics.now()
        connection.inner = self.inner.open(client_id, connection._message, connection._state,
                                           will=will)
        connection.stats = connection.inner.stats
        return connection

    def close(self) -> None:
        self.inner.close()
