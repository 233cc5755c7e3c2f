"""A VEN's actors as objects: what each keeps per VEN, where a fleet has thousands."""

from __future__ import annotations

import collections
from datetime import UTC, datetime
from typing import Any

from actors.messages import Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat
from ven_sim.transports.inprocess import InProcessTransport

START = datetime(2026, 7, 15, tzinfo=UTC)


def _attributes(obj: Any) -> dict[str, Any]:
    """An object's attributes, in its dict and in the slots of its classes."""
    found = dict(getattr(obj, "__dict__", {}))
    for kind in type(obj).__mro__:
        for name in kind.__dict__.get("__slots__", ()):
            if hasattr(obj, name):
                found[name] = getattr(obj, name)
    return found


def test_no_actor_of_a_ven_keeps_a_deque_after_ticks_and_an_event() -> None:
    # An empty collections.deque is 760 bytes (its first block comes with it): a VEN's
    # queues are lists (sim/small_queues.py), a few bytes while empty.
    dispatcher = Dispatcher("memory")
    world = World(START, ConstantWeather())
    ven = Ven("ven-m", [Flat("ev1", 6.0, priority=8), Flat("heater1", 4.0, priority=7)], world,
              dispatcher, panel_amps=200, transport=InProcessTransport(),
              clock=lambda: world.epoch(0.0))
    for t in (5.0, 10.0, 15.0):
        ven.tell(Tick(t))
        dispatcher.run_until_idle()
    actors = [ref._actor_weakref() for ref in ven.refs]  # noqa: SLF001
    assert len(actors) == 5  # the controller, two circuits, the gateway, the shadow syncer
    deques = {f"{type(actor).__name__}.{name}"
              for actor in actors for name, value in _attributes(actor).items()
              if isinstance(value, collections.deque)}
    ven.stop()
    dispatcher.run_until_idle()
    assert deques == set()
    controller = actors[0]
    assert "ven_id" not in vars(controller)  # in the controller's slots, not its dict
