"""The backend wire contract: exact field names and JSON types, command parsing, acks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.messages import EndEvent, EventAck, SetLoad, StartEvent, Telemetry
from iot.contract import (
    CIRCUIT_ACK_KEYS,
    MAX_PAYLOAD_BYTES,
    AckCache,
    Command,
    CommandError,
    ack_payload,
    encode,
    end_event,
    error_ack_payload,
    event_ack_payload,
    load_type,
    parse_command,
    set_load,
    start_event,
    telemetry_payload,
    topics,
)

VEN = "ven-001"
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


def _cmd(obj: Any) -> Command | CommandError:
    return parse_command(json.dumps(obj).encode(), VEN)


def _ok(obj: Any) -> Command:
    result = _cmd(obj)
    assert isinstance(result, Command), result
    return result


def _err(obj: Any) -> CommandError:
    result = _cmd(obj) if not isinstance(obj, bytes) else parse_command(obj, VEN)
    assert isinstance(result, CommandError), result
    return result


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


# -- commands: the backend's own examples -----------------------------------------------
def test_backend_event_command() -> None:
    cmd = _ok({"op": "event", "correlationId": "evt-e1-1a2b3c4d", "venId": VEN,
               "event_id": "e1", "shed_kw": 2.5, "duration_sec": 900,
               "data": {"event_id": "e1", "requestedReductionKw": 3.0, "duration_s": 600}})
    assert cmd == Command("event", "evt-e1-1a2b3c4d", VEN,
                          {"event_id": "e1", "requestedReductionKw": 3.0, "duration_s": 600.0},
                          "e1")


def test_event_zero_is_a_value_not_missing() -> None:
    cmd = _ok({"op": "event", "correlationId": "c", "venId": VEN, "event_id": "e1",
               "shed_kw": 0, "duration_sec": 0, "data": {"event_id": "e1"}})
    assert cmd.data == {"event_id": "e1", "requestedReductionKw": 0.0, "duration_s": 0.0}
    cmd = _ok({"op": "event", "correlationId": "c", "shed_kw": 5, "duration_sec": 60,
               "data": {"event_id": "e1", "requestedReductionKw": 0, "duration_s": 0}})
    assert cmd.data["requestedReductionKw"] == 0.0 and cmd.data["duration_s"] == 0.0


def test_event_falls_back_to_top_level_fields() -> None:
    cmd = _ok({"op": "event", "correlationId": "c", "event_id": "e2", "shed_kw": 1.5,
               "duration_sec": 300})
    assert cmd.event_id == "e2"
    assert cmd.data == {"event_id": "e2", "requestedReductionKw": 1.5, "duration_s": 300.0}
    assert type(cmd.data["duration_s"]) is float


def test_backend_restore_command() -> None:
    cmd = _ok({"op": "restore", "correlationId": "restore-e1-1a2b3c4d", "venId": VEN,
               "event_id": "e1", "data": {"event_id": "e1"}})
    assert cmd == Command("restore", "restore-e1-1a2b3c4d", VEN, {"event_id": "e1"}, "e1")
    assert end_event(cmd) == EndEvent("e1", "restore-e1-1a2b3c4d")


def test_event_command_as_start_event() -> None:
    cmd = _ok({"op": "event", "correlationId": "c1",
               "data": {"event_id": "e1", "requestedReductionKw": 2, "duration_s": 600}})
    assert start_event(cmd, 100.0) == StartEvent("e1", 2.0, 100.0, 700.0, "c1")
    with pytest.raises(ValueError):
        end_event(cmd)


# -- commands: the other ops ------------------------------------------------------------
@pytest.mark.parametrize(("op", "data", "expected"), [
    ("ping", None, {}),
    ("ping", {}, {}),
    ("shedPanel", {"requestedReductionKw": 2, "durationS": 0},
     {"requestedReductionKw": 2.0, "durationS": 0.0}),
    ("shedLoad", {"loadId": "ev1", "reduceKw": 0, "durationS": 60},
     {"loadId": "ev1", "reduceKw": 0.0, "durationS": 60.0}),
    ("set", {"report_interval_seconds": 60}, {"report_interval_seconds": 60.0}),
    ("setConfig", {"report_interval_seconds": 30, "other": "x"},
     {"report_interval_seconds": 30.0, "other": "x"}),
    ("setLoad", {"loadId": "ev1", "enabled": False}, {"loadId": "ev1", "enabled": False}),
    ("setLoad", {"loadId": "ev1", "capacityKw": 7, "priority": 2, "enabled": None},
     {"loadId": "ev1", "capacityKw": 7.0, "priority": 2}),
    ("get", {"what": "status"}, {"what": "status"}),
    ("get", {"what": "config"}, {"what": "config"}),
    ("get", {"what": "loads"}, {"what": "loads"}),
])
def test_other_ops_parse(op: str, data: dict | None, expected: dict) -> None:
    obj: dict[str, Any] = {"op": op, "correlationId": f"{op}-1", "venId": VEN}
    if data is not None:
        obj["data"] = data
    cmd = _ok(obj)
    assert (cmd.op, cmd.correlation_id, cmd.ven_id, cmd.event_id) == (op, f"{op}-1", VEN, None)
    assert cmd.data == expected


def test_venid_defaults_to_the_topic() -> None:
    assert _ok({"op": "ping", "correlationId": "p"}).ven_id == VEN


def test_set_load_command_as_message() -> None:
    cmd = _ok({"op": "setLoad", "correlationId": "s", "data": {"loadId": "ev1", "priority": 9}})
    assert set_load(cmd) == SetLoad("ev1", None, None, 9)


def test_str_payload_is_accepted() -> None:
    assert isinstance(parse_command('{"op":"ping","correlationId":"p"}', VEN), Command)


# -- commands: bad input ----------------------------------------------------------------
def test_oversized_payload_keeps_correlation_id() -> None:
    raw = b'{"op":"ping","correlationId":"big-1","data":{"pad":"' + b"x" * 200 + b'"}}'
    err = parse_command(raw, VEN, max_bytes=100)
    assert isinstance(err, CommandError)
    assert (err.correlation_id, err.op) == ("big-1", "ping")
    assert "over the 100-byte limit" in err.error
    big = b'{"op":"ping","correlationId":"big-2","pad":"' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    err = parse_command(big, VEN)
    assert isinstance(err, CommandError) and err.correlation_id == "big-2"


def test_not_utf8() -> None:
    err = _err(b'{"op":"ping","correlationId":"u-1","x":"\xff"}')
    assert err.correlation_id == "u-1" and "UTF-8" in err.error


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"op":"ping",', b'{"a":NaN}',
                                 b"[" * 100_000])
def test_not_json(raw: bytes) -> None:
    err = _err(raw)
    assert err.correlation_id is None and "not valid JSON" in err.error


def test_not_json_keeps_correlation_id() -> None:
    err = _err(b'{"op":"restore","correlationId":"j-1", oops}')
    assert (err.correlation_id, err.op) == ("j-1", "restore")


@pytest.mark.parametrize("obj", [[1, 2], "ping", 3, None])
def test_not_an_object(obj: Any) -> None:
    err = _err(obj)
    assert err == CommandError(None, None, err.error)
    assert "must be a JSON object" in err.error


@pytest.mark.parametrize(("obj", "cid", "op", "message"), [
    ({"correlationId": "c"}, "c", None, "missing op"),
    ({"op": None, "correlationId": "c"}, "c", None, "missing op"),
    ({"op": 5, "correlationId": "c"}, "c", None, "op must be a non-empty string"),
    ({"op": "reboot", "correlationId": "c"}, "c", "reboot", "unknown op 'reboot'"),
    ({"op": "ping"}, None, "ping", "missing correlationId"),
    ({"op": "ping", "correlationId": 12}, None, "ping", "correlationId must be"),
    ({"op": "ping", "correlationId": "c", "venId": "ven-999"}, "c", "ping",
     "for venId 'ven-999'"),
    ({"op": "ping", "correlationId": "c", "data": [1]}, "c", "ping", "data must be an object"),
])
def test_bad_envelope(obj: dict, cid: str | None, op: str | None, message: str) -> None:
    err = _err(obj)
    assert (err.correlation_id, err.op) == (cid, op)
    assert message in err.error


@pytest.mark.parametrize(("op", "data", "message"), [
    ("event", {"requestedReductionKw": 1, "duration_s": 60}, "missing data.event_id"),
    ("event", {"event_id": "e", "duration_s": 60}, "missing data.requestedReductionKw"),
    ("event", {"event_id": "e", "requestedReductionKw": 1}, "missing data.duration_s"),
    ("event", {"event_id": "e", "requestedReductionKw": True, "duration_s": 60},
     "data.requestedReductionKw must be a number"),
    ("event", {"event_id": "e", "requestedReductionKw": "2", "duration_s": 60},
     "data.requestedReductionKw must be a number"),
    ("event", {"event_id": "e", "requestedReductionKw": -1, "duration_s": 60},
     "data.requestedReductionKw must be >= 0"),
    ("event", {"event_id": "e", "requestedReductionKw": 1, "duration_s": -5},
     "data.duration_s must be >= 0"),
    ("event", {"event_id": 7, "requestedReductionKw": 1, "duration_s": 5},
     "data.event_id must be a non-empty string"),
    ("restore", {}, "missing data.event_id"),
    ("shedPanel", {"requestedReductionKw": 1}, "missing data.durationS"),
    ("shedPanel", {"requestedReductionKw": False, "durationS": 1},
     "data.requestedReductionKw must be a number"),
    ("shedLoad", {"reduceKw": 1, "durationS": 1}, "missing data.loadId"),
    ("shedLoad", {"loadId": "ev1", "reduceKw": -0.5, "durationS": 1}, "must be >= 0"),
    ("set", {}, "at least one setting"),
    ("setConfig", {"report_interval_seconds": 0}, "must be > 0"),
    ("setConfig", {"report_interval_seconds": True}, "must be a number"),
    ("setLoad", {"loadId": "ev1"}, "at least one of"),
    ("setLoad", {"loadId": "ev1", "enabled": 1}, "data.enabled must be true or false"),
    ("setLoad", {"loadId": "ev1", "priority": 2.5}, "data.priority must be an integer"),
    ("setLoad", {"loadId": "ev1", "priority": True}, "data.priority must be an integer"),
    ("setLoad", {"loadId": "ev1", "capacityKw": -1}, "must be > 0"),
    ("get", {}, "missing data.what"),
    ("get", {"what": "everything"}, "data.what must be one of"),
])
def test_bad_fields(op: str, data: dict, message: str) -> None:
    err = _err({"op": op, "correlationId": f"{op}-bad", "venId": VEN, "data": data})
    assert (err.correlation_id, err.op) == (f"{op}-bad", op)
    assert message in err.error, err.error


def test_number_overflowing_to_infinity() -> None:
    err = _err(b'{"op":"shedPanel","correlationId":"i","data":{"requestedReductionKw":1e400,'
               b'"durationS":5}}')
    assert err.correlation_id == "i" and "must be finite" in err.error


def test_event_top_level_fallback_is_validated_too() -> None:
    err = _err({"op": "event", "correlationId": "c", "event_id": "e", "shed_kw": -1,
                "duration_sec": 5})
    assert "shed_kw must be >= 0" in err.error


# -- acks -------------------------------------------------------------------------------
ACK_TYPES = {"op": str, "correlationId": str, "venId": str, "ok": bool, "status": str,
             "ts": int, "data": dict}
CIRCUIT_TYPES = {"id": str, "name": str, "breaker_amps": int, "original_kw": float,
                 "curtailed_kw": float, "final_kw": float, "critical": bool}


def _assert_ack_types(ack: dict) -> None:
    for key, kind in ACK_TYPES.items():
        assert _exact(ack[key], kind), (key, ack[key])


def test_ping_ack_has_pong() -> None:
    cmd = _ok({"op": "ping", "correlationId": "p1", "venId": VEN})
    ack = ack_payload(cmd, ven_id=VEN, ts=TS + 0.9)
    _assert_ack_types(ack)
    assert ack == {"op": "ping", "correlationId": "p1", "venId": VEN, "ok": True,
                   "status": "success", "ts": TS, "data": {"pong": True}}


def test_accepted_event_and_restore_acks_carry_event_id() -> None:
    event = _ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 1,
                 "duration_sec": 60})
    ack = ack_payload(event, ven_id=VEN, ts=TS, status="accepted")
    _assert_ack_types(ack)
    assert (ack["status"], ack["ok"], ack["event_id"]) == ("accepted", True, "e1")
    restore = _ok({"op": "restore", "correlationId": "r", "event_id": "e1"})
    assert ack_payload(restore, ven_id=VEN, ts=TS)["event_id"] == "e1"
    get = _ok({"op": "get", "correlationId": "g", "data": {"what": "config"}})
    ack = ack_payload(get, ven_id=VEN, ts=TS, data={"report_interval_seconds": 60.0})
    assert "event_id" not in ack and ack["data"] == {"report_interval_seconds": 60.0}


def test_ack_payload_misuse() -> None:
    cmd = _ok({"op": "ping", "correlationId": "p1"})
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
    cmd = _ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 3,
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
    cmd = _ok({"op": "event", "correlationId": "c", "event_id": "e1", "shed_kw": 3,
               "duration_sec": 60})
    ack = event_ack_payload(cmd, _event_ack(ok=False, error="no sheddable load", circuits=()),
                            TS)
    assert (ack["ok"], ack["status"], ack["error"]) == (False, "error", "no sheddable load")
    assert ack["circuits_curtailed"] == []


def test_error_ack() -> None:
    err = _err({"op": "shedLoad", "correlationId": "x1", "data": {}})
    ack = error_ack_payload(err, ven_id=VEN, ts=TS)
    _assert_ack_types(ack)
    assert (ack["op"], ack["correlationId"], ack["ok"], ack["status"]) == (
        "shedLoad", "x1", False, "error")
    assert ack["error"] == err.error and "loadId" in ack["error"]
    unreadable = error_ack_payload(_err(b"garbage"), ven_id=VEN, ts=TS)
    assert unreadable["op"] == "unknown" and unreadable["correlationId"] is None


# -- ack cache --------------------------------------------------------------------------
def test_ack_cache_answers_a_repeat() -> None:
    cache = AckCache()
    raw = json.dumps({"op": "ping", "correlationId": "p1"}).encode()
    cmd = parse_command(raw, VEN)
    assert isinstance(cmd, Command)
    assert cache.get(cmd.correlation_id) is None
    ack = ack_payload(cmd, ven_id=VEN, ts=TS)
    cache.put(cmd.correlation_id, ack)
    again = parse_command(raw, VEN)
    assert isinstance(again, Command)
    assert cache.get(again.correlation_id) is ack
    assert "p1" in cache and len(cache) == 1
    final = {**ack, "status": "success"}
    cache.put("p1", final)  # a later ack replaces the earlier one
    assert cache.get("p1") is final and len(cache) == 1
    cache.put(None, ack)  # nothing to key on
    assert cache.get(None) is None and len(cache) == 1


def test_ack_cache_is_bounded_lru() -> None:
    cache = AckCache(maxsize=3)
    for cid in "abc":
        cache.put(cid, {"correlationId": cid})
    assert cache.get("a") is not None  # touch: "b" is now the oldest
    cache.put("d", {"correlationId": "d"})
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
