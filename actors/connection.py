"""The seam between a VEN's actors and whatever carries its MQTT: two small Protocols.

The gateway and the shadow syncer publish and subscribe through a `Connection`;
`Ven` opens one from a `Transport`. Implementations (in-process bus, paho over TLS)
live in `ven_sim.transports`; nothing here knows about sockets.

Callbacks (`on_message`, `on_state`) run on the transport's own thread: the network
loop for paho, the publisher's thread in-process. They must not block; actors turn
them into `tell`s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

__all__ = ["Connection", "MessageHandler", "StateHandler", "Transport"]

MessageHandler = Callable[[str, bytes], None]
StateHandler = Callable[[bool, str | None], None]  # (connected, reason when not)


class Connection(Protocol):
    client_id: str

    @property
    def connected(self) -> bool: ...

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message; never blocks. Buffered (bounded) while offline."""

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe now and again after every reconnect."""

    def close(self) -> None: ...


class Transport(Protocol):
    def open(
        self, client_id: str, on_message: MessageHandler, on_state: StateHandler | None = None,
        *, will: tuple[str, bytes] | None = None,
    ) -> Connection:
        """Connect as `client_id`; `will` is the (topic, payload) the broker publishes if
        the connection ends without a clean close (MQTT Last Will)."""

    def close(self) -> None: ...
