"""What the web UI's routes do: the page's files, the state and the VEN's controls.

`Api` validates every client value itself (a wrong type or range is an `ApiError` with a
400, an unknown circuit or event a 404) before it reaches `LiveVen`; `server.WebServer`
does the HTTP around it: binding, routing, tokens.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sim.limits import PANEL_SIZES, PANEL_SIZES_TEXT

STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {  # the only files served: no directory listing, no traversal
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_EVENT_KW = 1000.0
MAX_EVENT_S = 7 * 24 * 3600.0
ENDED_GRACE_S = 60.0  # how long the end of an event started here is remembered
# How each circuit type takes part in a DR event (sim/models/*): the circuits table shows
# this rather than the type, which is the circuit's name again.
CIRCUIT_ROLES = {
    "HVAC": "setpoint raised within the comfort band",
    "Water Heater": "heating deferred, the tank coasts",
    "EV Charger": "charging slowed while plugged in",
    "Dryer": "cycle paused, resumed after",
    "Electric Range": "never shed",
    "Lighting Circuits": "dimmed by up to 30 %",
    "General Outlets": "never shed",
    "Refrigerator": "critical, never shed",
    "Solar PV": "generation, not shed",
    "Battery": "discharges to cover the shed",
}


class VenControls(Protocol):
    """What the server needs of `ven_sim.live.ven.LiveVen`."""

    @property
    def state(self) -> Any: ...  # .snapshot() -> dict
    @property
    def config(self) -> Any: ...  # .thing_name, .panel_amps
    @property
    def circuit_ids(self) -> list[str]: ...
    # Optional, for the page's captions: physics_step_s (seconds).
    def set_circuit(self, circuit_id: str, enabled: bool) -> None: ...
    def trigger_event(self, requested_kw: float, duration_s: float) -> str: ...
    def restore_event(self, event_id: str) -> None: ...
    def set_panel(self, amps: int) -> None: ...


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload, allow_nan=False).encode("utf-8"))


def number_field(body: dict[str, Any], key: str, low: float, high: float, *,
                 open_low: bool) -> float:
    """body[key] as a finite float in [low, high] (or (low, high] with `open_low`)."""
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key} must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < low or (open_low and number == low):
        raise ApiError(400, f"{key} must be {'>' if open_low else '>='} {low:g}")
    if number > high:
        raise ApiError(400, f"{key} must be at most {high:g}")
    return number


def json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


class Api:
    """The route handlers: `handler(arg, body) -> Response`; `arg` is the path parameter."""

    def __init__(self, ven: VenControls, *, token_required: bool = False) -> None:
        self.ven = ven
        self.token_required = token_required
        self._lock = threading.Lock()
        self._ends: dict[str, float] = {}  # epoch end of the events started here
        self._panel_amps = int(getattr(ven.config, "panel_amps", 200))

    def get_index(self, _arg: str, _body: dict[str, Any]) -> Response:
        return self.get_static("index.html", {})

    def get_static(self, name: str, _body: dict[str, Any]) -> Response:
        content_type = STATIC_TYPES.get(name)
        if content_type is None:
            raise ApiError(404, f"no such file: {name}")
        return Response(200, (STATIC_DIR / name).read_bytes(), content_type)

    def get_state(self, _arg: str, _body: dict[str, Any]) -> Response:
        return json_response(self.state())

    def state(self) -> dict[str, Any]:
        """The snapshot plus thingName, circuits, panelAmps, panelSizes, now, tokenRequired,
        and what the page explains: circuitRoles, physicsStepS."""
        snapshot = dict(self.ven.state.snapshot())
        now = time.time()
        with self._lock:
            for event_id in [k for k, end in self._ends.items() if end < now - ENDED_GRACE_S]:
                del self._ends[event_id]
            ends = dict(self._ends)
        snapshot["events"] = [{**event, "endTs": ends.get(event.get("eventId"))}
                              for event in snapshot.get("events") or []]
        telemetry = snapshot.get("telemetry") or {}
        snapshot.update(
            thingName=self.ven.config.thing_name,
            circuits=list(self.ven.circuit_ids),
            panelAmps=telemetry.get("panelAmperageRating", self._panel_amps),
            panelSizes=list(PANEL_SIZES),  # the page builds its panel menu from these
            now=now,
            tokenRequired=self.token_required,
            circuitRoles=CIRCUIT_ROLES,
            physicsStepS=getattr(self.ven, "physics_step_s", None),
        )
        return snapshot

    def post_circuit(self, circuit_id: str, body: dict[str, Any]) -> Response:
        if circuit_id not in self.ven.circuit_ids:
            raise ApiError(404, f"no such circuit: {circuit_id}")
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "enabled must be true or false")
        try:
            self.ven.set_circuit(circuit_id, enabled)
        except KeyError:
            raise ApiError(404, f"no such circuit: {circuit_id}") from None
        return json_response({"ok": True, "circuit": circuit_id, "enabled": enabled})

    def post_event(self, _arg: str, body: dict[str, Any]) -> Response:
        kw = number_field(body, "requestedKw", 0.0, MAX_EVENT_KW, open_low=False)
        duration = number_field(body, "durationS", 0.0, MAX_EVENT_S, open_low=True)
        try:
            event_id = self.ven.trigger_event(kw, duration)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        end = time.time() + duration
        with self._lock:
            self._ends[event_id] = end
        return json_response({"ok": True, "eventId": event_id, "endTs": end})

    def post_restore(self, event_id: str, _body: dict[str, Any]) -> Response:
        active = {e.get("eventId") for e in self.ven.state.snapshot().get("events") or []}
        with self._lock:
            known = event_id in active or event_id in self._ends
            self._ends.pop(event_id, None)
        if not known:
            raise ApiError(404, f"no active event: {event_id}")
        self.ven.restore_event(event_id)
        return json_response({"ok": True, "eventId": event_id})

    def post_panel(self, _arg: str, body: dict[str, Any]) -> Response:
        amps = body.get("amps")
        if isinstance(amps, bool) or amps not in PANEL_SIZES:
            raise ApiError(400, f"amps must be {PANEL_SIZES_TEXT}")
        try:
            self.ven.set_panel(int(amps))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self._panel_amps = int(amps)
        return json_response({"ok": True, "panelAmps": int(amps)})


