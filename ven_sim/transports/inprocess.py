"""The in-process transport: a broker in memory, no sockets, deterministic.

Every publish is delivered synchronously to matching subscribers on the publisher's
thread, so a `speed: max` simulation stays fast and runs the same way every time.
With `shadows=ShadowStore()` the bus also answers the AWS shadow protocol, so a
simulation gets device shadows without any network.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sim import contract
from sim.limits import OFFLINE_BUFFER_MESSAGES
from ven_sim.broker.shadow_store import ShadowStore
from ven_sim.transports.base import (
    BaseConnection,
    BaseTransport,
    ConnectionStats,
    MessageHandler,
    StateHandler,
    topic_matches,
)

__all__ = ["InProcessBus", "InProcessTransport"]


class InProcessBus:
    """A broker in memory: delivers each publish synchronously to matching subscribers.

    Optionally answers the AWS shadow protocol itself (`shadows=ShadowStore()`),
    so a simulation gets shadows without any network.
    """

    def __init__(self, shadows: ShadowStore | None = None) -> None:
        self._lock = threading.RLock()
        self._subs: dict[str, list[_InProcessConnection]] = defaultdict(list)
        self._wildcards: list[str] = []
        # Shared subscriptions, (group, filter) -> members: each message to one, in turn.
        self._shared: dict[tuple[str, str], list[_InProcessConnection]] = defaultdict(list)
        self._turns: dict[tuple[str, str], int] = defaultdict(int)
        self._clients: dict[str, _InProcessConnection] = {}
        self.shadows = shadows
        self.published = 0
        self.down: str | None = None  # why the broker is away (an outage fault), or None
        self.cut: dict[str, str] = {}  # client ID -> why its link is dropped (connection_drop)
        self.lags: dict[str, Carrier] = {}  # client ID -> its slow link (a latency fault)
        self.telemetry_lost = 0  # telemetry dropped from a full offline buffer
        self.telemetry_replayed = 0  # telemetry sent late, after an outage

    def outage(self, reason: str | None) -> None:
        """Take the broker away (`reason`) or bring it back (None), as a real outage does.

        Every connection sees the link go down and buffers what it publishes (bounded,
        oldest dropped first); when the broker is back each sees the link come up, and
        then replays its buffer in order. Runs on the caller's thread, synchronously.
        """
        with self._lock:
            self.down = reason
            clients = [c for c in self._clients.values() if c.client_id not in self.cut]
        _relink(clients, reason)

    def drop(self, client_ids: list[str], reason: str | None) -> None:
        """Drop the links of `client_ids` (`reason`), or give them back (None).

        Only those clients see their link go down: each buffers what it publishes, and the
        broker holds what is published to it (the same bound, oldest dropped first), as for
        a persistent session. When the link is back each replays its buffer, then receives
        what was held. Everyone else is untouched.
        """
        with self._lock:
            for client_id in client_ids:
                if reason is None:
                    self.cut.pop(client_id, None)
                else:
                    self.cut[client_id] = reason
            clients = [self._clients[c] for c in client_ids if c in self._clients]
        if self.down is not None:
            return  # the broker is away anyway: its return brings these links back
        _relink(clients, reason)

    def attach(self, conn: _InProcessConnection) -> None:
        with self._lock:
            old = self._clients.get(conn.client_id)
            self._clients[conn.client_id] = conn
        if old is not None and old is not conn:
            # Like AWS IoT: a second connection with the same client ID kicks the first.
            old._kick("another connection used the same client ID (rc=7 on a real broker)")

    def detach(self, conn: _InProcessConnection) -> None:
        with self._lock:
            if self._clients.get(conn.client_id) is conn:
                del self._clients[conn.client_id]
            for subs in (*self._subs.values(), *self._shared.values()):
                if conn in subs:
                    subs.remove(conn)

    def subscribe(self, conn: _InProcessConnection, topic_filter: str) -> None:
        shared = contract.parse_shared_subscription(topic_filter)
        with self._lock:
            if shared is not None:
                if conn not in self._shared[shared]:
                    self._shared[shared].append(conn)
                return
            if conn not in self._subs[topic_filter]:
                self._subs[topic_filter].append(conn)
            if ("+" in topic_filter or "#" in topic_filter) and topic_filter not in self._wildcards:
                self._wildcards.append(topic_filter)

    def publish(self, topic: str, payload: bytes) -> None:
        self.published += 1
        with self._lock:
            # Most filters are exact topics (ven/cmd/ven-1): a dict hit, not a scan.
            targets = list(self._subs.get(topic, ()))
            targets += [
                conn
                for topic_filter in self._wildcards
                if topic_matches(topic_filter, topic)
                for conn in self._subs[topic_filter]
            ]
            for key, members in self._shared.items():
                if members and topic_matches(key[1], topic):
                    targets.append(members[self._turns[key] % len(members)])
                    self._turns[key] += 1
        for conn in targets:
            conn._deliver(topic, payload)
        # The prefix test first: it is all that most publishes (telemetry) cost here.
        if self.shadows is not None and topic.startswith(contract.SHADOW_TOPIC_PREFIX):
            self._answer_shadow(topic, payload)
        elif self.shadows is not None and topic_matches(contract.PRESENCE_FILTER, topic):
            for thing, suffix, document in self.shadows.presence(topic, payload):
                self.publish(contract.shadow_topic(thing, suffix), contract.encode(document))

    def _answer_shadow(self, topic: str, payload: bytes) -> None:
        request = contract.shadow_request(topic)
        if request is None:
            return  # a reply (ours), or not the classic shadow
        thing, operation = request
        assert self.shadows is not None
        for suffix, document in self.shadows.handle(thing, operation, payload):
            self.publish(contract.shadow_topic(thing, suffix), contract.encode(document))


def _relink(clients: list[_InProcessConnection], reason: str | None) -> None:
    """Tell each client its link went down (`reason`) or came back (None); once every one
    knows it is back, each replays what it buffered, in order."""
    for conn in clients:
        if conn.on_state is not None:
            conn.on_state(reason is None, reason)
    if reason is None:
        for conn in clients:
            conn._replay()


class Carrier(Protocol):
    """A slow link (ven_sim.faults.LinkLag): runs `deliver` once the message has crossed."""

    def carry(self, direction: str, topic: str, deliver: Callable[[], None]) -> None: ...


@dataclass
class _InProcessConnection(BaseConnection):
    bus: InProcessBus
    client_id: str
    on_message: MessageHandler
    on_state: StateHandler | None
    will: tuple[str, bytes] | None = None  # published if kicked: the only unclean end here
    stats: ConnectionStats = field(default_factory=ConnectionStats)
    _open: bool = True
    _offline: deque[tuple[str, bytes]] = field(default_factory=deque)
    _held: deque[tuple[str, bytes]] = field(default_factory=deque)  # for us while cut

    @property
    def connected(self) -> bool:
        return self._open and self.bus.down is None and self.client_id not in self.bus.cut

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if not self._open:
            self.stats.dropped += 1
            return
        if not self.connected:  # like paho's offline buffer: bounded, oldest first
            if len(self._offline) >= OFFLINE_BUFFER_MESSAGES:
                lost_topic, _ = self._offline.popleft()
                self.stats.dropped += 1
                self.bus.telemetry_lost += _is_telemetry(lost_topic)
            self._offline.append((topic, payload))
            return
        self._send(topic, payload)

    def _send(self, topic: str, payload: bytes) -> None:
        self.stats.published += 1
        lag = self.bus.lags.get(self.client_id)
        if lag is None:
            self.bus.publish(topic, payload)
        else:
            lag.carry("out", topic, lambda: self.bus.publish(topic, payload))

    def _replay(self) -> None:
        while self._offline and self.connected:
            topic, payload = self._offline.popleft()
            self.bus.telemetry_replayed += _is_telemetry(topic)
            self._send(topic, payload)
        while self._held and self.connected:
            self._deliver(*self._held.popleft())

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.bus.subscribe(self, topic_filter)

    def close(self) -> None:
        if self._open:
            self._open = False
            self.bus.detach(self)
            self.stats.disconnects += 1

    def _deliver(self, topic: str, payload: bytes) -> None:
        if self.client_id in self.bus.cut:  # the broker holds it for the session
            if len(self._held) >= OFFLINE_BUFFER_MESSAGES:
                self._held.popleft()
                self.stats.dropped += 1
            self._held.append((topic, payload))
            return
        lag = self.bus.lags.get(self.client_id)
        if lag is None:
            self._receive(topic, payload)
        else:
            lag.carry("in", topic, lambda: self._receive(topic, payload))

    def _receive(self, topic: str, payload: bytes) -> None:
        if self._open:  # not closed while the message was on its way
            self.stats.received += 1
            self.on_message(topic, payload)

    def crash(self) -> None:
        """The client's process died: no goodbye, the broker publishes its will."""
        self.on_state = None
        self._kick("the client's process died (ven_crash, simulated)")

    def _kick(self, reason: str) -> None:
        self._open = False
        self.bus.detach(self)
        self.stats.disconnects += 1
        self.stats.last_error = reason
        if self.will is not None:
            self.bus.publish(*self.will)
        if self.on_state is not None:
            self.on_state(False, reason)


class InProcessTransport(BaseTransport):
    """Connections on an `InProcessBus`: same API as the network, no sockets."""

    def __init__(self, bus: InProcessBus | None = None) -> None:
        self.bus = bus or InProcessBus()

    def open(
        self, client_id: str, on_message: MessageHandler, on_state: StateHandler | None = None,
        *, will: tuple[str, bytes] | None = None,
    ) -> _InProcessConnection:
        conn = _InProcessConnection(self.bus, client_id, on_message, on_state, will=will)
        conn.stats.connects += 1
        self.bus.attach(conn)
        if on_state is not None:
            on_state(True, None)
        return conn

    def close(self) -> None:
        """Nothing to release in-process."""


def _is_telemetry(topic: str) -> bool:
    return contract.topic_kind(topic) in ("metering", "telemetry")
