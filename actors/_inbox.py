"""A dispatched actor's inbox and ref: parts of `actors.runtime`, kept apart to keep that
module short."""

from __future__ import annotations

from threading import get_ident as _get_ident
from typing import TYPE_CHECKING, Any

import pykka
from pykka._envelope import Envelope

from actors.registry import NOT_STOPPED

if TYPE_CHECKING:
    from collections.abc import Callable

    from actors.registry import LazyEvent, NotStopped
    from actors.runtime import DispatchedActor, Dispatcher


# A ref's `_routes` before its actor is started, and once isolated: no type handled directly.
UNSTARTED: dict[type, Callable[[Any, Any], Any]] = {}
NO_ROUTES: dict[type, Callable[[Any, Any], Any]] = {}


class DispatcherInbox:
    """pykka's view of an actor's inbox: the actor's message list, whose `put` makes the actor
    runnable. Made only when pykka asks for it (an ask, a stop's teardown): a tell and a turn
    use the list itself.

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
        self._messages: list[Any] = actor._actor_ref._inbox

    def put(self, envelope: Envelope[Any], /) -> None:
        self._messages.append(envelope)
        ref = self._actor._actor_ref
        if not ref._scheduled:  # the common case, a message for a runnable actor, stops here
            ref._dispatcher.schedule(ref)

    def get(self) -> Envelope[Any]:
        item = self._messages.pop(0)
        return item if type(item) is Envelope else Envelope(item)

    def empty(self) -> bool:
        return not self._messages


class DispatchedRef(pykka.ActorRef[Any]):
    """A pykka ActorRef that holds its actor and nothing else: pykka's ref copies four of the
    actor's fields and keeps a weakref (about 300 bytes an actor, ten actors a VEN). It keeps
    the actor alive as long as the ref, as the inbox it held always did.

    Its `tell` is pykka's with the calls inlined, and the message put in the inbox as it is,
    not in an `Envelope`: it runs for every message sent.
    """

    __slots__ = ("_actor", "_dispatcher", "_inbox", "_scheduled", "_routes", "_stop_flag")

    def __init__(self, actor: DispatchedActor, dispatcher: Dispatcher) -> None:
        self._actor = actor  # pykka's ref copies more of the actor: nothing else is needed here
        self._dispatcher = dispatcher  # the actor's (`DispatchedActor.dispatcher` reads it)
        # The fields the dispatcher reads for every message, here rather than on the actor:
        # refs are all of one class, so the interpreter's attribute caches hit, where actors
        # of a dozen classes taking turns would keep missing them (a read twice as slow).
        self._inbox: list[Any] = []  # told messages as they are, pykka's as Envelopes
        self._scheduled = False  # on its dispatcher's queue, or its turn running
        # What the turn's fast path looks a message's type up in: the actor's handlers once
        # started (on_start first) and while not isolated (`DispatchedActor.isolate`).
        self._routes: dict[type, Callable[[Any, Any], Any]] = UNSTARTED
        # pykka's stop flag (`DispatchedActor.actor_stopped`): the shared unset one until needed.
        self._stop_flag: LazyEvent | NotStopped = NOT_STOPPED

    @property  # type: ignore[override]
    def actor_class(self) -> type[DispatchedActor]:
        return type(self._actor)

    @property  # type: ignore[override]
    def actor_urn(self) -> str:
        return self._actor.actor_urn

    @property  # type: ignore[override]
    def actor_inbox(self) -> DispatcherInbox:
        return self._actor.actor_inbox

    @property  # type: ignore[override]
    def actor_stopped(self) -> LazyEvent:
        return self._actor.actor_stopped

    def _actor_weakref(self) -> DispatchedActor:
        # What pykka's proxies (and the supervisor) call to reach the actor.
        return self._actor

    def is_alive(self) -> bool:
        return not self._stop_flag.flag  # without making the actor's stop flag

    def tell(self, message: Any) -> None:
        # Unset while the actor's flag is the shared NOT_STOPPED: read without its class attribute.
        if (flag := self._stop_flag) is not NOT_STOPPED and flag.flag:
            msg = f"{self} not found"
            raise pykka.ActorDeadError(msg)
        # A message that is itself an Envelope (none of ours is) goes in one, so the turn
        # never takes it for pykka's.
        self._inbox.append(message if type(message) is not Envelope else Envelope(message))
        if not self._scheduled:
            # `Dispatcher.schedule`'s common case without its call: told on the thread that
            # drives the dispatcher (a handler telling another actor), it runs next.
            dispatcher = self._dispatcher
            if dispatcher._driver == _get_ident():
                self._scheduled = True
                dispatcher._cascade.append(self)
            else:
                dispatcher.schedule(self)
