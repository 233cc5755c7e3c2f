"""The network loop's two selectors: urgent sockets nested in the main one (readiness.py).

Plain socket pairs on this machine: a byte written to one end makes the other readable.
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Iterator

import pytest

from ven_sim.transports.readiness import Readiness

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(3)]
    yield made
    for ends in made:
        for end in ends:
            end.close()


def ready(readiness: Readiness, **kwargs: bool) -> set[tuple[str, int]]:
    return {(key.data, mask) for key, mask in readiness.select(0, **kwargs)}


def test_urgent_sockets_are_reported_with_the_others_or_alone(
    pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    readiness = Readiness()
    (main_in, main_out), (urgent_in, urgent_out), (quiet_in, _) = pairs
    readiness.register(main_in, READ, "main")
    readiness.register(urgent_in, READ, "urgent", urgent=True)
    readiness.register(quiet_in, READ, "quiet")
    try:
        assert ready(readiness) == set()
        main_out.send(b"x")
        assert ready(readiness) == {("main", READ)}
        assert ready(readiness, urgent_only=True) == set()
        urgent_out.send(b"x")
        # The nested selector's own descriptor is never among the events.
        assert ready(readiness) == {("main", READ), ("urgent", READ)}
        assert ready(readiness, urgent_only=True) == {("urgent", READ)}
        assert {key.data for key in readiness.registered()} == {"main", "urgent", "quiet"}
    finally:
        readiness.close()


def test_modify_unregister_and_make_urgent_find_the_socket_where_it_is(
    pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    readiness = Readiness()
    (main_in, main_out), (urgent_in, urgent_out), _ = pairs
    readiness.register(main_in, READ, "main")
    readiness.register(urgent_in, READ, "urgent", urgent=True)
    main_out.send(b"x")
    urgent_out.send(b"x")
    try:
        readiness.modify(main_in, READ | WRITE, "main, writing")
        readiness.modify(urgent_in, READ | WRITE, "urgent, writing")
        assert ready(readiness) == {("main, writing", READ | WRITE),
                                    ("urgent, writing", READ | WRITE)}
        readiness.make_urgent(main_in)  # with its events and data
        readiness.make_urgent(urgent_in)  # already there: left alone
        readiness.make_urgent(None)  # not connected yet: nothing to move
        assert ready(readiness, urgent_only=True) == {("main, writing", READ | WRITE),
                                                      ("urgent, writing", READ | WRITE)}
        readiness.unregister(main_in)
        readiness.unregister(urgent_in)
        assert ready(readiness) == set()
        assert list(readiness.registered()) == []
        with pytest.raises(KeyError):
            readiness.unregister(main_in)
    finally:
        readiness.close()
