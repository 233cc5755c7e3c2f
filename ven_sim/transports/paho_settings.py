"""What the connections of one `PahoTransport` share, and the tap for paho's socket errors."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ven_sim.transports.endpoints import BrokerURL
from ven_sim.transports.held_writes import PUBACK_HOLD_S
from ven_sim.transports.netloop import NetworkLoop

__all__ = ["ConnectionSettings", "ErrorTap"]


@dataclass(frozen=True)
class ConnectionSettings:
    """What every connection of one transport shares (see `PahoTransport` for each field)."""

    url: BrokerURL
    keepalive: int
    loop: NetworkLoop
    offline_buffer: int
    max_publish_rate: float | None
    backoff: tuple[float, float]
    rng: random.Random
    # Load tests time each connection: observer(event, client_id, seconds) for "tcp" (connect),
    # "tls" (handshake), "connack" (CONNECT sent to CONNACK) and "puback".
    observer: Callable[[str, str, float], None] | None = None
    max_inflight: int | None = 20  # QoS 1 publishes awaiting PUBACK (paho's default; None: any)
    # How long a PUBACK queued alone waits for the client's next packets, to share their
    # TLS write (held_writes.py); 0: written at once (a broker with an in-flight window of 1).
    puback_hold_s: float = PUBACK_HOLD_S


class ErrorTap:
    """paho logs socket errors (a TLS alert, a reset) instead of returning them: keep the last."""

    __slots__ = ("_conn",)  # paho calls log(), LeanClient isEnabledFor(): a Logger was 1.6 KB

    def __init__(self, conn: Any) -> None:  # a PahoConnection
        self._conn = conn

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging.Logger's name
        return level >= logging.ERROR

    def log(self, level: int, msg: object, *args: object, **_kwargs: Any) -> None:
        if level >= logging.ERROR:
            self._conn._socket_error = str(msg) % args if args else str(msg)
