"""Queues kept per VEN, as lists: an empty `collections.deque` is 760 bytes on CPython 3.11
(its first 64-slot block is made with it and kept however few items it holds), an empty list
56. A fleet keeps several per VEN, most of them empty or holding a few items most of the time.

Taking from a list's front moves the items behind it: fine for the few items these hold (a
VEN's packets in flight, its deferred commands, its recent IDs); a long one is taken from in
slices (`batch = queue[:n]; del queue[:n]`), one move for the batch. Each `ListQueue` method is one
C call of the list's, so a single append or take is as atomic under the GIL as the deque's was
(paho's packet queue is appended to on one thread and taken from on another);
`RecentItems.append` is two, for state one thread keeps (an actor's).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

__all__ = ["ListQueue", "RecentItems"]

T = TypeVar("T")


class ListQueue(list[T]):
    """A first-in first-out queue with the deque methods paho and our VENs use."""

    __slots__ = ()

    def popleft(self) -> T:
        return self.pop(0)

    def appendleft(self, item: T) -> None:
        self.insert(0, item)

    def extendleft(self, items: Iterable[T]) -> None:
        """As `deque.extendleft`: each item put at the front in turn, so they end reversed."""
        self[:0] = list(items)[::-1]


class RecentItems(list[T]):
    """The latest `maxlen` items appended, oldest first (a `deque(maxlen=...)`'s append and
    `in`): the oldest is dropped when one more comes. Items come in by `append` only."""

    __slots__ = ("maxlen",)

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"RecentItems keeps at least one item, not {maxlen}")
        super().__init__()
        self.maxlen = maxlen

    def append(self, item: T) -> None:
        if len(self) >= self.maxlen:
            del self[0]
        super().append(item)
