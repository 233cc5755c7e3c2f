"""The embedded broker: mutual TLS enforced, QoS 1 delivered, `$aws/` topics usable, clean stop."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from amqtt.errors import BrokerError

from tests.ven_sim.helpers import TIMEOUT_S, Probe
from ven_sim.broker.embedded import EmbeddedBroker
from ven_sim.certs.local_ca import LocalCA
from ven_sim.transports.mqtt import BrokerURL, MQTTConnectError, TlsFiles, connect, make_client
from ven_sim.transports.paho import PahoConnection, PahoTransport


def _try_connect(url: str, tls: TlsFiles | None) -> None:
    parsed = BrokerURL.parse(url)
    client = make_client("intruder", parsed, tls)
    connect(client, parsed, TIMEOUT_S)
    client.disconnect()
    client.loop_stop()


def test_client_without_certificate_is_refused(embedded_broker: EmbeddedBroker) -> None:
    with pytest.raises(MQTTConnectError, match="client certificate"):
        _try_connect(embedded_broker.url, TlsFiles(embedded_broker.ca_path))


def test_client_certificate_from_another_ca_is_refused(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    foreign = LocalCA(tmp_path).client_cert("intruder")
    tls = TlsFiles(embedded_broker.ca_path, foreign.cert, foreign.key)
    with pytest.raises(MQTTConnectError):
        _try_connect(embedded_broker.url, tls)


def test_broker_not_trusted_without_its_ca(embedded_broker: EmbeddedBroker, tmp_path: Path) -> None:
    other = LocalCA(tmp_path)
    mine = other.client_cert("ven-001")
    with pytest.raises(MQTTConnectError, match="not trusted"):
        _try_connect(embedded_broker.url, TlsFiles(other.ca_path, mine.cert, mine.key))


@pytest.mark.parametrize("topic", ["ven/ven-001/telemetry", "$aws/things/ven-001/shadow/update"])
def test_qos1_round_trip_with_client_certificate(
    embedded_broker: EmbeddedBroker, topic: str
) -> None:
    subscriber = Probe(embedded_broker, "ven-sub")
    publisher = Probe(embedded_broker, "ven-pub")
    try:
        subscriber.subscribe(topic, qos=1)
        publisher.publish(topic, b'{"kw": 1.5}', qos=1)
        assert subscriber.receive() == (topic, b'{"kw": 1.5}', 1)
    finally:
        publisher.close()
        subscriber.close()


def test_qos1_burst_is_delivered_in_order(embedded_broker: EmbeddedBroker) -> None:
    count = 300
    subscriber = Probe(embedded_broker, "burst-sub")
    publisher = Probe(embedded_broker, "burst-pub")
    try:
        subscriber.subscribe("burst/#", qos=1)
        start = time.perf_counter()
        infos = [publisher.client.publish("burst/n", str(i), qos=1) for i in range(count)]
        received = [int(subscriber.receive()[1]) for _ in range(count)]
        elapsed = time.perf_counter() - start
        for info in infos:  # every PUBACK came back too
            info.wait_for_publish(TIMEOUT_S)
        assert all(info.is_published() for info in infos)
        assert received == list(range(count))
        print(f"\nembedded broker: {count} QoS1 messages over mTLS in {elapsed:.2f} s")
    finally:
        publisher.close()
        subscriber.close()


def test_plain_listener_has_no_tls(embedded_broker: EmbeddedBroker) -> None:
    assert embedded_broker.plain_url is not None
    _try_connect(embedded_broker.plain_url, None)


def test_optional_client_certificate(tmp_path: Path) -> None:
    with EmbeddedBroker(LocalCA(tmp_path), require_client_cert=False) as broker:
        _try_connect(broker.url, TlsFiles(broker.ca_path))


def test_stop_closes_the_port(tmp_path: Path) -> None:
    broker = EmbeddedBroker(LocalCA(tmp_path)).start()
    port = broker.port
    broker.stop()
    broker.stop()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S).close()


def test_busy_port_fails_start(embedded_broker: EmbeddedBroker, tmp_path: Path) -> None:
    taken = EmbeddedBroker(LocalCA(tmp_path), port=embedded_broker.port)
    with pytest.raises(BrokerError):
        taken.start()
    assert not taken.running


def test_a_takeover_is_logged_and_a_reconnect_is_not(
    embedded_broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """An rc=7 on a client says only that the broker closed its connection; the broker's log
    tells a takeover (a second CONNECT with a client ID in use) from any other close."""
    thing = "ven-takeover"
    losses: list[str] = []

    def transport() -> PahoTransport:  # no reconnect within the test after a loss
        return PahoTransport(embedded_broker.url, lambda cid: TlsFiles.from_paths(
            embedded_broker.client_cert(cid)), backoff=(60.0, 60.0))

    def up(connection: PahoConnection) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not connection.connected:
            assert time.monotonic() < deadline, "never connected"
            time.sleep(0.02)

    first, second, third = transport(), transport(), transport()
    try:
        earlier = first.open(thing, lambda *_: None)
        up(earlier)
        earlier.close()  # a clean disconnect, then the same ID again: a reconnect
        kept = second.open(thing, lambda *_: None,
                           lambda ok, why: None if ok or why is None else losses.append(why))
        up(kept)
        assert not _takeovers(caplog, thing)
        up(third.open(thing, lambda *_: None))  # a second copy while the first is up
        deadline = time.monotonic() + TIMEOUT_S
        while not losses:
            assert time.monotonic() < deadline, "the first copy was never closed"
            time.sleep(0.02)
    finally:
        for each in (first, second, third):
            each.close()
    assert "rc=7" in losses[0]
    assert len(_takeovers(caplog, thing)) == 1


def _takeovers(caplog: pytest.LogCaptureFixture, thing: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ven_sim.broker.embedded"
            and r.getMessage() == f"client {thing} already connected, closing old connection"]
