"""A dispatched actor's inbox: a part of `actors.runtime`, kept apart to keep that module
short."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pykka._envelope import Envelope

if TYPE_CHECKING:
    from actors.runtime import DispatchedActor


class DispatcherInbox:
    """An actor's inbox: a list whose `put` makes the actor runnable.

    A list, not a deque: an empty deque is about 600 bytes and a fleet has ten actors per
    VEN; a turn takes its messages from the front and deletes them in one slice.

    A told message goes in as it is (`DispatchedRef.tell`), without pykka's `Envelope`: an
    envelope is an object made and read per message, and a told one carries nothing but the
    message. What pykka puts (an ask, with its reply future) stays an `Envelope`; `get`, which
    pykka's teardown drains the inbox with, hands out envelopes only.
    """

    __slots__ = ("_actor", "_messages")

    def __init__(self, actor: DispatchedActor) -> None:
        self._actor = actor
        self._messages: list[Any] = []  # told messages as they are, pykka's as Envelopes

    def put(self, envelope: Envelope[Any], /) -> None:
        self._messages.append(envelope)
        actor = self._actor
        if not actor._scheduled:  # the common case, a message for a runnable actor, stops here
            actor.dispatcher.schedule(actor)

    def get(self) -> Envelope[Any]:
        item = self._messages.pop(0)
        return item if type(item) is Envelope else Envelope(item)

    def empty(self) -> bool:
        return not self._messages
