"""The network loop's selectors: the sockets served every round nested in the others'.

`select()` is level-triggered: it reports every ready socket every time. In a fan-out
thousands of VEN sockets turn ready at once and the loop serves a capped number a round
(netloop.MAX_READS_PER_ROUND); the rest wait in its backlog, still ready, and each round's
`select()` reported all of them again, each made into a `SelectorKey` pair by Python, only to
be dropped (a 2,500-VEN fan-out: 17 rounds, 27,518 events for 2,500 sockets, about 8 % of the
loop's CPU in the window, growing with the square of the fleet).

So the sockets a round serves whatever its backlog (the loop's wake-up, handshakes, a VTN
served first) are registered in a small selector of their own, whose file descriptor is itself
registered in the main one: a round with a backlog polls only that small one; a round without
polls the main one (with its timeout), and the small one too once it shows ready. The events a
round acts on are the same; the ones it would drop are never made.
"""

from __future__ import annotations

import contextlib
import itertools
import selectors
from collections.abc import Iterator
from typing import Any

__all__ = ["Readiness"]

_URGENT = object()  # the main selector's data for the nested (urgent) selector's descriptor


class Readiness:
    """Two `selectors.DefaultSelector`s (epoll on Linux; its descriptor can be polled itself):
    `register(..., urgent=True)` puts a socket in the nested one."""

    def __init__(self) -> None:
        self._main = selectors.DefaultSelector()
        self._urgent = selectors.DefaultSelector()
        self._main.register(self._urgent.fileno(), selectors.EVENT_READ, _URGENT)
        # Which sockets are nested, known without asking a selector: a miss there costs a
        # KeyError whose message formats the socket (two system calls).
        self._urgent_socks: set[Any] = set()

    def register(self, sock: Any, events: int, data: Any, *, urgent: bool = False) -> None:
        if urgent:
            self._urgent.register(sock, events, data)
            self._urgent_socks.add(sock)
        else:
            self._main.register(sock, events, data)

    def modify(self, sock: Any, events: int, data: Any) -> None:
        """Change `sock`'s events and data where it is registered (KeyError if nowhere)."""
        self._holder(sock).modify(sock, events, data)

    def unregister(self, sock: Any) -> None:
        """Forget `sock` (KeyError if it is not registered)."""
        self._holder(sock).unregister(sock)
        self._urgent_socks.discard(sock)

    def make_urgent(self, sock: Any) -> None:
        """Move `sock` into the nested selector, with its events and data, if it is in the
        main one (a socket not registered, or None, is left alone)."""
        with contextlib.suppress(KeyError, ValueError):
            key = self._main.unregister(sock)
            self._urgent.register(sock, key.events, key.data)
            self._urgent_socks.add(sock)

    def select(self, timeout: float | None,
               urgent_only: bool = False) -> list[tuple[selectors.SelectorKey, int]]:
        """The ready sockets' keys and events; with `urgent_only` only the nested selector's,
        without waiting."""
        if urgent_only:
            return self._urgent.select(0)
        events = self._main.select(timeout)
        for at, (key, _mask) in enumerate(events):
            if key.data is _URGENT:
                del events[at]
                events.extend(self._urgent.select(0))
                break
        return events

    def registered(self) -> Iterator[selectors.SelectorKey]:
        """Every registered socket's key (not the nested selector's own), lazily: a caller
        asking whether any is open stops at the first."""
        keys = itertools.chain(self._main.get_map().values(), self._urgent.get_map().values())
        return (key for key in keys if key.data is not _URGENT)

    def close(self) -> None:
        self._main.close()
        self._urgent.close()

    def _holder(self, sock: Any) -> selectors.BaseSelector:
        return self._urgent if sock in self._urgent_socks else self._main
