"""What the network loop (netloop.py) hands out and keeps: timers, watched sockets, and the
small helpers its log lines and reads use."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TimerHandle", "Timers", "client_name", "pending_bytes"]


class TimerHandle:
    """A `call_later` entry; `cancel()` makes it a no-op (it stays in the heap until due)."""

    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Watch:
    """Selector data of a socket the loop watches for someone else (not a paho client)."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[int], None]) -> None:
        self.callback = callback


class Timers:
    """`call_later`'s heap: added to from any thread, taken from on the loop's."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()  # equal times in the order added

    def add(self, handle: TimerHandle) -> None:
        with self._lock:
            heapq.heappush(self._heap, (handle.when, next(self._seq), handle))

    def next_due(self) -> float | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    def take_due(self, now: float) -> list[TimerHandle]:
        """The handles due by `now`, earliest first (cancelled ones too: one may be
        cancelled by another's call, so the caller looks as it calls each)."""
        due: list[TimerHandle] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                due.append(heapq.heappop(self._heap)[2])
        return due


def pending_bytes(sock: Any) -> int:
    """What a TLS socket holds decrypted (select() cannot see it); 0 for a plain one."""
    pending = getattr(sock, "pending", None)
    return int(pending()) if pending is not None else 0


def client_name(client: Any) -> str:
    """A paho client's ID, for log lines."""
    return str(client._client_id.decode(errors="replace"))  # noqa: SLF001 - for log lines only
