"""Shared by test_contract.py and test_commands.py: parse a command that must (not) be valid."""

from __future__ import annotations

import json
from typing import Any

from sim.commands import Command, CommandError, parse_command

VEN = "ven-001"


def _parse(obj: Any) -> Command | CommandError:
    return parse_command(json.dumps(obj).encode(), VEN)


def parse_ok(obj: Any) -> Command:
    """`obj` as JSON parsed for VEN; it must be a valid command."""
    result = _parse(obj)
    assert isinstance(result, Command), result
    return result


def parse_err(obj: Any) -> CommandError:
    """`obj` (JSON-encoded unless already bytes) parsed for VEN; it must be rejected."""
    result = _parse(obj) if not isinstance(obj, bytes) else parse_command(obj, VEN)
    assert isinstance(result, CommandError), result
    return result
