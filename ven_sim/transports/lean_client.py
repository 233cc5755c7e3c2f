"""A paho client with lighter QoS 1 publish and PUBACK paths, for many clients on one loop.

Every VEN publishes telemetry on two topics every few seconds, QoS 1, and reads a PUBACK for
each. paho spends most of that Python work on objects nobody here reads: a
`threading.Condition` per published message (its `MQTTMessageInfo`, for `wait_for_publish`),
and per PUBACK a `ReasonCode` and a `Properties` that MQTT 3.1.1 does not even carry (the
packet is its two-byte message ID). A profile of a fleet at steady state put those at about
a tenth of the process's Python time (docs/benchmarks.md, "Steady CPU and the ramp").

`LeanClient` keeps paho's behaviour and state (its `_out_messages`, in-flight count, re-sends
after a reconnect, callbacks with the same arguments) and changes these, for MQTT 3.1.1
only: a QoS 1 publish of bytes shares one condition per client among its messages' infos
(`wait_for_publish` still works: each waiter checks its own message), an info made only for
a caller that can wait on it, and a batch queued at once (lean_publish.py), and a PUBACK is read
with one `struct` call and handed to `on_publish` with a shared success reason code and empty
properties. A client that opts in (`light_incoming_publishes`: the shadow service's, every
`PahoTransport`'s: a fleet's VENs and probe, a run's, a live VEN's) also reads
an incoming QoS 0 or 1 PUBLISH with two `struct` calls, without paho's per-message objects
and its "Received PUBLISH" debug line. Everything else (MQTT 5, the QoS 2 flow, PUBCOMP)
is paho's own.

And it writes the packets queued at once in one `send`: paho sends each packet on its own,
an `SSL_write` (a TLS record, a system call, a GIL hand-over) each, so a VEN's telemetry on
two topics cost two of each, and on loopback the sender's system call also does the
receiving side's TCP work. Packets paho must act on once written (a QoS 0 PUBLISH: its
`on_publish`; DISCONNECT: the socket's close) go on their own, as before. The others are
sent a joined batch (`JOIN_BYTES`) at a time without paho's write loop around them, until
the queue is empty or the socket's buffer full: a VTN's fan-out too, which paho's loop sent
a packet a write after its first batch. A PUBLISH packet
(MQTT 3.1.1) is made in one join, paho's bytes; paho's per-packet debug lines are passed on
only to a logger that takes them (`_logs_debug`: not the connections' ErrorTap).

On its own `loop_start()` thread (the shadow service's client), a packet queued by a
callback is left for the loop to write next, without paho's wake-up byte through a socket
pair.

And, on a `BufferedTlsSocket` (which holds what one `SSL_read` returned, usually a whole TLS
record), it reads a packet that is all there with a few slices: paho reads the command byte,
the remaining length a byte at a time and then the body, each a `recv` and several Python
steps, the largest single item of a fleet's steady CPU. A PUBACK, and a PUBLISH on the light
path, are handled from the buffer (the light message goes straight to `on_message` unless a
`message_callback_add` filter is set); any other packet goes to paho's own `_packet_handle`
with the state paho's reads leave for it. A packet not all there yet (split across records
or reads), or a remaining length that is not plainly valid, is read by paho's own
`_packet_read`, which keeps a partial packet in
`_in_packet` until its next call; one call still reads at most one packet, so `loop_read`'s
per-call packet cap is paho's.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.client import MalformedPacket
from paho.mqtt.enums import MQTTErrorCode

from sim.small_queues import ListQueue
from ven_sim.transports.client_tls import ClientCertificate
from ven_sim.transports.lean_messages import (
    _MID,
    _NO_PROPERTIES,
    _PUBACK_SUCCESS,
    JOIN_BYTES,
    _acted_on_once_written,
    _IncomingMessage,
    _whole_packet_header,
)
from ven_sim.transports.lean_publish import _LeanPublishing
from ven_sim.transports.tls_reads import BufferedTlsSocket

__all__ = ["LeanClient"]

_PUBLISHED = threading.Condition()  # every client's: see LeanClient.__init__


def _paho_instance_attributes() -> tuple[str, ...]:
    """The attributes paho's `Client.__init__` sets (76 in paho 2.2), read off a client made
    for it (no socket, no thread), less any name a class of paho's defines."""
    probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    defined = {name for kind in mqtt.Client.__mro__ for name in vars(kind)}
    return tuple(name for name in vars(probe) if name not in defined)


class LeanClient(_LeanPublishing):
    """`mqtt.Client` with the QoS 1 publish and PUBACK paths above (MQTT 3.1.1), and, opted
    into, the light incoming PUBLISH."""

    # One per VEN: paho's attributes in slots (8 bytes each), not in a dict of its own of
    # 1.6 KB; a name not among them still goes to the instance's dict, as before.
    __slots__ = (*_paho_instance_attributes(), "_published_condition", "_light_incoming",
                 "_tls_certificate", "_tls_socket")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # paho's queue of packets to write, and the condition a waiter for a publish waits
        # on, made small: a deque each per client was 760 bytes, a Condition (its RLock and
        # waiters' deque) about 1 KB. The condition is the process's: it is notified to all,
        # and each waiter checks its own message (lean_messages.py); in a fleet none waits.
        self._out_packet = ListQueue()  # type: ignore[assignment]
        self._published_condition = _PUBLISHED
        self._light_incoming = False
        # The client's own certificate, loaded into its shared context at each handshake
        # (client_tls.py); None: the context's own, or none.
        self._tls_certificate: ClientCertificate | None = None
        self._tls_socket: Any = None  # its first connect's, prepared (PahoTransport.prepare)

    def take_tls_socket(self, *, close: bool = False) -> Any:
        """The prepared TLS socket for this client's next connect, once (None: none);
        `close`: closed instead (a client never opened)."""
        sock, self._tls_socket = self._tls_socket, None
        if close and sock is not None:
            sock.close()
            return None
        return sock

    def light_incoming_publishes(self) -> None:
        """Read each incoming QoS 0 or 1 PUBLISH (MQTT 3.1.1) with two `struct` calls into
        an `_IncomingMessage`: paho's decoder and message cost about 7 µs a message, for a
        shadow service a few percent of its time; paho's "Received PUBLISH" debug line is not
        logged for them. Opt-in (the shadow service's client, `PahoTransport`'s clients)."""
        self._light_incoming = True

    def read_whole_packets(self) -> None:
        """Have the sockets paho itself opens over TLS (`tls_set`, `connect`: a client on its
        own `loop_start()` thread) be `BufferedTlsSocket`s, so packets are read whole. The
        network loop's clients get theirs from `handshake` already."""
        context = self._ssl_context
        if context is not None:
            # SSLContext.wrap_socket makes its sockets with this class's own factory.
            context.sslsocket_class = BufferedTlsSocket

    def _easy_log(self, level: int, fmt: str, *args: Any) -> None:
        # paho hands its logger a debug line for nearly every packet: a call, and its
        # logger's level check, per packet; skipped where the logger would drop it.
        if level != mqtt.MQTT_LOG_DEBUG or self._logs_debug():
            super()._easy_log(level, fmt, *args)  # type: ignore[arg-type]

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> mqtt.MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or self._protocol == mqtt.MQTTv5 or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)  # paho decodes, and refuses a bad one
        return self._puback(_MID.unpack(packet)[0])

    def _call_on_message(self, message: _IncomingMessage) -> None:
        """paho's `_handle_on_message` for a client without `message_callback_add` filters:
        `on_message` as paho calls it, without the topic decoded (twice) and matched against
        no filter (a generator and a closure per message)."""
        on_message = self._on_message
        if on_message is None:
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def _puback(self, mid: int) -> mqtt.MQTTErrorCode:
        """An MQTT 3.1.1 PUBACK for `mid`: `on_publish` with paho's arguments."""
        with self._out_message_mutex:
            if mid in self._out_messages:  # a duplicate PUBACK is ignored, as paho does
                return self._do_on_publish(mid, _PUBACK_SUCCESS, _NO_PROPERTIES)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_publish(self) -> MQTTErrorCode:
        message = self._light_message(self._in_packet["command"], self._in_packet["packet"])
        if message is None:
            return super()._handle_publish()
        return self._deliver(message)

    def _light_message(self, command: int,
                       packet: bytes | bytearray | memoryview) -> _IncomingMessage | None:
        """The PUBLISH packet's message as paho's `decode_publish` reads it (MQTT 3.1.1: topic
        length, topic, message ID at QoS 1), if this client reads it on the light path and the
        packet is well formed; None for paho's own path (which refuses a malformed one)."""
        qos = (command & 0x06) >> 1
        if (not self._light_incoming or qos > 1 or self._protocol == mqtt.MQTTv5
                or self._manual_ack):
            return None
        topic_end = 2 + (_MID.unpack_from(packet)[0] if len(packet) >= 2 else 0)
        payload_at = topic_end + 2 * qos
        if topic_end == 2 or len(packet) < payload_at:
            return None
        mid = _MID.unpack_from(packet, topic_end)[0] if qos else 0
        return _IncomingMessage(command, mid, bytes(packet[2:topic_end]),
                                bytes(packet[payload_at:]))

    def _deliver(self, message: _IncomingMessage) -> MQTTErrorCode:
        """paho's steps for a received QoS 0 or 1 message: `on_message`, then the PUBACK."""
        if self._on_message_filtered._root._children:  # message_callback_add's filters
            self._handle_on_message(message)
        else:
            self._call_on_message(message)
        if message.qos == 0:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._send_puback(message.mid)

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: mqtt.MQTTMessageInfo | None = None) -> mqtt.MQTTErrorCode:
        if self._thread is None or threading.current_thread() is not self._thread:
            return super()._packet_queue(command, packet, mid, qos, info)
        # On its own `loop_start()` thread (a callback answering a message, its PUBACK): the
        # loop asks `want_write()` before it next waits, so paho's wake-up byte to itself
        # (a system call per packet, and a wake-up) is not needed. Otherwise paho's steps.
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        self._call_socket_register_write()
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> mqtt.MQTTErrorCode:
        queue, sock = self._out_packet, self._sock
        # The usual case: packets that need nothing once written, joined and sent a
        # JOIN_BYTES batch per `send`, until the queue is empty or the socket's buffer full
        # (a VTN's fan-out: paho's loop sent each packet after the first batch on its own).
        # paho's own loop writes anything else, the rest of a partial send, and a send that
        # failed (tried again: its errors, its way); a send refused for a full buffer waits
        # for the socket, as paho's would. (A whole write leaves `_last_msg_out` as paho's
        # loop does: it sets it only on a send of nothing.)
        while queue and type(sock) is BufferedTlsSocket:
            self._join_queued_packets()
            packet = queue[0]
            if packet["pos"] or _acted_on_once_written(packet):
                break
            try:
                sent = sock.send(packet["packet"])
            except ssl.SSLWantWriteError:  # the socket's buffer is full: as paho does,
                self._call_socket_register_write()  # wait until it is writable
                return mqtt.MQTTErrorCode.MQTT_ERR_AGAIN
            except (OSError, ValueError):
                break
            if sent != packet["to_process"]:
                if sent > 0:
                    packet["to_process"] -= sent
                    packet["pos"] += sent
                break
            queue.popleft()
        if not queue:
            return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        self._join_queued_packets()  # (another socket's packets: joined once, as before)
        return super()._packet_write()

    def _join_queued_packets(self) -> None:
        """Replace the packets at the head of paho's queue that need nothing once written,
        none of them partly sent, by one packet of their bytes in order. The batch is counted
        first, then replaced in one slice assignment (one C call: a list's pop(0) per packet
        moved the rest of a fan-out's thousands each time). Only the head is touched: another
        thread's publish appends at the tail meanwhile."""
        queue = self._out_packet
        count = size = 0
        while count < len(queue) and size < JOIN_BYTES:
            packet = queue[count]
            if packet["pos"] or _acted_on_once_written(packet):
                break
            count += 1
            size += packet["to_process"]
        if count < 2:
            return
        joined = b"".join([packet["packet"] for packet in queue[:count]])
        # Command 0 (reserved in MQTT) is neither PUBLISH nor DISCONNECT: nothing to do once
        # it is written; the QoS 1 publishes in it are done at their PUBACKs, as before.
        queue[:count] = [{"command": 0, "mid": 0, "qos": 0, "pos": 0,
                          "to_process": len(joined), "packet": joined, "info": None}]

    def _packet_read(self) -> MQTTErrorCode:
        sock = self._sock
        in_packet = self._in_packet
        if (in_packet["command"] or in_packet["remaining_count"]
                or type(sock) is not BufferedTlsSocket or self._protocol == mqtt.MQTTv5):
            return super()._packet_read()  # e.g. the rest of a packet paho has begun
        try:
            read = sock.read_buffer()
        except ssl.SSLWantReadError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except ssl.SSLWantWriteError:
            self._call_socket_register_write()
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:  # as paho's reads report it
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if read is None:  # the kernel holds nothing for it (checked without a TLS read)
            return MQTTErrorCode.MQTT_ERR_AGAIN
        buffer, at = read
        if at >= len(buffer):  # EOF: the broker closed the connection
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        header = _whole_packet_header(buffer, at)
        if header is None:
            return super()._packet_read()  # paho reads it from the buffer on, as it arrives
        length, body = header
        end = body + length
        sock.consumed(end)
        command = buffer[at]
        # The two packets a fleet's client reads most, handled from the buffer (paho's
        # handlers, without its `_in_packet` state, a copy of the body and `_packet_handle`'s
        # dispatch): a PUBACK, and a PUBLISH on the light path. Any other, paho's way.
        if command == mqtt.PUBACK and length == 2:
            rc = self._puback(_MID.unpack_from(buffer, body)[0])
        elif (command & 0xF0 == mqtt.PUBLISH
              and (message := self._light_message(command, buffer[body:end])) is not None):
            rc = self._deliver(message)
        else:
            rc = self._handle_whole_packet(command, length, buffer[body:end])
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        return rc

    def _handle_whole_packet(self, command: int, length: int,
                             body: memoryview) -> MQTTErrorCode:
        """paho's `_packet_handle` on a packet read whole, with the state paho's byte-wise
        reads leave for it (remaining_count, the length's bytes, is only read by those reads)."""
        in_packet = self._in_packet
        in_packet["command"] = command
        in_packet["have_remaining"] = 1
        in_packet["remaining_length"] = length
        in_packet["packet"] = bytearray(body)
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        # Back to "no packet begun", as paho leaves it (were it replaced meanwhile, by a
        # reconnect in a callback, the new one is already so).
        in_packet["command"] = in_packet["have_remaining"] = in_packet["remaining_length"] = 0
        in_packet["packet"] = bytearray()
        return rc
