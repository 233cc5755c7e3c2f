"""LeanClient's PUBLISH packets are paho's bytes, and paho's debug lines are written only
for a logger that takes them. Packets are compared as queued (paho's `_out_packet`) by both
classes on a connected socket pair, never written."""

from __future__ import annotations

import collections
import logging
import socket
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.lean_messages import JOIN_BYTES
from ven_sim.transports.paho_settings import ErrorTap

TOPIC = "ven/ack/ven-bench-000001"
HEADER = 2 + len(TOPIC)  # the topic's length and the topic
# Payload sizes whose remaining length (with a message ID) is either side of each step of
# MQTT's variable-length encoding: 1, 2, 3 and 4 bytes.
EDGES = [0, 1, 127 - HEADER - 2, 128 - HEADER - 2, 16_383 - HEADER - 2, 16_384 - HEADER - 2,
         2_097_151 - HEADER - 2, 2_097_152 - HEADER - 2]


class _Conn:
    """What ErrorTap writes to (a PahoConnection's `_socket_error`)."""

    _socket_error: str | None = None


def _connected(cls: type[mqtt.Client], sock: socket.socket, logger: Any) -> mqtt.Client:
    client = cls(mqtt.CallbackAPIVersion.VERSION2, client_id="lean-packets",
                 protocol=mqtt.MQTTv311)
    client.logger = logger
    client.on_socket_register_write = lambda *_args: None  # an external loop writes
    client._sock = sock  # noqa: SLF001 - "connected": packets are queued, never written
    return client


def _queued(client: mqtt.Client) -> list[tuple[Any, ...]]:
    return [(p["command"], p["mid"], p["qos"], p["pos"], p["to_process"], bytes(p["packet"]))
            for p in client._out_packet]  # noqa: SLF001


@pytest.mark.parametrize("size", EDGES)
def test_publish_packets_are_paho_bytes(size: int, pair: socket.socket) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    stock = _connected(mqtt.Client, pair, None)
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    for client in (stock, lean):
        client.publish(TOPIC, payload, qos=1)  # LeanClient's own QoS 1 publish
        client.publish(TOPIC, payload, qos=0)
        for qos, retain, dup in ((0, True, False), (1, False, True), (1, True, True)):
            client._send_publish(65_535, TOPIC.encode(), payload, qos, retain, dup)  # noqa: SLF001
    assert _queued(lean) == _queued(stock)
    assert {type(p["packet"]) for p in lean._out_packet} == {bytes}  # the join, not paho's


def test_paho_debug_lines_reach_a_logger_that_takes_them(pair: socket.socket) -> None:
    lines: dict[str, list[str]] = {}
    for cls in (mqtt.Client, LeanClient):
        logger = logging.getLogger(f"test.lean_packets.{cls.__name__}")
        logger.setLevel(logging.DEBUG)
        seen = lines[cls.__name__] = []
        handler = logging.Handler()
        handler.emit = lambda record, seen=seen: seen.append(record.getMessage())
        logger.addHandler(handler)
        try:
            client = _connected(cls, pair, logger)
            client.publish(TOPIC, b"payload", qos=1)
            client._send_puback(7)  # noqa: SLF001
        finally:
            logger.removeHandler(handler)
    assert lines["LeanClient"] == lines["Client"]
    assert lines["Client"] == [  # paho's own text: the topic is bytes there
        f"Sending PUBLISH (d0, q1, r0, m1), '{TOPIC.encode()}', ... (7 bytes)",
        "Sending PUBACK (Mid: 7)"]


def test_an_error_tap_gets_errors_and_no_debug_line(pair: socket.socket) -> None:
    logged: list[tuple[int, object]] = []
    conn = _Conn()

    class Tap(ErrorTap):
        __slots__ = ()

        def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
            logged.append((level, msg))
            super().log(level, msg, *args, **kwargs)

    client = _connected(LeanClient, pair, Tap(conn))
    client.publish(TOPIC, b"payload", qos=1)
    client._send_puback(7)  # noqa: SLF001
    client._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", "reset")  # noqa: SLF001
    assert logged == [(logging.ERROR, "failed to receive on socket: %s")]
    assert conn._socket_error == "failed to receive on socket: reset"
    client.on_log = lambda *_args: None  # an on_log reads every line: paho's path again
    client.publish(TOPIC, b"payload", qos=1)
    assert [level for level, _ in logged].count(logging.DEBUG) == 1


def test_a_client_keeps_paho_state_in_slots_without_a_deque() -> None:
    # One client per VEN: paho's 76 attributes in a dict of the client's own were 1.6 KB, its
    # packet queue (a deque) 760 bytes and its condition for waiters about 1 KB.
    first, second = (LeanClient(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
                     for name in ("slots-1", "slots-2"))
    assert vars(first) == {}
    held = [getattr(first, name) for name in type(first).__slots__ if hasattr(first, name)]
    assert not any(isinstance(value, collections.deque) for value in held)
    assert first._published_condition is second._published_condition  # noqa: SLF001


def test_queued_packets_are_joined_a_batch_at_a_time_at_the_head(pair: socket.socket) -> None:
    """What `_packet_write` sends in one go: the head's packets that need nothing once
    written, up to the one that reaches JOIN_BYTES, as one packet of their bytes in order;
    the rest of the queue as it was."""
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    third = JOIN_BYTES // 3 + 1  # three packets of it reach JOIN_BYTES: the third ends a batch
    for n in range(5):
        lean.publish(TOPIC, bytes([n]) * third, qos=1)
    lean.publish(TOPIC, b"qos 0", qos=0)  # paho acts on it once written: never joined
    lean.publish(TOPIC, b"after it", qos=1)
    queued = _queued(lean)
    batches = []
    for _ in range(4):  # each batch joined, then "written"
        lean._join_queued_packets()  # noqa: SLF001
        batches.append(_queued(lean)[0])
        lean._out_packet.popleft()  # noqa: SLF001
    first, second = (b"".join(packet[5] for packet in queued[begin:end])
                     for begin, end in ((0, 3), (3, 5)))
    assert batches == [(0, 0, 0, 0, len(first), first), (0, 0, 0, 0, len(second), second),
                       queued[5], queued[6]]
    assert not lean._out_packet  # noqa: SLF001
