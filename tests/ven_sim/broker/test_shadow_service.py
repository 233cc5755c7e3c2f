"""The shadow service over real MQTT, on mosquitto (mTLS) and on the embedded broker alike."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sim.contract import shadow_topic
from tests.ven_sim.helpers import Broker, Probe
from ven_sim.broker.shadow_service import SHADOW_CLIENT_ID, ShadowService
from ven_sim.transports.mqtt import TlsFiles

_things = itertools.count(1)


@pytest.fixture(scope="module", params=["mosquitto", "embedded_broker"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Each broker with a shadow service attached for the whole module."""
    target: Broker = request.getfixturevalue(request.param)
    tls = TlsFiles.from_paths(target.client_cert(SHADOW_CLIENT_ID))
    with ShadowService(target.url, tls):
        yield target


class Device:
    """A thing of its own per test, listening to every reply topic of its shadow."""

    def __init__(self, broker: Broker) -> None:
        self.thing = f"ven-{next(_things):03d}"
        self.probe = Probe(broker, self.thing)
        self.probe.subscribe(shadow_topic(self.thing, "+/+"))

    def send(self, operation: str, body: Any = None) -> None:
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        else:
            payload = json.dumps(body).encode()
        self.probe.publish(shadow_topic(self.thing, operation), payload)

    def expect(self, suffix: str) -> dict[str, Any]:
        return self.probe.receive_json(shadow_topic(self.thing, suffix))


@pytest.fixture
def device(broker: Broker) -> Iterator[Device]:
    dev = Device(broker)
    yield dev
    dev.probe.close()


def test_get_missing_shadow_is_404(device: Device) -> None:
    device.send("get", {"clientToken": "g-1"})
    rejected = device.expect("get/rejected")
    assert rejected["code"] == 404
    assert rejected["message"] == f"No shadow exists with name: '{device.thing}'"
    assert rejected["clientToken"] == "g-1"
    assert isinstance(rejected["timestamp"], int)


def test_desired_then_reported_lifecycle(device: Device) -> None:
    device.send("update", {"state": {"desired": {"sp": 20, "mode": "eco"}}, "clientToken": "u-1"})
    accepted = device.expect("update/accepted")
    assert accepted["state"] == {"desired": {"sp": 20, "mode": "eco"}}
    assert accepted["version"] == 1 and accepted["clientToken"] == "u-1"
    assert isinstance(accepted["metadata"]["desired"]["sp"]["timestamp"], int)
    delta = device.expect("update/delta")
    assert delta["state"] == {"sp": 20, "mode": "eco"}
    assert delta["version"] == 1 and set(delta["metadata"]) == {"sp", "mode"}
    documents = device.expect("update/documents")
    assert documents["previous"] is None
    assert documents["current"]["state"] == {"desired": {"sp": 20, "mode": "eco"}}
    assert documents["clientToken"] == "u-1"

    # Reporting what is desired removes the difference: accepted then documents, no delta.
    device.send("update", {"state": {"reported": {"sp": 20, "mode": "eco"}}, "clientToken": "u-2"})
    assert device.expect("update/accepted")["version"] == 2
    documents = device.expect("update/documents")
    assert documents["previous"]["version"] == 1
    assert documents["current"]["state"]["reported"] == {"sp": 20, "mode": "eco"}

    device.send("get", {"clientToken": "g-2"})
    got = device.expect("get/accepted")
    assert got["version"] == 2 and got["clientToken"] == "g-2"
    assert "delta" not in got["state"]
    assert set(got["metadata"]) == {"desired", "reported"}


def test_version_conflict_is_409(device: Device) -> None:
    device.send("update", {"state": {"reported": {"kw": 1.2}}})
    assert device.expect("update/accepted")["version"] == 1
    device.expect("update/documents")
    device.send("update", {"state": {"reported": {"kw": 3.4}}, "version": 7, "clientToken": "v"})
    rejected = device.expect("update/rejected")
    assert isinstance(rejected.pop("timestamp"), int)
    assert rejected == {"code": 409, "message": "Version conflict", "clientToken": "v"}
    device.send("update", {"state": {"reported": {"kw": 3.4}}, "version": 1})
    assert device.expect("update/accepted")["version"] == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [(b'{"state": {"desired": ', 400), ({"clientToken": "x"}, 400),
     ({"state": {"desired": {"blob": "z" * 9000}}}, 413)],
    ids=["bad-json", "missing-state", "oversized"],
)
def test_bad_updates_are_rejected(device: Device, body: Any, code: int) -> None:
    device.send("update", body)
    rejected = device.expect("update/rejected")
    assert rejected["code"] == code
    assert set(rejected) >= {"code", "message", "timestamp"}


def test_delete_then_get_is_404(device: Device) -> None:
    device.send("delete", {"clientToken": "d-0"})
    assert device.expect("delete/rejected")["code"] == 404
    device.send("update", {"state": {"reported": {"on": True}}})
    device.expect("update/accepted")
    device.expect("update/documents")
    device.send("delete", {"clientToken": "d-1"})
    deleted = device.expect("delete/accepted")
    assert deleted["version"] == 1 and deleted["clientToken"] == "d-1"
    device.send("get")
    assert device.expect("get/rejected")["code"] == 404


def _raw(device: Device, suffix: str) -> bytes:
    topic, payload, _ = device.probe.receive()
    assert topic == shadow_topic(device.thing, suffix), (topic, payload)
    return payload


def test_each_document_is_encoded_once_and_replies_keep_json_dumps_text(device: Device) -> None:
    """A VEN's report three times (loads, nested metrics, a non-ASCII name, a null to delete):
    every reply is exactly `json.dumps` of what it holds (default separators, ASCII), and each
    update/documents' `previous` is, field by field, the update before's `current`, though
    the service now splices that document's text in instead of encoding it again."""
    loads = [{"id": f"c{n}", "name": "Kühlschrank", "kw": n * 0.25, "on": n % 2 == 0}
             for n in range(4)]
    reports = [
        {"ven": {"status": "online"}, "loads": loads, "metrics": {"kw": 1.5, "event": None}},
        {"ven": {"status": "online", "lastTs": 1}, "metrics": {"kw": 0.5, "summary": {"e": "x"}}},
        {"loads": loads[:2], "metrics": {"summary": None}},
    ]
    previous = None
    for n, report in enumerate(reports, 1):
        device.send("update", {"state": {"reported": report}, "clientToken": f"r-{n}"})
        raw_accepted = _raw(device, "update/accepted")
        raw_documents = _raw(device, "update/documents")
        accepted, documents = json.loads(raw_accepted), json.loads(raw_documents)
        assert raw_accepted == json.dumps(accepted).encode()
        assert raw_documents == json.dumps(documents).encode()
        assert accepted["state"] == {"reported": report}
        assert accepted["version"] == n and accepted["clientToken"] == f"r-{n}"
        assert documents["previous"] == previous
        current = documents["current"]
        assert current["version"] == n
        assert documents["clientToken"] == f"r-{n}"
        assert isinstance(documents["timestamp"], int)
        previous = current
    assert previous is not None
    assert previous["state"]["reported"] == {
        "ven": {"status": "online", "lastTs": 1}, "loads": loads[:2], "metrics": {"kw": 0.5}}
    # The last update's loads carry its own time, per leaf, as its reply does.
    assert previous["metadata"]["reported"]["loads"][1]["name"] == {
        "timestamp": documents["timestamp"]}
    device.send("get", {"clientToken": "g"})
    got = device.expect("get/accepted")
    assert got["state"] == previous["state"] and got["metadata"] == previous["metadata"]
