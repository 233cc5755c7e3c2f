"""Per-actor bookkeeping sized for fleets: pykka's registry and stop flag, made cheap.

pykka keeps every started actor in a list: unregistering one is a scan (`in`, then
`remove`), so stopping N actors in any order but start order costs O(N^2) (4,000 VENs
stopped newest first: 18 s of CPU). `IndexedRefs` is that list as an insertion-ordered
dict, O(1) both ways, with the few list operations pykka's `ActorRegistry` uses.

pykka also gives each actor a `threading.Event` as `actor_stopped` (with its Condition,
locks and a deque: about 0.7 KB). Dispatched actors only ever test and set it, so
`LazyEvent` is a plain bool that makes a real Event only if a thread waits on it (the
network transport's "closed" events are the same kind). Until an actor's flag is asked for
(most only as they stop), the actor points at `NOT_STOPPED`, one shared flag that is never set.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pykka

__all__ = ["NOT_STOPPED", "IndexedRefs", "LazyEvent", "NotStopped", "index_registry", "register"]

_wait_lock = threading.Lock()


class IndexedRefs:
    """The list operations `pykka.ActorRegistry` uses, on a dict keyed by `ActorRef`."""

    __slots__ = ("_refs",)

    def __init__(self, refs: list[pykka.ActorRef[Any]] | None = None) -> None:
        # ActorRef has no __eq__: identity, as list.remove compares it.
        self._refs: dict[pykka.ActorRef[Any], None] = dict.fromkeys(refs or ())

    def append(self, ref: pykka.ActorRef[Any]) -> None:
        self._refs[ref] = None

    def remove(self, ref: pykka.ActorRef[Any]) -> None:
        try:
            del self._refs[ref]
        except KeyError:
            raise ValueError(f"{ref} is not registered") from None

    def __contains__(self, ref: object) -> bool:
        return ref in self._refs

    def __iter__(self) -> Iterator[pykka.ActorRef[Any]]:
        return iter(list(self._refs))  # a copy: callers may unregister while iterating

    def __len__(self) -> int:
        return len(self._refs)

    def __getitem__(self, index: Any) -> Any:  # `refs[:]` in ActorRegistry.get_all()
        return list(self._refs)[index]


def index_registry() -> None:
    """Swap pykka's registry list for `IndexedRefs` (once; keeps actors already registered)."""
    registry = pykka.ActorRegistry
    with registry._actor_refs_lock:  # noqa: SLF001 - pykka has no hook for its container
        if not isinstance(registry._actor_refs, IndexedRefs):  # noqa: SLF001
            registry._actor_refs = IndexedRefs(registry._actor_refs)  # type: ignore[assignment]  # noqa: SLF001


def register(ref: pykka.ActorRef[Any]) -> None:
    """`pykka.ActorRegistry.register` less its debug line: formatting the ref there would make
    its actor's URN, which a dispatched actor makes only when asked for."""
    registry = pykka.ActorRegistry
    with registry._actor_refs_lock:  # noqa: SLF001
        registry._actor_refs.append(ref)  # noqa: SLF001


class LazyEvent:
    """`is_set`, `set` and `wait` of a `threading.Event`, small until someone waits on it.

    `flag` is what `is_set()` returns, read without a call where every message pays for it
    (the dispatcher checks it for each message told and each turn).
    """

    __slots__ = ("_event", "flag")

    def __init__(self) -> None:
        self.flag = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self.flag

    def set(self) -> None:
        self.flag = True
        event = self._event  # read after the flag: a waiter that missed it re-checks the flag
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self.flag:
            return True
        with _wait_lock:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        if self.flag:  # set() may have run before the event existed
            event.set()
        return event.wait(timeout)


class NotStopped:
    """The stop flag of every actor that has no `LazyEvent` of its own yet: it reads unset."""

    __slots__ = ()
    flag = False


NOT_STOPPED = NotStopped()
