"""What the network loop (netloop.py) hands out and keeps for its timers and watched sockets."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["TimerHandle"]


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
