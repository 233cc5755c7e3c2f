"""The backend wire contract: topics, telemetry, commands and acks as pure functions.

No network and no actors here: bytes and dicts in, bytes and dicts out. The field names
and JSON types follow the backend to the letter, because it drops a whole message when
any one field has the wrong type (an int where it wants a float is fine in JSON, but a
bool where it wants a number, a string timestamp or milliseconds are not).

Topics: `volttron/metering` and `ven/telemetry/{venId}` carry telemetry out,
`ven/cmd/{venId}` carries commands in and `ven/ack/{venId}` carries acks out; the AWS IoT
device shadow of thing `{venId}` lives under `$aws/things/{venId}/shadow/`. Every topic
string is built (and read) here.

Command parsing lives in `sim.commands`; the acks are built in `sim._contract_acks`, part of
this module kept apart to keep it short, and exported from here.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, NamedTuple

from sim._contract_acks import (
    ACK_STATUSES,
    CIRCUIT_ACK_KEYS,
    CircuitAckRow,
    _kw,
    ack_payload,
    circuit_ack_row,
    error_ack_payload,
    event_ack_payload,
)
from sim.limits import MAX_PAYLOAD_BYTES
from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE
from sim.models.house import panel_facts
from sim.records import Telemetry

__all__ = [
    "ACK_STATUSES",
    "ACK_TOPIC",
    "CIRCUIT_ACK_KEYS",
    "CircuitAckRow",
    "COMMAND_TOPIC",
    "EVERY_VEN",
    "GENERIC_TYPE",
    "METERING_TOPIC",
    "PRESENCE_FILTER",
    "PRESENCE_TOPIC",
    "SCHEMA_VERSION",
    "SHADOW_OPERATIONS",
    "SHADOW_REQUEST_FILTERS",
    "SHADOW_TOPIC_PREFIX",
    "TELEMETRY_TOPIC",
    "Topics",
    "ack_payload",
    "circuit_ack_row",
    "command_payload",
    "encode",
    "last_will",
    "error_ack_payload",
    "event_ack_payload",
    "load_type",
    "loads_json",
    "parse_shadow_topic",
    "presence_payload",
    "presence_topic",
    "shadow_request",
    "shadow_topic",
    "telemetry_facts",
    "telemetry_json",
    "telemetry_payload",
    "topic_kind",
    "topics",
]

SCHEMA_VERSION = "1.0"

METERING_TOPIC = "volttron/metering"
TELEMETRY_TOPIC = "ven/telemetry/{ven_id}"
COMMAND_TOPIC = "ven/cmd/{ven_id}"
ACK_TOPIC = "ven/ack/{ven_id}"

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


_ANY_LEVEL = "+"  # the MQTT single-level wildcard
# Subscription filters matching the topics of every VEN, e.g. `EVERY_VEN.ack` = "ven/ack/+".
EVERY_VEN = Topics(
    metering=METERING_TOPIC,
    telemetry=TELEMETRY_TOPIC.format(ven_id=_ANY_LEVEL),
    command=COMMAND_TOPIC.format(ven_id=_ANY_LEVEL),
    ack=ACK_TOPIC.format(ven_id=_ANY_LEVEL),
)
# Each per-VEN topic up to its venId, e.g. "ven/ack/".
_PREFIXES = {
    kind: template.format(ven_id="")
    for kind, template in (("telemetry", TELEMETRY_TOPIC), ("command", COMMAND_TOPIC),
                           ("ack", ACK_TOPIC))
}


def topic_kind(topic: str) -> str | None:
    """Which `Topics` field `topic` is ("metering", "telemetry", "command" or "ack"); None
    for a topic outside the contract. Per-VEN topics are told apart by their prefix."""
    if topic == METERING_TOPIC:
        return "metering"
    for kind, prefix in _PREFIXES.items():
        if topic.startswith(prefix):
            return kind
    return None


# -- presence ----------------------------------------------------------------------------
# A VEN's MQTT Last Will goes here: the broker publishes it when the VEN vanishes without
# a DISCONNECT (killed, network gone), so the backend sees it offline. AWS IoT refuses a
# will on a reserved `$aws/...` topic; an IoT rule (the embedded shadow service does the
# same) turns it into the shadow's `reported.ven.status`.
PRESENCE_TOPIC = "ven/status/{ven_id}"
PRESENCE_FILTER = PRESENCE_TOPIC.format(ven_id=_ANY_LEVEL)


def presence_topic(ven_id: str) -> str:
    return PRESENCE_TOPIC.format(ven_id=ven_id)


def presence_payload(ven_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """{"venId", "status": "online" | "offline", "reason"} for `ven/status/{venId}`."""
    if status not in ("online", "offline"):
        raise ValueError(f"status must be online or offline, not {status!r}")
    return {"venId": ven_id, "status": status, "reason": reason}


def last_will(ven_id: str) -> tuple[str, bytes]:
    """(topic, payload) of the VEN's MQTT Last Will."""
    return presence_topic(ven_id), encode(
        presence_payload(ven_id, "offline", "connection lost without a goodbye"))


# -- device shadow topics ---------------------------------------------------------------
SHADOW_TOPIC_PREFIX = "$aws/things/"
_SHADOW_LEVEL = "/shadow/"
SHADOW_OPERATIONS = ("get", "update", "delete")  # what a client may ask of its shadow


def shadow_topic(thing: str, suffix: str) -> str:
    """`$aws/things/{thing}/shadow/{suffix}`, e.g. suffix "update" or "update/accepted"."""
    return f"{SHADOW_TOPIC_PREFIX}{thing}{_SHADOW_LEVEL}{suffix}"


# What a shadow service subscribes to: every thing's get, update and delete requests.
SHADOW_REQUEST_FILTERS = tuple(shadow_topic(_ANY_LEVEL, op) for op in SHADOW_OPERATIONS)


def parse_shadow_topic(topic: str) -> tuple[str, str] | None:
    """(thing, suffix) of `$aws/things/{thing}/shadow/{suffix}`, e.g. ("ven-1",
    "update/delta"); None for any other topic."""
    if not topic.startswith(SHADOW_TOPIC_PREFIX):
        return None
    thing, level, suffix = topic[len(SHADOW_TOPIC_PREFIX) :].partition(_SHADOW_LEVEL)
    if not level or "/" in thing:
        return None
    return thing, suffix


def shadow_request(topic: str) -> tuple[str, str] | None:
    """(thing, operation) of a request on `$aws/things/{thing}/shadow/{get|update|delete}`;
    None for replies (`.../update/accepted`) and any other topic."""
    parsed = parse_shadow_topic(topic)
    if parsed is None or parsed[1] not in SHADOW_OPERATIONS:
        return None
    return parsed


# -- encoding ---------------------------------------------------------------------------
# `json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)`, the same
# text, from an encoder made once (`dumps` makes one per call, a fifth of the time it takes to
# encode an event ack), without the circular-reference check: the payloads are built afresh
# from parsed JSON and our own values, never cyclic.
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            check_circular=False).encode


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError if over 128 KB or not JSON-able (NaN, infinity)."""
    return _checked_size(_compact(payload).encode("utf-8"))


def _checked_size(data: bytes) -> bytes:
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
                         "AWS IoT limit")
    return data


# -- commands ---------------------------------------------------------------------------
def command_payload(op: str, correlation_id: str, ven_id: str,
                    data: dict[str, Any]) -> dict[str, Any]:
    """A command for `ven/cmd/{venId}` the way the backend builds it.

    `event` and `restore` repeat `event_id` at the top level, and `event` its kW and
    duration as `shed_kw` and `duration_sec`, as the backend does; `parse_command` reads
    either place.
    """
    payload: dict[str, Any] = {"op": op, "correlationId": correlation_id, "venId": ven_id}
    if op in ("event", "restore") and "event_id" in data:
        payload["event_id"] = data["event_id"]
    if op == "event":
        if "requestedReductionKw" in data:
            payload["shed_kw"] = data["requestedReductionKw"]
        if "duration_s" in data:
            payload["duration_sec"] = data["duration_s"]
    payload["data"] = data
    return payload


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


@functools.lru_cache(maxsize=1024)  # a handful of names, asked for in every report
def load_type(name: str) -> str:
    """The circuit type a load name suggests, e.g. "Upstairs HVAC" -> "HVAC"."""
    text = " " + re.sub(r"[^a-z0-9]+", " ", str(name).lower()).strip() + " "
    for keyword, kind in _TYPES_BY_KEYWORD:
        # Whole words at the start, so "ev" is not "elevator" and "light" is "lights".
        if (len(keyword) > 2 and f" {keyword}" in text) or f" {keyword} " in text:
            return kind
    return GENERIC_TYPE


# Facts of a panel size, and a breaker's capacity: the same few values in every report.
_panel_facts = functools.lru_cache(maxsize=16)(panel_facts)


@functools.lru_cache(maxsize=64)
def _capacity_kw(breaker_amps: int) -> float:
    return _kw(breaker_amps * KW_PER_BREAKER_AMP)


def _load_row(row: dict[str, Any]) -> dict[str, Any]:
    # Rounded inline, not through _kw: a row per circuit per report.
    kind = row.get("type")
    return {
        "id": str(row["id"]),
        "name": str(row["name"]),
        "type": str(kind) if kind is not None else load_type(row["name"]),
        "capacityKw": _capacity_kw(row["breaker_amps"]),
        "currentPowerKw": round(float(row["power_kw"]), 3),
        "shedCapabilityKw": round(float(row["shed_capability_kw"]), 3),
        "enabled": bool(row["enabled"]),
        "priority": int(row["priority"]),
    }


def telemetry_facts(t: Telemetry) -> dict[str, Any]:
    """The telemetry object without its `loads` and the legacy fields that follow them."""
    panel = _panel_facts(int(t.panel_amps))
    rating = int(panel["panelAmperageRating"])
    amps = max(0.0, float(t.used_kw)) * 1000.0 / PANEL_VOLTAGE
    soc = None if t.battery_soc is None else min(1.0, max(0.0, float(t.battery_soc)))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "venId": str(t.ven_id),
        "timestamp": int(round(t.epoch)),
        "usedPowerKw": _kw(t.used_kw),
        "shedPowerKw": _kw(t.shed_kw),
        "requestedReductionKw": _kw(t.requested_kw),
        "baselinePowerKw": _kw(t.baseline_kw),
        "eventId": None if t.event_id is None else str(t.event_id),
        "batterySoc": soc,
        "panelAmperageRating": rating,
        "panelVoltage": int(panel["panelVoltage"]),
        "panelMaxKw": float(panel["panelMaxKw"]),
        "currentAmps": round(amps, 2),
        "panelUtilizationPercent": round(amps / rating * 100.0, 2),
    }


def telemetry_payload(t: Telemetry) -> dict[str, Any]:
    """The telemetry object published on `volttron/metering` and `ven/telemetry/{venId}`."""
    document = telemetry_facts(t)
    document["loads"] = [_load_row(row) for row in t.loads]
    document["power_kw"] = document["usedPowerKw"]  # legacy
    document["shed_kw"] = document["shedPowerKw"]  # legacy
    return document


# -- telemetry in wire form ---------------------------------------------------------------
# A load row's text around its two readings, by its facts: a fleet's circuits share a few
# dozen sets of facts, and a row's facts change only when the backend sets them.
_ROW_READINGS = ',"shedCapabilityKw":'


@functools.lru_cache(maxsize=4096)
def _row_text(cid: str, name: str, kind: str | None, breaker_amps: Any, enabled: bool,
              priority: int) -> tuple[str, str]:
    """(the row's text up to its currentPowerKw value, the text after shedCapabilityKw's)."""
    facts = _compact({"id": cid, "name": name,
                      "type": kind if kind is not None else load_type(name),
                      "capacityKw": _capacity_kw(breaker_amps)})
    rest = _compact({"enabled": enabled, "priority": priority})
    return facts[:-1] + ',"currentPowerKw":', "," + rest[1:]


def loads_json(loads: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str | None:
    """The telemetry's `loads` array as `encode` writes it (the same text), from each row's
    facts encoded once and its two readings; None if a reading is not a finite number (the
    encoder then says why)."""
    parts = []
    total = 0.0
    for row in loads:
        kind = row.get("type")  # str() and bool() first: True and 1 are one key to a cache
        before, after = _row_text(str(row["id"]), str(row["name"]),
                                  None if kind is None else str(kind), row["breaker_amps"],
                                  bool(row["enabled"]), int(row["priority"]))
        power = round(float(row["power_kw"]), 3)
        shed = round(float(row["shed_capability_kw"]), 3)
        total += power + shed
        # repr: the encoder writes a float as float.__repr__ does.
        parts.append(f"{before}{power!r}{_ROW_READINGS}{shed!r}{after}")
    if not math.isfinite(total):  # a NaN or an infinity among them (or an overflowing sum)
        return None
    return f"[{','.join(parts)}]"


def telemetry_json(t: Telemetry, timestamp: int | None = None) -> bytes:
    """`encode(telemetry_payload(t))`, the same bytes, with each load row's facts encoded once;
    `timestamp` in place of the telemetry's own (a VEN whose clock is off)."""
    facts = telemetry_facts(t)
    if timestamp is not None:
        facts["timestamp"] = timestamp
    loads = loads_json(t.loads)
    if loads is None:
        document = telemetry_payload(t)
        document["timestamp"] = facts["timestamp"]
        return encode(document)  # raises, as a payload with a NaN does
    used, shed = facts["usedPowerKw"], facts["shedPowerKw"]
    text = f'{_compact(facts)[:-1]},"loads":{loads},"power_kw":{used!r},"shed_kw":{shed!r}}}'
    return _checked_size(text.encode("utf-8"))
