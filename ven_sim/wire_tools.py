"""What `ven-sim listen` and `ven-sim send` do, as plain functions."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sim import contract
from ven_sim.transports.base import BaseTransport as Transport


def format_message(topic: str, payload: bytes) -> str:
    """One readable line for a telemetry, ack or any other message."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return f"{_now()} {topic} <{len(payload)} bytes, not JSON>"
    if not isinstance(doc, dict):
        return f"{_now()} {topic} {json.dumps(doc)[:200]}"
    kind = contract.topic_kind(topic)
    if kind == "ack":
        return _format_ack(doc)
    if kind in ("metering", "telemetry"):
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
    """A command as the backend builds it, with a fresh correlationId."""
    return contract.command_payload(op, f"{op}-{uuid.uuid4().hex[:8]}", ven_id, data)


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

    # Not `contract.topics`, which refuses a bad id: here such an id just gets no ack.
    ack_topic = contract.ACK_TOPIC.format(ven_id=ven_id)
    command_topic = contract.COMMAND_TOPIC.format(ven_id=ven_id)
    deadline = time.monotonic() + timeout
    conn = transport.open(f"send-{uuid.uuid4().hex[:8]}", on_message, on_state)
    try:
        conn.subscribe(ack_topic)
        subscribed.wait(timeout)
        sent = time.monotonic()
        conn.publish(command_topic, json.dumps(envelope).encode())
        if not done.wait(max(0.0, deadline - time.monotonic())):
            return None
        return got["ack"], (got["at"] - sent) * 1000.0
    finally:
        conn.close()
