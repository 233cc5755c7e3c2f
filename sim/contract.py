"""The backend wire contract: topics, telemetry, commands and acks as pure functions.

No network and no actors here: bytes and dicts in, bytes and dicts out. The field names
and JSON types follow the backend to the letter, because it drops a whole message when
any one field has the wrong type (an int where it wants a float is fine in JSON, but a
bool where it wants a number, a string timestamp or milliseconds are not).

Topics: `volttron/metering` and `ven/telemetry/{venId}` carry telemetry out,
`ven/cmd/{venId}` carries commands in and `ven/ack/{venId}` carries acks out; the AWS IoT
device shadow of thing `{venId}` lives under `$aws/things/{venId}/shadow/`. Every topic
string is built (and read) here.

Command parsing lives in `sim.commands`; the acks are built in `sim._contract_acks`, the
telemetry in `sim._contract_telemetry` (with `shadow_report_json`, the shadow report written
around the telemetry's loads), the shadow report's template in `sim._contract_shadow`, and
payloads encoded in `sim._contract_encode`: parts of this module kept apart to keep it short,
and exported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sim._contract_acks import (
    ACK_STATUSES,
    CIRCUIT_ACK_KEYS,
    CircuitAckRow,
    ack_payload,
    circuit_ack_row,
    encode_ack,
    error_ack_payload,
    event_ack_payload,
)
from sim._contract_encode import checked_size, compact, encode, kw_text
from sim._contract_shadow import (
    SHADOW_SCHEMA_VERSION,
    ReportFacts,
    ShadowState,
    report_facts,
    report_members,
    shadow_report,
    telemetry_loads,
)
from sim._contract_telemetry import (
    GENERIC_TYPE,
    SCHEMA_VERSION,
    load_type,
    loads_json,
    loads_rows,
    shadow_report_json,
    telemetry_facts,
    telemetry_json,
    telemetry_payload,
)

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
    "ReportFacts",
    "SCHEMA_VERSION",
    "SHADOW_SCHEMA_VERSION",
    "SHADOW_OPERATIONS",
    "SHADOW_REQUEST_FILTERS",
    "SHADOW_TOPIC_PREFIX",
    "ShadowState",
    "TELEMETRY_TOPIC",
    "Topics",
    "ack_payload",
    "circuit_ack_row",
    "command_encoder",
    "command_payload",
    "encode",
    "encode_ack",
    "kw_text",
    "last_will",
    "error_ack_payload",
    "event_ack_payload",
    "load_type",
    "loads_json",
    "loads_rows",
    "parse_shadow_topic",
    "parse_shared_subscription",
    "presence_payload",
    "presence_topic",
    "report_facts",
    "report_members",
    "shadow_report",
    "shadow_report_json",
    "shadow_request",
    "shadow_topic",
    "shared_subscription",
    "telemetry_facts",
    "telemetry_json",
    "telemetry_loads",
    "telemetry_payload",
    "topic_kind",
    "topics",
]

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


_NOT_IN_A_LEVEL = "/+#\x00"  # a level separator, the wildcards, NUL


def topics(ven_id: str) -> Topics:
    """The topics of `ven_id`; ValueError if it cannot be one MQTT topic level."""
    if not isinstance(ven_id, str) or not ven_id:
        raise ValueError(f"venId must be a non-empty string, not {ven_id!r}")
    if any(ch in ven_id for ch in _NOT_IN_A_LEVEL):
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

_SHARE_PREFIX = "$share/"  # MQTT's shared subscriptions: $share/{group}/{filter}


def shared_subscription(group: str, topic_filter: str) -> str:
    """`$share/{group}/{topic_filter}`: subscribed to by several connections under one
    `group`, each message of the filter goes to one of them (MQTT 5's shared subscriptions,
    which AWS IoT Core and mosquitto also give MQTT 3.1.1 clients)."""
    if not group or any(ch in group for ch in _NOT_IN_A_LEVEL):
        raise ValueError(f"share group {group!r} must be non-empty without '/', '+', '#' or NUL")
    return f"{_SHARE_PREFIX}{group}/{topic_filter}"


def parse_shared_subscription(topic_filter: str) -> tuple[str, str] | None:
    """(group, filter) of a `$share/{group}/{filter}` subscription; None for any other."""
    if not topic_filter.startswith(_SHARE_PREFIX):
        return None
    group, slash, shared = topic_filter[len(_SHARE_PREFIX):].partition("/")
    return (group, shared) if group and slash and shared else None


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


def command_encoder(op: str, data: dict[str, Any]) -> Callable[[str, str], bytes]:
    """`encode(command_payload(op, correlation_id, ven_id, data))` as a function of the two
    IDs, for one command sent to many VENs (a fan-out): the members after `venId` are the same
    for every VEN, so they are encoded once, and each VEN's payload is joined from them and
    its two IDs as JSON strings (compact JSON: members joined by commas, no spaces)."""
    ids_first = compact({"op": op, "correlationId": "", "venId": ""})[:-1]  # without its `}`
    whole = compact(command_payload(op, "", "", data))
    assert whole.startswith(ids_first), f"command_payload puts the IDs first: {whole[:80]!r}"
    head = compact({"op": op})[:-1].encode() + b',"correlationId":'
    rest = whole[len(ids_first):].encode()  # `,...}` or `}`

    def encoded(correlation_id: str, ven_id: str) -> bytes:
        return checked_size(b"".join((head, compact(correlation_id).encode(), b',"venId":',
                                      compact(ven_id).encode(), rest)))

    return encoded
