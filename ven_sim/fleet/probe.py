"""The probe VTN of a fleet run: command round trips, event fan-out, telemetry latency.

It is one more MQTT client (never a VEN's client ID) that does what the backend does:
publishes commands on `ven/cmd/{venId}` and reads acks on `ven/ack/+`. Pings go to a random
connected VEN at `--probe-rate`; the fan-out sends one DR event to every VEN at once and
times each VEN's ack from the moment the dispatch began. It also follows the telemetry
topics of a few VENs and times each message from the VEN's publish() to its arrival here.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from typing import Any

from sim import contract
from sim.fleet_scenario import FleetEvent
from sim.limits import MAX_INFLIGHT_PUBLISHES
from ven_sim.fleet.metrics import FleetMetrics
from ven_sim.fleet.plan import DEFAULT_FANOUT, PROBE_TELEMETRY_TOPICS
from ven_sim.transports.base import BaseTransport

__all__ = ["ProbeVtn"]


class ProbeVtn:
    def __init__(
        self, transport: BaseTransport, client_id: str, metrics: FleetMetrics, traced: list[str],
        seed: int = 0,
    ) -> None:
        self.metrics = metrics
        self.rng = random.Random(f"{seed}:probe")
        self._lock = threading.Lock()
        self._pings: dict[str, float] = {}  # correlationId -> when sent
        self._fanout: dict[str, float] = {}  # correlationId -> when its event's dispatch began
        self.fanout_sent = self.fanout_acked = self.fanout_errors = 0
        self.pings_sent = 0
        self.ready = threading.Event()
        self.connection = transport.open(client_id, self._on_message, self._on_state)
        if hasattr(self.connection, "max_inflight"):  # a paho connection: 20 by default
            # The fan-out is N commands at once, and a backend sends them as fast as the broker
            # takes them, not 20 at a time like a device. AWS IoT (the transport limits the
            # publish rate there) takes at most 100 unacknowledged from one client.
            limited = getattr(transport, "max_publish_rate", None) is not None
            self.connection.max_inflight = MAX_INFLIGHT_PUBLISHES if limited else None
        self.connection.subscribe(contract.EVERY_VEN.ack)
        for ven_id in traced[:PROBE_TELEMETRY_TOPICS]:
            topic = contract.topics(ven_id).telemetry
            metrics.traced[topic] = deque()
            self.connection.subscribe(topic)

    def _on_state(self, up: bool, _reason: str | None) -> None:
        if up:
            self.ready.set()

    def ping(self, ven_id: str) -> None:
        cid = f"ping-{self.rng.getrandbits(48):012x}"
        with self._lock:
            self._pings[cid] = time.monotonic()
        self._send("ping", cid, ven_id, {})
        self.pings_sent += 1

    def fanout(self, ven_ids: list[str], event: FleetEvent = DEFAULT_FANOUT) -> None:
        """One DR event to every VEN in `ven_ids`, as fast as the loop takes them."""
        started = time.monotonic()
        data = {"event_id": event.id, "requestedReductionKw": event.kw,
                "duration_s": event.duration_s}
        for ven_id in ven_ids:
            cid = f"fan-{ven_id}-{self.rng.getrandbits(32):08x}"
            with self._lock:
                self._fanout[cid] = started
            self._send("event", cid, ven_id, data)
            self.fanout_sent += 1

    @property
    def fanout_pending(self) -> int:
        with self._lock:
            return len(self._fanout)

    def _send(self, op: str, cid: str, ven_id: str, data: dict[str, Any]) -> None:
        payload = contract.encode(contract.command_payload(op, cid, ven_id, data))
        self.connection.publish(contract.topics(ven_id).command, payload)

    def _on_message(self, topic: str, payload: bytes) -> None:
        # The network loop's thread.
        now = time.monotonic()
        trace = self.metrics.traced.get(topic)
        if trace is not None:
            if trace:
                self.metrics.add_run("telemetry_latency", (now - trace.popleft()) * 1000.0)
            return
        try:
            ack = json.loads(payload)
            cid = str(ack.get("correlationId"))
        except (ValueError, AttributeError):
            return
        with self._lock:
            sent = self._pings.pop(cid, None)
            started = None if sent is not None else self._fanout.pop(cid, None)
        if sent is not None:
            self.metrics.add_run("command_rtt", (now - sent) * 1000.0)
        elif started is not None:
            self.metrics.add("fanout", (now - started) * 1000.0)
            self.fanout_acked += 1
            if ack.get("ok") is not True:
                self.fanout_errors += 1

    def close(self) -> None:
        self.connection.close()
