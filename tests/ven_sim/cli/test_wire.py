"""`ven-sim listen` and `send` as a newcomer meets them: their help and where the CA is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.commands import OPS, Command, parse_command
from sim.contract import command_payload
from ven_sim.cli import main
from ven_sim.cli.wire import OP_EXAMPLES


def test_send_help_lists_every_op_with_its_data() -> None:
    result = CliRunner().invoke(main, ["send", "--help"])
    assert result.exit_code == 0
    assert set(OP_EXAMPLES) == OPS
    for op, (data, _note) in OP_EXAMPLES.items():
        assert f"  {op:<10} '{json.dumps(data)}'" in result.output


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_help_example_is_a_command_the_ven_accepts(op: str) -> None:
    data, _note = OP_EXAMPLES[op]
    raw = json.dumps(command_payload(op, "c-1", "ven-1", data)).encode()
    parsed = parse_command(raw, "ven-1")
    assert isinstance(parsed, Command) and parsed.op == op, parsed


def test_listen_elsewhere_says_where_it_looked_and_how_to_point_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VEN_SIM_CERTS", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["listen", "--seconds", "1"])
    assert result.exit_code == 1
    assert f"no local CA at {tmp_path / 'certs' / 'local' / 'ca.pem'}" in result.output
    assert "--certs-dir DIR or VEN_SIM_CERTS=DIR" in result.output
    elsewhere = tmp_path / "other"
    result = CliRunner().invoke(main, ["send", "v1", "ping", "--certs-dir", str(elsewhere)])
    assert f"no local CA at {elsewhere / 'local' / 'ca.pem'}" in result.output
