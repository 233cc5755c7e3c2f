"""A test MQTT client that queues what it receives, for asserting on exact message sequences."""

from __future__ import annotations

import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from ven_sim.certs.local_ca import CertPaths, LocalCA
from ven_sim.transports.client_tls import ClientCertificate
from ven_sim.transports.mqtt import BrokerURL, TlsFiles, connect, make_client

TIMEOUT_S = 10.0


def mutual_tls_listener(ca: LocalCA, host: str = "127.0.0.1"
                        ) -> tuple[ssl.SSLContext, socket.socket]:
    """A server context requiring a client certificate of `ca`, and a listening socket on
    `host` (any port) for it to wrap."""
    server = ca.server_cert([host])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(server.cert), str(server.key))
    context.load_verify_locations(str(ca.ca_path))
    context.verify_mode = ssl.CERT_REQUIRED
    return context, socket.create_server((host, 0))


def client_certificate(ca: LocalCA, name: str) -> ClientCertificate:
    """`name`'s certificate and key, minted by `ca`, as a fleet connection is given them."""
    certificate = ClientCertificate.of(TlsFiles.from_paths(ca.client_cert(name)))
    assert certificate is not None
    return certificate


class Broker(Protocol):
    """What both the mosquitto fixture and EmbeddedBroker offer."""

    @property
    def url(self) -> str: ...

    def client_cert(self, client_id: str) -> CertPaths: ...


class Probe:
    """Connects with its own client certificate; every received message lands in `inbox`."""

    def __init__(self, broker: Broker, client_id: str) -> None:
        self.url = BrokerURL.parse(broker.url)
        tls = TlsFiles.from_paths(broker.client_cert(client_id))
        self.client = make_client(client_id, self.url, tls)
        self.inbox: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
        self._subacks: queue.Queue[list[Any]] = queue.Queue()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self._subacks.put(codes)
        connect(self.client, self.url, TIMEOUT_S)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.inbox.put((message.topic, message.payload, message.qos))

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.client.subscribe(topic_filter, qos)
        codes = self._subacks.get(timeout=TIMEOUT_S)
        assert not any(code.is_failure for code in codes), codes

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        """Publish and wait for the PUBACK (QoS 1) so ordering assertions hold."""
        info = self.client.publish(topic, payload, qos)
        info.wait_for_publish(TIMEOUT_S)
        assert info.is_published(), f"no PUBACK for {topic}"

    def receive(self) -> tuple[str, bytes, int]:
        return self.inbox.get(timeout=TIMEOUT_S)

    def receive_json(self, topic: str) -> dict[str, Any]:
        """The next message, which must be on `topic`."""
        got_topic, payload, _ = self.receive()
        assert got_topic == topic, f"expected {topic}, got {got_topic}: {payload!r}"
        return json.loads(payload)

    def close(self) -> None:
        done = threading.Event()
        self.client.on_disconnect = lambda *_a: done.set()
        self.client.disconnect()
        done.wait(TIMEOUT_S)
        self.client.loop_stop()


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` (wall seconds, generous) has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
