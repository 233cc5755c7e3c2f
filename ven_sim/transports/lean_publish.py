"""LeanClient's publish path (a part of lean_client.py kept apart for its length; see there
for why, and docs/benchmarks.md, "The network loop, third pass").

paho's QoS 1 `publish` makes an `MQTTMessage` and an `MQTTMessageInfo` (with a
`threading.Condition`) per message, takes three locks, and goes through four methods to
queue the packet and call the write-interest hook. Here a QoS 1 message of bytes (MQTT
3.1.1) is kept as paho keeps it (in `_out_messages`, counted in flight, re-sent with DUP
after a reconnect) but its info is made only when someone asks for it (`publish` returns
one; `publish_many`, the network loop's, hands back (rc, mid) pairs), and a batch is queued
under one hold of paho's message lock.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ven_sim.transports.held_writes import HeldWrites
from ven_sim.transports.lean_messages import _MID, MAX_REMAINING_LENGTH, _OutgoingMessage

__all__: list[str] = []  # LeanClient's base; lean_client.py exports the client

_QUEUED = MQTTErrorCode.MQTT_ERR_SUCCESS  # paho's rc for a message queued or sent alike
_PUBACK = struct.Struct("!BBH")  # command, remaining length 2, message ID


class _LeanPublishing(mqtt.Client):
    """paho's client with the QoS 1 publish path above; LeanClient's base."""

    _published_condition: threading.Condition
    # Set by a network loop (`NetworkLoop.attach`): a PUBACK queued alone waits there for
    # the client's next packets (held_writes.py). None: written at once, as paho does.
    puback_holder: HeldWrites | None = None

    def publish(self, topic: str, payload: Any = None, qos: int = 0, retain: bool = False,
                properties: Properties | None = None) -> mqtt.MQTTMessageInfo:
        if not self._light_qos1(topic, payload, qos, retain, properties):
            return super().publish(topic, payload, qos, retain, properties)
        with self._out_message_mutex:
            message, rc = self._publish_qos1(topic, payload)
            # Made under the lock, before a PUBACK read on another thread can mark it.
            info = message.info
        info.rc = rc
        return info

    def publish_many(self, messages: Sequence[tuple[str, bytes, int]]
                     ) -> list[tuple[MQTTErrorCode, int]]:
        """`publish(topic, payload, qos)` for each message in order, as (rc, mid) pairs: the
        same packets in the same order and paho's state as `publish` leaves it, with no
        `MQTTMessageInfo` made and paho's message lock held once. For a client on an
        external loop (`on_socket_register_write` set, no `loop_start` thread: paho calls
        the hook once until the loop unregisters it); any other client publishes one by
        one."""
        if self._thread is not None or self._on_socket_register_write is None:
            return [(info.rc, info.mid) for info in
                    (self.publish(topic, payload, qos) for topic, payload, qos in messages)]
        results: list[tuple[MQTTErrorCode, int]] = []
        with self._out_message_mutex:
            for topic, payload, qos in messages:
                if self._light_qos1(topic, payload, qos, False, None):
                    message, rc = self._publish_qos1(topic, payload)
                    results.append((rc, message.mid))
                else:
                    info = self.publish(topic, payload, qos)
                    results.append((info.rc, info.mid))
        return results

    def _light_qos1(self, topic: str, payload: Any, qos: int, retain: bool,
                    properties: Properties | None) -> bool:
        """Whether a publish takes the light path: QoS 1 bytes, not retained, MQTT 3.1.1, to
        a connected socket, without paho's debug lines (else paho's own `publish`)."""
        return (qos == 1 and type(payload) is bytes and not retain and properties is None
                and bool(topic) and self._protocol != mqtt.MQTTv5 and self._sock is not None
                and not self._logs_debug())

    def _publish_qos1(self, topic: str, payload: bytes
                      ) -> tuple[_OutgoingMessage, MQTTErrorCode]:
        """paho's QoS 1 branch of `publish`, step for step, with the lighter message (paho's
        message lock held by the caller)."""
        topic_bytes = topic.encode("utf-8")
        self._raise_for_invalid_topic(topic_bytes)
        if len(payload) > MAX_REMAINING_LENGTH:
            raise ValueError("Payload too large.")
        mid = self._mid_generate()
        message = _OutgoingMessage(mid, topic_bytes, payload, self._published_condition)
        if ((self._max_queued_messages > 0
             and len(self._out_messages) >= self._max_queued_messages)
                or mid in self._out_messages):
            return message, MQTTErrorCode.MQTT_ERR_QUEUE_SIZE
        self._out_messages[mid] = message
        if (self._max_inflight_messages and
                self._inflight_messages >= self._max_inflight_messages):
            message.state = mqtt.mqtt_ms_queued  # sent at a PUBACK (`_update_inflight`)
            return message, _QUEUED
        self._inflight_messages += 1
        message.state = mqtt.mqtt_ms_wait_for_puback
        packet = _publish_packet(mid, topic_bytes, payload, 1, False, False, self)
        rc = self._packet_queue(mqtt.PUBLISH, packet, mid, 1)
        if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:  # re-sent after the reconnect
            self._inflight_messages -= 1
            message.state = mqtt.mqtt_ms_publish
        return message, rc

    def _send_puback(self, mid: int) -> MQTTErrorCode:
        # paho's PUBACK (`_send_command_with_mid`: the same bytes, queued with QoS 1), and its
        # debug line only if one is read.
        if self._protocol == mqtt.MQTTv5 or self._logs_debug():
            return super()._send_puback(mid)
        packet = _PUBACK.pack(mqtt.PUBACK, 2, mid)
        holder = self.puback_holder
        if (holder is None or self._out_packet or self._registered_write
                or self._thread is not None):
            return self._packet_queue(mqtt.PUBACK, packet, mid, 1)
        # Alone in the queue: queued as paho does, but its write left to the loop, to go
        # with the client's next packets (held_writes.py); a second one is written at once.
        self._out_packet.append({"command": mqtt.PUBACK, "mid": mid, "qos": 1, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": None})
        holder.hold(self, time.monotonic())
        return _QUEUED

    def write_held(self) -> None:
        """Ask for the write of what is queued (a held PUBACK), if anything still is."""
        if self._out_packet:
            self._call_socket_register_write()

    def _send_publish(self, mid: int, topic: bytes, payload: bytes | bytearray = b"",
                      qos: int = 0, retain: bool = False, dup: bool = False,
                      info: mqtt.MQTTMessageInfo | None = None,
                      properties: Properties | None = None) -> mqtt.MQTTErrorCode:
        # paho's packet, byte for byte (MQTT 3.1.1), in one join instead of a bytearray
        # grown a field at a time, and its "Sending PUBLISH" debug line only if one is read.
        remaining = 2 + len(topic) + len(payload) + 2 * (qos > 0)
        if (self._protocol == mqtt.MQTTv5 or type(topic) is not bytes
                or type(payload) not in (bytes, bytearray) or remaining > MAX_REMAINING_LENGTH
                or self._logs_debug()):
            return super()._send_publish(mid, topic, payload, qos, retain, dup, info,
                                         properties)
        if self._sock is None:
            return mqtt.MQTTErrorCode.MQTT_ERR_NO_CONN
        packet = _publish_packet(mid, topic, payload, qos, retain, dup, self)
        return self._packet_queue(mqtt.PUBLISH, packet, mid, qos, info)

    def _do_on_publish(self, mid: int, reason_code: ReasonCode,
                       properties: Properties) -> MQTTErrorCode:
        # paho's steps at a PUBACK (its message lock held by the caller), for a light message
        # without the info paho would mark published (made, and marked, if one was asked for).
        message = self._out_messages.get(mid)
        if (type(message) is not _OutgoingMessage
                or self._callback_api_version != mqtt.CallbackAPIVersion.VERSION2):
            return super()._do_on_publish(mid, reason_code, properties)
        on_publish = self._on_publish
        if on_publish is not None:
            with self._in_callback_mutex:
                try:
                    on_publish(self, self._userdata, mid, reason_code, properties)
                except Exception as err:
                    self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_publish: %s",
                                   err)
                    if not self.suppress_exceptions:
                        raise
        del self._out_messages[mid]
        message.set_published()
        self._inflight_messages -= 1
        if self._max_inflight_messages > 0:
            return self._update_inflight()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _logs_debug(self) -> bool:
        """Whether paho's debug lines go anywhere: to an `on_log`, or to a logger that takes
        them (a `logging.Logger` by its level; ErrorTap keeps errors only)."""
        logger = self._logger
        return self._on_log is not None or (logger is not None
                                            and logger.isEnabledFor(logging.DEBUG))


def _publish_packet(mid: int, topic: bytes, payload: bytes | bytearray, qos: int,
                    retain: bool, dup: bool, client: mqtt.Client) -> bytes:
    """An MQTT 3.1.1 PUBLISH packet, paho's bytes (`client` encodes a long remaining length)."""
    remaining = 2 + len(topic) + len(payload) + 2 * (qos > 0)
    command = mqtt.PUBLISH | (dup & 0x1) << 3 | qos << 1 | retain
    # The command byte and the remaining length: one byte below 128, two below 16,384 (a
    # fleet's payloads), else paho's encoding.
    if remaining < 0x80:
        header = bytes((command, remaining))
    elif remaining < 0x4000:
        header = bytes((command, remaining & 0x7F | 0x80, remaining >> 7))
    else:
        header = client._pack_remaining_length(bytearray((command,)), remaining)
    return b"".join((header, _MID.pack(len(topic)), topic,
                     _MID.pack(mid) if qos > 0 else b"", payload))
