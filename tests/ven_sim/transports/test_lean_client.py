"""LeanClient on mosquitto with mTLS: QoS 1 publishes and PUBACKs as paho's own client does."""

from __future__ import annotations

import queue
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.ven_sim.transports.test_paho import Peer, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.endpoints import BrokerURL, TlsFiles
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import connect, make_client

MESSAGES = 300


def _client(mosquitto: Mosquitto, client_id: str, cls: type[mqtt.Client]) -> mqtt.Client:
    url = BrokerURL.parse(mosquitto.url)
    return make_client(client_id, url, TlsFiles.from_paths(mosquitto.client_cert(client_id)),
                       client_class=cls)


def _publish_all(mosquitto: Mosquitto, cls: type[mqtt.Client], name: str) -> dict[str, Any]:
    """MESSAGES QoS 1 publishes from a `cls` client on paho's own thread: what its
    callbacks saw, and whether every publish's info says it was published."""
    acked: queue.Queue[tuple[int, str, bool]] = queue.Queue()
    client = _client(mosquitto, f"lean-{name}", cls)
    client.on_publish = lambda _c, _u, mid, reason, props: acked.put(
        (mid, str(reason), reason.is_failure or bool(props.json())))
    connect(client, BrokerURL.parse(mosquitto.url))
    try:
        infos = [client.publish(f"lean/{name}", b"%d" % n, qos=1) for n in range(MESSAGES)]
        for info in infos:
            info.wait_for_publish(10.0)
        seen = [acked.get(timeout=10.0) for _ in infos]
        return {
            "rc": {info.rc for info in infos},
            "published": all(info.is_published() for info in infos),
            "mids": sorted(mid for mid, _, _ in seen) == sorted(info.mid for info in infos),
            "reasons": {(reason, odd) for _, reason, odd in seen},
            "left": len(client._out_messages),  # noqa: SLF001 - paho's own bookkeeping
            "inflight": client._inflight_messages,  # noqa: SLF001
        }
    finally:
        client.disconnect()
        client.loop_stop()


def test_qos1_publish_and_puback_match_paho(mosquitto: Mosquitto) -> None:
    stock = _publish_all(mosquitto, mqtt.Client, "stock")
    lean = _publish_all(mosquitto, LeanClient, "lean")
    assert lean == stock
    assert lean == {"rc": {mqtt.MQTT_ERR_SUCCESS}, "published": True, "mids": True,
                    "reasons": {("Success", False)}, "left": 0, "inflight": 0}


def test_wait_for_publish_wakes_each_waiter_on_the_shared_condition(
    mosquitto: Mosquitto,
) -> None:
    client = _client(mosquitto, "lean-waiters", LeanClient)
    connect(client, BrokerURL.parse(mosquitto.url))
    try:
        infos = [client.publish("lean/waiters", b"x", qos=1) for _ in range(20)]
        done: list[int] = []
        waiters = [threading.Thread(target=lambda i=info: (i.wait_for_publish(10.0),
                                                           done.append(i.mid)))
                   for info in infos]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join(15.0)
        assert sorted(done) == sorted(info.mid for info in infos)
    finally:
        client.disconnect()
        client.loop_stop()


def test_other_publishes_take_paho_path(mosquitto: Mosquitto) -> None:
    """QoS 0, retained and str payloads are paho's own publish, and still delivered."""
    transport = _transport(mosquitto)
    try:
        sink = Peer(transport, "lean-sink")
        assert sink.state() == (True, None)
        sink.listen("lean/other/#", "lean/other/echo")
        client = _client(mosquitto, "lean-other", LeanClient)
        connect(client, BrokerURL.parse(mosquitto.url))
        try:
            client.publish("lean/other/q0", b"zero", qos=0).wait_for_publish(10.0)
            client.publish("lean/other/str", "text", qos=1).wait_for_publish(10.0)
            received = {sink.receive() for _ in range(2)}
        finally:
            client.disconnect()
            client.loop_stop()
        assert received == {("lean/other/q0", b"zero"), ("lean/other/str", b"text")}
    finally:
        transport.close()


def test_messages_queued_while_offline_are_sent_after_connect(mosquitto: Mosquitto) -> None:
    """A QoS 1 publish before the connection exists is kept (MQTT_ERR_NO_CONN) and sent once
    it is up, by either class."""
    transport = _transport(mosquitto)
    try:
        sink = Peer(transport, "lean-offline-sink")
        assert sink.state() == (True, None)
        sink.listen("lean/offline/#", "lean/offline/echo")
        for cls in (mqtt.Client, LeanClient):
            client = _client(mosquitto, f"lean-offline-{cls.__name__}", cls)
            info = client.publish(f"lean/offline/{cls.__name__}", b"kept", qos=1)
            assert info.rc == mqtt.MQTT_ERR_NO_CONN
            connect(client, BrokerURL.parse(mosquitto.url))
            try:
                assert sink.receive() == (f"lean/offline/{cls.__name__}", b"kept")
            finally:
                client.disconnect()
                client.loop_stop()
    finally:
        transport.close()


def test_packets_queued_together_go_out_in_one_write(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst of publishes (a VEN's telemetry on its two topics, a VTN's commands) is
    written in far fewer `send`s than packets, and arrives whole and in order."""
    transport = _transport(mosquitto)
    sends: list[int] = []
    tls_send = ssl.SSLSocket.send

    def counted(self: ssl.SSLSocket, data: bytes, flags: int = 0) -> int:
        sends.append(len(data))
        return tls_send(self, data, flags)

    try:
        sink = Peer(transport, "lean-join-sink")
        assert sink.state() == (True, None)
        sink.listen("lean/join/#", "lean/join/echo")
        source = Peer(transport, "lean-join-source")
        assert source.state() == (True, None)
        monkeypatch.setattr(ssl.SSLSocket, "send", counted)
        payloads = [b"%03d" % n + b"x" * (n * 37 % 900) for n in range(MESSAGES)]
        for payload in payloads:
            source.conn.publish("lean/join/n", payload)
        assert [sink.receive() for _ in payloads] == [("lean/join/n", p) for p in payloads]
        # The source's publishes (its window of 20 at a time) and the sink's PUBACKs.
        assert len(sends) < MESSAGES
        assert sum(sends) > sum(len(p) for p in payloads)
    finally:
        transport.close()
