"""One-for-one supervision for the actors of a dispatcher, as Erlang/OTP and Akka do it.

An actor whose handler raises on a told message is not stopped: the message is dropped,
the failure counted, and the actor goes on with the next message, its state as the
handler left it (handlers validate their input before they change anything). The first
failure of each kind (actor class, message type) is logged once, with the exception's
type and where it was raised, never the message itself: a payload can be large, or
carry what should not be in a log.

Actors are enlisted in groups, one per VEN. A group whose actors fail more than
`ACTOR_MAX_RESTARTS` times is marked failed and isolated: its actors handle nothing but
their stop from then on, and whoever tells them something is not disturbed (no
ActorDeadError), so the rest of the fleet runs on.
"""

from __future__ import annotations

import collections
import logging
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import pykka

from sim.limits import ACTOR_MAX_RESTARTS

logger = logging.getLogger(__name__)


class Supervisor:
    """Counts actor failures per group and isolates a group that keeps failing."""

    def __init__(self, max_restarts: int = ACTOR_MAX_RESTARTS) -> None:
        self.max_restarts = max_restarts
        # Each actor's group is its own `_group`: no entry per actor or VEN here (isolating a
        # group, which is rare, finds its actors in pykka's registry).
        self.restarts: collections.Counter[str] = collections.Counter()  # by group or class
        self.failed: dict[str, str] = {}  # group -> why it was isolated
        self._logged: set[tuple[str, str]] = set()

    def enlist(self, group: str, refs: Iterable[pykka.ActorRef[Any]]) -> None:
        """Put `refs` in `group` (one VEN): they are counted, and isolated, together."""
        for ref in refs:
            actor = ref._actor_weakref()  # noqa: SLF001 - pykka's way to its actor
            if actor is not None and actor._group is None:  # noqa: SLF001 - the runtime's
                actor._group = group  # noqa: SLF001

    @property
    def total_restarts(self) -> int:
        return sum(self.restarts.values())

    def summary(self) -> dict[str, Any]:
        """`actor_restarts` and the isolated groups as `failed_vens`, for summary.json."""
        return {"actor_restarts": self.total_restarts, "failed_vens": sorted(self.failed)}

    def on_failure(self, actor: pykka.Actor, message: Any, exc: BaseException,
                   tb: TracebackType | None) -> None:
        """An actor raised on `message`: count it, log it once, isolate its group if due."""
        group = actor._group  # type: ignore[attr-defined]  # noqa: SLF001 - a DispatchedActor's
        kind = (type(actor).__name__, type(message).__name__)
        key = group if group is not None else kind[0]
        self.restarts[key] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            where = traceback.extract_tb(tb)[-1] if tb is not None else None
            place = f" at {where.filename}:{where.lineno}" if where is not None else ""
            logger.warning("%s%s failed on a %s message (%s%s); restarted, message dropped",
                           kind[0], f" of {group}" if group else "", kind[1],
                           type(exc).__name__, place)
        if group is not None and group not in self.failed and \
                self.restarts[group] > self.max_restarts:
            self._isolate(group, f"{self.restarts[group]} actor failures, the last in "
                                 f"{kind[0]} on a {kind[1]} message")

    def _isolate(self, group: str, why: str) -> None:
        self.failed[group] = why
        logger.error("%s marked failed and isolated: %s; the rest runs on", group, why)
        for ref in pykka.ActorRegistry.get_all():  # those stopped need no isolating
            actor: Any = ref._actor_weakref()  # noqa: SLF001 - pykka's way to its actor
            # The group's name on this supervisor's dispatcher (another may have one alike).
            if getattr(actor, "_group", None) == group and actor.dispatcher.supervisor is self:
                actor.isolate()
