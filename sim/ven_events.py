"""One DR event as a VEN runs it, with the VEN's own running account of it.

The account uses only what the VEN knows (its shed estimate, `sim.shed_estimate`); it goes
into the event ack and the shadow's `lastEventSummary`, never into M&V.
"""

from __future__ import annotations

from sim.records import EventEnded, StartEvent


class ActiveEvent:
    __slots__ = (
        "event_id",
        "requested_kw",
        "start",
        "end",
        "correlation_id",
        "natural_kwh",
        "shed_kwh",
        "covered_s",
        "opted_out",
    )

    def __init__(self, msg: StartEvent, start: float) -> None:
        self.event_id = msg.event_id
        self.requested_kw = msg.requested_kw
        self.start = start
        self.end = start + msg.duration_s
        self.correlation_id = msg.correlation_id
        self.natural_kwh = 0.0  # what the VEN believes it would have drawn
        self.shed_kwh = 0.0  # what it believes it shed
        self.covered_s = 0.0
        self.opted_out = False  # ended early by the household's override

    def account(self, used_kw: float, shed_kw: float, span_s: float) -> None:
        self.natural_kwh += (used_kw + shed_kw) * span_s / 3600.0
        self.shed_kwh += shed_kw * span_s / 3600.0
        self.covered_s += span_s

    def ended(
        self, ven_id: str, correlation_id: str | None, start_epoch: float, end_epoch: float
    ) -> EventEnded:
        per_s = 3600.0 / self.covered_s if self.covered_s else 0.0
        return EventEnded(
            ven_id,
            self.event_id,
            correlation_id,
            found=True,
            requested_kw=self.requested_kw,
            baseline_kw=self.natural_kwh * per_s,
            delivered_kw=self.shed_kwh * per_s,
            delivered_kwh=self.shed_kwh,
            start_epoch=start_epoch,
            end_epoch=end_epoch,
            opted_out=self.opted_out,
        )
