"""LeanClient's messages and packet helpers: what paho's per-packet paths make, lighter
(see lean_client.py for why). A part of lean_client.py kept apart for its length: it has no
other users, so nothing here is exported."""

from __future__ import annotations

import struct
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_MID = struct.Struct("!H")
MAX_REMAINING_LENGTH = 268_435_455  # MQTT's largest packet body (four length bytes)
MAX_LENGTH_BYTES = 4  # MQTT's remaining length takes 1-4 bytes, 7 bits each
JOIN_BYTES = 65536  # at most this much in one joined write (four TLS records)
_ON_WRITTEN = (mqtt.DISCONNECT, mqtt.PUBLISH)  # paho acts on these once written (PUBLISH: QoS 0)
# What paho's decoder makes for every MQTT 3.1.1 PUBACK (reason "Success", no properties),
# made once: callbacks get the same values, without two objects per PUBACK.
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)


class _SharedConditionInfo(mqtt.MQTTMessageInfo):
    """An `MQTTMessageInfo` on its client's condition instead of one of its own."""

    __slots__ = ()

    def __init__(self, mid: int, condition: threading.Condition) -> None:  # noqa: D107
        self.mid = mid
        self._published = False
        self._condition = condition
        self.rc = mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        self._iterpos = 0

    def _set_as_published(self) -> None:
        with self._condition:
            self._published = True
            self._condition.notify_all()  # shared: every waiter checks its own message


class _OutgoingMessage(mqtt.MQTTMessage):
    """A QoS 1 message as paho's `publish` stores it, its info made on the first access (on
    the client's shared condition): in a fleet nobody asks, and a PUBACK then marks none."""

    __slots__ = ("_condition", "_made_info")  # paho's own `info` slot is left unused

    def __init__(self, mid: int, topic: bytes, payload: bytes,  # noqa: D107
                 condition: threading.Condition) -> None:
        self.timestamp = mqtt.time_func()
        self.state = mqtt.mqtt_ms_invalid
        self.dup = False
        self.mid = mid
        self._topic = topic
        self.payload = payload
        self.qos = 1
        self.retain = False
        self.properties = None
        self._condition = condition
        self._made_info: mqtt.MQTTMessageInfo | None = None

    @property
    def info(self) -> mqtt.MQTTMessageInfo:  # type: ignore[override]
        if self._made_info is None:
            self._made_info = _SharedConditionInfo(self.mid, self._condition)
        return self._made_info

    @info.setter
    def info(self, info: mqtt.MQTTMessageInfo) -> None:
        self._made_info = info

    def set_published(self) -> None:
        """At its PUBACK: its info, if one was handed out, is marked published."""
        if self._made_info is not None:  # else nobody has one to wait on
            self._made_info._set_as_published()


class _IncomingMessage(mqtt.MQTTMessage):
    """A received PUBLISH as paho's `_handle_publish` makes it, without the
    `MQTTMessageInfo` (and its `threading.Condition`) paho makes for every message it
    receives, which nothing reads: made on the rare access instead."""

    __slots__ = ()

    def __init__(self, command: int, mid: int, topic: bytes,  # noqa: D107
                 payload: bytes) -> None:
        self.timestamp = mqtt.time_func()
        self.state = mqtt.mqtt_ms_invalid
        self.dup = bool(command & 0x08)
        self.mid = mid
        self._topic = topic
        self.payload = payload
        self.qos = (command & 0x06) >> 1
        self.retain = bool(command & 0x01)
        self.properties = None

    @property
    def info(self) -> mqtt.MQTTMessageInfo:  # type: ignore[override]
        return mqtt.MQTTMessageInfo(self.mid)


def _acted_on_once_written(packet: dict[str, Any]) -> bool:
    """Whether paho acts on a queued packet once it is written (QoS 0 PUBLISH, DISCONNECT)."""
    kind = packet["command"] & 0xF0
    return kind in _ON_WRITTEN and (kind != mqtt.PUBLISH or packet["qos"] == 0)


def _whole_packet_header(buffer: memoryview, at: int) -> tuple[int, int] | None:
    """(remaining length, where the body starts) of the packet at `at` if all of it is in
    `buffer`; None if it is not, or its remaining length runs past four bytes (paho's reads
    then refuse it, closing the connection), or its command byte is 0 (reserved; paho's reads
    take a 0 for "no packet begun")."""
    end = len(buffer)
    if not buffer[at]:
        return None
    if at + 1 < end and buffer[at + 1] < 0x80:  # a one-byte length: most packets here
        body = at + 2
        return (buffer[at + 1], body) if body + buffer[at + 1] <= end else None
    length = shift = 0
    for position in range(at + 1, min(at + 1 + MAX_LENGTH_BYTES, end)):
        byte = buffer[position]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            body = position + 1
            return (length, body) if body + length <= end else None
        shift += 7
    return None
