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
