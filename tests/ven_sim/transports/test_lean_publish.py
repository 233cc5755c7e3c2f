"""LeanClient's publish path: `publish_many` queues paho's packets in paho's order and leaves
paho's state as publishing one by one does, in-flight limits included; a QoS 1 message is
re-sent with DUP after a reconnect and its PUBACK then completes it, info or none.

Packets are compared as queued (paho's `_out_packet`) on a connected socket pair; the
re-send runs against a broker this test plays on loopback, which can leave PUBLISHes
unacknowledged and drop the connection (mosquitto acknowledges everything at once)."""

from __future__ import annotations

import select
import socket
import struct
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.ven_sim.transports.test_lean_packets import _Conn, _connected, _queued
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.lean_messages import (
    _NO_PROPERTIES,
    _PUBACK_SUCCESS,
    _whole_packet_header,
)
from ven_sim.transports.paho_settings import ErrorTap

TOPIC = "ven/ack/ven-bench-000001"
# QoS 1 bytes (the light path) at each step of the remaining length's encoding, between
# messages paho publishes itself: QoS 0, a str payload, a bytearray, retained.
BATCH: list[tuple[str, Any, int]] = [
    (TOPIC, b"a", 1),
    (TOPIC, b"b" * 200, 1),
    ("ven/telemetry", b"q0", 0),
    (TOPIC, "text", 1),
    (TOPIC, b"c" * 20_000, 1),
    (TOPIC, bytearray(b"d" * 10), 1),
    (TOPIC, b"e" * 2_100_000, 1),
]
CONNACK = bytes([0x20, 2, 0, 0])
TIMEOUT_S = 10.0


def _state(client: mqtt.Client) -> list[tuple[Any, ...]]:
    """paho's own bookkeeping of the messages it keeps (QoS 1), in order."""
    return [(m.mid, m.state, m.dup, m.qos, m.retain, m.topic, bytes(m.payload))
            for m in client._out_messages.values()] + [client._inflight_messages]  # noqa: SLF001


def _one_by_one(client: mqtt.Client) -> list[tuple[int, int]]:
    return [(info.rc, info.mid) for info in
            (client.publish(topic, payload, qos) for topic, payload, qos in BATCH)]


@pytest.mark.parametrize("max_inflight", [0, 3])
def test_publish_many_queues_paho_packets_and_state(max_inflight: int,
                                                    pair: socket.socket) -> None:
    stock = _connected(mqtt.Client, pair, None)
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    lean.on_socket_register_write = lambda *_args: None  # an external loop: the batch path
    for client in (stock, lean):
        client.max_inflight_messages_set(max_inflight)
    assert lean.publish_many(BATCH) == _one_by_one(stock)
    assert _queued(lean) == _queued(stock)
    assert _state(lean) == _state(stock)
    # A PUBACK (paho's steps at one) frees a slot: the next queued message is sent.
    for client in (stock, lean):
        client._out_packet.clear()  # noqa: SLF001 - "written"
        with client._out_message_mutex:  # noqa: SLF001 - held by paho's caller
            client._do_on_publish(2, _PUBACK_SUCCESS, _NO_PROPERTIES)  # noqa: SLF001
    assert _queued(lean) == _queued(stock)
    assert _state(lean) == _state(stock)


def test_a_client_on_its_own_thread_publishes_one_by_one(pair: socket.socket) -> None:
    """No external loop (a `loop_start()` client, or none): paho's wake-ups and writes."""
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    lean.on_socket_register_write = None
    stock = _connected(mqtt.Client, pair, None)
    stock.on_socket_register_write = None
    stock_infos = [stock.publish(topic, payload, qos) for topic, payload, qos in BATCH[:2]]
    # Without a loop paho writes each packet at once: both write all of them to the pair.
    assert lean.publish_many(BATCH[:2]) == [(info.rc, info.mid) for info in stock_infos]
    assert _queued(lean) == _queued(stock) == []


class _Broker:
    """One connection at a time on loopback: reads whole MQTT packets, writes given bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT_S)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(TIMEOUT_S)

    def packet(self) -> tuple[int, bytes]:
        assert self.conn is not None
        command = self._exactly(1)[0]
        length = shift = 0
        while True:
            byte = self._exactly(1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return command, self._exactly(length)

    def _exactly(self, size: int) -> bytes:
        assert self.conn is not None
        data = b""
        while len(data) < size:
            chunk = self.conn.recv(size - len(data))
            assert chunk, "the client closed the connection"
            data += chunk
        return data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def _publish_fields(body: bytes) -> tuple[bytes, int, bytes]:
    """(topic, message ID, payload) of a QoS 1 PUBLISH body."""
    (size,) = struct.unpack_from("!H", body)
    (mid,) = struct.unpack_from("!H", body, 2 + size)
    return body[2:2 + size], mid, body[4 + size:]


def _write(client: mqtt.Client) -> None:
    """The external loop's part: write what is queued."""
    client.loop_write()


def _read(client: mqtt.Client) -> None:
    """The external loop's part: once the socket is readable, read what arrived."""
    assert select.select([client.socket()], [], [], TIMEOUT_S)[0], "nothing arrived"
    client.loop_read()


def test_unacknowledged_messages_are_resent_with_dup_after_a_reconnect() -> None:
    broker = _Broker()
    client = LeanClient(mqtt.CallbackAPIVersion.VERSION2, client_id="lean-resend",
                        protocol=mqtt.MQTTv311)
    client.on_socket_register_write = lambda *_args: None  # written by _serve, as the loop
    acked: list[int] = []
    client.on_publish = lambda _c, _u, mid, _reason, _props: acked.append(mid)
    try:
        client.connect("127.0.0.1", broker.port, keepalive=60)
        broker.accept()
        _write(client)
        assert broker.packet()[0] == mqtt.CONNECT
        broker.conn.sendall(CONNACK)  # type: ignore[union-attr]
        _read(client)
        results = client.publish_many([("t/a", b"first", 1), ("t/b", b"second", 1)])
        info = client.publish("t/c", b"third", qos=1)  # one that is waited on
        _write(client)
        sent = [broker.packet() for _ in range(3)]
        assert [command for command, _ in sent] == [0x32] * 3  # QoS 1, no DUP
        mids = [mid for _, mid in results] + [info.mid]
        assert [_publish_fields(body)[1] for _, body in sent] == mids
        # The connection drops with nothing acknowledged; the client reconnects.
        broker.conn.close()  # type: ignore[union-attr]
        _read(client)  # the EOF: paho closes its socket
        assert client.socket() is None
        client.reconnect()
        broker.accept()
        _write(client)
        assert broker.packet()[0] == mqtt.CONNECT
        broker.conn.sendall(CONNACK)  # type: ignore[union-attr]
        _read(client)  # the CONNACK: paho queues the re-sends
        _write(client)
        resent = [broker.packet() for _ in range(3)]
        assert [command for command, _ in resent] == [0x3A] * 3  # QoS 1 with DUP
        assert [_publish_fields(body) for _, body in resent] == [
            (b"t/a", mids[0], b"first"), (b"t/b", mids[1], b"second"),
            (b"t/c", mids[2], b"third")]
        broker.conn.sendall(b"".join(  # type: ignore[union-attr]
            bytes((0x40, 2)) + struct.pack("!H", mid) for mid in mids))
        while len(acked) < len(mids):
            _read(client)
        assert acked == mids
        assert info.is_published()
        assert not client._out_messages and client._inflight_messages == 0  # noqa: SLF001
    finally:
        client._sock_close()  # noqa: SLF001
        broker.close()


def test_pubacks_are_paho_bytes(pair: socket.socket) -> None:
    stock = _connected(mqtt.Client, pair, None)
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    for client in (stock, lean):
        for mid in (1, 255, 256, 65_535):
            client._send_puback(mid)  # noqa: SLF001 - what answers a QoS 1 PUBLISH
    assert _queued(lean) == _queued(stock)


@pytest.mark.parametrize("length", [0, 2, 127, 128, 300, 16_383, 16_384])
def test_a_packet_header_is_read_whole_only_when_the_packet_is(length: int) -> None:
    """(length, body start) for a whole packet at any offset; None for one cut short."""
    body = bytes(length % 256 for _ in range(length))
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # paho's length encoding
    packet = bytes(client._pack_remaining_length(bytearray((mqtt.PUBLISH,)), length)) + body  # noqa: SLF001
    buffer = memoryview(b"\x40\x02\x00\x01" + packet)
    assert _whole_packet_header(buffer, 4) == (length, len(buffer) - length)
    assert _whole_packet_header(buffer[:-1], 4) is None


def test_a_refused_topic_leaves_what_was_queued_before_it_to_be_written(
    pair: socket.socket,
) -> None:
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    hooks: list[Any] = []
    lean.on_socket_register_write = lambda *_args: hooks.append(1)
    with pytest.raises(ValueError, match="wildcards"):
        lean.publish_many([(TOPIC, b"a", 1), ("ven/+/acks", b"b", 1)])
    assert [packet[1] for packet in _queued(lean)] == [1]  # the first, by its mid
    assert hooks == [1]
