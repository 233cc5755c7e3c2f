"""Hypothesis fuzzing of the command parser and the acks built from what it returns."""

from __future__ import annotations

from hypothesis import given

from sim import contract
from sim.commands import Command, CommandError, parse_command
from sim.limits import MAX_PAYLOAD_BYTES
from tests.fuzzing import FUZZ, command_payloads

VEN = "ven-fuzz-1"


@FUZZ
@given(raw=command_payloads(VEN))
def test_any_payload_parses_to_a_command_or_an_error_whose_ack_fits(raw: bytes) -> None:
    result = parse_command(raw, VEN)
    if isinstance(result, CommandError):
        ack = contract.error_ack_payload(result, ven_id=VEN, ts=1.0)
    else:
        assert isinstance(result, Command) and result.digest
        ack = contract.ack_payload(result, ven_id=VEN, ts=1.0, data=dict(result.data))
    assert len(contract.encode(ack)) < MAX_PAYLOAD_BYTES // 4
