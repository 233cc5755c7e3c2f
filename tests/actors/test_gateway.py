"""The VEN on the wire: gateway and shadow syncer over the in-process transport.

A fake backend is just another connection on the same bus, publishing the
backend's own command format and reading acks, telemetry and shadows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.messages import Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from iot.shadow_store import ShadowStore
from iot.transport import InProcessBus, InProcessTransport
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat

START = datetime(2026, 7, 15, tzinfo=UTC)


class Backend:
    """Records everything on the bus it subscribed to; publishes like the real backend."""

    def __init__(self, transport: InProcessTransport) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.conn = transport.open("backend", self._on_message)
        for topic in ("volttron/metering", "ven/ack/+", "$aws/things/+/shadow/update/accepted"):
            self.conn.subscribe(topic)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.seen.append((topic, json.loads(payload)))

    def send(self, ven_id: str, command: dict[str, Any] | bytes) -> None:
        raw = command if isinstance(command, bytes) else json.dumps(command).encode()
        self.conn.publish(f"ven/cmd/{ven_id}", raw)

    def acks(self) -> list[dict[str, Any]]:
        return [doc for topic, doc in self.seen if topic.startswith("ven/ack/")]

    def telemetry(self) -> list[dict[str, Any]]:
        return [doc for topic, doc in self.seen if topic == "volttron/metering"]


class Site:
    """One VEN on an in-process bus with shadows, driven tick by tick."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher("wire")
        self.world = World(START, ConstantWeather())
        self.shadows = ShadowStore()
        self.transport = InProcessTransport(InProcessBus(shadows=self.shadows))
        self.backend = Backend(self.transport)
        self.t = 0.0
        circuits = [
            Flat("ev1", 6.0, priority=8),
            Flat("heater1", 4.0, priority=7),
            Flat("fridge1", 0.2, priority=1, sheddable=False, critical=True),
        ]
        self.ven = Ven(
            "ven-1",
            circuits,
            self.world,
            self.dispatcher,
            panel_amps=200,
            transport=self.transport,
            clock=lambda: self.world.epoch(self.t),
        )
        self.settle()

    def settle(self) -> None:
        self.dispatcher.run_until_idle()

    def run(self, seconds: float, step: float = 5.0) -> None:
        end = self.t + seconds
        while self.t < end:
            self.t += step
            self.ven.tell(Tick(self.t))
            self.settle()

    def command(self, op: str, cid: str, **fields: Any) -> dict[str, Any]:
        self.backend.send("ven-1", {"op": op, "correlationId": cid, "venId": "ven-1", **fields})
        self.settle()
        return [a for a in self.backend.acks() if a["correlationId"] == cid][-1]

    def close(self) -> None:
        self.ven.stop()
        self.settle()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


def backend_event(event_id: str, kw: float, seconds: int, cid: str) -> dict[str, Any]:
    return {
        "op": "event",
        "correlationId": cid,
        "venId": "ven-1",
        "event_id": event_id,
        "shed_kw": kw,
        "duration_sec": seconds,
        "data": {"event_id": event_id, "requestedReductionKw": kw, "duration_s": seconds},
    }


def test_telemetry_every_report_interval_with_the_contract_types(site: Site) -> None:
    site.run(60.0)
    reports = site.backend.telemetry()
    assert len(reports) == 12  # every 5 s
    last = reports[-1]
    assert last["venId"] == "ven-1" and isinstance(last["timestamp"], int)
    assert last["usedPowerKw"] == pytest.approx(10.2)
    assert last["eventId"] is None
    assert {row["id"] for row in last["loads"]} == {"ev1", "heater1", "fridge1"}


def test_ping_and_get(site: Site) -> None:
    site.run(10.0)
    ack = site.command("ping", "p-1", data={})
    assert ack["ok"] is True and ack["status"] == "success" and ack["data"]["pong"] is True
    loads = site.command("get", "g-1", data={"what": "loads"})
    assert len(loads["data"]["loads"]) == 3
    config = site.command("get", "g-2", data={"what": "config"})
    assert config["data"]["report_interval_seconds"] == 5.0


def test_backend_event_then_restore(site: Site) -> None:
    site.run(60.0)
    site.backend.send("ven-1", backend_event("evt-42", 5.0, 3600, "evt-42-abcd1234"))
    site.settle()
    ack = site.backend.acks()[-1]
    assert ack["op"] == "event" and ack["ok"] is True and ack["event_id"] == "evt-42"
    assert ack["requested_shed_kw"] == 5.0 and ack["actual_shed_kw"] == pytest.approx(5.0)
    assert ack["circuits_curtailed"][0].keys() == {
        "id",
        "name",
        "breaker_amps",
        "original_kw",
        "curtailed_kw",
        "final_kw",
        "critical",
    }
    site.run(30.0)
    assert site.backend.telemetry()[-1]["eventId"] == "evt-42"
    assert site.backend.telemetry()[-1]["shedPowerKw"] == pytest.approx(5.0, abs=0.1)
    restore = site.command(
        "restore", "restore-42-abcd", event_id="evt-42", data={"event_id": "evt-42"}
    )
    assert restore["ok"] is True and restore["event_id"] == "evt-42"
    site.run(30.0)
    assert site.backend.telemetry()[-1]["eventId"] is None
    again = site.command("restore", "restore-43", event_id="evt-43", data={"event_id": "evt-43"})
    assert again["ok"] is False and "evt-43" in again["error"]


def test_bad_commands_get_error_acks_and_the_ven_keeps_publishing(site: Site) -> None:
    site.run(10.0)
    site.backend.send("ven-1", b"{not json")
    site.backend.send("ven-1", {"op": "dance", "correlationId": "c-1", "venId": "ven-1"})
    site.backend.send("ven-1", {"op": "ping", "correlationId": "c-2", "venId": "ven-9"})
    site.backend.send(
        "ven-1",
        {
            "op": "setLoad",
            "correlationId": "c-3",
            "venId": "ven-1",
            "data": {"loadId": "pool1", "enabled": False},
        },
    )
    site.settle()
    errors = {a["correlationId"]: a for a in site.backend.acks()}
    for cid in ("c-1", "c-2", "c-3"):
        assert errors[cid]["ok"] is False and errors[cid]["status"] == "error"
        assert errors[cid]["error"]
    before = len(site.backend.telemetry())
    site.run(10.0)
    assert len(site.backend.telemetry()) == before + 2


def test_repeated_correlation_id_is_answered_again_not_applied_twice(site: Site) -> None:
    site.run(60.0)
    event = backend_event("evt-7", 2.0, 600, "evt-7-00000001")
    site.backend.send("ven-1", event)
    site.settle()
    site.backend.send("ven-1", event)
    site.settle()
    acks = [a for a in site.backend.acks() if a["correlationId"] == "evt-7-00000001"]
    assert len(acks) == 2 and acks[0] == acks[1]
    site.run(30.0)
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 2.0


def test_set_load_and_report_interval(site: Site) -> None:
    site.run(10.0)
    ack = site.command("setLoad", "s-1", data={"loadId": "ev1", "enabled": False})
    assert ack["ok"] is True
    ack = site.command("set", "s-2", data={"report_interval_seconds": 15})
    assert ack["data"]["report_interval_seconds"] == 15
    before = len(site.backend.telemetry())
    site.run(60.0)
    after = site.backend.telemetry()[before:]
    assert len(after) == 4  # every 15 s now
    ev = next(row for row in after[-1]["loads"] if row["id"] == "ev1")
    assert ev["enabled"] is False and after[-1]["usedPowerKw"] == pytest.approx(4.2)


def test_shadow_is_reported_and_a_delta_is_applied(site: Site) -> None:
    site.run(40.0)
    doc = site.shadows.document("ven-1")
    assert doc is not None
    reported = doc["state"]["reported"]
    assert reported["ven"]["venId"] == "ven-1" and reported["schemaVersion"] == "1.0"
    assert len(reported["loads"]) == 3
    # The backend asks for the EV off and a 10 s report interval through the shadow.
    desired = {"loads": {"ev1": {"enabled": False}}, "report_interval_seconds": 10}
    site.backend.conn.publish(
        "$aws/things/ven-1/shadow/update", json.dumps({"state": {"desired": desired}}).encode()
    )
    site.settle()
    site.run(40.0)
    doc = site.shadows.document("ven-1")
    assert "desired" not in doc["state"] or "loads" not in doc["state"].get("desired", {})
    assert doc["state"]["reported"]["report_interval_seconds"] == 10
    ev = next(r for r in doc["state"]["reported"]["loads"] if r["id"] == "ev1")
    assert ev["enabled"] is False
    assert site.backend.telemetry()[-1]["usedPowerKw"] == pytest.approx(4.2)


def test_version_conflict_is_resolved_by_getting_again(site: Site) -> None:
    site.run(10.0)
    syncer = site.ven.refs[-1]
    for interval in (20, 25):  # two desired changes land before the VEN answers the first
        site.backend.conn.publish(
            "$aws/things/ven-1/shadow/update",
            json.dumps({"state": {"desired": {"report_interval_seconds": interval}}}).encode(),
        )
    site.settle()
    conflicts = syncer.proxy().conflicts
    site.settle()
    assert conflicts.get(timeout=0) >= 1
    doc = site.shadows.document("ven-1")
    assert doc["state"]["reported"]["report_interval_seconds"] == 25
    assert "report_interval_seconds" not in doc["state"].get("delta", {})


def test_stopping_reports_offline_and_disconnects() -> None:
    s = Site()
    s.run(10.0)
    s.close()
    doc = s.shadows.document("ven-1")
    assert doc["state"]["reported"]["ven"]["status"] == "offline"
    assert not s.ven.connection.connected
