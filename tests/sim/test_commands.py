"""Backend commands from ven/cmd/{venId}: parsing, validation and the actor messages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import EndEvent, SetLoad, StartEvent
from sim.commands import (
    _CANONICAL,
    Command,
    CommandError,
    _canonical,
    end_event,
    parse_command,
    set_load,
    shed_panel,
    start_event,
)
from sim.limits import MAX_PAYLOAD_BYTES
from tests.fuzzing import FUZZ
from tests.sim.contract_helpers import VEN, parse_err, parse_ok


# -- commands: the backend's own examples -----------------------------------------------
def test_backend_event_command() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "evt-e1-1a2b3c4d", "venId": VEN,
                    "event_id": "e1", "shed_kw": 2.5, "duration_sec": 900,
                    "data": {"event_id": "e1", "requestedReductionKw": 3.0, "duration_s": 600}})
    assert cmd == Command("event", "evt-e1-1a2b3c4d", VEN,
                          {"event_id": "e1", "requestedReductionKw": 3.0, "duration_s": 600.0},
                          "e1")


def test_event_zero_is_a_value_not_missing() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "c", "venId": VEN, "event_id": "e1",
                    "shed_kw": 0, "duration_sec": 0, "data": {"event_id": "e1"}})
    assert cmd.data == {"event_id": "e1", "requestedReductionKw": 0.0, "duration_s": 0.0}
    cmd = parse_ok({"op": "event", "correlationId": "c", "shed_kw": 5, "duration_sec": 60,
                    "data": {"event_id": "e1", "requestedReductionKw": 0, "duration_s": 0}})
    assert cmd.data["requestedReductionKw"] == 0.0 and cmd.data["duration_s"] == 0.0


def test_event_falls_back_to_top_level_fields() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "c", "event_id": "e2", "shed_kw": 1.5,
                    "duration_sec": 300})
    assert cmd.event_id == "e2"
    assert cmd.data == {"event_id": "e2", "requestedReductionKw": 1.5, "duration_s": 300.0}
    assert type(cmd.data["duration_s"]) is float


def test_backend_restore_command() -> None:
    cmd = parse_ok({"op": "restore", "correlationId": "restore-e1-1a2b3c4d", "venId": VEN,
                    "event_id": "e1", "data": {"event_id": "e1"}})
    assert cmd == Command("restore", "restore-e1-1a2b3c4d", VEN, {"event_id": "e1"}, "e1")
    assert end_event(cmd) == EndEvent("e1", "restore-e1-1a2b3c4d")


def test_event_command_as_start_event() -> None:
    cmd = parse_ok({"op": "event", "correlationId": "c1",
                    "data": {"event_id": "e1", "requestedReductionKw": 2, "duration_s": 600}})
    assert start_event(cmd) == StartEvent("e1", 2.0, 600.0, "c1")
    with pytest.raises(ValueError):
        end_event(cmd)
    with pytest.raises(ValueError):
        shed_panel(cmd)


def test_shed_panel_command_as_an_event_of_its_own() -> None:
    cmd = parse_ok({"op": "shedPanel", "correlationId": "sp-1",
                    "data": {"requestedReductionKw": 3, "durationS": 60}})
    assert shed_panel(cmd) == StartEvent("panel-sp-1", 3.0, 60.0, "sp-1")
    with pytest.raises(ValueError):
        start_event(cmd)


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
     {"report_interval_seconds": 30.0, "ignored": ["other"]}),
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
    cmd = parse_ok(obj)
    assert (cmd.op, cmd.correlation_id, cmd.ven_id, cmd.event_id) == (op, f"{op}-1", VEN, None)
    assert cmd.data == expected


def test_venid_defaults_to_the_topic() -> None:
    assert parse_ok({"op": "ping", "correlationId": "p"}).ven_id == VEN


def test_set_load_command_as_message() -> None:
    cmd = parse_ok({"op": "setLoad", "correlationId": "s",
                    "data": {"loadId": "ev1", "priority": 9}})
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
    err = parse_err(b'{"op":"ping","correlationId":"u-1","x":"\xff"}')
    assert err.correlation_id == "u-1" and "UTF-8" in err.error


@pytest.mark.parametrize("raw", [b"", b"not json", b'{"op":"ping",', b'{"a":NaN}',
                                 b"[" * 100_000])
def test_not_json(raw: bytes) -> None:
    err = parse_err(raw)
    assert err.correlation_id is None and "not valid JSON" in err.error


def test_not_json_keeps_correlation_id() -> None:
    err = parse_err(b'{"op":"restore","correlationId":"j-1", oops}')
    assert (err.correlation_id, err.op) == ("j-1", "restore")


@pytest.mark.parametrize("obj", [[1, 2], "ping", 3, None])
def test_not_an_object(obj: Any) -> None:
    err = parse_err(obj)
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
    err = parse_err(obj)
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
    err = parse_err({"op": op, "correlationId": f"{op}-bad", "venId": VEN, "data": data})
    assert (err.correlation_id, err.op) == (f"{op}-bad", op)
    assert message in err.error, err.error


def test_number_overflowing_to_infinity() -> None:
    err = parse_err(b'{"op":"shedPanel","correlationId":"i","data":{"requestedReductionKw":1e400,'
                    b'"durationS":5}}')
    assert err.correlation_id == "i" and "1e400 is out of range" in err.error


def test_event_top_level_fallback_is_validated_too() -> None:
    err = parse_err({"op": "event", "correlationId": "c", "event_id": "e", "shed_kw": -1,
                     "duration_sec": 5})
    assert "shed_kw must be >= 0" in err.error


# -- the digest's canonical text --------------------------------------------------------
@FUZZ
@given(event_id=st.text(min_size=1, max_size=12), kw=st.floats(0.0, 1000.0),
       duration=st.floats(1.0, 86400.0) | st.integers(1, 86400))
def test_an_event_and_a_restore_are_written_as_the_canonical_encoder_writes_them(
        event_id: str, kw: float, duration: float) -> None:
    """Their digest's text, written directly, is the encoder's (unicode escaped, floats as
    repr writes them), so a repeat with another layout still has the same digest."""
    event = parse_ok({"op": "event", "correlationId": "c1", "data": {
        "event_id": event_id, "requestedReductionKw": kw, "duration_s": duration}})
    restore = parse_ok({"op": "restore", "correlationId": "c2", "event_id": event_id})
    for command in (event, restore):
        assert _canonical(command.op, command.data) == _CANONICAL([command.op, command.data])
