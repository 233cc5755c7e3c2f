"""A VTN that reaches VENs the way the real backend does: commands over MQTT.

Each DR event goes to `ven/cmd/{venId}` in the backend's own format; acks
come back on `ven/ack/+` and are counted with their round-trip times for
summary.json's `mqtt` block.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from typing import Any

from actors.ven import Ven
from sim import contract
from sim.fleetlog import FleetLog
from sim.mv import EventWindow
from ven_sim.kernel import Kernel
from ven_sim.transports.base import BaseTransport as Transport
from ven_sim.vtn import Vtn

logger = logging.getLogger(__name__)


class MqttVtn(Vtn):
    def __init__(
        self,
        kernel: Kernel,
        vens: list[Ven],
        log: FleetLog,
        transport: Transport,
        *,
        seed: int = 0,
    ) -> None:
        super().__init__(kernel, vens, log)
        self._rng = random.Random(f"{seed}:vtn")  # correlation ids: reproducible runs
        self._lock = threading.Lock()
        self._sent_at: dict[str, float] = {}
        self._rtts_ms: list[float] = []
        self.acks = self.errors = 0
        # A fresh client ID per run (not from the seed): two runs must not kick each other.
        self.connection = transport.open(f"vtn-{uuid.uuid4().hex[:8]}", self._on_message)
        self.connection.subscribe(contract.EVERY_VEN.ack)

    def _uuid8(self) -> str:
        return f"{self._rng.getrandbits(32):08x}"

    def send_event(self, ven: Ven, event_id: str, kw: float, window: EventWindow) -> None:
        duration = int(round(window.end - window.start))
        cid = f"evt-{event_id}-{self._uuid8()}"
        data = {"event_id": event_id, "requestedReductionKw": round(kw, 3), "duration_s": duration}
        command = contract.command_payload("event", cid, ven.ven_id, data)
        with self._lock:
            self._sent_at[cid] = time.monotonic()
        self.connection.publish(contract.topics(ven.ven_id).command, contract.encode(command))
        self.sent += 1

    def _on_message(self, topic: str, payload: bytes) -> None:
        # Runs on the transport's thread.
        try:
            ack = json.loads(payload)
        except ValueError:
            return
        if not isinstance(ack, dict):
            return
        with self._lock:
            sent = self._sent_at.pop(str(ack.get("correlationId")), None)
            if sent is None:
                return  # not ours (another VTN, or a repeat)
            self._rtts_ms.append((time.monotonic() - sent) * 1000.0)
            self.acks += 1
            if ack.get("ok") is not True:
                self.errors += 1
                logger.warning("%s refused an event: %s", ack.get("venId"), ack.get("error"))

    def awaiting_acks(self) -> bool:
        with self._lock:
            return bool(self._sent_at)

    def close(self) -> None:
        self.connection.close()

    def summary(self) -> dict[str, Any]:
        published = sum(
            ven.connection.stats.published for ven in self.vens if ven.connection is not None
        )
        with self._lock:
            rtts = sorted(self._rtts_ms)
            missing = len(self._sent_at)
            return {
                "mqtt": {
                    "published": published,
                    "commands": self.sent,
                    "acks": self.acks,
                    "ack_rtt_ms_p50": _percentile(rtts, 0.50),
                    "ack_rtt_ms_p99": _percentile(rtts, 0.99),
                    "errors": self.errors + missing,
                }
            }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 2)
