"""The transport base, like httpx's `BaseTransport`: what every MQTT carrier shares.

Implementations sit beside it: `inprocess` (a bus in memory, deterministic, for
`speed: max`) and `paho` (many TLS clients on one selectors loop). Code above them
speaks `BaseTransport.open()` and `BaseConnection.publish/subscribe`, the shape the
actors' `actors.connection` Protocols ask for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from actors.connection import MessageHandler, StateHandler
from sim.limits import MAX_PAYLOAD_BYTES

__all__ = [
    "BaseConnection",
    "BaseTransport",
    "ConnectionStats",
    "MessageHandler",
    "StateHandler",
    "check_publish",
    "topic_matches",
]


@dataclass
class ConnectionStats:
    published: int = 0
    received: int = 0
    dropped: int = 0  # offline buffer overflow or refused publishes
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None


class BaseConnection(ABC):
    """One client of a transport: publish and subscribe from any thread, never blocking."""

    client_id: str
    stats: ConnectionStats

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message; never blocks. Buffered (bounded) while offline."""

    @abstractmethod
    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe now and again after every reconnect."""

    @abstractmethod
    def close(self) -> None: ...


class BaseTransport(ABC):
    """Opens connections; `close()` releases whatever they share."""

    @abstractmethod
    def open(
        self, client_id: str, on_message: MessageHandler, on_state: StateHandler | None = None,
        *, will: tuple[str, bytes] | None = None,
    ) -> BaseConnection: ...

    @abstractmethod
    def close(self) -> None: ...


def check_publish(topic: str, payload: bytes, qos: int) -> None:
    """ValueError unless AWS IoT would take this publish: a topic, <= 128 KB, QoS 0 or 1."""
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"bad publish topic {topic!r}: empty or has a wildcard")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes exceeds AWS IoT's {MAX_PAYLOAD_BYTES}")
    if qos not in (0, 1):
        raise ValueError(f"QoS must be 0 or 1 (AWS IoT has no QoS 2): {qos}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 filter matching with `+` and `#`; `$` topics only match explicit filters."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_parts = topic_filter.split("/")
    t_parts = topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)
