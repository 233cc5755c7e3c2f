"""The backend wire contract: topics, exact telemetry field names and JSON types, acks.

Command parsing is tested in test_commands.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import EventAck, Telemetry
from sim.ack_cache import AckCache
from sim.commands import Command, parse_command
from sim.contract import (
    CIRCUIT_ACK_KEYS,
    EVERY_VEN,
    SHADOW_REQUEST_FILTERS,
    CircuitAckRow,
    ack_payload,
    circuit_ack_row,
    command_encoder,
    command_payload,
    encode,
    error_ack_payload,
    event_ack_payload,
    load_type,
    parse_shadow_topic,
    shadow_request,
    shadow_topic,
    telemetry_payload,
    topic_kind,
    topics,
)
from sim.curtailment import CircuitInfo, ShedPlanner
from sim.limits import MAX_PAYLOAD_BYTES
from tests.fuzzing import FUZZ, data_objects, json_values
from tests.sim.contract_helpers import VEN, parse_err, parse_ok

TS = 1_700_000_000


def _row(**over: Any) -> dict[str, Any]:
    row = {"id": "hvac1", "name": "HVAC", "breaker_amps": 30, "critical": True, "priority": 3,
           "enabled": True, "power_kw": 3, "shed_capability_kw": 1, "curtailed_kw": 0.0,
           "indoor_c": 24.5}
    row.update(over)
    return row


def _telemetry(**over: Any) -> Telemetry:
    fields: dict[str, Any] = {
        "ven_id": VEN, "t0": 0.0, "t1": 300.0, "epoch": 1_700_000_300.4, "used_kw": 4.8,
        "baseline_kw": 6, "shed_kw": 1.2, "requested_kw": 2, "event_id": None,
        "battery_soc": None, "shed_capability_kw": 3.0, "comfort_minutes": 0.0,
        "panel_amps": 200,
        "loads": (_row(), _row(id="heater1", name="Water Heater", priority=7, critical=False,
                               enabled=0, power_kw=0)),
    }
    fields.update(over)
    return Telemetry(**fields)


def _exact(value: Any, kind: type) -> bool:
    return type(value) is kind


# -- topics -----------------------------------------------------------------------------
def test_topics() -> None:
    t = topics(VEN)
    assert t.metering == "volttron/metering"
    assert t.telemetry == "ven/telemetry/ven-001"
    assert t.command == "ven/cmd/ven-001"
    assert t.ack == "ven/ack/ven-001"
    assert t.telemetry_out == ("volttron/metering", "ven/telemetry/ven-001")


@pytest.mark.parametrize("bad", ["", "a/b", "a+", "#", 7])
def test_topics_reject_ids_that_are_not_one_level(bad: Any) -> None:
    with pytest.raises(ValueError):
        topics(bad)


def test_every_ven_filters() -> None:
    assert EVERY_VEN == ("volttron/metering", "ven/telemetry/+", "ven/cmd/+", "ven/ack/+")


@pytest.mark.parametrize(("topic", "kind"), [
    ("volttron/metering", "metering"),
    ("ven/telemetry/ven-001", "telemetry"),
    ("ven/cmd/ven-001", "command"),
    ("ven/ack/ven-001", "ack"),
    ("volttron/metering/x", None),
    ("ven/other/ven-001", None),
    ("$aws/things/ven-001/shadow/update", None),
])
def test_topic_kind(topic: str, kind: str | None) -> None:
    assert topic_kind(topic) == kind


def test_shadow_topics() -> None:
    assert shadow_topic(VEN, "update") == "$aws/things/ven-001/shadow/update"
    assert shadow_topic(VEN, "get/accepted") == "$aws/things/ven-001/shadow/get/accepted"
    assert SHADOW_REQUEST_FILTERS == ("$aws/things/+/shadow/get", "$aws/things/+/shadow/update",
                                      "$aws/things/+/shadow/delete")


@pytest.mark.parametrize(("topic", "parsed", "as_request"), [
    ("$aws/things/ven-001/shadow/get", (VEN, "get"), (VEN, "get")),
    ("$aws/things/ven-001/shadow/delete", (VEN, "delete"), (VEN, "delete")),
    ("$aws/things/ven-001/shadow/update/delta", (VEN, "update/delta"), None),
    ("$aws/things/ven-001/shadow/name/n1/update", (VEN, "name/n1/update"), None),
    ("$aws/things/ven-001/shadow/list", (VEN, "list"), None),
    ("$aws/things/a/b/shadow/get", None, None),
    ("$aws/things/ven-001/jobs/get", None, None),
    ("ven/cmd/ven-001", None, None),
])
def test_shadow_topic_parsing(topic: str, parsed: tuple | None, as_request: tuple | None) -> None:
    assert parse_shadow_topic(topic) == parsed
    assert shadow_request(topic) == as_request


# -- commands ---------------------------------------------------------------------------
def test_event_command_payload_repeats_its_fields_at_the_top_level() -> None:
    data = {"event_id": "e1", "requestedReductionKw": 2.5, "duration_s": 900}
    payload = command_payload("event", "c-1", VEN, data)
    assert list(payload) == ["op", "correlationId", "venId", "event_id", "shed_kw",
                             "duration_sec", "data"]
    assert payload == {"op": "event", "correlationId": "c-1", "venId": VEN, "event_id": "e1",
                       "shed_kw": 2.5, "duration_sec": 900, "data": data}
    cmd = parse_command(encode(payload), VEN)
    assert isinstance(cmd, Command)
    assert cmd.data == {"event_id": "e1", "requestedReductionKw": 2.5, "duration_s": 900.0}


def test_other_command_payloads() -> None:
    restore = command_payload("restore", "r-1", VEN, {"event_id": "e1"})
    assert restore == {"op": "restore", "correlationId": "r-1", "venId": VEN,
                       "event_id": "e1", "data": {"event_id": "e1"}}
    ping = command_payload("ping", "p-1", VEN, {})
    assert ping == {"op": "ping", "correlationId": "p-1", "venId": VEN, "data": {}}
    assert isinstance(parse_command(encode(ping), VEN), Command)


# -- telemetry --------------------------------------------------------------------------
TELEMETRY_TYPES = {
    "schemaVersion": str, "venId": str, "timestamp": int, "usedPowerKw": float,
    "shedPowerKw": float, "requestedReductionKw": float, "baselinePowerKw": float,
    "panelAmperageRating": int, "panelVoltage": int, "panelMaxKw": float,
    "currentAmps": float, "panelUtilizationPercent": float, "loads": list,
    "power_kw": float, "shed_kw": float,
}
LOAD_TYPES = {"id": str, "name": str, "type": str, "capacityKw": float, "currentPowerKw": float,
              "shedCapabilityKw": float, "enabled": bool, "priority": int}


def test_telemetry_field_names_and_exact_types() -> None:
    p = telemetry_payload(_telemetry())
    assert set(p) == set(TELEMETRY_TYPES) | {"eventId", "batterySoc"}
    for key, kind in TELEMETRY_TYPES.items():
        assert _exact(p[key], kind), (key, p[key])
    assert p["schemaVersion"] == "1.0"
    assert p["timestamp"] == 1_700_000_300
    assert p["eventId"] is None
    assert p["batterySoc"] is None
    assert p["panelVoltage"] == 240
    assert p["panelAmperageRating"] == 200
    assert p["panelMaxKw"] == 48.0
    assert p["currentAmps"] == 20.0  # 4.8 kW * 1000 / 240 V
    assert p["panelUtilizationPercent"] == 10.0  # 20 A of 200 A
    assert p["power_kw"] == p["usedPowerKw"] == 4.8
    assert p["shed_kw"] == p["shedPowerKw"] == 1.2
    assert p["requestedReductionKw"] == 2.0
    assert p["baselinePowerKw"] == 6.0


def test_telemetry_loads() -> None:
    loads = telemetry_payload(_telemetry())["loads"]
    assert len(loads) == 2
    for load in loads:
        assert set(load) == set(LOAD_TYPES)
        assert "loadId" not in load
        for key, kind in LOAD_TYPES.items():
            assert _exact(load[key], kind), (key, load[key])
    hvac, heater = loads
    assert hvac["id"] == "hvac1" and hvac["type"] == "HVAC"
    assert hvac["capacityKw"] == pytest.approx(7.2)
    assert heater["type"] == "Water Heater"
    assert heater["enabled"] is False  # 0 became a real bool
    assert heater["priority"] == 7


def test_telemetry_during_event_and_with_battery() -> None:
    p = telemetry_payload(_telemetry(event_id="evt-9", battery_soc=0.625, loads=()))
    assert p["eventId"] == "evt-9"
    assert _exact(p["batterySoc"], float) and p["batterySoc"] == 0.625
    assert p["loads"] == []


def test_telemetry_negative_use_gives_zero_amps() -> None:
    p = telemetry_payload(_telemetry(used_kw=-2.5))  # exporting solar
    assert p["usedPowerKw"] == -2.5
    assert p["currentAmps"] == 0.0 and p["panelUtilizationPercent"] == 0.0


def test_telemetry_load_type_key_wins_over_name() -> None:
    p = telemetry_payload(_telemetry(loads=(_row(name="Mystery", type="Battery"),)))
    assert p["loads"][0]["type"] == "Battery"


@pytest.mark.parametrize(("name", "kind"), [
    ("HVAC", "HVAC"), ("Upstairs HVAC", "HVAC"), ("Water Heater", "Water Heater"),
    ("EV Charger", "EV Charger"), ("Garage EV", "EV Charger"), ("Dryer", "Dryer"),
    ("Electric Range", "Electric Range"), ("Lighting Circuits", "Lighting Circuits"),
    ("General Outlets", "General Outlets"), ("Refrigerator", "Refrigerator"),
    ("Solar PV", "Solar PV"), ("Battery", "Battery"), ("Elevator", "Generic"),
])
def test_load_type_from_name(name: str, kind: str) -> None:
    assert load_type(name) == kind


def test_telemetry_encodes() -> None:
    data = encode(telemetry_payload(_telemetry()))
    assert json.loads(data)["timestamp"] == 1_700_000_300


# -- acks -------------------------------------------------------------------------------
ACK_TYPES = {"op": str, "correlationId": str, "venId": str, "ok": bool, "status": str,
             "ts": int, "data": dict}
CIRCUIT_TYPES = {"id": str, "name": str, "breaker_amps": int, "original_kw": float,
                 "curtailed_kw": float, "final_kw": float, "critical": bool}


def _assert_ack_types(ack: dict) -> None:
    for key, kind in ACK_TYPES.items():
        assert _exact(ack[key], kind), (key, ack[key])


def test_ping_ack_has_pong() -> None:
    cmd = parse_ok({"op": "ping", "correlationId": "p1", "venId": VEN})
    ack = ack_payload(cmd, ven_id=VEN, ts=TS + 0.9)
    _assert_ack_types(ack)
    assert ack == {"op": "ping", "correlationId": "p1", "venId": VEN, "ok": True,
                   "status": "success", "ts": TS, "data": {"pong": True}}


def test_accepted_event_and_restore_acks_carry_event_id() -> None:
    event = parse_ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 1,
                      "duration_sec": 60})
    ack = ack_payload(event, ven_id=VEN, ts=TS, status="accepted")
    _assert_ack_types(ack)
    assert (ack["status"], ack["ok"], ack["event_id"]) == ("accepted", True, "e1")
    restore = parse_ok({"op": "restore", "correlationId": "r", "event_id": "e1"})
    assert ack_payload(restore, ven_id=VEN, ts=TS)["event_id"] == "e1"
    get = parse_ok({"op": "get", "correlationId": "g", "data": {"what": "config"}})
    ack = ack_payload(get, ven_id=VEN, ts=TS, data={"report_interval_seconds": 60.0})
    assert "event_id" not in ack and ack["data"] == {"report_interval_seconds": 60.0}


def test_ack_payload_misuse() -> None:
    cmd = parse_ok({"op": "ping", "correlationId": "p1"})
    with pytest.raises(ValueError, match="status"):
        ack_payload(cmd, ven_id=VEN, ts=TS, status="done")
    with pytest.raises(ValueError, match="error="):
        ack_payload(cmd, ven_id=VEN, ts=TS, status="error")
    with pytest.raises(ValueError, match="replace"):
        ack_payload(cmd, ven_id=VEN, ts=TS, ok=True)
    with pytest.raises(ValueError, match="ts"):
        ack_payload(cmd, ven_id=VEN, ts="now")  # type: ignore[arg-type]
    ack = ack_payload(cmd, ven_id=VEN, ts=TS, status="error", error="busy")
    assert (ack["ok"], ack["status"], ack["error"]) == (False, "error", "busy")


def _event_ack(**over: Any) -> EventAck:
    fields: dict[str, Any] = {
        "ven_id": VEN, "event_id": "e1", "correlation_id": "c", "requested_kw": 3,
        "actual_shed_kw": 2.5,
        "circuits": (
            {"id": "ev1", "name": "EV Charger", "breaker_amps": 50, "original_kw": 7.2,
             "curtailed_kw": 2.5, "final_kw": 4.7, "critical": False},
            {"id": "fridge1", "name": "Refrigerator", "breaker_amps": 15, "original_kw": 0.2,
             "curtailed_kw": 0},  # final_kw and critical missing: filled in
        ),
    }
    fields.update(over)
    return EventAck(**fields)


def test_event_ack_shape() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 3,
                    "duration_sec": 60})
    ack = event_ack_payload(cmd, _event_ack(), TS)
    _assert_ack_types(ack)
    assert (ack["ok"], ack["status"], ack["event_id"]) == (True, "success", "e1")
    assert _exact(ack["requested_shed_kw"], float) and ack["requested_shed_kw"] == 3.0
    assert _exact(ack["actual_shed_kw"], float) and ack["actual_shed_kw"] == 2.5
    assert len(ack["circuits_curtailed"]) == 2
    for circuit in ack["circuits_curtailed"]:
        assert tuple(circuit) == CIRCUIT_ACK_KEYS
        for key, kind in CIRCUIT_TYPES.items():
            assert _exact(circuit[key], kind), (key, circuit[key])
    fridge = ack["circuits_curtailed"][1]
    assert (fridge["final_kw"], fridge["critical"]) == (0.2, False)
    assert "error" not in ack
    json.loads(encode(ack))


def test_failed_event_ack() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 3,
                    "duration_sec": 60})
    ack = event_ack_payload(cmd, _event_ack(ok=False, error="no sheddable load", circuits=()),
                            TS)
    assert (ack["ok"], ack["status"], ack["error"]) == (False, "error", "no sheddable load")
    assert ack["circuits_curtailed"] == []


def test_error_ack() -> None:
    err = parse_err({"op": "shedLoad", "correlationId": "x1", "data": {}})
    ack = error_ack_payload(err, ven_id=VEN, ts=TS)
    _assert_ack_types(ack)
    assert (ack["op"], ack["correlationId"], ack["ok"], ack["status"]) == (
        "shedLoad", "x1", False, "error")
    assert ack["error"] == err.error and "loadId" in ack["error"]
    unreadable = error_ack_payload(parse_err(b"garbage"), ven_id=VEN, ts=TS)
    assert unreadable["op"] == "unknown" and unreadable["correlationId"] is None


# -- ack cache --------------------------------------------------------------------------
def test_ack_cache_answers_a_repeat() -> None:
    cache = AckCache()
    raw = json.dumps({"op": "ping", "correlationId": "p1"}).encode()
    cmd = parse_command(raw, VEN)
    assert isinstance(cmd, Command)
    assert cache.get(cmd.correlation_id) is None
    ack = ack_payload(cmd, ven_id=VEN, ts=TS)
    cache.put(cmd.correlation_id, encode(ack))  # kept as sent
    again = parse_command(raw, VEN)
    assert isinstance(again, Command)
    assert json.loads(cache.get(again.correlation_id) or b"") == ack
    assert "p1" in cache and len(cache) == 1
    final = encode({**ack, "status": "success"})
    cache.put("p1", final)  # a later ack replaces the earlier one
    assert cache.get("p1") is final and len(cache) == 1
    cache.put(None, final)  # nothing to key on
    assert cache.get(None) is None and len(cache) == 1


def test_ack_cache_is_bounded_lru() -> None:
    cache = AckCache(maxsize=3)
    for cid in "abc":
        cache.put(cid, encode({"correlationId": cid}))
    assert cache.get("a") is not None  # touch: "b" is now the oldest
    cache.put("d", encode({"correlationId": "d"}))
    assert len(cache) == 3
    assert cache.get("b") is None
    assert all(cache.get(cid) is not None for cid in "acd")
    assert AckCache().maxsize == 1024
    with pytest.raises(ValueError):
        AckCache(0)


# -- size limit -------------------------------------------------------------------------
def test_encode_is_compact_utf8() -> None:
    assert encode({"a": 1, "b": "é"}) == '{"a":1,"b":"é"}'.encode()


def test_encode_128kb_limit() -> None:
    overhead = len(encode({"p": ""}))
    fits = {"p": "x" * (MAX_PAYLOAD_BYTES - overhead)}
    assert len(encode(fits)) == MAX_PAYLOAD_BYTES == 131072
    with pytest.raises(ValueError, match="AWS IoT limit"):
        encode({"p": "x" * (MAX_PAYLOAD_BYTES - overhead + 1)})


def test_encode_rejects_nan() -> None:
    with pytest.raises(ValueError):
        encode({"x": float("nan")})


@FUZZ
@given(value=st.dictionaries(st.text(max_size=8), json_values, max_size=6)
       | st.sampled_from([{"nan": float("nan")}, {"inf": [float("-inf")]}, {"n": 1e22, "z": -0.0},
                          {"s": "\u00e9\u2028\x00\ud834", 1: True}]))
def test_encode_is_json_dumps_compact_to_the_byte(value: dict[str, Any]) -> None:
    """`encode` keeps one encoder for every payload: the text is json.dumps', or the same error."""
    try:
        expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        with pytest.raises(ValueError):
            encode(value)
        return
    try:
        raw = expected.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not UTF-8 either way
        with pytest.raises(UnicodeEncodeError):
            encode(value)
        return
    if len(raw) > MAX_PAYLOAD_BYTES:
        with pytest.raises(ValueError):
            encode(value)
    else:
        assert encode(value) == raw


kws = st.floats(min_value=-5.0, max_value=50.0, allow_nan=False) | st.integers(0, 40)


@FUZZ
@given(original=kws, curtailed=kws, amps=st.integers(1, 100), critical=st.booleans())
def test_a_row_in_the_wires_form_acks_to_the_byte_as_a_plain_row(
    original: float, curtailed: float, amps: int, critical: bool
) -> None:
    """An event ack takes a `circuit_ack_row` as it is, and puts a plain row in the same form."""
    cmd = parse_ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 3,
                    "duration_sec": 60})
    made = circuit_ack_row("ev1", "EV Charger", amps, original, curtailed, critical)
    plain = {"id": "ev1", "name": "EV Charger", "breaker_amps": amps, "original_kw": original,
             "curtailed_kw": curtailed, "critical": critical}
    acks = [encode(event_ack_payload(cmd, _event_ack(circuits=(row,)), TS))
            for row in (made, plain, dict(made))]
    assert acks[0] == acks[1] == acks[2]
    assert tuple(made) == CIRCUIT_ACK_KEYS


def test_the_planners_rows_are_in_the_wires_form() -> None:
    planner = ShedPlanner()
    info = CircuitInfo("ev1", "EV Charger", 50, False, 8, power_kw=7.2, capability_kw=7.2)
    planner.start(2.5, [info])
    [row] = planner.acks()
    assert type(row) is CircuitAckRow
    assert row == {"id": "ev1", "name": "EV Charger", "breaker_amps": 50, "original_kw": 7.2,
                   "curtailed_kw": 2.5, "final_kw": 4.7, "critical": False}


@FUZZ
@given(op=st.sampled_from(["event", "restore", "ping"]), data=data_objects,
       correlation_id=st.text(max_size=12), ven_id=st.text(min_size=1, max_size=12))
def test_a_command_encoder_writes_what_encode_writes(op: str, data: dict[str, Any],
                                                     correlation_id: str, ven_id: str) -> None:
    """A fan-out's payloads, encoded once but for the IDs: the bytes of `encode`, whatever
    the IDs hold (quotes, escapes, non-ASCII) and the data."""
    encoded = command_encoder(op, data)
    assert encoded(correlation_id, ven_id) == encode(
        command_payload(op, correlation_id, ven_id, data))
