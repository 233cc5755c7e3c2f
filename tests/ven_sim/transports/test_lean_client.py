"""LeanClient on mosquitto with mTLS: QoS 1 publishes and PUBACKs as paho's own client does."""

from __future__ import annotations

import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from sim.limits import MAX_PAYLOAD_BYTES
from tests.ven_sim.helpers import wait_for
from tests.ven_sim.transports.test_paho import Peer, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.endpoints import BrokerURL, TlsFiles
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import connect, make_client
from ven_sim.transports.tls_reads import READ_CHUNK, BufferedTlsSocket, wrap_client

MESSAGES = 300
HOST = "127.0.0.1"
CONNACK = bytes([0x20, 2, 0, 0])  # MQTT 3.1.1, session not present, accepted


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


@pytest.mark.parametrize("tls_read_bytes", [1, 3, 7, 100])
def test_packets_split_across_reads_arrive_whole(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, tls_read_bytes: int,
) -> None:
    """Each `SSL_read` returns at most a few bytes, so most packets (the sink's PUBLISHes, the
    source's PUBACKs) are split between reads, some in their remaining length: each is read
    by paho's reads from where the buffer ends, and the next whole one by slices again.
    Fewer packets than the loop reads per wake-up, so none waits in OpenSSL unseen."""
    transport = _transport(mosquitto)
    tls_recv = ssl.SSLSocket.recv

    def short_reads(self: ssl.SSLSocket, buflen: int = 1024, flags: int = 0) -> bytes:
        return tls_recv(self, min(buflen, tls_read_bytes), flags)

    try:
        sink = Peer(transport, f"lean-split-sink-{tls_read_bytes}")
        assert sink.state() == (True, None)
        sink.listen("lean/split/#", "lean/split/echo")
        source = Peer(transport, f"lean-split-source-{tls_read_bytes}")
        assert source.state() == (True, None)
        monkeypatch.setattr(ssl.SSLSocket, "recv", short_reads)
        payloads = [b"%02d" % n + b"y" * (n * 53 % 300) for n in range(40)]
        for payload in payloads:
            source.conn.publish("lean/split/n", payload)
        assert [sink.receive() for _ in payloads] == [("lean/split/n", p) for p in payloads]
        unacked = source.conn._client._out_messages  # noqa: SLF001 - paho's bookkeeping
        deadline = time.monotonic() + 10.0
        while unacked and time.monotonic() < deadline:  # every PUBACK read
            time.sleep(0.01)
        assert not unacked
    finally:
        transport.close()


def test_payload_at_the_limit_spans_records_between_small_packets(
    mosquitto: Mosquitto,
) -> None:
    """A MAX_PAYLOAD_BYTES message spans several TLS records (paho's reads, record by
    record) between small ones taken whole: all arrive whole, in order."""
    transport = _transport(mosquitto)
    try:
        sink = Peer(transport, "lean-large-sink")
        assert sink.state() == (True, None)
        sink.listen("lean/large/#", "lean/large/echo")
        large = bytes(range(256)) * (MAX_PAYLOAD_BYTES // 256)
        assert len(large) == MAX_PAYLOAD_BYTES >= 8 * READ_CHUNK
        payloads = [b"before", large, b"after", large[:READ_CHUNK - 3], b"last"]
        for payload in payloads:
            sink.conn.publish("lean/large/n", payload)
        assert [sink.receive() for _ in payloads] == [("lean/large/n", p) for p in payloads]
        assert sink.conn._client.socket().pending() == 0  # noqa: SLF001 - nothing left over
    finally:
        transport.close()


@pytest.fixture
def one_record_broker(mosquitto: Mosquitto) -> Iterator[tuple[int, list[bytes], queue.Queue[bool]]]:
    """A TLS server on loopback, certified by the mosquitto fixture's CA, that answers each
    connection's CONNECT with what the test put in `script`, in one `sendall` (one TLS record
    under 16 KB), then reads until the client closes; `closed` gets True for each such close."""
    server_cert = mosquitto.ca.server_cert()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert.cert, server_cert.key)
    listener = socket.create_server((HOST, 0))
    script: list[bytes] = []
    closed: queue.Queue[bool] = queue.Queue()
    over = threading.Event()
    listener.settimeout(0.1)  # so the server sees `over` (closing does not end an accept)

    def serve() -> None:
        while not over.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            with context.wrap_socket(raw, server_side=True) as conn:
                conn.settimeout(10.0)
                assert conn.recv(4096)[0] == 0x10  # CONNECT (small: one record)
                conn.sendall(b"".join(script))
                while conn.recv(4096):  # until the client closes
                    pass
                closed.put(True)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1], script, closed
    finally:
        over.set()
        server.join(15.0)
        listener.close()


def _publish_packet(topic: bytes, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH (remaining length under 128: one byte)."""
    body = len(topic).to_bytes(2, "big") + topic + payload
    assert len(body) < 128
    return bytes([0x30, len(body)]) + body


def _read_until_down(mosquitto: Mosquitto, port: int, cls: type[mqtt.Client],
                     messages_expected: int) -> dict[str, Any]:
    """A `cls` client on a `BufferedTlsSocket` to the one-record broker, run with paho's own
    `loop()` until the connection is gone (closed by the client once `messages_expected`
    messages came): the messages it delivered and why it ended."""
    client = _client(mosquitto, f"lean-record-{cls.__name__}", cls)
    context = client._ssl_context  # noqa: SLF001 - the context make_client configured
    assert context is not None
    sock = wrap_client(context, socket.create_connection((HOST, port), timeout=10.0), HOST)
    sock.do_handshake()
    client._create_socket = lambda: sock  # type: ignore[method-assign]  # noqa: SLF001
    messages: list[tuple[str, bytes]] = []
    ended: list[str] = []
    client.on_message = lambda _c, _u, msg: messages.append((msg.topic, msg.payload))
    client.on_disconnect = lambda _c, _u, _f, reason, _p: ended.append(str(reason))
    client.connect(HOST, port)
    deadline = time.monotonic() + 10.0
    while not ended and time.monotonic() < deadline:
        if len(messages) >= messages_expected and client.is_connected():
            client.disconnect()
        client.loop(0.05)
    return {"messages": messages, "ended": ended, "open": client.socket() is not None}


def test_many_packets_in_one_record_are_read_as_paho_reads_them(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
    one_record_broker: tuple[int, list[bytes], queue.Queue[bool]],
) -> None:
    port, script, closed = one_record_broker
    expected = [(f"record/{n}", b"m%03d" % n) for n in range(60)]
    script += [CONNACK] + [_publish_packet(t.encode(), p) for t, p in expected]
    tls_reads: list[int] = []
    tls_recv = ssl.SSLSocket.recv

    def counted(self: ssl.SSLSocket, buflen: int = 1024, flags: int = 0) -> bytes:
        data = tls_recv(self, buflen, flags)
        tls_reads.append(len(data))
        return data

    monkeypatch.setattr(ssl.SSLSocket, "recv", counted)
    lean = _read_until_down(mosquitto, port, LeanClient, len(expected))
    assert closed.get(timeout=10.0)
    assert len(b"".join(script)) in tls_reads  # all of it came in one SSL_read
    stock = _read_until_down(mosquitto, port, mqtt.Client, len(expected))
    assert closed.get(timeout=10.0)
    assert lean == stock == {"messages": expected, "ended": ["Normal disconnection"],
                             "open": False}


def test_malformed_remaining_length_closes_the_connection_as_paho_does(
    mosquitto: Mosquitto, one_record_broker: tuple[int, list[bytes], queue.Queue[bool]],
) -> None:
    """A remaining length of five bytes (MQTT allows four) after a good PUBLISH, in the
    same record: the PUBLISH is delivered, then the client closes the connection with
    paho's protocol error, whichever class."""
    port, script, closed = one_record_broker
    script += [CONNACK, _publish_packet(b"good", b"before"),
               bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), b"z" * 40]
    results = []
    for cls in (LeanClient, mqtt.Client):
        results.append(_read_until_down(mosquitto, port, cls, 2))  # never 2: it fails first
        assert closed.get(timeout=10.0)
    lean, stock = results
    assert lean == stock
    assert lean["messages"] == [("good", b"before")]
    assert lean["open"] is False
    assert len(lean["ended"]) == 1 and lean["ended"] != ["Normal disconnection"]


def test_own_thread_client_reads_whole_packets_from_a_buffered_socket(
    mosquitto: Mosquitto,
) -> None:
    """`read_whole_packets` (the shadow service's client, on paho's own thread and TLS
    connect): its socket is a `BufferedTlsSocket`; small messages around ones that span
    several records all arrive whole and in order, and each is answered from the callback
    (queued on the loop's own thread, no wake-up byte) and that answer arrives too; every
    PUBACK is read."""
    answers: queue.Queue[bytes] = queue.Queue()
    client = _client(mosquitto, "lean-own-thread", LeanClient)
    assert isinstance(client, LeanClient)
    client.read_whole_packets()
    subscribed = threading.Event()

    def on_message(c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == "lean/own/in":
            c.publish("lean/own/out", b"re:" + message.payload, qos=1)
        else:
            answers.put(message.payload)

    client.on_message = on_message
    client.on_subscribe = lambda *_args: subscribed.set()
    connect(client, BrokerURL.parse(mosquitto.url))
    try:
        assert type(client.socket()) is BufferedTlsSocket
        client.subscribe("lean/own/#", 1)
        large = bytes(range(256)) * (MAX_PAYLOAD_BYTES // 256 - 1)
        payloads = [b"first", large, b"x" * 300, large[: READ_CHUNK + 5], b"last"]
        assert subscribed.wait(10.0)
        infos = [client.publish("lean/own/in", payload, qos=1) for payload in payloads]
        got = [answers.get(timeout=10.0) for _ in payloads]
        assert got == [b"re:" + payload for payload in payloads]
        for info in infos:
            info.wait_for_publish(10.0)
        assert all(info.is_published() for info in infos)
        assert wait_for(lambda: not client._out_messages, 10.0)  # noqa: SLF001 - PUBACKs read
    finally:
        client.disconnect()
        client.loop_stop()


def _receive_all(mosquitto: Mosquitto, name: str,
                 light: bool) -> tuple[list[tuple[Any, ...]], set[str]]:
    """A retained QoS 1 message, then QoS 0 and QoS 1 ones (empty payload, a 16 KB one,
    a non-ASCII topic) as a LeanClient's on_message saw them, every field paho sets; and
    the classes of the messages it was given."""
    kinds: set[str] = set()
    received: queue.Queue[tuple[Any, ...]] = queue.Queue()
    sender = _client(mosquitto, f"light-sender-{name}", mqtt.Client)
    connect(sender, BrokerURL.parse(mosquitto.url))
    topic = f"incoming/{name}"
    sender.publish(f"{topic}/retained", b"kept", qos=1, retain=True).wait_for_publish(10.0)
    client = _client(mosquitto, f"light-{name}", LeanClient)
    if light:
        client.light_incoming_publishes()
    client.on_message = lambda _c, _u, m: (kinds.add(type(m).__name__), received.put(
        (m.topic, m.payload, m.qos, m.retain, m.dup, m.mid > 0, m.properties,
         m.info.mid == m.mid)))
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    connect(client, BrokerURL.parse(mosquitto.url))
    try:
        client.subscribe(f"{topic}/#", qos=1)
        assert subscribed.wait(10.0)
        sent = [(f"{topic}/ünï", b"", 1), (f"{topic}/a", b"x" * 16384, 0),
                (f"{topic}/b", b"y", 1)]
        for sub_topic, payload, qos in sent:
            sender.publish(sub_topic, payload, qos=qos).wait_for_publish(10.0)
        seen = [received.get(timeout=10.0) for _ in range(1 + len(sent))]
        return [(item[0].replace(name, "NAME"), *item[1:]) for item in seen], kinds
    finally:
        sender.publish(f"{topic}/retained", b"", qos=1, retain=True).wait_for_publish(10.0)
        for each in (client, sender):
            each.disconnect()
            each.loop_stop()


def test_light_incoming_publishes_reach_on_message_as_paho_delivers_them(
    mosquitto: Mosquitto,
) -> None:
    stock, stock_kinds = _receive_all(mosquitto, "stock", light=False)
    light, light_kinds = _receive_all(mosquitto, "light", light=True)
    assert (stock_kinds, light_kinds) == ({"MQTTMessage"}, {"_IncomingMessage"})
    assert light == stock
    assert [(topic, qos, retain) for topic, _, qos, retain, *_ in light] == [
        ("incoming/NAME/retained", 1, True), ("incoming/NAME/ünï", 1, False),
        ("incoming/NAME/a", 0, False), ("incoming/NAME/b", 1, False)]
