"""A `PahoTransport`'s connections read incoming publishes on LeanClient's light path, and
their handlers get exactly what paho's own path gives them (mosquitto, mTLS)."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest

from tests.ven_sim.transports.test_lean_client import _client
from tests.ven_sim.transports.test_paho import Peer, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.endpoints import BrokerURL
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import connect

# After a retained message: QoS 0 and 1, an empty payload, 16 KB, a non-ASCII topic, and
# JSON as a VEN's commands and a VTN's acks are.
SENT = [("ünï", b"", 1), ("a", b"x" * 16384, 0), ("b", b"y", 1),
        ("ack", b'{"correlationId": "c-1", "ok": true}', 1)]


def _handled(mosquitto: Mosquitto, name: str) -> tuple[list[tuple[str, bytes]], set[str]]:
    """What a transport connection's handler got, in order, and the classes of the messages
    paho handed the connection."""
    topic = f"incoming/{name}"
    sender = _client(mosquitto, f"light-sender-{name}", mqtt.Client)
    connect(sender, BrokerURL.parse(mosquitto.url))
    sender.publish(f"{topic}/retained", b"kept", qos=1, retain=True).wait_for_publish(10.0)
    transport = _transport(mosquitto)
    try:
        peer = Peer(transport, f"light-{name}")
        kinds: set[str] = set()
        client = peer.conn._client
        deliver = client.on_message
        client.on_message = lambda c, u, m: (kinds.add(type(m).__name__), deliver(c, u, m))
        assert peer.state() == (True, None)
        peer.conn.subscribe(f"{topic}/#")
        handled = [peer.receive()]  # the retained one: subscribed
        for sub_topic, payload, qos in SENT:
            sender.publish(f"{topic}/{sub_topic}", payload, qos=qos).wait_for_publish(10.0)
        handled += [peer.receive() for _ in SENT]
        return [(got.replace(topic, "incoming/NAME"), payload) for got, payload in handled], kinds
    finally:
        transport.close()
        sender.publish(f"{topic}/retained", b"", qos=1, retain=True).wait_for_publish(10.0)
        sender.disconnect()
        sender.loop_stop()


def test_transport_connections_get_what_paho_path_gives(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    light, light_kinds = _handled(mosquitto, "light")
    with monkeypatch.context() as patched:
        patched.setattr(LeanClient, "light_incoming_publishes", lambda _self: None)
        stock, stock_kinds = _handled(mosquitto, "stock")
    assert (light_kinds, stock_kinds) == ({"_IncomingMessage"}, {"MQTTMessage"})
    assert light == stock
    assert light == [("incoming/NAME/retained", b"kept"),
                     *((f"incoming/NAME/{topic}", payload) for topic, payload, _ in SENT)]
