"""The probe reads an ack's correlationId and ok from its head: the same as parsing it whole,
for every ack the contract writes, and for anything else on `ven/ack/+`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sim import bounded
from sim.commands import Command, CommandError, parse_command
from sim.contract import (
    ack_payload,
    command_payload,
    encode,
    error_ack_payload,
    event_ack_payload,
)
from sim.records import EventAck
from tests.fuzzing import FUZZ, json_values
from ven_sim.fleet import probe
from ven_sim.fleet.probe import ack_fields

VEN = "ven-bench-000001"
TS = 1_700_000_000.0
CIRCUIT = {"id": "ev1", "name": "EV Charger", "breaker_amps": 50, "original_kw": 7.2,
           "curtailed_kw": 2.5, "final_kw": 4.7, "critical": False}


def _command(op: str, cid: str, data: dict[str, Any]) -> Command:
    command = parse_command(encode(command_payload(op, cid, VEN, data)), VEN)
    assert isinstance(command, Command), command
    return command


def _parsed_whole(payload: bytes) -> tuple[str, bool] | None:
    """What the probe took from an ack before: the whole payload parsed."""
    try:
        ack = bounded.loads(payload)
        return str(ack.get("correlationId")), ack.get("ok") is True
    except (ValueError, AttributeError):
        return None


def _contract_acks(cid: str) -> list[bytes]:
    event = _command("event", cid, {"event_id": "e1", "requestedReductionKw": 1.5,
                                    "duration_s": 600})
    acks = [
        ack_payload(_command("ping", cid, {}), ven_id=VEN, ts=TS),
        ack_payload(_command("restore", cid, {"event_id": "e1"}), ven_id=VEN, ts=TS,
                    data={"event_id": "e1"}, event_id="e1"),
        event_ack_payload(event, EventAck(VEN, "e1", cid, 1.5, 1.4, (CIRCUIT,)), TS),
        event_ack_payload(event, EventAck(VEN, "e1", cid, 1.5, 0.0, (), ok=False,
                                          error="no sheddable load"), TS),
        error_ack_payload(CommandError(cid, "event", "duration_s must be > 0"), ven_id=VEN,
                          ts=TS),
    ]
    return [encode(ack) for ack in acks]


def test_every_ack_the_contract_writes_is_read_from_its_head(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = f"fanout-{VEN}-0123456789ab"
    acks = _contract_acks(cid)
    parses: list[bytes] = []
    parse = bounded.loads
    monkeypatch.setattr(probe.bounded, "loads", lambda raw: parses.append(raw) or parse(raw))
    read = [ack_fields(ack) for ack in acks]
    assert read == [(cid, True), (cid, True), (cid, True), (cid, False), (cid, False)]
    assert parses == []  # none needed parsing whole


@FUZZ
@given(cid=st.text(max_size=60))
def test_any_correlation_id_reads_as_parsing_whole_would(cid: str) -> None:
    # One a VEN would answer (not empty, not too long): else its command is refused.
    assume(isinstance(parse_command(encode(command_payload("ping", cid, VEN, {})), VEN),
                      Command))
    for ack in _contract_acks(cid):
        assert ack_fields(ack) == _parsed_whole(ack) == (cid, b'"ok":true' in ack)


@pytest.mark.parametrize("payload", [
    json.dumps({"op": "ping", "correlationId": "c-1", "venId": VEN, "ok": True}).encode(),
    b'{"venId":"v","op":"ping","correlationId":"c-2","ok":true}',  # another key order
    b'{"op":"ping","correlationId":"c-\\"3","venId":"v","ok":true}',  # an escape
    b'{"op":"ping","correlationId":"c-4","venId":"v","ok":true,"correlationId":"c-5"}',
    b'{"op":"ping","correlationId":"c-10","venId":"v","ok":true,"ok":false}',  # ok twice
    b'{"op":"ping","correlationId":"c-6","venId":"v","ok":true,',  # cut short
    b'{"op":"ping","correlationId":"c-7","venId":"v","ok":1}',
    b'{"op":"ping","correlationId":"\xff","venId":"v","ok":true}',  # not UTF-8
    b'{"op":"ping","correlationId":"c-8","venId":"v","ok":true}' + b" " * 140_000,
    b"[" * 5000 + b"]" * 5000,  # deeper than the JSON limit
    b'["c-9", true]', b"not json", b"",
])
def test_other_payloads_are_parsed_whole(payload: bytes) -> None:
    assert ack_fields(payload) == _parsed_whole(payload)


@FUZZ
@given(value=json_values)
def test_any_json_on_the_ack_topic_reads_as_parsing_whole_would(value: Any) -> None:
    payload = json.dumps(value).encode()
    assert ack_fields(payload) == _parsed_whole(payload)
