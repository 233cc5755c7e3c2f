"""The VEN on the wire: gateway and shadow syncer, in-process and over real brokers.

Every test runs three times: on the in-process bus, on the embedded amqtt broker
and on mosquitto (both mutual TLS on 127.0.0.1, with the shadow service). A fake
backend is just another connection, publishing the backend's own command format
and reading acks, telemetry and shadows.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from actors.connection import Transport
from actors.gateway import DEFAULT_CONFIG
from actors.messages import Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.limits import MAX_SUBSCRIPTIONS_PER_CONNECTION
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat
from ven_sim.broker.shadow_service import ShadowService
from ven_sim.broker.shadow_store import ShadowStore
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport

START = datetime(2026, 7, 15, tzinfo=UTC)
WAIT_S = 10.0  # generous: network round trips on a loaded CI machine
_ids = itertools.count(1)


class Backend:
    """Records everything on the bus it subscribed to; publishes like the real backend."""

    def __init__(self, transport: Transport, ven_id: str) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.conn = transport.open(f"backend-{ven_id}", self._on_message, self._on_state)
        for topic in ("volttron/metering", f"ven/ack/{ven_id}"):
            self.conn.subscribe(topic)
        assert self.up.wait(WAIT_S), "backend could not connect"

    def _on_state(self, up: bool, _reason: str | None) -> None:
        if up:
            self.up.set()

    def _on_message(self, topic: str, payload: bytes) -> None:
        with self.lock:
            self.seen.append((topic, json.loads(payload)))

    def send(self, ven_id: str, command: dict[str, Any] | bytes) -> None:
        raw = command if isinstance(command, bytes) else json.dumps(command).encode()
        self.conn.publish(f"ven/cmd/{ven_id}", raw)

    def acks(self) -> list[dict[str, Any]]:
        with self.lock:
            return [doc for topic, doc in self.seen if topic.startswith("ven/ack/")]

    def telemetry(self) -> list[dict[str, Any]]:
        with self.lock:
            return [doc for topic, doc in self.seen if topic == "volttron/metering"]


class Site:
    """One VEN on a wire with a shadow service, driven tick by tick."""

    def __init__(self, wire: str, request: pytest.FixtureRequest) -> None:
        self.ven_id = f"ven-{next(_ids)}"
        self.dispatcher = Dispatcher("wire")
        self.world = World(START, ConstantWeather())
        self.transport, self.shadows, self._closers = _open(wire, request)
        self.backend = Backend(self.transport, self.ven_id)
        self.t = 0.0
        circuits = [
            Flat("ev1", 6.0, priority=8),
            Flat("heater1", 4.0, priority=7),
            Flat("fridge1", 0.2, priority=1, sheddable=False, critical=True),
        ]
        self.ven = Ven(
            self.ven_id,
            circuits,
            self.world,
            self.dispatcher,
            panel_amps=200,
            transport=self.transport,
            clock=lambda: self.world.epoch(self.t),
        )
        self.wait_for(lambda: self.ven.connection.connected)
        self.wait_for(lambda: self.shadows.document(self.ven_id) is not None)

    def wait_for(self, condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Let the VEN's actors handle what the network brings until `condition` holds."""
        deadline = time.monotonic() + timeout
        while True:
            self.dispatcher.run_until_idle()
            if condition():
                return
            assert time.monotonic() < deadline, "timed out waiting"
            self.dispatcher.wait(0.02)

    def run(self, seconds: float, step: float = 5.0) -> None:
        end = self.t + seconds
        while self.t < end:
            self.t += step
            published = len(self.backend.telemetry())
            self.ven.tell(Tick(self.t))
            # The gateway publishes once `_interval` has passed since its last telemetry.
            if self.t - self._last_published >= self._interval - 1e-9:
                self._last_published = self.t
                self.wait_for(lambda n=published: len(self.backend.telemetry()) > n)
            else:
                self.dispatcher.run_until_idle()

    _interval = 5.0  # the report interval the test has set
    _last_published = float("-inf")

    def send(self, command: dict[str, Any] | bytes) -> None:
        self.backend.send(self.ven_id, command)

    def command(self, op: str, cid: str, **fields: Any) -> dict[str, Any]:
        self.send({"op": op, "correlationId": cid, "venId": self.ven_id, **fields})
        return self.ack(cid)

    def ack(self, cid: str, count: int = 1) -> dict[str, Any]:
        self.wait_for(lambda: len(self.acks_for(cid)) >= count)
        return self.acks_for(cid)[-1]

    def acks_for(self, cid: str) -> list[dict[str, Any]]:
        return [a for a in self.backend.acks() if a["correlationId"] == cid]

    def shadow(self) -> dict[str, Any]:
        return self.shadows.document(self.ven_id)

    def desire(self, desired: dict[str, Any]) -> None:
        self.backend.conn.publish(
            f"$aws/things/{self.ven_id}/shadow/update",
            json.dumps({"state": {"desired": desired}}).encode(),
        )

    def close(self) -> None:
        self.ven.stop()
        self.dispatcher.run_until_idle()
        self.ven.close()
        self.backend.conn.close()
        for close in reversed(self._closers):
            close()


def _open(wire: str, request: pytest.FixtureRequest):
    """(transport, shadow store, closers) for one of the three wires."""
    if wire == "inprocess":
        store = ShadowStore()
        return InProcessTransport(InProcessBus(shadows=store)), store, []
    broker = request.getfixturevalue(wire)  # the `mosquitto` or `embedded_broker` fixture
    service = ShadowService(
        broker.url, TlsFiles.from_paths(broker.client_cert(f"shadow-{next(_ids)}"))
    ).start()
    transport = PahoTransport(
        broker.url, lambda cid: TlsFiles.from_paths(broker.client_cert(cid)), backoff=(0.1, 1.0)
    )
    return transport, service.store, [service.stop, transport.close]


@pytest.fixture(params=["inprocess", "embedded_broker", "mosquitto"])
def site(request: pytest.FixtureRequest):
    s = Site(request.param, request)
    yield s
    s.close()


def backend_event(ven_id: str, event_id: str, kw: float, seconds: int, cid: str) -> dict:
    return {
        "op": "event",
        "correlationId": cid,
        "venId": ven_id,
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
    assert last["venId"] == site.ven_id and isinstance(last["timestamp"], int)
    assert isinstance(last["usedPowerKw"], float) and last["usedPowerKw"] == pytest.approx(10.2)
    assert last["eventId"] is None and last["batterySoc"] is None
    assert isinstance(last["panelAmperageRating"], int) and last["panelVoltage"] == 240
    assert {row["id"] for row in last["loads"]} == {"ev1", "heater1", "fridge1"}
    assert all(isinstance(row["enabled"], bool) for row in last["loads"])


def test_ping_and_get(site: Site) -> None:
    site.run(10.0)
    ack = site.command("ping", "p-1", data={})
    assert ack["ok"] is True and ack["status"] == "success" and ack["data"]["pong"] is True
    assert isinstance(ack["ts"], int)
    loads = site.command("get", "g-1", data={"what": "loads"})
    assert len(loads["data"]["loads"]) == 3
    # The rows of the telemetry last published (the VEN keeps their text, not the rows).
    assert loads["data"]["loads"] == site.backend.telemetry()[-1]["loads"]
    status = site.command("get", "g-2", data={"what": "status"})
    assert status["data"]["usedPowerKw"] == pytest.approx(10.2)
    config = site.command("get", "g-3", data={"what": "config"})
    assert config["data"]["report_interval_seconds"] == 5.0


def test_backend_event_then_restore(site: Site) -> None:
    site.run(60.0)
    site.send(backend_event(site.ven_id, "evt-42", 5.0, 3600, "evt-42-abcd1234"))
    ack = site.ack("evt-42-abcd1234")
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
    assert restore["data"]["state"] == "ended"
    late = site.command("restore", "restore-42-b", event_id="evt-42", data={"event_id": "evt-42"})
    assert late["ok"] is True and late["data"]["state"] == "already_ended"
    never = site.command("restore", "restore-43", event_id="evt-43", data={"event_id": "evt-43"})
    assert never["ok"] is True and never["data"]["state"] == "unknown_event"


def test_panel_and_load_sheds(site: Site) -> None:
    site.run(10.0)
    panel = site.command("shedPanel", "sp-1", data={"requestedReductionKw": 3.0, "durationS": 60})
    assert panel["ok"] is True and panel["actual_shed_kw"] == pytest.approx(3.0)
    site.run(20.0)
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 3.0
    site.run(60.0)
    assert site.backend.telemetry()[-1]["eventId"] is None  # its 60 s are over
    site.run(300.0)  # the staggered restore brings everything back within 4 minutes
    assert site.backend.telemetry()[-1]["usedPowerKw"] == pytest.approx(10.2)
    load = site.command(
        "shedLoad", "sl-1", data={"loadId": "heater1", "reduceKw": 4.0, "durationS": 30}
    )
    assert load["ok"] is True
    site.run(10.0)
    assert site.backend.telemetry()[-1]["usedPowerKw"] == pytest.approx(6.2)
    site.run(40.0)
    assert site.backend.telemetry()[-1]["usedPowerKw"] == pytest.approx(10.2)


def test_bad_commands_get_error_acks_and_the_ven_keeps_publishing(site: Site) -> None:
    site.run(10.0)
    site.send(b"{not json")
    site.send({"op": "dance", "correlationId": "c-1", "venId": site.ven_id})
    site.send({"op": "ping", "correlationId": "c-2", "venId": "ven-somebody-else"})
    site.send(
        {
            "op": "setLoad",
            "correlationId": "c-3",
            "venId": site.ven_id,
            "data": {"loadId": "pool1", "enabled": False},
        }
    )
    site.send(
        {
            "op": "event",
            "correlationId": "c-4",
            "venId": site.ven_id,
            "data": {"event_id": "e", "requestedReductionKw": "lots", "duration_s": 60},
        }
    )
    for cid in ("c-1", "c-2", "c-3", "c-4"):
        error = site.ack(cid)
        assert error["ok"] is False and error["status"] == "error" and error["error"]
    before = len(site.backend.telemetry())
    site.run(10.0)
    assert len(site.backend.telemetry()) == before + 2


def test_repeated_correlation_id_is_answered_again_not_applied_twice(site: Site) -> None:
    site.run(60.0)
    event = backend_event(site.ven_id, "evt-7", 2.0, 600, "evt-7-00000001")
    site.send(event)
    site.ack("evt-7-00000001")
    site.send(event)
    site.ack("evt-7-00000001", count=2)
    first, second = site.acks_for("evt-7-00000001")
    assert first == second
    site.run(30.0)
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 2.0


def test_set_load_and_report_interval(site: Site) -> None:
    site.run(10.0)
    ack = site.command("setLoad", "s-1", data={"loadId": "ev1", "enabled": False})
    assert ack["ok"] is True
    ack = site.command("set", "s-2", data={"report_interval_seconds": 15})
    assert ack["data"]["report_interval_seconds"] == 15
    assert DEFAULT_CONFIG == {"report_interval_seconds": 5.0}  # shared defaults: not written to
    site._interval = 15.0
    before = len(site.backend.telemetry())
    site.run(60.0)
    after = site.backend.telemetry()[before:]
    assert len(after) == 4  # every 15 s now
    ev = next(row for row in after[-1]["loads"] if row["id"] == "ev1")
    assert ev["enabled"] is False and after[-1]["usedPowerKw"] == pytest.approx(4.2)


def test_shadow_is_reported_and_a_delta_is_applied(site: Site) -> None:
    site.run(40.0)
    reported = site.shadow()["state"]["reported"]
    assert reported["ven"]["venId"] == site.ven_id and reported["schemaVersion"] == "1.0"
    assert len(reported["loads"]) == 3
    # The backend asks for the EV off and a 10 s report interval through the shadow.
    site.desire({"loads": {"ev1": {"enabled": False}}, "report_interval_seconds": 10})
    site.wait_for(lambda: site.shadow()["state"]["reported"]["report_interval_seconds"] == 10)
    site._interval = 10.0
    site.run(60.0)  # the delta's report went at once; the next periodic one within 60 s
    doc = site.shadow()
    assert "loads" not in doc["state"].get("desired", {})
    assert "delta" not in doc["state"]
    ev = next(r for r in doc["state"]["reported"]["loads"] if r["id"] == "ev1")
    assert ev["enabled"] is False
    assert site.backend.telemetry()[-1]["usedPowerKw"] == pytest.approx(4.2)


def test_two_quick_desired_changes_converge(site: Site) -> None:
    site.run(10.0)
    # Two desired changes land before the VEN has answered the first: its reports are
    # coalesced, and a version conflict, if the broker's timing makes one, is re-got.
    site.desire({"report_interval_seconds": 20})
    site.desire({"report_interval_seconds": 25})
    site.wait_for(lambda: site.shadow()["state"]["reported"]["report_interval_seconds"] == 25)
    site.wait_for(lambda: "delta" not in site.shadow()["state"])


def test_stopping_reports_offline_and_disconnects(site: Site) -> None:
    site.run(10.0)
    site.ven.stop()
    site.dispatcher.run_until_idle()
    site.ven.close()
    site.wait_for(lambda: site.shadow()["state"]["reported"]["ven"]["status"] == "offline")
    assert not site.ven.connection.connected


def test_same_event_again_with_a_new_correlation_id_is_acked_not_reapplied(site: Site) -> None:
    site.run(60.0)
    site.send(backend_event(site.ven_id, "evt-9", 2.0, 600, "evt-9-aaaa0001"))
    first = site.ack("evt-9-aaaa0001")
    site.send(backend_event(site.ven_id, "evt-9", 2.0, 600, "evt-9-aaaa0002"))
    second = site.ack("evt-9-aaaa0002")
    assert second["ok"] is True and second["actual_shed_kw"] == first["actual_shed_kw"]
    site.run(20.0)
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 2.0


def test_capacity_change_shows_in_telemetry(site: Site) -> None:
    site.run(10.0)
    ack = site.command("setLoad", "cap-1", data={"loadId": "ev1", "capacityKw": 4.8})
    assert ack["ok"] is True
    site.run(10.0)
    ev = next(r for r in site.backend.telemetry()[-1]["loads"] if r["id"] == "ev1")
    assert ev["capacityKw"] == pytest.approx(4.8)


class FilterRecordingBus(InProcessBus):
    """An in-process bus that remembers each client's topic filters."""

    def __init__(self) -> None:
        super().__init__(shadows=ShadowStore())
        self.filters: dict[str, list[str]] = {}

    def subscribe(self, conn: Any, topic_filter: str) -> None:
        self.filters.setdefault(conn.client_id, []).append(topic_filter)
        super().subscribe(conn, topic_filter)


def test_a_ven_subscribes_to_its_own_topics_only_within_the_aws_quota() -> None:
    bus = FilterRecordingBus()
    dispatcher = Dispatcher("subscriptions")
    ven = Ven("ven-q", [Flat("ev1", 6.0, priority=8)], World(START, ConstantWeather()),
              dispatcher, panel_amps=200, transport=InProcessTransport(bus))
    try:
        dispatcher.run_until_idle()
        filters = bus.filters["ven-q"]
        assert sorted(filters) == sorted([
            "ven/cmd/ven-q",
            *(f"$aws/things/ven-q/shadow/{suffix}" for suffix in (
                "get/accepted", "get/rejected", "update/accepted", "update/rejected",
                "update/delta")),
        ])
        assert len(filters) <= MAX_SUBSCRIPTIONS_PER_CONNECTION
    finally:
        ven.stop()
        dispatcher.run_until_idle()
        ven.close()
