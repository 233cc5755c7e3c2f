"""Backend commands from `ven/cmd/{venId}`: parsing, validation and actor messages.

Pure functions, no network: `parse_command` turns one raw payload into a normalised
`Command` or a `CommandError` (never raising on bad input), and `start_event`,
`shed_panel`, `end_event` and `set_load` turn valid commands into the actor messages they
stand for. `sim.contract` owns the rest of the wire contract (topics, telemetry, acks).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

from sim import bounded
from sim._contract_encode import one_shot_encoder
from sim.limits import (
    CAPACITY_KW_RANGE,
    DURATION_S_RANGE,
    MAX_ID_CHARS,
    MAX_PAYLOAD_BYTES,
    PRIORITY_RANGE,
    REDUCTION_KW_RANGE,
    REPORT_INTERVAL_S_RANGE,
)
from sim.records import EndEvent, SetLoad, StartEvent

OPS = frozenset({"event", "restore", "ping", "shedPanel", "shedLoad", "set", "setConfig",
                 "setLoad", "get"})
GET_WHAT = frozenset({"status", "config", "loads"})
SETTINGS = frozenset({"report_interval_seconds"})  # what `set` keeps; other keys are ignored


# -- commands ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """A valid command, normalised. `data` holds the op's canonical fields:

    event     {event_id: str, requestedReductionKw: float, duration_s: float}
    restore   {event_id: str}
    ping      {}
    shedPanel {requestedReductionKw: float, durationS: float}
    shedLoad  {loadId: str, reduceKw: float, durationS: float}
    set, setConfig  the known SETTINGS given (report_interval_seconds as float), plus
              `ignored`: the names of unknown settings, which are not kept
    setLoad   {loadId: str} plus any of enabled: bool, capacityKw: float, priority: int
    get       {what: "status" | "config" | "loads"}
    """

    op: str
    correlation_id: str
    ven_id: str
    data: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    # Of op and data: a reused correlationId with another body is refused.
    digest: str = field(default="", compare=False)


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


def _present(obj: dict[str, Any], key: str) -> bool:
    """Given and not null: 0, False and "" are values."""
    return key in obj and obj[key] is not None


def _string(obj: dict[str, Any], key: str, where: str) -> str:
    if not _present(obj, key):
        raise _Invalid(f"missing {where}{key}")
    value = obj[key]
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where}{key} must be a non-empty string, got {bounded.show(value)}")
    if len(value) > MAX_ID_CHARS:
        raise _Invalid(f"{where}{key} is {len(value)} characters, over {MAX_ID_CHARS}")
    return value


def _number(obj: dict[str, Any], key: str, where: str, limits: tuple[float, float], *,
            positive: bool = False) -> float:
    """A number within `limits` (inclusive); `positive` also refuses 0."""
    if not _present(obj, key):
        raise _Invalid(f"missing {where}{key}")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{where}{key} must be a number, got {bounded.show(value)}")
    if not math.isfinite(value):
        raise _Invalid(f"{where}{key} must be finite, got {bounded.show(value)}")
    if value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise _Invalid(f"{where}{key} must be {bound}, got {bounded.show(value)}")
    low, high = limits
    if not low <= value <= high:
        raise _Invalid(f"{where}{key} must be between {low:g} and {high:g}, "
                       f"got {bounded.show(value)}")
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
        "requestedReductionKw": _number(*_first(data, "requestedReductionKw", top, "shed_kw"),
                                        REDUCTION_KW_RANGE),
        "duration_s": _number(*_first(data, "duration_s", top, "duration_sec"),
                              DURATION_S_RANGE),
    }


def _parse_restore(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": _event_id(data, top)}


def _parse_ping(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {}


def _parse_shed_panel(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestedReductionKw": _number(data, "requestedReductionKw", "data.",
                                        REDUCTION_KW_RANGE),
        "durationS": _number(data, "durationS", "data.", DURATION_S_RANGE),
    }


def _parse_shed_load(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    return {
        "loadId": _string(data, "loadId", "data."),
        "reduceKw": _number(data, "reduceKw", "data.", REDUCTION_KW_RANGE),
        "durationS": _number(data, "durationS", "data.", DURATION_S_RANGE),
    }


def _parse_set(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    if not data:
        raise _Invalid("data must hold at least one setting, e.g. report_interval_seconds")
    settings: dict[str, Any] = {}
    if "report_interval_seconds" in data:
        settings["report_interval_seconds"] = _number(
            data, "report_interval_seconds", "data.", REPORT_INTERVAL_S_RANGE, positive=True)
    ignored = [bounded.clip(str(key), MAX_ID_CHARS) for key in data if key not in SETTINGS]
    if not settings:
        raise _Invalid(f"no known setting in data (known: {sorted(SETTINGS)}); "
                       f"got {bounded.show(ignored[0])} and {len(ignored) - 1} more")
    if ignored:
        settings["ignored"] = ignored[:16] + ([f"... {len(ignored) - 16} more"]
                                              if len(ignored) > 16 else [])
    return settings


def _parse_set_load(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"loadId": _string(data, "loadId", "data.")}
    if _present(data, "enabled"):
        if not isinstance(data["enabled"], bool):
            raise _Invalid(f"data.enabled must be true or false, got "
                           f"{bounded.show(data['enabled'])}")
        out["enabled"] = data["enabled"]
    if _present(data, "capacityKw"):
        out["capacityKw"] = _number(data, "capacityKw", "data.", CAPACITY_KW_RANGE,
                                    positive=True)
    if _present(data, "priority"):
        value = data["priority"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"data.priority must be an integer, got {bounded.show(value)}")
        out["priority"] = int(_number(data, "priority", "data.", PRIORITY_RANGE))
    if len(out) == 1:
        raise _Invalid("setLoad needs at least one of data.enabled, data.capacityKw, "
                       "data.priority")
    return out


def _parse_get(data: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    what = _string(data, "what", "data.")
    if what not in GET_WHAT:
        raise _Invalid(f"data.what must be one of {sorted(GET_WHAT)}, got {bounded.show(what)}")
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
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return CommandError(_sniff(raw, "correlationId"), _sniff(raw, "op"),
                            f"payload is not valid UTF-8: {exc.reason} at byte {exc.start}")
    try:
        obj = bounded.loads(raw)
    except bounded.BadJson as exc:
        return CommandError(_sniff(raw, "correlationId"), _sniff(raw, "op"),
                            f"payload is not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return CommandError(None, None,
                            f"payload must be a JSON object, got {type(obj).__name__}")

    # Echoed in the error ack, so cut to size: the ack must stay far below 128 KB.
    cid = obj.get("correlationId")
    cid = bounded.short_id(cid) if isinstance(cid, str) and cid else None
    op = obj.get("op")
    op = bounded.short_id(op) if isinstance(op, str) else None
    try:
        _string(obj, "correlationId", "")
        _string(obj, "op", "")
        if op not in OPS:
            raise _Invalid(f"unknown op {bounded.show(op)}; known: {sorted(OPS)}")
        if _present(obj, "venId") and obj["venId"] != ven_id:
            raise _Invalid(f"command is for venId {bounded.show(obj['venId'])}, "
                           f"not {ven_id!r}")
        data = obj["data"] if _present(obj, "data") else {}
        if not isinstance(data, dict):
            raise _Invalid(f"data must be an object, got {type(data).__name__}")
        fields = _PARSERS[op](data, obj)
    except _Invalid as exc:
        return CommandError(cid, op, str(exc))
    assert cid is not None and op is not None
    return Command(op, cid, ven_id, fields, fields.get("event_id"), _digest(op, fields))


# json.dumps(value, sort_keys=True, separators=(",", ":")), from an encoder made once; without
# the circular-reference check, as a command's fields come parsed from JSON (never cyclic).
_CANONICAL = one_shot_encoder(sort_keys=True, separators=(",", ":"), check_circular=False)


def _digest(op: str, fields: dict[str, Any]) -> str:
    """What a command asks for, whatever its layout (top-level copies, key order)."""
    return hashlib.sha256(_canonical(op, fields).encode("utf-8")).hexdigest()[:32]


def _canonical(op: str, fields: dict[str, Any]) -> str:
    """`_CANONICAL([op, fields])`, the same text. An event's and a restore's fields (every
    DR event has both) are written directly, as the encoder would: their keys sorted, the
    event_id escaped by the encoder's own function, the two floats (finite: checked) as
    `repr` writes them. A quarter of the encoder's cost."""
    if op == "restore":
        return f'["restore",{{"event_id":{_json_string(fields["event_id"])}}}]'
    if op == "event":
        return (f'["event",{{"duration_s":{fields["duration_s"]!r},"event_id":'
                f'{_json_string(fields["event_id"])},"requestedReductionKw":'
                f'{fields["requestedReductionKw"]!r}}}]')
    return _CANONICAL([op, fields])


# -- commands as actor messages ---------------------------------------------------------
def start_event(command: Command) -> StartEvent:
    """An `event` command as a StartEvent."""
    if command.op != "event":
        raise ValueError(f"not an event command: {command.op!r}")
    d = command.data
    return StartEvent(d["event_id"], d["requestedReductionKw"], d["duration_s"],
                      command.correlation_id)


def shed_panel(command: Command) -> StartEvent:
    """A `shedPanel` command as a StartEvent of its own, named after its correlationId."""
    if command.op != "shedPanel":
        raise ValueError(f"not a shedPanel command: {command.op!r}")
    d = command.data
    return StartEvent(f"panel-{command.correlation_id}", d["requestedReductionKw"],
                      d["durationS"], command.correlation_id)


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
