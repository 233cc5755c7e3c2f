"""RecorderActor: collects every VEN's telemetry and event acks into a FleetLog."""

from __future__ import annotations

from typing import Any

from actors.messages import EventAck, EventEnded, Telemetry
from actors.runtime import DispatchedActor, Dispatcher
from sim.fleetlog import FleetLog


class RecorderActor(DispatchedActor):
    """Appends what VENs report to a `FleetLog` the runner reads after the run."""

    def __init__(self, log: FleetLog, *, dispatcher: Dispatcher | None = None) -> None:
        super().__init__(dispatcher=dispatcher)
        self.log = log

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Telemetry):
            self.log.add_telemetry(message)
        elif isinstance(message, EventAck):
            self.log.add_ack(message)
        elif isinstance(message, EventEnded):
            pass  # M&V is computed from telemetry, not from the VEN's own view
        else:
            return super().on_receive(message)
        return None
