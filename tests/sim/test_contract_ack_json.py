"""Acks in wire form (`encode_ack`): the bytes and errors `encode` gives, an event ack's circuit
rows written from their facts encoded once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.messages import EventAck
from sim.contract import CIRCUIT_ACK_KEYS, circuit_ack_row, encode, encode_ack, event_ack_payload
from tests.fuzzing import FUZZ
from tests.sim.contract_helpers import VEN, parse_ok

_kw = st.floats(width=64) | st.integers(-10**6, 10**6)  # NaN and infinities among them
_text = st.text(max_size=12)
_made_rows = st.builds(circuit_ack_row, _text, _text, st.integers(0, 200), _kw, _kw,
                       st.booleans(), st.none() | _kw)
# Rows as other code may hand them in: plain dicts, and made rows changed afterwards.
_plain_rows = st.fixed_dictionaries({"id": _text, "name": _text, "breaker_amps": st.integers(),
                                     "original_kw": _kw, "curtailed_kw": _kw})
_changed = st.tuples(_made_rows, st.sampled_from(["id", "original_kw", "critical", "extra"]),
                     st.none() | st.booleans() | st.integers() | _text)


def _changed_row(made: tuple[dict[str, Any], str, Any]) -> dict[str, Any]:
    row, key, value = made
    row[key] = value
    return row


def _moved_row(made: tuple[dict[str, Any], str]) -> dict[str, Any]:
    """A made row with one key taken out and put back: it moves to the end."""
    row, key = made
    row[key] = row.pop(key)
    return row


_moved = st.tuples(_made_rows, st.sampled_from(CIRCUIT_ACK_KEYS)).map(_moved_row)


def _outcome(encoded: Any, payload: dict[str, Any]) -> bytes | str:
    try:
        return encoded(payload)
    except ValueError as exc:
        return f"ValueError: {exc}"


@FUZZ
@given(rows=st.lists(_made_rows | _plain_rows | _changed.map(_changed_row) | _moved,
                    max_size=8),
       requested=_kw, shed=_kw, ok=st.booleans(), event_id=_text,
       command_event=st.booleans())
def test_an_event_ack_is_the_same_bytes_as_encode_makes(rows: list[dict[str, Any]],
                                                        requested: float, shed: float,
                                                        ok: bool, event_id: str,
                                                        command_event: bool) -> None:
    # With the command's event_id the ack has it before the rows; without it, after them.
    command = parse_ok({"op": "event", "correlationId": "c", "shed_kw": 3, "duration_sec": 60,
                        **({"event_id": "e1"} if command_event else {"data": {
                            "event_id": "e1", "requestedReductionKw": 3, "duration_s": 60}})})
    ack = EventAck(ven_id=VEN, event_id=event_id, correlation_id="c", requested_kw=requested,
                   actual_shed_kw=shed, circuits=tuple(rows), ok=ok,
                   error=None if ok else "no circuit can shed")
    try:
        payload = event_ack_payload(command, ack, 1_700_000_000)
    except (ValueError, TypeError, KeyError):
        return  # a row the ack itself refuses; nothing to encode
    assert _outcome(encode_ack, payload) == _outcome(encode, payload)


def test_other_acks_are_encoded_as_they_are() -> None:
    ping = {"op": "ping", "correlationId": "c", "venId": VEN, "ok": True, "status": "success",
            "ts": 1, "data": {"pong": True}}
    assert encode_ack(ping) == encode(ping)
    odd = {**ping, "circuits_curtailed": "not rows"}
    assert encode_ack(odd) == encode(odd)


@FUZZ
@given(original=_kw | st.sampled_from([0.0, -0.0, 1e-4, 5e-4, 2.6745]) | st.floats(-5.0, 50.0),
       curtailed=_kw | st.sampled_from([0.0, -0.0, 0.0004]) | st.floats(-5.0, 50.0),
       final=st.none() | _kw)
def test_a_rows_kw_are_each_rounded_as_written_out_in_full(
        original: float, curtailed: float, final: float | None) -> None:
    """`circuit_ack_row`'s kW are each rounded to 3 decimals, what is left after the
    curtailment included (to the sign of a zero, and NaN)."""
    made = circuit_ack_row("c", "C", 20, original, curtailed, False, final)
    o, c = float(original), float(curtailed)
    left = (o - c if o > c else 0.0) if final is None else float(final)
    expected = (round(o, 3), round(c, 3), round(left, 3))
    assert repr(tuple(made[k] for k in ("original_kw", "curtailed_kw", "final_kw"))) == repr(
        expected)


@pytest.mark.parametrize("cid", ["\x00circuits_curtailed\x00", '"\x00circuits_curtailed\x00',
                                 "c\x00circuits_curtailed\x00"])
def test_an_event_ack_whose_strings_hold_the_rows_stand_in_is_the_same_bytes(cid: str) -> None:
    command = parse_ok({"op": "event", "correlationId": cid, "event_id": "e1", "shed_kw": 3,
                        "duration_sec": 60})
    ack = EventAck(ven_id=VEN, event_id="e1", correlation_id=cid, requested_kw=3.0,
                   actual_shed_kw=1.5, circuits=(circuit_ack_row("c", "C", 20, 2.0, 1.5, False),),
                   ok=True, error=None)
    payload = event_ack_payload(command, ack, 1_700_000_000)
    assert encode_ack(payload) == encode(payload)
