"""Acks on `ven/ack/{venId}`: a part of `sim.contract` (exported from there), kept apart to
keep that module short. See `sim.contract` for the rules every field follows."""

from __future__ import annotations

import functools
import math
from typing import Any

from sim._contract_encode import _kw, checked_size, compact, encode, kw_text
from sim.bounded import clip
from sim.commands import Command, CommandError
from sim.records import EventAck

ACK_STATUSES = frozenset({"accepted", "success", "error"})
CIRCUIT_ACK_KEYS = ("id", "name", "breaker_amps", "original_kw", "curtailed_kw", "final_kw",
                    "critical")


_ACK_KEYS = frozenset({"op", "correlationId", "venId", "ok", "status", "ts", "data"})
_MAX_ERROR_CHARS = 2048  # an error names a few bounded values; never the whole input


def _ts(ts: float) -> int:
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise ValueError(f"ts must be epoch seconds, not {ts!r}")
    return int(ts)


def ack_payload(command: Command, *, ven_id: str, ts: float, status: str = "success",
                data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The ack for `command` on `ven/ack/{venId}`; `extra` adds top-level fields.

    `ok` follows `status`; an "error" ack needs `error="..."`. Event and restore acks
    carry the top-level `event_id`; a ping ack's data has `pong: true`.
    """
    if status not in ACK_STATUSES:
        raise ValueError(f"status must be one of {sorted(ACK_STATUSES)}, not {status!r}")
    clash = _ACK_KEYS & set(extra)
    if clash:
        raise ValueError(f"extra fields may not replace {sorted(clash)}")
    if status == "error":
        if not isinstance(extra.get("error"), str):
            raise ValueError("an error ack needs error='<message>'")
        extra["error"] = clip(extra["error"], _MAX_ERROR_CHARS)
    body = dict(data) if data is not None else {}
    if command.op == "ping":
        body["pong"] = True
    payload: dict[str, Any] = {
        "op": command.op,
        "correlationId": command.correlation_id,
        "venId": ven_id,
        "ok": status != "error",
        "status": status,
        "ts": _ts(ts),
        "data": body,
    }
    if command.op in ("event", "restore") and command.event_id is not None:
        payload["event_id"] = command.event_id
    payload.update(extra)
    return payload


class CircuitAckRow(dict):
    """A `circuits_curtailed` row in the wire's form, made by `circuit_ack_row`: an event ack
    takes it as it is (the planner makes its rows so; other rows are put in this form).

    `text` is the row as `encode` writes it, written as the row is made, from its values at
    hand (None for a kW value that is not finite: the encoder says why); a change to the row
    forgets it."""

    __slots__ = ("text",)


def _forgets_text(name: str) -> Any:
    change = getattr(dict, name)

    @functools.wraps(change)
    def changed(self: CircuitAckRow, *args: Any, **kwargs: Any) -> Any:
        self.text = None  # no longer what the row holds
        return change(self, *args, **kwargs)

    return changed


for _change in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem",
                "setdefault", "update"):
    setattr(CircuitAckRow, _change, _forgets_text(_change))


def circuit_ack_row(cid: str, name: str, breaker_amps: int, original_kw: float,
                    curtailed_kw: float, critical: bool,
                    final_kw: float | None = None) -> CircuitAckRow:
    """One circuit's part in an event, for `circuits_curtailed`; `final_kw` defaults to what
    is left after the curtailment."""
    original_value, curtailed_value = float(original_kw), float(curtailed_kw)
    cid, name, breaker_amps, critical = str(cid), str(name), int(breaker_amps), bool(critical)
    original, original_text = _kw_value(original_value)
    curtailed, curtailed_text = _kw_value(curtailed_value)
    if final_kw is None and curtailed_value == 0.0 and original_value > 0.0:
        final, final_text = original, original_text  # most rows: nothing curtailed, x - 0.0 is x
    else:
        if final_kw is None:
            final_kw = (original_value - curtailed_value if original_value > curtailed_value
                        else 0.0)
        final, final_text = _kw_value(float(final_kw))
    row = CircuitAckRow({"id": cid, "name": name, "breaker_amps": breaker_amps,
                         "original_kw": original, "curtailed_kw": curtailed, "final_kw": final,
                         "critical": critical})
    row.text = (f'{_ack_row_text(cid, name, breaker_amps)}{original_text},"curtailed_kw":'
                f'{curtailed_text},"final_kw":{final_text},"critical":'
                f'{"true" if critical else "false"}}}'
                if math.isfinite(original + curtailed + final) else None)
    return row


def _kw_value(value: float) -> tuple[float, str]:
    """(round(value, 3), its repr: the text the encoder writes) from one conversion, not the
    three of round() then repr() (the same correctly rounded 3-decimal conversion)."""
    text = kw_text(value)
    return (value if value == 0.0 else float(text)), text


def _circuit(row: dict[str, Any]) -> dict[str, Any]:
    if type(row) is CircuitAckRow:
        return row
    return circuit_ack_row(row["id"], row["name"], row["breaker_amps"], row["original_kw"],
                           row.get("curtailed_kw", 0.0), row.get("critical", False),
                           row.get("final_kw"))


def event_ack_payload(command: Command, ack: EventAck, ts: float) -> dict[str, Any]:
    """The final ack of an `event` command: what was asked, what was shed, and where."""
    extra: dict[str, Any] = {
        "requested_shed_kw": _kw(ack.requested_kw),
        "actual_shed_kw": _kw(ack.actual_shed_kw),
        "circuits_curtailed": [_circuit(row) for row in ack.circuits],
    }
    if not ack.ok:
        extra["error"] = ack.error if ack.error is not None else "event failed"
    payload = ack_payload(command, ven_id=ack.ven_id, ts=ts,
                          status="success" if ack.ok else "error",
                          data={"event_id": ack.event_id}, **extra)
    payload["event_id"] = ack.event_id
    return payload


def error_ack_payload(err: CommandError, *, ven_id: str, ts: float) -> dict[str, Any]:
    """The ack for a rejected command; `op` is "unknown" when it could not be read."""
    return {
        "op": err.op if err.op is not None else "unknown",
        "correlationId": err.correlation_id,
        "venId": ven_id,
        "ok": False,
        "status": "error",
        "ts": _ts(ts),
        "data": {},
        "error": clip(err.error, _MAX_ERROR_CHARS),
    }


# -- acks in wire form ----------------------------------------------------------------------
@functools.lru_cache(maxsize=4096, typed=True)  # typed: True and 1 are written differently
def _ack_row_text(cid: Any, name: Any, breaker_amps: Any) -> str:
    """A circuit row's text up to its original_kw value: the same for every event."""
    return compact({"id": cid, "name": name, "breaker_amps": breaker_amps})[:-1] + \
        ',"original_kw":'


def _circuit_rows_json(rows: Any) -> str | None:
    """`circuits_curtailed` as `encode` writes it, from each row's text; None unless every row
    is a `CircuitAckRow` as `circuit_ack_row` made it, with finite kW."""
    if not isinstance(rows, list):
        return None
    texts = []
    for row in rows:
        text = row.text if type(row) is CircuitAckRow else None
        if text is None:
            return None
        texts.append(text)
    return f"[{','.join(texts)}]"


# Stands in for the rows while the rest of an event ack is encoded: the rows' text goes where
# its own text is, found once (a string of the command's that holds it too takes the long way).
_ROWS_MARK = "\x00circuits_curtailed\x00"
_ROWS_MARK_TEXT = compact(_ROWS_MARK)


def encode_ack(payload: dict[str, Any]) -> bytes:
    """`encode(payload)`, the same bytes (and errors), an event ack's `circuits_curtailed`
    written from its rows' texts."""
    rows = _circuit_rows_json(payload.get("circuits_curtailed"))
    if rows is None:
        return encode(payload)
    text = compact({**payload, "circuits_curtailed": _ROWS_MARK})
    if text.count(_ROWS_MARK_TEXT) != 1:
        return encode(payload)
    return checked_size(text.replace(_ROWS_MARK_TEXT, rows).encode())
