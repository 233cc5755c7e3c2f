"""What the live VEN's web UI shows, kept current by an actor that listens to the gateway."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from actors.messages import EventAck, EventEnded, LinkState, Telemetry, TelemetrySent
from actors.runtime import DispatchedActor, Dispatcher
from sim import contract

__all__ = ["HISTORY_POINTS", "LiveState", "LiveStateActor"]

HISTORY_POINTS = 1800  # the web chart's memory: 30 minutes of one-second reports


class LiveState:
    """What the web UI shows: a thread-safe snapshot kept by `LiveStateActor`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.telemetry: dict[str, Any] | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self.events: dict[str, dict[str, Any]] = {}  # active events by id
        self.last_event: dict[str, Any] | None = None
        self.connected = False
        self.link_reason: str | None = None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "telemetry": self.telemetry,
                "history": list(self.history),
                "events": list(self.events.values()),
                "lastEvent": self.last_event,
                "connected": self.connected,
                "linkReason": self.link_reason,
            }

    def update(self, fn) -> None:
        with self._lock:
            fn(self)


class LiveStateActor(DispatchedActor):
    """Listens to the gateway and keeps `LiveState` current for the web UI."""

    def __init__(self, state: LiveState, dispatcher: Dispatcher) -> None:
        super().__init__(dispatcher=dispatcher)
        self.state = state

    def on_receive(self, message: Any) -> Any:
        loads = None
        if isinstance(message, TelemetrySent):  # the gateway published it: its rows as text
            message, loads = message.telemetry, message.loads_json
        if isinstance(message, Telemetry):
            payload = contract.telemetry_payload(message)
            if loads is not None:
                payload["loads"] = contract.loads_rows(loads)
            point = {
                "ts": payload["timestamp"],
                "usedKw": payload["usedPowerKw"],
                "baselineKw": payload["baselinePowerKw"],
                "shedKw": payload["shedPowerKw"],
            }

            def record(s: LiveState) -> None:
                s.telemetry = payload
                s.history.append(point)

            self.state.update(record)
        elif isinstance(message, EventAck):
            event = {
                "eventId": message.event_id,
                "requestedKw": message.requested_kw,
                "actualShedKw": round(message.actual_shed_kw, 3),
                "circuits": list(message.circuits),
            }
            self.state.update(lambda s: s.events.__setitem__(message.event_id, event))
        elif isinstance(message, EventEnded):

            def ended(s: LiveState) -> None:
                s.events.pop(message.event_id, None)
                if message.found:
                    s.last_event = {
                        "eventId": message.event_id,
                        "deliveredKw": round(message.delivered_kw, 3),
                        "deliveredKwh": round(message.delivered_kwh, 3),
                        "endTs": int(message.end_epoch),
                    }

            self.state.update(ended)
        elif isinstance(message, LinkState):
            self.state.update(lambda s: _link(s, message))
        else:
            return super().on_receive(message)
        return None


def _link(state: LiveState, message: LinkState) -> None:
    state.connected = message.connected
    state.link_reason = message.reason
