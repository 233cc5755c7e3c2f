"""Every hostile command from issue 8, each as a regression test on a VEN in-process.

After each one the VEN must still publish telemetry, answer a ping, and never have sent
an ack over 128 KB. The in-process bus is the real broker seam the fleet runs on; the
same payloads over TLS brokers are covered by the fuzz test in test_fuzz_wire.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.messages import Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.limits import MAX_PAYLOAD_BYTES
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat
from tests.actors.test_gateway import START, Backend, Site, backend_event
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport


@pytest.fixture
def site(request: pytest.FixtureRequest):
    s = Site("inprocess", request)
    s.sizes: list[int] = []
    s.backend.conn.subscribe(f"ven/ack/{s.ven_id}")
    yield s
    s.close()


def still_alive(site: Site, cid: str = "alive") -> None:
    """The VEN publishes its next telemetry, answers a ping, and no ack was oversized."""
    before = len(site.backend.telemetry())
    site.run(10.0)
    assert len(site.backend.telemetry()) >= before + 2
    assert site.command("ping", cid)["data"]["pong"] is True
    for ack in site.backend.acks():
        assert len(json.dumps(ack, ensure_ascii=False).encode()) < MAX_PAYLOAD_BYTES
    assert all(ref.is_alive() for ref in site.ven.refs)


def raw_command(site: Site, text: str) -> None:
    site.send(text.encode("utf-8"))


def cmd(site: Site, op: str, cid: str, **fields: Any) -> dict[str, Any]:
    return {"op": op, "correlationId": cid, "venId": site.ven_id, **fields}


def test_set_with_a_number_json_cannot_carry_back(site: Site) -> None:
    site.run(10.0)
    raw_command(site, '{"op":"set","correlationId":"r1","data":{"x":1e400}}')
    ack = site.ack("r1")
    assert ack["ok"] is False and "out of range" in ack["error"]
    still_alive(site)


def test_unknown_op_of_100000_characters(site: Site) -> None:
    site.send(cmd(site, "x" * 100_000, "op-long"))
    ack = site.ack("op-long")
    assert ack["ok"] is False and "op is 100000 characters" in ack["error"]
    assert len(ack["op"]) < 300
    still_alive(site)


def test_correlation_id_of_131000_characters(site: Site) -> None:
    long_cid = "c" * 131_000
    site.send(b'{"op":"ping","correlationId":"' + long_cid.encode() + b'"}')
    site.send(cmd(site, "ping", long_cid[:60_000]))
    site.wait_for(lambda: len(site.backend.acks()) >= 1)
    errors = [a for a in site.backend.acks() if a["correlationId"].startswith("ccc")]
    assert errors and all(a["ok"] is False and "characters, over 256" in a["error"]
                          for a in errors)
    still_alive(site)


def test_ven_id_of_60000_backslashes(site: Site) -> None:
    site.send(cmd(site, "ping", "bs", venId="\\" * 60_000))
    ack = site.ack("bs")
    assert ack["ok"] is False and "command is for venId" in ack["error"]
    still_alive(site)


def test_wrong_type_string_of_60000_next_lines(site: Site) -> None:
    data = {"event_id": "e", "requestedReductionKw": "\u0085" * 60_000, "duration_s": 60}
    site.send(json.dumps(cmd(site, "event", "nel", data=data), ensure_ascii=False).encode())
    ack = site.ack("nel")
    assert ack["ok"] is False and "(60000 chars)" in ack["error"]
    still_alive(site)


def test_two_set_commands_of_70kb_each(site: Site) -> None:
    for n in (1, 2):
        data = {"report_interval_seconds": 5, **{f"k{n}-{i}": "v" * 60 for i in range(1000)}}
        site.send(cmd(site, "set", f"big-{n}", data=data))
        ack = site.ack(f"big-{n}")
        assert ack["ok"] is True and set(ack["data"]) == {"report_interval_seconds", "ignored"}
    config = site.command("get", "cfg", data={"what": "config"})
    assert config["data"] == {"report_interval_seconds": 5.0}  # unknown settings not kept
    still_alive(site)


def test_set_data_nested_971_deep(site: Site) -> None:
    raw_command(site, '{"op":"set","correlationId":"deep","data":'
                + '{"a":' * 971 + "1" + "}" * 971 + "}")
    ack = site.ack("deep")
    assert ack["ok"] is False and "nested 972 deep" in ack["error"]
    still_alive(site)


def test_capacity_of_1e308_kw_by_command_and_by_shadow(site: Site) -> None:
    site.run(10.0)
    ack = site.command("setLoad", "cap", data={"loadId": "ev1", "capacityKw": 1e308})
    assert ack["ok"] is False and "between" in ack["error"]
    site.desire({"loads": {"ev1": {"capacityKw": 1e308}}})
    still_alive(site)
    ev = next(row for row in site.backend.telemetry()[-1]["loads"] if row["id"] == "ev1")
    assert ev["capacityKw"] == pytest.approx(7.2)  # 30 A, untouched


def test_two_events_of_1e308_kw(site: Site) -> None:
    site.run(10.0)
    for n in (1, 2):
        site.send(backend_event(site.ven_id, f"huge-{n}", 1e308, 600, f"huge-{n}"))
        assert site.ack(f"huge-{n}")["ok"] is False
    still_alive(site)
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 0.0


@pytest.mark.parametrize("interval", [1e308, 2**70, 0.001])
def test_report_interval_out_of_range_is_refused(site: Site, interval: float) -> None:
    ack = site.command("set", "ri", data={"report_interval_seconds": interval})
    assert ack["ok"] is False and "between 1 and 86400" in ack["error"]
    still_alive(site)


def test_reused_correlation_id_with_another_body_is_refused(site: Site) -> None:
    site.run(60.0)
    site.send(backend_event(site.ven_id, "evt-a", 2.0, 600, "same-cid"))
    first = site.ack("same-cid")
    site.send(backend_event(site.ven_id, "evt-b", 3.0, 600, "same-cid"))
    second = site.ack("same-cid", count=2)
    assert first["ok"] is True and second["ok"] is False
    assert "already used for another command" in second["error"]
    site.send(backend_event(site.ven_id, "evt-a", 2.0, 600, "same-cid"))  # a true repeat
    assert site.ack("same-cid", count=3) == first
    site.run(30.0)
    assert site.backend.telemetry()[-1]["eventId"] == "evt-a"
    assert site.backend.telemetry()[-1]["requestedReductionKw"] == 2.0  # evt-b never ran
    still_alive(site)


def test_reused_correlation_id_while_the_event_is_being_planned(site: Site) -> None:
    site.run(60.0)
    site.send(backend_event(site.ven_id, "evt-a", 2.0, 600, "fast"))
    site.send(backend_event(site.ven_id, "evt-b", 3.0, 600, "fast"))
    site.send(backend_event(site.ven_id, "evt-a", 2.0, 600, "fast"))
    site.ack("fast", count=2)
    site.dispatcher.run_until_idle()
    acks = site.acks_for("fast")
    assert sorted(a["ok"] for a in acks) == [False, True]  # the redelivery waits for the first
    still_alive(site)


def test_an_ack_too_big_to_send_becomes_an_error_ack() -> None:
    # 1200 circuits: `get loads` would answer about 155 KB, over what MQTT on AWS carries.
    bus = InProcessBus()
    transport = InProcessTransport(bus)
    backend = Backend(transport, "ven-wide")
    dispatcher = Dispatcher("wide")
    world = World(START, ConstantWeather())
    circuits = [Flat(f"c{i}", 0.01, priority=1) for i in range(1200)]
    ven = Ven("ven-wide", circuits, world, dispatcher, panel_amps=200, transport=transport,
              clock=lambda: world.epoch(5.0), shadow=False)
    try:
        dispatcher.run_until_idle()
        ven.tell(Tick(5.0))
        dispatcher.run_until_idle()
        backend.send("ven-wide", {"op": "get", "correlationId": "wide", "data": {"what": "loads"}})
        dispatcher.run_until_idle()
        acks = [a for a in backend.acks() if a["correlationId"] == "wide"]
        assert len(acks) == 1 and acks[0]["ok"] is False
        assert "the ack could not be sent: payload is" in acks[0]["error"]
    finally:
        ven.stop()
        dispatcher.run_until_idle()
        ven.close()
        backend.conn.close()
