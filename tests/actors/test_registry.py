"""pykka's registry and stop flag as the dispatcher runtime replaces them (actors/registry.py)."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from actors.registry import NOT_STOPPED, IndexedRefs, LazyEvent
from actors.runtime import DispatchedActor, Dispatcher


class Echo(DispatchedActor):
    def on_receive(self, message: Any) -> Any:
        if message == "self":
            self.actor_ref.tell("again")
        return message


def test_the_registry_is_indexed_and_keeps_pykka_behaviour() -> None:
    assert isinstance(pykka.ActorRegistry._actor_refs, IndexedRefs)  # noqa: SLF001
    dispatcher = Dispatcher("manual")
    refs = [Echo.start(dispatcher=dispatcher) for _ in range(50)]
    dispatcher.run_until_idle()
    assert [r for r in pykka.ActorRegistry.get_all() if r in refs] == refs  # start order kept
    assert pykka.ActorRegistry.get_by_urn(refs[7].actor_urn) is refs[7]
    for ref in reversed(refs):  # newest first: each unregister is a lookup, not a scan
        ref.stop(block=False)
    dispatcher.run_until_idle()
    assert not any(ref.is_alive() for ref in refs)
    assert not [r for r in pykka.ActorRegistry.get_all() if r in refs]
    assert pykka.ActorRegistry.get_by_urn(refs[7].actor_urn) is None


def test_indexed_refs_refuses_to_remove_what_it_does_not_hold() -> None:
    refs = IndexedRefs()
    with pytest.raises(ValueError, match="not registered"):
        refs.remove(object())  # type: ignore[arg-type]


def test_messages_told_during_a_turn_are_handled_once_in_order() -> None:
    dispatcher = Dispatcher("manual")
    ref = Echo.start(dispatcher=dispatcher)
    futures = [ref.ask(m, block=False) for m in ("a", "self", "b")]
    assert dispatcher.run_until_idle() == 4  # a, self, b, then the "again" it told itself
    assert [f.get(timeout=1) for f in futures] == ["a", "self", "b"]
    assert ref.actor_inbox.empty()
    ref.stop(block=False)
    dispatcher.run_until_idle()


def test_lazy_event_wakes_a_waiting_thread() -> None:
    flag = LazyEvent()
    assert not flag.is_set() and not flag.wait(0.01) and flag.flag is False
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(flag.wait(30)))
    waiter.start()
    flag.set()
    waiter.join(30)
    assert woke == [True] and flag.is_set() and flag.wait(0)
    assert flag.flag is True  # what the dispatcher reads for every message, without a call


def test_a_stopped_actor_reports_dead() -> None:
    dispatcher = Dispatcher("manual")
    ref = Echo.start(dispatcher=dispatcher)
    assert isinstance(ref.actor_stopped, LazyEvent) and ref.is_alive()
    ref.stop(block=False)
    dispatcher.run_until_idle()
    assert not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("late")


def test_an_actor_makes_its_urn_inbox_and_stop_flag_only_when_asked() -> None:
    dispatcher = Dispatcher("manual")
    ref = Echo.start(dispatcher=dispatcher)
    actor = ref._actor_weakref()  # noqa: SLF001 - the actor behind the ref
    ref.tell("told")
    assert dispatcher.run_until_idle() == 1
    assert (actor._urn, actor._inbox_view, actor._stop_flag) == (None, None, NOT_STOPPED)  # noqa: SLF001
    proxied = ref.proxy().on_receive("proxied")  # pykka's API as ever
    dispatcher.run_until_idle()
    assert proxied.get(timeout=1) == "proxied"
    assert ref.actor_urn == actor.actor_urn == ref.actor_urn  # made once, then kept
    assert ref.actor_inbox is actor.actor_inbox and ref.actor_class is Echo
    flag = ref.actor_stopped
    assert isinstance(flag, LazyEvent) and flag is actor.actor_stopped and not flag.flag
    ref.stop(block=False)
    dispatcher.run_until_idle()
    assert flag.is_set() and not NOT_STOPPED.flag  # the shared flag is never the one set
