"""A LeanClient reading on the light path calls its callbacks as paho's own path does:
`message_callback_add` filters first (then not `on_message`), `on_message` otherwise, and an
exception in it is logged and the client goes on (mosquitto, mTLS)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt

from tests.ven_sim.transports.test_lean_client import _client
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.endpoints import BrokerURL
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import connect

# (topic under the test's prefix, payload): "boom" makes on_message raise.
# "d" removes both filters: the messages after it go to on_message, past no filter at all.
SENT = [("plain/1", b"a"), ("filtered/x", b"b"), ("plain/2", b"c"), ("filtered/y/z", b"d"),
        ("plain/boom", b"boom"), ("removed/1", b"e"), ("filtered/2", b"f")]


def _callbacks_seen(mosquitto: Mosquitto, name: str, cls: type[mqtt.Client],
                    light: bool) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """Which callback got each message, in order, and the error lines paho logged."""
    prefix = f"callbacks/{name}"
    seen: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
    errors: list[str] = []
    client = _client(mosquitto, f"callbacks-{name}", cls)
    client.suppress_exceptions = True  # as PahoConnection sets it: logged, and go on
    if light:
        assert isinstance(client, LeanClient)
        client.light_incoming_publishes()
        client.read_whole_packets()

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload == b"boom":
            raise RuntimeError("on_message failed")
        seen.put(("on_message", message.topic.replace(name, "NAME"), message.payload))

    def filtered(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        seen.put(("filtered", message.topic.replace(name, "NAME"), message.payload))
        if message.payload == b"d":
            client.message_callback_remove(f"{prefix}/filtered/#")
            client.message_callback_remove(f"{prefix}/removed/#")

    client.on_message = on_message
    client.message_callback_add(f"{prefix}/filtered/#", filtered)
    client.message_callback_add(f"{prefix}/removed/#", filtered)
    client.on_log = lambda _c, _u, level, line: (
        errors.append(line) if level == mqtt.MQTT_LOG_ERR else None)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    sender = _client(mosquitto, f"callbacks-sender-{name}", mqtt.Client)
    connect(client, BrokerURL.parse(mosquitto.url))
    connect(sender, BrokerURL.parse(mosquitto.url))
    try:
        client.subscribe(f"{prefix}/#", qos=1)
        assert subscribed.wait(10.0)
        for topic, payload in SENT:
            sender.publish(f"{prefix}/{topic}", payload, qos=1).wait_for_publish(10.0)
        got = [seen.get(timeout=10.0) for _ in range(len(SENT) - 1)]  # all but "boom"
        return got, list(errors)  # before disconnecting (paho may log about it)
    finally:
        for each in (client, sender):
            each.disconnect()
            each.loop_stop()


def test_light_path_calls_filters_and_on_message_as_paho_does(mosquitto: Mosquitto) -> None:
    stock = _callbacks_seen(mosquitto, "stock", mqtt.Client, light=False)
    light = _callbacks_seen(mosquitto, "light", LeanClient, light=True)
    assert light == stock
    got, errors = light
    assert got == [
        ("on_message", "callbacks/NAME/plain/1", b"a"),
        ("filtered", "callbacks/NAME/filtered/x", b"b"),
        ("on_message", "callbacks/NAME/plain/2", b"c"),
        ("filtered", "callbacks/NAME/filtered/y/z", b"d"),
        ("on_message", "callbacks/NAME/removed/1", b"e"),
        ("on_message", "callbacks/NAME/filtered/2", b"f"),
    ]
    assert errors == ["Caught exception in on_message: on_message failed"]
