"""What `ven-sim listen` and `ven-sim send` do, as plain functions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from ven_sim.transports.base import BaseTransport as Transport


def format_message(topic: str, payload: bytes) -> str:
    """One readable line for a telemetry, ack or any other message."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return f"{_now()} {topic} <{len(payload)} bytes, not JSON>"
    if not isinstance(doc, dict):
        return f"{_now()} {topic} {json.dumps(doc)[:200]}"
    if topic.startswith("ven/ack/"):
        return _format_ack(doc)
    if topic == "volttron/metering" or topic.startswith("ven/telemetry/"):
        return _format_telemetry(doc)
    return f"{_now()} {topic} {json.dumps(doc, separators=(',', ':'))[:300]}"


def _format_telemetry(doc: dict[str, Any]) -> str:
    ts = doc.get("timestamp")
    when = _clock(ts) if isinstance(ts, int | float) else "?"
    soc = doc.get("batterySoc")
    return (
        f"{when} telemetry {doc.get('venId')} used {_kw(doc.get('usedPowerKw'))} "
        f"shed {_kw(doc.get('shedPowerKw'))} asked {_kw(doc.get('requestedReductionKw'))} "
        f"base {_kw(doc.get('baselinePowerKw'))} event {doc.get('eventId') or '-'} "
        f"soc {'-' if soc is None else f'{soc:.0%}'} loads {len(doc.get('loads') or [])}"
    )


def _format_ack(doc: dict[str, Any]) -> str:
    ts = doc.get("ts")
    when = _clock(ts) if isinstance(ts, int | float) else "?"
    line = (
        f"{when} ack       {doc.get('venId')} {doc.get('op')} {doc.get('status')} "
        f"corr {doc.get('correlationId')}"
    )
    if doc.get("event_id"):
        line += f" event {doc['event_id']}"
    if "actual_shed_kw" in doc:
        line += f" shed {_kw(doc['actual_shed_kw'])} of {_kw(doc.get('requested_shed_kw'))}"
    if doc.get("error"):
        line += f" error: {doc['error']}"
    return line


def _kw(value: Any) -> str:
    return f"{value:.2f} kW" if isinstance(value, int | float) else "-"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _now() -> str:
    return _clock(time.time())


def command(ven_id: str, op: str, data: dict[str, Any]) -> dict[str, Any]:
    """A command envelope as the backend builds it (event/restore also carry top-level ids)."""
    cid = f"{op}-{uuid.uuid4().hex[:8]}"
    envelope: dict[str, Any] = {"op": op, "correlationId": cid, "venId": ven_id, "data": data}
    if op in ("event", "restore") and "event_id" in data:
        envelope["event_id"] = data["event_id"]
    if op == "event":
        if "requestedReductionKw" in data:
            envelope["shed_kw"] = data["requestedReductionKw"]
        if "duration_s" in data:
            envelope["duration_sec"] = data["duration_s"]
    return envelope


def request(
    transport: Transport, envelope: dict[str, Any], timeout: float
) -> tuple[dict[str, Any], float] | None:
    """Publish a command and wait for the ack with its correlationId: (ack, rtt ms) or None."""
    ven_id = envelope["venId"]
    got: dict[str, Any] = {}
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(topic: str, payload: bytes) -> None:
        try:
            doc = json.loads(payload)
        except ValueError:
            return
        if isinstance(doc, dict) and doc.get("correlationId") == envelope["correlationId"]:
            got["ack"] = doc
            got["at"] = time.monotonic()
            done.set()

    def on_state(up: bool, _reason: str | None) -> None:
        if up:
            subscribed.set()

    deadline = time.monotonic() + timeout
    conn = transport.open(f"send-{uuid.uuid4().hex[:8]}", on_message, on_state)
    try:
        conn.subscribe(f"ven/ack/{ven_id}")
        subscribed.wait(timeout)
        sent = time.monotonic()
        conn.publish(f"ven/cmd/{ven_id}", json.dumps(envelope).encode())
        if not done.wait(max(0.0, deadline - time.monotonic())):
            return None
        return got["ack"], (got["at"] - sent) * 1000.0
    finally:
        conn.close()
