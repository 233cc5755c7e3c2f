"""The dispatcher runtime keeps pykka's API without a thread per actor."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pykka
import pytest
from pykka._envelope import Envelope

from actors.runtime import BlockingGetError, CallbackFuture, DispatchedActor, Dispatcher


class Counter(DispatchedActor):
    def __init__(self, dispatcher: Dispatcher, peer: pykka.ActorRef[Any] | None = None) -> None:
        super().__init__(dispatcher=dispatcher)
        self.count = 0
        self.peer = peer
        self.started = False

    def on_start(self) -> None:
        self.started = True

    def on_receive(self, message: Any) -> Any:
        self.count += 1
        if message == "forward" and self.peer is not None:
            self.peer.tell("hello")
        return self.count

    def add(self, n: int) -> int:
        self.count += n
        return self.count


@pytest.fixture
def threaded() -> Dispatcher:
    dispatcher = Dispatcher("test").start()
    yield dispatcher
    pykka.ActorRegistry.stop_all(block=False)
    dispatcher.stop()


def test_ten_thousand_actors_share_one_thread(threaded: Dispatcher) -> None:
    threads_before = threading.active_count()
    refs = [Counter.start(threaded) for _ in range(10_000)]
    for ref in refs:
        ref.tell("x")
    futures = [ref.ask("y", block=False) for ref in refs]
    assert [f.get(timeout=30) for f in futures] == [2] * 10_000
    # The dispatcher thread was already running: no actor added a thread.
    assert threading.active_count() == threads_before
    assert len(pykka.ActorRegistry.get_by_class(Counter)) == 10_000


def test_proxy_and_registry_work_as_in_pykka(threaded: Dispatcher) -> None:
    ref = Counter.start(threaded)
    proxy = ref.proxy()
    assert proxy.add(5).get(timeout=5) == 5
    assert proxy.started.get(timeout=5) is True
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is ref
    ref.stop(timeout=5)
    assert not ref.is_alive()
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None


def test_actors_get_distinct_urns_without_a_uuid4_each(
    threaded: Dispatcher, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_uuid4() -> uuid.UUID:
        raise AssertionError("uuid4 per actor: an os.urandom call that gives up the GIL")

    monkeypatch.setattr(uuid, "uuid4", no_uuid4)
    refs = [Counter.start(threaded) for _ in range(1_000)]
    urns = {ref.actor_urn for ref in refs}
    assert len(urns) == 1_000
    for urn in urns:  # still a UUID URN, as pykka's are
        assert urn.startswith("urn:uuid:") and str(uuid.UUID(urn[9:])) == urn[9:]
    assert all(pykka.ActorRegistry.get_by_urn(ref.actor_urn) is ref for ref in refs)


def test_caller_driven_dispatcher_is_deterministic() -> None:
    dispatcher = Dispatcher("manual")
    sink = Counter.start(dispatcher)
    source = Counter.start(dispatcher, peer=sink)
    for _ in range(3):
        source.tell("forward")
    # Nothing runs until the caller drives the dispatcher.
    assert dispatcher.pending()
    handled = dispatcher.run_until_idle()
    # 3 forwards + 3 hellos (on_start turns are not messages)
    assert handled == 6
    future = sink.ask("count", block=False)
    dispatcher.run_until_idle()
    assert future.get(timeout=0) == 4
    sink.stop(block=False)
    source.stop(block=False)
    dispatcher.run_until_idle()
    assert not sink.is_alive() and not source.is_alive()


def test_blocking_get_on_the_dispatcher_raises_instead_of_deadlocking() -> None:
    dispatcher = Dispatcher("manual")
    errors: list[BaseException] = []

    class Asker(DispatchedActor):
        def __init__(self, other: pykka.ActorRef[Any]) -> None:
            super().__init__(dispatcher=dispatcher)
            self.other = other

        def on_receive(self, message: Any) -> Any:
            try:
                self.other.ask("q", block=False).get(timeout=1)
            except BlockingGetError as exc:
                errors.append(exc)

    other = Counter.start(dispatcher)
    asker = Asker.start(other)
    asker.tell("go")
    dispatcher.run_until_idle()
    assert len(errors) == 1
    pykka.ActorRegistry.stop_all(block=False)
    dispatcher.run_until_idle()


def test_future_callbacks_fire_on_set_and_when_already_done() -> None:
    seen: list[Any] = []
    future = CallbackFuture()
    future.add_done_callback(lambda f: seen.append(f.get()))
    future.set(42)
    future.add_done_callback(lambda f: seen.append(f.get() + 1))
    assert seen == [42, 43]


class Fragile(DispatchedActor):
    """Raises on "poison"; counts everything else."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__(dispatcher=dispatcher)
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message == "poison":
            raise ValueError("secret-payload-text")
        self.count += 1
        return self.count


def test_failing_actor_is_restarted_with_its_state_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = Dispatcher("manual")
    fragile = Fragile.start(dispatcher)
    healthy = Counter.start(dispatcher)
    for message in ("x", "poison", "x", "poison", "x"):
        fragile.tell(message)
    healthy.tell("x")
    dispatcher.run_until_idle()
    assert fragile.is_alive() and healthy.is_alive()
    future = fragile.ask("x", block=False)
    dispatcher.run_until_idle()
    assert future.get(timeout=0) == 4  # the three before it, none lost to the restarts
    assert dispatcher.supervisor.summary() == {"actor_restarts": 2, "failed_vens": []}
    warnings = [r.getMessage() for r in caplog.records if "failed on" in r.getMessage()]
    assert len(warnings) == 1 and "Fragile failed on a str message (ValueError at" in warnings[0]
    assert "secret-payload-text" not in caplog.text  # never the payload
    pykka.ActorRegistry.stop_all(block=False)
    dispatcher.run_until_idle()


def test_a_group_that_keeps_failing_is_isolated_and_the_rest_runs_on() -> None:
    dispatcher = Dispatcher("manual")
    sick, neighbour = Fragile.start(dispatcher), Fragile.start(dispatcher)
    dispatcher.supervisor.enlist("ven-sick", [sick])
    dispatcher.supervisor.enlist("ven-ok", [neighbour])
    for _ in range(dispatcher.supervisor.max_restarts + 1):
        sick.tell("poison")
    dispatcher.run_until_idle()
    assert dispatcher.supervisor.summary() == {"actor_restarts": 11, "failed_vens": ["ven-sick"]}
    sick.tell("x")  # no ActorDeadError for whoever tells it
    asked = sick.ask("x", block=False)
    neighbour.tell("x")
    dispatcher.run_until_idle()
    with pytest.raises(pykka.ActorDeadError):
        asked.get(timeout=0)
    answer = neighbour.ask("x", block=False)
    dispatcher.run_until_idle()
    assert answer.get(timeout=0) == 2
    sick.stop(block=False)  # an isolated actor still stops
    dispatcher.run_until_idle()
    assert not sick.is_alive()
    neighbour.stop(block=False)
    dispatcher.run_until_idle()


class Words(DispatchedActor):
    """Handles str messages through `receives` (the dispatcher's fast path)."""

    receives = {str: "on_word"}

    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__(dispatcher=dispatcher)
        self.seen: list[str] = []

    def on_start(self) -> None:
        self.seen.append("started")

    def on_word(self, word: str) -> None:
        self.seen.append(word)


def test_an_actor_isolated_before_its_first_turn_starts_then_handles_only_its_stop() -> None:
    dispatcher = Dispatcher("manual")
    isolated, healthy = Words.start(dispatcher), Words.start(dispatcher)
    dispatcher.supervisor.enlist("ven-sick", [isolated])
    dispatcher.supervisor._isolate("ven-sick", "a test")  # noqa: SLF001 - before any turn
    isolated.tell("dropped")  # one told message of a `receives` type: the fast path's case
    healthy.tell("kept")
    assert dispatcher.run_until_idle() == 1  # on_start turns count no message
    isolated.tell("dropped again")
    dispatcher.run_until_idle()
    assert isolated.is_alive()
    assert isolated._actor.seen == ["started"]  # type: ignore[attr-defined]  # noqa: SLF001
    assert healthy._actor.seen == ["started", "kept"]  # type: ignore[attr-defined]  # noqa: SLF001
    isolated.stop(block=False)
    healthy.stop(block=False)
    dispatcher.run_until_idle()
    assert not isolated.is_alive() and not healthy.is_alive()


def test_isolating_a_group_leaves_its_namesake_on_another_dispatcher_running() -> None:
    mine, other = Dispatcher("manual"), Dispatcher("manual")
    sick, namesake = Fragile.start(mine), Fragile.start(other)
    mine.supervisor.enlist("ven-1", [sick])
    other.supervisor.enlist("ven-1", [namesake])
    other.supervisor.enlist("ven-2", [namesake])  # an actor stays in its first group
    for _ in range(mine.supervisor.max_restarts + 1):
        sick.tell("poison")
    mine.run_until_idle()
    assert mine.supervisor.failed.keys() == {"ven-1"} and not other.supervisor.failed
    answer = namesake.ask("x", block=False)
    other.run_until_idle()
    assert answer.get(timeout=0) == 1
    namesake.tell("poison")
    other.run_until_idle()
    assert other.supervisor.restarts == {"ven-1": 1}
    for dispatcher, ref in ((mine, sick), (other, namesake)):
        ref.stop(block=False)
        dispatcher.run_until_idle()


def test_depth_first_runs_the_latest_scheduled_actor_first() -> None:
    dispatcher = Dispatcher("manual", depth_first=True)
    order: list[str] = []

    class Named(DispatchedActor):
        def __init__(self, name: str) -> None:
            super().__init__(dispatcher=dispatcher)
            self.name = name

        def on_receive(self, message: Any) -> Any:
            order.append(self.name)

    first, second = Named.start("first"), Named.start("second")
    dispatcher.run_until_idle()  # on_start turns
    first.tell("x")
    second.tell("x")
    dispatcher.run_until_idle()
    assert order == ["second", "first"]
    pykka.ActorRegistry.stop_all(block=False)
    dispatcher.run_until_idle()


def test_receives_handlers_serve_tells_and_asks_and_a_stop_ends_the_turn() -> None:
    dispatcher = Dispatcher("manual")
    seen: list[int] = []

    class Recording(DispatchedActor):
        receives = {int: "on_int"}

        def on_int(self, message: int) -> int:
            seen.append(message)
            return message * 10

    ref = Recording.start(dispatcher=dispatcher)
    dispatcher.run_until_idle()  # on_start
    ref.tell(1)
    answer = ref.ask(2, block=False)  # a handler's return value is the reply
    dispatcher.run_until_idle()
    assert seen == [1, 2]
    assert answer.get(timeout=0) == 20
    ref.tell(3)
    ref.stop(block=False)  # queued behind 3, ahead of 4
    ref.tell(4)
    dispatcher.run_until_idle()
    assert seen == [1, 2, 3]  # the stop ended the turn: 4 was never handled
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell(5)


def test_told_messages_go_in_as_they_are_and_asks_keep_their_envelope() -> None:
    from pykka._envelope import Envelope

    dispatcher = Dispatcher("manual")
    seen: list[Any] = []

    class Recording(DispatchedActor):
        receives = {int: "on_int"}

        def on_int(self, message: int) -> int:
            seen.append(message)
            return message + 1

        def on_receive(self, message: Any) -> Any:
            seen.append(message)

    ref = Recording.start(dispatcher=dispatcher)
    dispatcher.run_until_idle()  # on_start
    wrapped = Envelope("a message that is itself an envelope")
    ref.tell(1)
    ref.tell(wrapped)
    answer = ref.ask(2, block=False)
    inbox = ref.actor_inbox._messages  # type: ignore[attr-defined]
    assert inbox[0] == 1  # told: no envelope made
    assert type(inbox[1]) is Envelope and inbox[1].message is wrapped
    assert type(inbox[2]) is Envelope and inbox[2].reply_to is answer
    dispatcher.run_until_idle()
    assert seen == [1, wrapped, 2]
    assert answer.get(timeout=0) == 3

    # Stopped with a tell and an ask still queued: the teardown drains both, and the ask's
    # caller hears the actor died.
    ref.stop(block=False)
    ref.actor_inbox._messages += [4, Envelope(5, reply_to=(late := CallbackFuture()))]  # type: ignore[attr-defined]
    dispatcher.run_until_idle()
    assert seen == [1, wrapped, 2]
    assert ref.actor_inbox.empty()
    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=0)


def test_one_message_turns_keep_order_failures_and_isolation() -> None:
    """A turn of one told message of a `receives` type runs on the dispatcher's short path:
    what the handler tells its own actor comes after, in the actor's next turn, behind the
    other actors already ready (a general turn would handle it at once, up to its batch:
    each actor's order is kept either way); a failure is the supervisor's, an isolated actor
    handles nothing but its stop."""
    dispatcher = Dispatcher("manual")
    seen: list[int] = []

    class Chain(DispatchedActor):
        receives = {int: "on_int"}

        def on_int(self, message: int) -> None:
            if message < 0:
                raise ValueError("a poisoned number")
            seen.append(message)
            if message % 10 < 2:  # tells itself the next one, from inside its turn
                self.actor_ref.tell(message + 1)

    chain, other = Chain.start(dispatcher=dispatcher), Chain.start(dispatcher=dispatcher)
    dispatcher.supervisor.enlist("ven-chain", [chain])
    dispatcher.run_until_idle()  # on_start
    chain.tell(10)
    other.tell(20)
    assert dispatcher.run_until_idle() == 6
    assert seen == [10, 20, 11, 21, 12, 22]  # one at a time, in turn: a turn does not starve
    seen.clear()
    for _ in range(dispatcher.supervisor.max_restarts + 1):
        chain.tell(-1)
        dispatcher.run_until_idle()
    assert dispatcher.supervisor.summary() == {"actor_restarts": 11, "failed_vens": ["ven-chain"]}
    chain.tell(30)
    other.tell(40)
    dispatcher.run_until_idle()
    assert seen == [40, 41, 42]  # the isolated actor dropped its message
    chain.stop(block=False)
    other.stop(block=False)
    dispatcher.run_until_idle()
    assert not chain.is_alive() and not other.is_alive()



def _tell_both(refs: dict[str, Any]) -> None:
    refs["late"].tell("late")
    refs["root2"].tell("root2 again")  # told during its own turn: it runs again after it


def _order_handled(dispatcher: Dispatcher) -> list[str]:
    """Which of seven actors handles its message when: root1 tells a then b, a tells c; root2
    tells d, then another thread tells late, and root2 again (the test tells root1, then
    root2)."""
    seen: list[str] = []
    refs: dict[str, Any] = {}

    class Named(DispatchedActor):
        receives = {str: "on_name"}

        def on_name(self, name: str) -> None:
            seen.append(name)
            if name == "root1":
                refs["a"].tell("a")
                refs["b"].tell("b")
            elif name == "a":
                refs["c"].tell("c")
            elif name == "root2":
                refs["d"].tell("d")
                helper = threading.Thread(target=_tell_both, args=(refs,))
                helper.start()
                helper.join()

    for name in ("root1", "root2", "a", "b", "c", "d", "late"):
        refs[name] = Named.start(dispatcher=dispatcher)
    dispatcher.run_until_idle()  # on_start
    refs["root1"].tell("root1")
    refs["root2"].tell("root2")
    assert dispatcher.run_until_idle() == 8
    for ref in refs.values():
        ref.stop(block=False)
    dispatcher.run_until_idle()
    return seen


@pytest.mark.parametrize(("depth_first", "expected"), [
    (False, ["root1", "b", "a", "c", "root2", "d", "late", "root2 again"]),
    (True, ["root2", "root2 again", "late", "d", "root1", "b", "a", "c"]),
])
def test_a_turns_cascade_runs_before_the_next_actor_waiting(depth_first: bool,
                                                           expected: list[str]) -> None:
    """First in, first out across what waits; what a turn tells other actors runs next, last
    told first (a VEN's chain while its data is in the caches). What another thread tells
    meanwhile waits behind the rest; depth-first stays last scheduled first, whoever told it."""
    assert _order_handled(Dispatcher("manual", depth_first=depth_first)) == expected


@pytest.mark.parametrize("depth_first", [False, True])
def test_an_ask_that_reaches_a_stopping_actor_in_its_turn_is_answered_dead(
    depth_first: bool,
) -> None:
    """Another thread's ask can pass pykka's alive check and land in the inbox just as the
    actor stops, in the same turn: the actor's next turn answers it with ActorDeadError."""
    dispatcher = Dispatcher("manual", depth_first=depth_first)
    late: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()

    class Stopping(DispatchedActor):
        receives = {str: "on_word"}

        def on_word(self, _word: str) -> None:
            self._stop()  # as pykka's stop path does, mid-turn
            helper = threading.Thread(target=self.actor_inbox.put,
                                      args=(Envelope("late", reply_to=late),))
            helper.start()
            helper.join()

    ref = Stopping.start(dispatcher=dispatcher)
    dispatcher.run_until_idle()  # on_start
    ref.tell("stop now")
    dispatcher.run_until_idle()
    with pytest.raises(pykka.ActorDeadError):
        late.get(timeout=5)
