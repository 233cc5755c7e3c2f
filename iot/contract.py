"""The backend wire contract: topics, telemetry, commands and acks as pure functions.

No network and no actors here: bytes and dicts in, bytes and dicts out. The field names
and JSON types follow the backend to the letter, because it drops a whole message when
any one field has the wrong type (an int where it wants a float is fine in JSON, but a
bool where it wants a number, a string timestamp or milliseconds are not).

Topics: `volttron/metering` and `ven/telemetry/{venId}` carry telemetry out,
`ven/cmd/{venId}` carries commands in and `ven/ack/{venId}` carries acks out.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from actors.messages import EndEvent, EventAck, SetLoad, StartEvent, Telemetry
from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE
from sim.models.house import panel_facts

SCHEMA_VERSION = "1.0"
MAX_PAYLOAD_BYTES = 128 * 1024  # AWS IoT Core's MQTT payload limit
ACK_CACHE_SIZE = 1024

METERING_TOPIC = "volttron/metering"
TELEMETRY_TOPIC = "ven/telemetry/{ven_id}"
COMMAND_TOPIC = "ven/cmd/{ven_id}"
ACK_TOPIC = "ven/ack/{ven_id}"

OPS = frozenset({"event", "restore", "ping", "shedPanel", "shedLoad", "set", "setConfig",
                 "setLoad", "get"})
GET_WHAT = frozenset({"status", "config", "loads"})
ACK_STATUSES = frozenset({"accepted", "success", "error"})
CIRCUIT_ACK_KEYS = ("id", "name", "breaker_amps", "original_kw", "curtailed_kw", "final_kw",
                    "critical")


# -- topics -----------------------------------------------------------------------------
class Topics(NamedTuple):
    """The MQTT topics of one VEN."""

    metering: str  # telemetry, shared by every VEN
    telemetry: str  # telemetry, this VEN only
    command: str  # commands in
    ack: str  # acks out

    @property
    def telemetry_out(self) -> tuple[str, str]:
        """Every topic a telemetry message is published on."""
        return (self.metering, self.telemetry)


def topics(ven_id: str) -> Topics:
    """The topics of `ven_id`; ValueError if it cannot be one MQTT topic level."""
    if not isinstance(ven_id, str) or not ven_id:
        raise ValueError(f"venId must be a non-empty string, not {ven_id!r}")
    if any(ch in ven_id for ch in "/+#\x00"):
        raise ValueError(f"venId {ven_id!r} must not contain '/', '+', '#' or NUL")
    return Topics(
        metering=METERING_TOPIC,
        telemetry=TELEMETRY_TOPIC.format(ven_id=ven_id),
        command=COMMAND_TOPIC.format(ven_id=ven_id),
        ack=ACK_TOPIC.format(ven_id=ven_id),
    )


# -- encoding ---------------------------------------------------------------------------
def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError if over 128 KB or not JSON-able (NaN, infinity)."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
                         "AWS IoT limit")
    return data


# -- telemetry --------------------------------------------------------------------------
# Circuit model `type`s (sim/models/*.py), found by keyword in a load's name.
_TYPES_BY_KEYWORD: tuple[tuple[str, str], ...] = (
    ("water heater", "Water Heater"),
    ("hvac", "HVAC"),
    ("heat pump", "HVAC"),
    ("air condition", "HVAC"),
    ("ev charger", "EV Charger"),
    ("ev", "EV Charger"),
    ("dryer", "Dryer"),
    ("range", "Electric Range"),
    ("oven", "Electric Range"),
    ("stove", "Electric Range"),
    ("light", "Lighting Circuits"),
    ("outlet", "General Outlets"),
    ("plug", "General Outlets"),
    ("refrigerator", "Refrigerator"),
    ("fridge", "Refrigerator"),
    ("freezer", "Refrigerator"),
    ("solar", "Solar PV"),
    ("pv", "Solar PV"),
    ("battery", "Battery"),
)
GENERIC_TYPE = "Generic"


def load_type(name: str) -> str:
    """The circuit type a load name suggests, e.g. "Upstairs HVAC" -> "HVAC"."""
    text = " " + re.sub(r"[^a-z0-9]+", " ", str(name).lower()).strip() + " "
    for keyword, kind in _TYPES_BY_KEYWORD:
        # Whole words at the start, so "ev" is not "elevator" and "light" is "lights".
        if (len(keyword) > 2 and f" {keyword}" in text) or f" {keyword} " in text:
            return kind
    return GENERIC_TYPE


def _kw(value: Any) -> float:
    return round(float(value), 3)


def _load_row(row: dict[str, Any]) -> dict[str, Any]:
    kind = row.get("type")
    return {
        "id": str(row["id"]),
        "name": str(row["name"]),
        "type": str(kind) if kind is not None else load_type(row["name"]),
        "capacityKw": _kw(row["breaker_amps"] * KW_PER_BREAKER_AMP),
        "currentPowerKw": _kw(row["power_kw"]),
        "shedCapabilityKw": _kw(row["shed_capability_kw"]),
        "enabled": bool(row["enabled"]),
        "priority": int(row["priority"]),
    }


def telemetry_payload(t: Telemetry) -> dict[str, Any]:
    """The telemetry object published on `volttron/metering` and `ven/telemetry/{venId}`."""
    panel = panel_facts(int(t.panel_amps))
    rating = int(panel["panelAmperageRating"])
    used = _kw(t.used_kw)
    shed = _kw(t.shed_kw)
    amps = max(0.0, float(t.used_kw)) * 1000.0 / PANEL_VOLTAGE
    soc = None if t.battery_soc is None else min(1.0, max(0.0, float(t.battery_soc)))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "venId": str(t.ven_id),
        "timestamp": int(round(t.epoch)),
        "usedPowerKw": used,
        "shedPowerKw": shed,
        "requestedReductionKw": _kw(t.requested_kw),
        "baselinePowerKw": _kw(t.baseline_kw),
        "eventId": None if t.event_id is None else str(t.event_id),
        "batterySoc": soc,
        "panelAmperageRating": rating,
        "panelVoltage": int(panel["panelVoltage"]),
        "panelMaxKw": float(panel["panelMaxKw"]),
        "currentAmps": round(amps, 2),
        "panelUtilizationPercent": round(amps / rating * 100.0, 2),
        "loads": [_load_row(row) for row in t.loads],
        "power_kw": used,  # legacy
        "shed_kw": shed,  # legacy
    }


# -- commands ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """A valid command, normalised. `data` holds the op's canonical fields:

    event     {event_id: str, requestedReductionKw: float, duration_s: float}
    restore   {event_id: str}
    ping      {}
    shedPanel {requestedReductionKw: float, durationS: float}
    shedLoad  {loadId: str, reduceKw: float, durationS: float}
    set, setConfig  the settings given; report_interval_seconds as float if present
    setLoad   {loadId: str} plus any of enabled: bool, capacityKw: float, priority: int
    get       {what: "status" | "config" | "loads"}
    """

    op: str
    correlation_id: str
    ven_id: str
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


@dataclass(frozen=True)
class CommandError:
    """A command that cannot be applied; answered with an error ack when possible."""

    correlation_id: str | None
    op: str | None
    error: str


class _Invalid(Exception):
    pass


_SNIFF_BYTES = 4096
_SNIFF = {
    key: re.compile(rb'"' + key.encode() + rb'"\s*:\s*"([\x20\x21\x23-\x5b\x5d-\x7e]{1,256})"')
    for key in ("correlationId", "op")
}


def _sniff(raw: bytes, key: str) -> str | None:
    """Best effort: a top-level-looking string field in the head of an unparseable payload."""
    match = _SNIFF[key].search(raw[:_SNIFF_BYTES])
    return match.group(1).decode("ascii") if match else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _present(obj: dict[str, Any], key: str) -> bool:
    """Given and not null: 0, False and "" are values."""
    return key in obj and obj[key] is not None


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    if not _present(obj, key):
        raise _Invalid(f"missing {where}{key}")
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where}{key} must be a non-empty string, got {value!r}")
    return value


def _number(obj: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float:
    if not _present(obj, key):
        raise _Invalid(f"missing {where}{key}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{where}{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise _Invalid(f"{where}{key} must be finite, got {value!r}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise _Invalid(f"{where}{key} must be {bound}, got {value!r}")
    return float(value)


def _first(data: dict[str, Any], key: str, top: dict[str, Any], top_key: str) -> tuple:
    """(object, key, where) of `data[key]` if given, else of the top-level `top_key`."""
    if _present(data, key) or not _present(top, top_key):
        return data, key, "data."
    return top, top_key, ""


def _event_id(data: dict[str, Any], top: dict[str, Any]) -> str:
    return _string(*_first(data, "event_id", top, "event_id"))


def _parse_event(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": _event_id(data, top),
        "requestedReductionKw": _number(*_first(data, "requestedReductionKw", top, "shed_kw")),
        "duration_s": _number(*_first(data, "duration_s", top, "duration_sec")),
    }


def _parse_restore(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": _event_id(data, top)}


def _parse_ping(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {}


def _parse_shed_panel(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestedReductionKw": _number(data, "requestedReductionKw", "data."),
        "durationS": _number(data, "durationS", "data."),
    }


def _parse_shed_load(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {
        "loadId": _string(data, "loadId", "data."),
        "reduceKw": _number(data, "reduceKw", "data."),
        "durationS": _number(data, "durationS", "data."),
    }


def _parse_set(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    if not data:
        raise _Invalid("data must hold at least one setting, e.g. report_interval_seconds")
    settings = dict(data)
    if "report_interval_seconds" in data:
        settings["report_interval_seconds"] = _number(data, "report_interval_seconds", "data.",
                                                      positive=True)
    return settings


def _parse_set_load(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"loadId": _string(data, "loadId", "data.")}
    if _present(data, "enabled"):
        if not isinstance(data["enabled"], bool):
            raise _Invalid(f"data.enabled must be true or false, got {data['enabled']!r}")
        out["enabled"] = data["enabled"]
    if _present(data, "capacityKw"):
        out["capacityKw"] = _number(data, "capacityKw", "data.", positive=True)
    if _present(data, "priority"):
        value = data["priority"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"data.priority must be an integer, got {value!r}")
        out["priority"] = value
    if len(out) == 1:
        raise _Invalid("setLoad needs at least one of data.enabled, data.capacityKw, "
                       "data.priority")
    return out


def _parse_get(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    what = _string(data, "what", "data.")
    if what not in GET_WHAT:
        raise _Invalid(f"data.what must be one of {sorted(GET_WHAT)}, got {what!r}")
    return {"what": what}


_PARSERS = {
    "event": _parse_event,
    "restore": _parse_restore,
    "ping": _parse_ping,
    "shedPanel": _parse_shed_panel,
    "shedLoad": _parse_shed_load,
    "set": _parse_set,
    "setConfig": _parse_set,
    "setLoad": _parse_set_load,
    "get": _parse_get,
}
assert set(_PARSERS) == OPS


def parse_command(raw: bytes, ven_id: str,
                  max_bytes: int = MAX_PAYLOAD_BYTES) -> Command | CommandError:
    """Validate and normalise one payload from `ven/cmd/{ven_id}`; never raises on bad input.

    A missing or null `venId` is taken from the topic; another VEN's is an error. A
    missing `data` is `{}`. The correlationId (and op) are reported in the CommandError
    whenever they can be read, even from an oversized or unparseable payload.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    raw = bytes(raw)
    if len(raw) > max_bytes:
        return CommandError(_sniff(raw, "correlationId"), _sniff(raw, "op"),
                            f"payload is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return CommandError(_sniff(raw, "correlationId"), _sniff(raw, "op"),
                            f"payload is not valid UTF-8: {exc.reason} at byte {exc.start}")
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        return CommandError(_sniff(raw, "correlationId"), _sniff(raw, "op"),
                            f"payload is not valid JSON: {reason}")
    if not isinstance(obj, dict):
        return CommandError(None, None,
                            f"payload must be a JSON object, got {type(obj).__name__}")

    cid = obj.get("correlationId")
    cid = cid if isinstance(cid, str) and cid else None
    op = obj.get("op")
    op = op if isinstance(op, str) else None
    try:
        if cid is None:
            _string(obj, "correlationId", "")
        _string(obj, "op", "")
        if op not in OPS:
            raise _Invalid(f"unknown op {op!r}; known: {sorted(OPS)}")
        if _present(obj, "venId") and obj["venId"] != ven_id:
            raise _Invalid(f"command is for venId {obj['venId']!r}, not {ven_id!r}")
        data = obj["data"] if _present(obj, "data") else {}
        if not isinstance(data, dict):
            raise _Invalid(f"data must be an object, got {type(data).__name__}")
        fields = _PARSERS[op](data, obj)
    except _Invalid as exc:
        return CommandError(cid, op, str(exc))
    assert cid is not None and op is not None
    return Command(op, cid, ven_id, fields, fields.get("event_id"))


# -- commands as actor messages ---------------------------------------------------------
def start_event(command: Command, now: float) -> StartEvent:
    """An `event` command as a StartEvent beginning at simulated time `now`."""
    if command.op != "event":
        raise ValueError(f"not an event command: {command.op!r}")
    d = command.data
    return StartEvent(d["event_id"], d["requestedReductionKw"], now, now + d["duration_s"],
                      command.correlation_id)


def end_event(command: Command) -> EndEvent:
    """A `restore` command as an EndEvent."""
    if command.op != "restore":
        raise ValueError(f"not a restore command: {command.op!r}")
    return EndEvent(command.data["event_id"], command.correlation_id)


def set_load(command: Command) -> SetLoad:
    """A `setLoad` command as a SetLoad."""
    if command.op != "setLoad":
        raise ValueError(f"not a setLoad command: {command.op!r}")
    d = command.data
    return SetLoad(d["loadId"], d.get("enabled"), d.get("capacityKw"), d.get("priority"))


# -- acks -------------------------------------------------------------------------------
_ACK_KEYS = frozenset({"op", "correlationId", "venId", "ok", "status", "ts", "data"})


def _ts(ts: float) -> int:
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(f"ts must be epoch seconds, not {ts!r}")
    return int(ts)


def ack_payload(command: Command, *, ven_id: str, ts: float, status: str = "success",
                data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ack for `command` on `ven/ack/{venId}`; `extra` adds top-level fields.

    `ok` follows `status`; an "error" ack needs `error="..."`. Event and restore acks
    carry the top-level `event_id`; a ping ack's data has `pong: true`.
    """
    if status not in ACK_STATUSES:
        raise ValueError(f"status must be one of {sorted(ACK_STATUSES)}, not {status!r}")
    clash = _ACK_KEYS & set(extra)
    if clash:
        raise ValueError(f"extra fields may not replace {sorted(clash)}")
    if status == "error" and not isinstance(extra.get("error"), str):
        raise ValueError("an error ack needs error='<message>'")
    body = dict(data) if data is not None else {}
    if command.op == "ping":
        body["pong"] = True
    payload: dict[str, Any] = {
        "op": command.op,
        "correlationId": command.correlation_id,
        "venId": ven_id,
        "ok": status != "error",
        "status": status,
        "ts": _ts(ts),
        "data": body,
    }
    if command.op in ("event", "restore") and command.event_id is not None:
        payload["event_id"] = command.event_id
    payload.update(extra)
    return payload


def _circuit(row: dict[str, Any]) -> dict[str, Any]:
    original = float(row["original_kw"])
    curtailed = float(row.get("curtailed_kw", 0.0))
    final = row.get("final_kw")
    return {
        "id": str(row["id"]),
        "name": str(row["name"]),
        "breaker_amps": int(row["breaker_amps"]),
        "original_kw": _kw(original),
        "curtailed_kw": _kw(curtailed),
        "final_kw": _kw(final if final is not None else max(0.0, original - curtailed)),
        "critical": bool(row.get("critical", False)),
    }


def event_ack_payload(command: Command, ack: EventAck, ts: float) -> dict[str, Any]:
    """The final ack of an `event` command: what was asked, what was shed, and where."""
    extra: dict[str, Any] = {
        "requested_shed_kw": _kw(ack.requested_kw),
        "actual_shed_kw": _kw(ack.actual_shed_kw),
        "circuits_curtailed": [_circuit(row) for row in ack.circuits],
    }
    if not ack.ok:
        extra["error"] = ack.error if ack.error is not None else "event failed"
    payload = ack_payload(command, ven_id=ack.ven_id, ts=ts,
                          status="success" if ack.ok else "error",
                          data={"event_id": ack.event_id}, **extra)
    payload["event_id"] = ack.event_id
    return payload


def error_ack_payload(err: CommandError, *, ven_id: str, ts: float) -> dict[str, Any]:
    """The ack for a rejected command; `op` is "unknown" when it could not be read."""
    return {
        "op": err.op if err.op is not None else "unknown",
        "correlationId": err.correlation_id,
        "venId": ven_id,
        "ok": False,
        "status": "error",
        "ts": _ts(ts),
        "data": {},
        "error": err.error,
    }


class AckCache:
    """The acks last sent, by correlationId, so a redelivered command is answered again
    instead of applied twice. Least recently used entries go first once `maxsize` is hit."""

    def __init__(self, maxsize: int = ACK_CACHE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, not {maxsize!r}")
        self.maxsize = maxsize
        self._acks: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, correlation_id: str | None) -> dict[str, Any] | None:
        if correlation_id is None or correlation_id not in self._acks:
            return None
        self._acks.move_to_end(correlation_id)
        return self._acks[correlation_id]

    def put(self, correlation_id: str | None, payload: dict[str, Any]) -> None:
        """Remember `payload`; a later ack (e.g. success after accepted) replaces it."""
        if correlation_id is None:
            return
        self._acks[correlation_id] = payload
        self._acks.move_to_end(correlation_id)
        while len(self._acks) > self.maxsize:
            self._acks.popitem(last=False)

    def __contains__(self, correlation_id: object) -> bool:
        return correlation_id in self._acks

    def __len__(self) -> int:
        return len(self._acks)
