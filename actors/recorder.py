"""RecorderActor: collects every VEN's telemetry into a FleetLog."""

from __future__ import annotations

from actors.messages import EventAck, EventEnded, Telemetry, TelemetryBatch
from actors.runtime import DispatchedActor, Dispatcher
from sim.fleetlog import FleetLog


class RecorderActor(DispatchedActor):
    """Appends what VENs report to a `FleetLog` the runner reads after the run."""

    def __init__(self, log: FleetLog, *, dispatcher: Dispatcher | None = None) -> None:
        super().__init__(dispatcher=dispatcher)
        self.log = log

    receives = {
        Telemetry: "on_telemetry",
        TelemetryBatch: "on_telemetry_batch",
        EventAck: "on_verdict",
        EventEnded: "on_verdict",
    }

    def on_telemetry(self, message: Telemetry) -> None:
        self.log.add_telemetry(message)

    def on_telemetry_batch(self, message: TelemetryBatch) -> None:
        add = self.log.add_telemetry
        for telemetry in message.reports:
            add(telemetry)

    def on_verdict(self, message: EventAck | EventEnded) -> None:
        """Only opt-outs are kept: M&V is computed from telemetry, not the VEN's own view."""
        if isinstance(message, EventEnded) and message.opted_out:
            minutes = (message.end_epoch - message.start_epoch) / 60.0
            self.log.opt_outs.append((message.ven_id, message.event_id, minutes))
