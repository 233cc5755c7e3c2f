"""The VTN side of a scenario: sends each DR event to the VENs it targets.

`Vtn` tells the VEN actors directly (in-process, for offline runs). It splits a
fleet-level request over the targeted VENs in proportion to the shed
capability each reported over the last hour, so the VENs that can shed most
are asked for most; a per-VEN request goes to each VEN as it is. VENs in the
`holdout` (the scenario's control group) are never dispatched: M&V compares
the dispatched VENs with them.
"""

from __future__ import annotations

from typing import Any

from actors.messages import StartEvent
from actors.ven import Ven
from sim.fleetlog import FleetLog
from sim.mv import EventWindow
from ven_sim.kernel import Kernel


def split_request(total_kw: float, capabilities: dict[str, float]) -> dict[str, float]:
    """Share `total_kw` in proportion to capability; equal shares when nobody reports any.

    When more is asked than the VENs report, each is still asked its proportional
    share of the whole: the closed loop in each VEN then sheds what it can.
    """
    if not capabilities:
        return {}
    available = sum(capabilities.values())
    if available <= 0:
        share = total_kw / len(capabilities)
        return {ven_id: share for ven_id in capabilities}
    return {ven_id: cap * total_kw / available for ven_id, cap in capabilities.items()}


class Vtn:
    """Schedules scenario events on the kernel and delivers them to VEN actors."""

    holdout: frozenset[str] = frozenset()  # the control group: never dispatched

    def __init__(self, kernel: Kernel, vens: list[Ven], log: FleetLog) -> None:
        self.kernel = kernel
        self.vens = vens
        self.log = log
        self.sent = 0

    def group(self, event: Any) -> list[Ven]:
        """The VENs the event is aimed at, control group included."""
        if event.target == "all":
            return list(self.vens)
        return [v for v in self.vens if v.group == event.target]

    def targets(self, event: Any) -> list[Ven]:
        return [v for v in self.group(event) if v.ven_id not in self.holdout]

    def schedule(self, event: Any) -> EventWindow:
        targets = self.targets(event)
        control = tuple(v.ven_id for v in self.group(event) if v.ven_id in self.holdout)
        requested = (
            event.per_ven_kw * len(targets) if event.per_ven_kw is not None else event.requested_kw
        )
        window = EventWindow(
            id=event.id,
            start=event.start_s,
            end=event.start_s + event.duration_s,
            vens=tuple(v.ven_id for v in targets),
            requested_kw=float(requested),
            control=control,
        )
        self.kernel.env.process(self._deliver(event, targets, window))
        return window

    def _deliver(self, event: Any, targets: list[Ven], window: EventWindow):
        env = self.kernel.env
        yield env.timeout(window.start - env.now)
        # Yield once more so the clock's tick at this instant (and the reports
        # it produces) is handled first: allocation uses those reports.
        yield env.timeout(0)
        if event.per_ven_kw is not None:
            shares = {v.ven_id: float(event.per_ven_kw) for v in targets}
        else:
            capabilities = {v.ven_id: self.log.capability_kw(v.ven_id) for v in targets}
            shares = split_request(window.requested_kw, capabilities)
        for ven in targets:
            self.send_event(ven, event.id, shares[ven.ven_id], window)

    def send_event(self, ven: Ven, event_id: str, kw: float, window: EventWindow) -> None:
        ven.tell(StartEvent.scheduled(event_id, kw, window.start, window.end))
        self.sent += 1

    def summary(self) -> dict[str, Any]:
        """Extra summary.json fields (the MQTT VTN adds its counters)."""
        return {}

    def awaiting_acks(self) -> bool:
        """True while commands sent over a network still wait for their acks."""
        return False

    def close(self) -> None:
        """Release what the VTN holds (connections for the MQTT VTN)."""
