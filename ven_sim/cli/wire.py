"""`ven-sim listen` and `ven-sim send`: watch and poke VENs on a broker."""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import click

from sim import contract
from ven_sim.cli.options import broker_options, open_broker
from ven_sim.signals import StopSignals


def _client_broker(kwargs: dict) -> dict:
    """Tools connect to a running embedded broker rather than starting one."""
    return {**kwargs, "broker": kwargs.get("broker") or "embedded", "client_only": True}


@click.command()
@click.option("--ven", "ven_id", help="Only this VEN (default: all).")
@click.option("--topic", "topics", multiple=True, help="Topic filter(s) instead of the default.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after N messages.")
@click.option("--seconds", type=click.FloatRange(min=0.1), help="Stop after S seconds.")
@broker_options
def listen(ven_id: str | None, topics: tuple[str, ...], count, seconds, **broker) -> None:
    """Print telemetry and acks as they arrive, one line per message (Ctrl-C stops)."""
    from ven_sim.wire_tools import format_message

    try:
        own = contract.EVERY_VEN if ven_id is None else contract.topics(ven_id)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ven") from None
    filters = topics or (own.telemetry, own.ack)
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    with open_broker(**_client_broker(broker)) as wire:
        assert wire is not None
        conn = wire.transport.open(
            f"listen-{int(time.time() * 1000) % 10**8}",
            lambda topic, payload: lines.put(format_message(topic, payload)),
        )
        for topic_filter in filters:
            conn.subscribe(topic_filter)
        with StopSignals() as signals:  # before the line that says we are up
            click.echo(f"listening on {wire.description}: {', '.join(filters)}", err=True)
            deadline = time.monotonic() + seconds if seconds else None
            printed = 0
            while not signals.requested and (count is None or printed < count):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    click.echo(lines.get(timeout=0.2))
                    printed += 1
                except queue.Empty:
                    continue
        conn.close()


# `send --help` lists every op with an example --data (sim.commands parses them) and a note.
OP_EXAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "ping": ({}, "answers pong"),
    "event": ({"event_id": "e1", "requestedReductionKw": 2, "duration_s": 900}, ""),
    "restore": ({"event_id": "e1"}, ""),
    "shedPanel": ({"requestedReductionKw": 2, "durationS": 900}, ""),
    "shedLoad": ({"loadId": "hvac1", "reduceKw": 1.5, "durationS": 900}, ""),
    "setLoad": ({"loadId": "ev1", "enabled": False}, "or capacityKw, priority"),
    "set": ({"report_interval_seconds": 10}, ""),
    "setConfig": ({"report_interval_seconds": 10}, "the same as set"),
    "get": ({"what": "status"}, "status, config or loads"),
}
SEND_EPILOG = "\b\nOPS and an example --data for each:\n" + "\n".join(
    f"  {op:<10} '{json.dumps(data)}'" + (f"  ({note})" if note else "")
    for op, (data, note) in OP_EXAMPLES.items()
)


@click.command(epilog=SEND_EPILOG)
@click.argument("ven_id")
@click.argument("op")
@click.option("--data", "data_json", default="{}", help="The command's data, as JSON.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@broker_options
def send(ven_id: str, op: str, data_json: str, timeout: float, **broker) -> None:
    """Send OP to VEN_ID, wait for its ack, print it and the round-trip time.

    An op not listed below is sent as given (the VEN answers with an error ack).
    """
    from ven_sim.wire_tools import command, request

    try:
        data = json.loads(data_json)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--data") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--data")
    envelope = command(ven_id, op, data)
    with open_broker(**_client_broker(broker)) as wire:
        assert wire is not None
        answer = request(wire.transport, envelope, timeout)
    if answer is None:
        click.echo(f"no ack from {ven_id} within {timeout:g} s ({envelope['correlationId']})")
        raise SystemExit(1)
    ack, rtt_ms = answer
    click.echo(json.dumps(ack, indent=2))
    click.echo(f"rtt {rtt_ms:.1f} ms")
    if ack.get("ok") is not True:
        raise SystemExit(1)
