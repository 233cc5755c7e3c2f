"""A pykka runtime that runs many actors on one dispatcher instead of a thread each.

pykka's ThreadingActor pays an OS thread per actor (10,000 actors moved ~2,000
msg/s on our machines). `DispatchedActor` keeps pykka's whole API (ActorRef,
tell, ask, proxies, ActorRegistry) but swaps the inbox and the actor loop: an
inbox `put` marks the actor runnable on its `Dispatcher`, and the dispatcher
handles one message at a time per actor, one actor after another.

An actor that raises on a told message is restarted, not stopped, by its dispatcher's
`Supervisor` (actors/supervision.py): one-for-one, counted, and a VEN that keeps
failing is isolated while the rest runs on.

A dispatcher is driven either by its own thread (`Dispatcher.start()`, for actors
made without a dispatcher) or by the caller (`run_until_idle()`, which the simulation
kernel calls between simpy steps in runs, the live VEN and fleets, so a run is
single-threaded and deterministic).

Inside the runtime never block on a future: `ask(...).get()` from the
dispatcher thread would wait for a message the same thread has to handle.
`CallbackFuture.get()` raises `BlockingGetError` instead of deadlocking; use
`future.add_done_callback(...)` or plain `tell`.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import pykka
from pykka import messages
from pykka._envelope import Envelope

from actors._futures import (  # the runtime's API, with the futures kept apart
    BlockingGetError,
    CallbackFuture,
    _driving,
    no_blocking_gets,
)
from actors._inbox import NO_ROUTES, UNSTARTED, DispatchedRef, DispatcherInbox
from actors.registry import NOT_STOPPED, LazyEvent, NotStopped, index_registry, register
from actors.supervision import Supervisor

__all__ = ["BlockingGetError", "CallbackFuture", "DispatchedActor", "Dispatcher",
           "default_dispatcher", "no_blocking_gets", "stop_actors"]

index_registry()  # O(1) unregister: stopping a fleet is linear, in any order

# Actor URNs: this process's random UUID with a serial number for its last 48 bits.
_URN_PREFIX = str(uuid.uuid4())[:24]
_urn_serials = itertools.count()
_get_ident = threading.get_ident
_monotonic = time.monotonic
# Makes an actor's URN or stop flag, once: rare (neither is needed until asked for or stopped).
_lazy_lock = threading.Lock()

class Dispatcher:
    """Runs the actors scheduled on it, a batch of messages per actor per turn.

    Thread-safe to schedule from anywhere; messages are handled only by the
    thread that drives the dispatcher.
    """

    def __init__(
        self, name: str = "dispatcher", batch: int = 64, depth_first: bool = False
    ) -> None:
        self.name = name
        # Refs, not actors: the turn reads their hot fields from one class (see DispatchedRef).
        self._ready: collections.deque[DispatchedRef] = collections.deque()
        # What a turn tells on the thread driving a first-in first-out dispatcher: run next,
        # last told first, before the next actor off `_ready` (see run_until_idle).
        self._cascade: list[DispatchedRef] = []
        self._driver: int | None = None  # that thread's id while it drives
        self._wakeup = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._running = False
        self._sleeping = False
        # Called when work comes in from another thread while a host drives this dispatcher
        # (Kernel.run_hosted: a network loop's thread); `wait`'s condition is not used then.
        self.waker: Callable[[], None] | None = None
        self.batch = batch  # messages one actor may handle per turn before others run
        # Depth-first runs the actor scheduled last first: a controller's circuits right
        # after it, while their data is still in the CPU caches (15-23 % faster at 500 VENs).
        # It is not fair under a steady stream, so only caller-driven runs that go idle use it.
        self.depth_first = depth_first
        self.handled = 0  # messages handled so far, for benchmarks
        self.supervisor = Supervisor()  # restarts the actors that fail on it

    # -- scheduling -----------------------------------------------------------
    def schedule(self, ref: DispatchedRef) -> None:
        # Lock-free on the hot path: deque.append is atomic, and an actor that
        # races onto the ready queue twice just finds its inbox empty once.
        if ref._scheduled:
            return
        ref._scheduled = True
        if self._driver == _get_ident():
            self._cascade.append(ref)
            return
        self._ready.append(ref)
        if self._sleeping:
            with self._wakeup:
                self._wakeup.notify()
        elif self.waker is not None:
            self.waker()

    def pending(self) -> bool:
        return bool(self._ready or self._cascade)

    # -- caller-driven mode ---------------------------------------------------
    def run_until_idle(self, deadline: float | None = None) -> int:
        """Handle messages until no actor has any; return how many were handled. With a
        `deadline` (`time.monotonic()`), stop once past it, work perhaps left (`pending()`).

        First in, first out, what a turn tells other actors (a VEN's controller its circuits,
        a gateway its controller) runs next, last told first, while that VEN's data is still
        in the CPU caches; then the next actor waiting, in the order they came (other threads'
        among them). What an actor tells itself waits behind them: none starves the rest.
        Depth-first runs the actor scheduled last first, whoever told it.
        """
        was_driving, _driving.active = getattr(_driving, "active", False), True
        handled = 0
        ready, cascade, fifo = self._ready, self._cascade, not self.depth_first
        take = ready.popleft if fifo else ready.pop
        driver, self._driver = self._driver, _get_ident() if fifo else None
        supervisor = self.supervisor
        turns = 0
        try:
            while True:
                turns += 1
                if deadline is not None and not turns % 16 and _monotonic() >= deadline:
                    break
                if cascade:
                    ref = cascade.pop()
                elif ready:
                    ref = take()
                else:
                    break
                ref._scheduled = fifo  # while its turn runs: told then, it is rescheduled after
                inbox, actor = ref._inbox, ref._actor
                # Most turns are one told message of a type in the actor's `receives`: handled
                # here, without the general turn's call and set-up (about 11 a VEN a tick).
                # What the handler tells its own actor waits for the actor's next turn.
                # `_routes` is `_handlers` only once started and while not isolated.
                if (len(inbox) == 1
                        and (handler := ref._routes.get(type(inbox[0]))) is not None
                        and ((flag := ref._stop_flag) is NOT_STOPPED or not flag.flag)):
                    message = inbox.pop()  # first: the handler may tell this actor more
                    try:
                        handler(actor, message)
                    except Exception as exc:
                        supervisor.on_failure(actor, message, exc, exc.__traceback__)
                    handled += 1
                else:
                    handled += actor._run_turn(self.batch)
                if fifo:
                    ref._scheduled = False
                # More to do (and, depth-first, not told again in the turn): behind the others.
                # A stopped actor too: an ask that came in as it stopped is answered by its
                # next turn's teardown (ActorDeadError), not left waiting.
                if inbox and not ref._scheduled:
                    ref._scheduled = True
                    ready.append(ref)
        finally:
            self._driver = driver
            _driving.active = was_driving
        self.handled += handled
        return handled

    def wait(self, timeout: float | None) -> bool:
        """Block until some actor is runnable or `timeout` passes; True if work waits."""
        with self._wakeup:
            self._sleeping = True
            try:
                if not self.pending():
                    self._wakeup.wait(timeout)
            finally:
                self._sleeping = False
            return self.pending()

    def notify(self) -> None:
        """Wake a thread blocked in `wait` (used to stop or to hand in work)."""
        with self._wakeup:
            self._wakeup.notify_all()
        if self.waker is not None:
            self.waker()

    # -- threaded mode ----------------------------------------------------------
    def start(self) -> Dispatcher:
        """Drive this dispatcher from a daemon thread of its own."""
        if self._thread is not None:
            return self
        self._running = True
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _serve(self) -> None:
        while self._running:
            if self.wait(0.5):
                self.run_until_idle()


_default_dispatcher: Dispatcher | None = None
_default_lock = threading.Lock()


def default_dispatcher() -> Dispatcher:
    """A process-wide dispatcher driven by its own thread, started on first use."""
    global _default_dispatcher
    with _default_lock:
        if _default_dispatcher is None:
            _default_dispatcher = Dispatcher("ven-sim-dispatcher").start()
        return _default_dispatcher


class DispatchedActor(pykka.Actor):
    """A pykka Actor whose messages are handled by a shared `Dispatcher`.

    Pass `dispatcher=` to `start()` to choose which dispatcher runs it; otherwise the
    process-wide default is used.

    A subclass may map message types to handler method names in `receives`
    (`receives = {Tick: "on_tick"}`): those messages skip pykka's generic
    checks and any isinstance chain, which matters on the per-tick hot path.
    Everything else goes through pykka as usual (`on_receive`, proxies, stop).
    """

    # pykka's Actor has a __dict__; these in slots keep it to the subclass's attributes (up to
    # 30 share their keys; a dict of its own is 1-2 KB). pykka's URN, inbox and stop flag are
    # made when first asked for: most actors need none of them until they stop.
    # Its message list, scheduled mark and routes are its ref's (`DispatchedRef`).
    __slots__ = ("_isolated", "_actor_ref", "_urn", "_inbox_view", "_group")
    receives: ClassVar[dict[type, str]] = {}
    _handlers: ClassVar[dict[type, Callable[[Any, Any], Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {kind: getattr(cls, name) for kind, name in cls.receives.items()}

    def _handle_receive(self, message: Any) -> Any:
        handler = self._handlers.get(type(message))
        if handler is not None:
            return handler(self, message)
        return super()._handle_receive(message)

    def __init__(self, *args: Any, dispatcher: Dispatcher | None = None, **kwargs: Any) -> None:
        self._isolated = False  # set by `isolate`: handle nothing but the stop
        self._group: str | None = None  # the supervisor's: the VEN it is counted with
        # pykka.Actor.__init__'s fields, made on first use (below), without its uuid4() (an
        # os.urandom call that gives up the GIL: 0.1 ms an actor while the network thread is
        # busy) and its threading.Event.
        self._urn: str | None = None
        self._inbox_view: DispatcherInbox | None = None
        self._actor_ref = DispatchedRef(self, dispatcher or default_dispatcher())

    @property  # type: ignore[override]
    def actor_urn(self) -> str:
        if self._urn is None:
            with _lazy_lock:
                if self._urn is None:
                    self._urn = f"urn:uuid:{_URN_PREFIX}{next(_urn_serials):012x}"
        return self._urn

    @property  # type: ignore[override]
    def actor_inbox(self) -> DispatcherInbox:
        if self._inbox_view is None:  # two threads may both make one: each is a view, alike
            self._inbox_view = self._create_actor_inbox()
        return self._inbox_view

    @property  # type: ignore[override]
    def actor_stopped(self) -> LazyEvent:
        """pykka's stop flag, an Event only once waited on; the hot paths read `_stop_flag`."""
        ref = self._actor_ref
        flag = ref._stop_flag
        if not isinstance(flag, LazyEvent):
            with _lazy_lock:
                if not isinstance(ref._stop_flag, LazyEvent):
                    ref._stop_flag = LazyEvent()
                flag = ref._stop_flag
        return flag  # type: ignore[return-value]

    @property
    def dispatcher(self) -> Dispatcher:  # its ref's (see DispatchedRef)
        return self._actor_ref._dispatcher

    @property
    def _stop_flag(self) -> LazyEvent | NotStopped:  # its ref's (see DispatchedRef)
        return self._actor_ref._stop_flag

    def _create_actor_inbox(self) -> DispatcherInbox:  # type: ignore[override]
        return DispatcherInbox(self)

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> Any:
        """pykka's `start`, less its debug lines: formatting the actor there made its URN."""
        actor = cls(*args, **kwargs)
        register(actor._actor_ref)
        actor._start_actor_loop()
        return actor._actor_ref

    @staticmethod
    def _create_future() -> CallbackFuture:
        return CallbackFuture()

    def _start_actor_loop(self) -> None:
        # on_start runs on the dispatcher as the actor's first turn.
        self.dispatcher.schedule(self._actor_ref)

    def _run_turn(self, limit: int) -> int:
        """Handle up to `limit` messages (on_start first); teardown once stopped."""
        ref = self._actor_ref
        if ref._routes is UNSTARTED:
            ref._routes = NO_ROUTES if self._isolated else self._handlers
            self._actor_loop_setup()
            return 0
        handled = taken = 0
        inbox = ref._inbox
        handlers = self._handlers
        # Only pykka's path (a stop, an ask) can stop it: then re-read (it swaps in a new flag).
        running = not ref._stop_flag.flag
        try:
            # Handlers may append to this inbox while the turn runs: len() is read each time.
            while running and taken < len(inbox) and handled < limit:
                item = inbox[taken]
                taken += 1
                if type(item) is Envelope:  # pykka's: an ask (ref.stop() is one)
                    message, reply_to = item.message, item.reply_to
                else:  # a told message, as it is
                    message, reply_to = item, None
                if self._isolated and not isinstance(message, messages._ActorStop):  # noqa: SLF001
                    if reply_to is not None:
                        reply_to.set_exception(
                            (pykka.ActorDeadError, pykka.ActorDeadError(f"{self} is isolated"),
                             None))
                    continue
                handler = handlers.get(type(message))
                if handler is not None and reply_to is None:
                    # A told message of a type in `receives`: the bulk of all messages, handled
                    # here rather than through _handle_envelope and _handle_receive (two calls).
                    try:
                        handler(self, message)
                    except Exception as exc:
                        self.dispatcher.supervisor.on_failure(self, message, exc,
                                                              exc.__traceback__)
                else:
                    self._handle_envelope(message, reply_to)
                    running = not ref._stop_flag.flag
                handled += 1
        finally:
            del inbox[:taken]
        if not running:
            self._actor_loop_teardown()
        return handled

    def isolate(self) -> None:
        """The supervisor's: handle nothing but the stop from now on (on_start still runs)."""
        self._isolated = True
        if self._actor_ref._routes is not UNSTARTED:
            self._actor_ref._routes = NO_ROUTES

    def _handle_envelope(self, message: Any, reply_to: pykka.Future[Any] | None) -> None:
        # The body of pykka's _actor_loop_running, for one message.
        try:
            response = self._handle_receive(message)
            if reply_to is not None:
                reply_to.set(response)
        except Exception as exc:
            if reply_to is not None:
                reply_to.set_exception()
            else:  # one-for-one: drop the message, count it, go on (actors/supervision.py)
                self.dispatcher.supervisor.on_failure(self, message, exc, exc.__traceback__)


def stop_actors(refs: list[pykka.ActorRef[Any]]) -> None:
    """Stop actors in reverse start order without blocking (safe on any thread)."""
    for ref in reversed(refs):
        if ref.is_alive():
            ref.tell(messages._ActorStop())  # noqa: SLF001
