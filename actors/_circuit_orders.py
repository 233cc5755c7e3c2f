"""The controller's orders to its circuits: curtail, restore, and the staggered restores due.

A part of `ControllerActor` (actors/controller.py), kept apart to keep that module short.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pykka

from actors.messages import Curtail, Restore
from sim.curtailment import CircuitInfo, ShedPlanner


class CircuitOrders:
    """Tells circuits to curtail and restore. A Restore goes only to a circuit told a Curtail
    since its last one: the others have nothing to restore, and a plan names every circuit
    every interval of an event (about 110 Restores a VEN-day, most of them for nothing)."""

    circuits: dict[str, pykka.ActorRef[Any]]
    info: dict[str, CircuitInfo]
    planner: ShedPlanner
    t: float
    _manual: dict[str, float]  # circuit id -> when its ShedLoad ends
    _restores: list[tuple[float, str]]  # (when, circuit id): the staggered restores still due
    _curtailed: set[str]  # told a Curtail since their last Restore

    def _curtail(self, cid: str, kw: float) -> None:
        self._curtailed.add(cid)
        self.circuits[cid].tell(Curtail(kw))

    def _restore_due(self) -> None:
        for cid, until in list(self._manual.items()):
            if until <= self.t + 1e-9:
                del self._manual[cid]
                if not self.planner.active:
                    self._restore(cid)
        while self._restores and self._restores[0][0] <= self.t + 1e-9:
            _, cid = self._restores.pop(0)
            self._restore(cid)

    def _restore(self, cid: str) -> None:
        self._tell_restore(cid)
        self._disengage((cid,))

    def _tell_restore(self, cid: str) -> None:
        if cid in self._curtailed:
            self._curtailed.discard(cid)
            self.circuits[cid].tell(Restore())

    def _disengage(self, ids: Iterable[str]) -> None:
        # Out of the event: from its next free reading a circuit's natural draw is learnt again.
        for cid in ids:
            self.info[cid].engaged = False

    def _apply_plan(self, plan: dict[str, float]) -> None:
        for cid, kw in plan.items():
            if kw > 0:
                self._curtail(cid, kw)
            else:
                self._tell_restore(cid)
