"""The per-VEN queues as lists behave as the deques they replace, item for item."""

from __future__ import annotations

import collections
import sys

import pytest

from sim.small_queues import ListQueue, RecentItems


def test_list_queue_takes_and_puts_back_as_a_deque_does() -> None:
    queue, deque = ListQueue(), collections.deque()
    for steps in (queue, deque):
        steps.extend([1, 2, 3])
        steps.append(4)
        first = steps.popleft()
        steps.appendleft(first)
        steps.extendleft([10, 11])  # each to the front in turn: 11, 10, 1, ...
        steps.popleft()
    assert list(queue) == list(deque) == [10, 1, 2, 3, 4]


def test_list_queue_is_much_smaller_than_an_empty_deque() -> None:
    assert sys.getsizeof(ListQueue()) * 5 < sys.getsizeof(collections.deque())


def test_recent_items_keep_the_latest_as_a_bounded_deque_does() -> None:
    recent, deque = RecentItems(3), collections.deque(maxlen=3)
    for item in ("a", "b", "c", "d", "e"):
        recent.append(item)
        deque.append(item)
        assert list(recent) == list(deque)
    assert "b" not in recent
    assert "c" in recent
    assert recent.maxlen == 3


def test_recent_items_refuse_to_keep_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RecentItems(0)
