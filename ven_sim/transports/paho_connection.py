"""One MQTT client of a `PahoTransport`: the state machine behind `BaseConnection`.

It knows its transport only as `ConnectionSettings` (paho_settings.py) and an `on_closed`
callback, so this module does not import the transport (no cycle).

Calls from other threads (`publish`, `subscribe`, `close`) only touch a lock-guarded outbox and
queue work on the `NetworkLoop`; everything paho does, and every callback, runs on the loop.
Reconnects use full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt)).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from actors.registry import LazyEvent
from sim.limits import MAX_FILTERS_PER_SUBSCRIBE
from sim.small_queues import ListQueue
from ven_sim.transports import base
from ven_sim.transports.base import BaseConnection, ConnectionStats, MessageHandler, StateHandler
from ven_sim.transports.handshake import Handshake
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.loop_handles import TimerHandle
from ven_sim.transports.paho_settings import ConnectionSettings, ErrorTap
from ven_sim.transports.takeovers import TakeoverWatch

log = logging.getLogger(__name__)

CERT_HINT = "the broker probably rejected the client certificate (missing, or not from its CA)"
TAKEOVER = "another client connected with the same client ID, or the broker dropped the session"
CLOSE_DRAIN_S = 5.0  # close() waits this long for PUBACKs before sending DISCONNECT
FLUSH_BATCH = 256  # publishes per loop callback: a VTN's fan-out goes out over many rounds


class PahoConnection(BaseConnection):
    """One MQTT client: publish/subscribe from any thread, reconnects until closed."""

    # One per VEN in a fleet: with 35 attributes its __dict__ was a dict of its own (2.3 KB).
    __slots__ = (
        "client_id", "stats", "max_inflight", "_settings", "_on_closed", "_loop", "_client",
        "_handler", "_state_handler", "_lock", "_outbox", "_tokens", "_refilled", "_subs",
        "_sub_mids", "_connected", "_closing", "_flush_scheduled", "_overflow_logged",
        "_crashing", "_closed", "_acked", "_refusal", "_socket_error", "_attempt", "_up_since",
        "_timer", "_unacked", "_observer", "_handshake", "_ready_sock", "_handshake_end",
        "_drain", "_reported", "_takeovers",
    )

    def __init__(
        self,
        settings: ConnectionSettings,
        client_id: str,
        client: LeanClient,
        on_message: MessageHandler,
        on_state: StateHandler | None,
        on_closed: Callable[[PahoConnection], None] = lambda _conn: None,
    ) -> None:
        self.client_id = client_id
        self.stats = ConnectionStats()
        self._settings = settings
        self._on_closed = on_closed
        self._loop = settings.loop
        self._client = client
        self._handler, self._state_handler = on_message, on_state
        self._lock = threading.Lock()  # guards _outbox, _subs, _connected, _closing, dropped
        self._outbox: ListQueue[tuple[str, bytes, int]] = ListQueue()  # (topic, payload, qos)
        rate = settings.max_publish_rate
        self._tokens = rate or 0.0  # a token bucket: `rate` per second, bursts up to `rate`
        self._refilled = time.monotonic()
        self._subs: dict[str, int] = {}
        self._sub_mids: dict[int, list[str]] = {}
        self._connected = self._closing = self._flush_scheduled = self._overflow_logged = False
        self._crashing = False  # a ven_crash: the socket is dropped instead of a DISCONNECT
        self._closed = LazyEvent()  # a threading.Event only once someone waits
        self._refusal: str | None = None  # loop-thread state: this attempt, the reconnect policy
        self._socket_error: str | None = None
        self._attempt, self._up_since, self._acked = 0, 0.0, False
        self._timer: TimerHandle | None = None
        # QoS 1 messages given to paho and not yet acknowledged; close() lets them go out first.
        self._unacked: dict[int, float] = {}  # mid -> when it went to paho
        # The in-flight window is ours: paho rescans its whole queue at every PUBACK (O(N^2) for
        # a VTN's command to each of N VENs); here the rest waits in the outbox.
        self.max_inflight = settings.max_inflight
        client.max_inflight_messages_set(0)  # 0: paho sends at once and queues nothing
        self._observer = settings.observer
        self._handshake: Handshake | None = None  # the TCP/TLS attempt under way
        self._ready_sock: Any = None
        self._handshake_end = 0.0
        client._create_socket = self._take_socket  # type: ignore[method-assign]
        self._drain: TimerHandle | None = None
        self._reported: tuple[bool, str | None] | None = None
        self._takeovers: TakeoverWatch | None = None  # made at the first takeover
        client.suppress_exceptions = True  # a paho callback error must not abort loop_read
        client.logger = ErrorTap(self)  # type: ignore[assignment]
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_message, client.on_subscribe = self._on_message, self._on_subscribe
        client.on_publish = self._on_publish

    @property
    def connected(self) -> bool:
        return self._connected

    # -- any thread ---------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message for the loop; while offline keep at most `offline_buffer` of them."""
        base.check_publish(topic, payload, qos)
        limit = self._settings.offline_buffer
        with self._lock:
            if self._closing or (not self._connected and limit == 0):
                self.stats.dropped += 1
                return
            if not self._connected and len(self._outbox) >= limit:
                self._outbox.popleft()  # oldest first: fresh telemetry matters more
                self.stats.dropped += 1
                if not self._overflow_logged:
                    self._overflow_logged = True
                    log.warning("%s: offline buffer full (%d), dropping oldest", self.client_id,
                                limit)
            self._outbox.append((topic, bytes(payload), qos))
            schedule = self._connected and not self._flush_scheduled
            self._flush_scheduled = self._flush_scheduled or schedule
        if schedule:
            self._loop.call_soon(self._flush, self._client)

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        if not topic_filter or qos not in (0, 1):
            raise ValueError(f"bad subscription {topic_filter!r} (QoS {qos}; AWS IoT: 0 or 1)")
        with self._lock:
            self._subs[topic_filter] = qos
            connected = self._connected
        if connected:
            self._loop.call_soon(lambda: self._subscribe_now([(topic_filter, qos)]), self._client)

    def close(self, timeout: float = CLOSE_DRAIN_S + 5.0) -> None:
        """Deliver what is queued, disconnect cleanly, never reconnect. Waits unless on the loop."""
        done = self.close_async()
        if self._loop.running and not self._loop.in_loop_thread():
            done.wait(timeout)

    def crash(self) -> LazyEvent:
        """Die as a process right after its last publish: what is queued still goes out (as
        `close`), then the socket is dropped with no DISCONNECT, so the broker sends the will."""
        self._state_handler, self._crashing = None, True
        return self.close_async()

    def close_async(self) -> LazyEvent:
        with self._lock:
            if self._closing:
                return self._closed
            self._closing = True
        self._loop.call_soon(self._shutdown)
        return self._closed

    # -- loop thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._loop.attach(self._client, self._settings.puback_hold_s)
        url = self._settings.url
        self._client.connect_async(url.host, url.port, keepalive=self._settings.keepalive)
        self._connect()

    def _connect(self) -> None:
        self._timer = None
        if self._closing or self._loop.stopping:
            return
        self._acked, self._refusal, self._socket_error = False, None, None
        client, url = self._client, self._settings.url  # make_client set the client's context
        self._handshake = Handshake(self._loop, url.host, url.port, client._ssl_context,
                                    self._handshaken, client._tls_certificate,
                                    client.take_tls_socket())

    def _handshaken(self, sock: Any, error: BaseException | None, tcp_s: float,
                    tls_s: float) -> None:
        self._handshake = None
        url = self._settings.url
        if error is not None:
            self._failed(error)
            return
        # paho leaves Nagle on: an ack written while a PUBACK is still unacknowledged
        # would wait for the broker's delayed ACK (~40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._observer is not None:
            self._observer("tcp", self.client_id, tcp_s)
            if self._client._ssl_context is not None:
                self._observer("tls", self.client_id, tls_s)
        self._ready_sock = sock
        self._handshake_end = time.monotonic()
        try:
            self._client.reconnect()  # on the ready socket (_take_socket): sends CONNECT
        except Exception as exc:  # noqa: BLE001 - OSError mostly; any other must still retry
            self._ready_sock = None
            self._lost(f"{url}: cannot connect: {exc}")

    def _take_socket(self) -> Any:
        """paho's `_create_socket`, replaced: the socket `Handshake` connected."""
        sock, self._ready_sock = self._ready_sock, None
        if sock is None:
            raise OSError("no connected socket (connect through PahoConnection only)")
        return sock

    def _failed(self, exc: BaseException) -> None:
        url = self._settings.url
        if isinstance(exc, ssl.SSLCertVerificationError):
            self._lost(f"{url}: broker certificate not trusted: {exc.verify_message}")
        elif isinstance(exc, ssl.SSLError):
            self._lost(f"{url}: TLS handshake failed ({exc.reason or exc}); {CERT_HINT}")
        else:
            self._lost(f"{url}: cannot connect: {exc}")

    def _on_connect(self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:  # paho closes the socket next and calls _on_disconnect
            self._refusal = f"connection refused by the broker: {reason}"
            return
        self._acked = True
        if self._observer is not None:
            self._observer("connack", self.client_id, time.monotonic() - self._handshake_end)
        # After this callback paho re-sends its unacknowledged publishes; ours follow them.
        self._loop.call_soon(self._after_connect)

    def _after_connect(self) -> None:
        if not self._acked or not self._client.is_connected() or self._closing:
            return
        with self._lock:
            self._connected = True
            self._overflow_logged = False
            subs = list(self._subs.items())
        self.stats.connects += 1
        self._up_since = time.monotonic()
        if self._attempt:
            log.info("%s: reconnected to %s", self.client_id, self._settings.url)
        self._subscribe_now(subs)
        self._flush()
        self._report(True, None)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was_up = self._connected
        with self._lock:
            self._connected = False
        if was_up:
            self.stats.disconnects += 1
        if self._closing or self._loop.stopping:
            self._finish_close()
            return
        why = self._reason(str(reason))
        if why.endswith(TAKEOVER):
            self._takeovers = self._takeovers or TakeoverWatch(self.client_id)
            why = self._takeovers.explain(why)
        self._lost(why, was_up)

    def _reason(self, reason: str) -> str:
        if self._refusal is not None:
            return self._refusal
        detail = f": {self._socket_error}" if self._socket_error else ""
        if not self._acked:
            if reason == "Keep alive timeout":
                return f"no CONNACK within {self._settings.keepalive} s"
            return f"connection closed before CONNACK; {CERT_HINT}{detail}"
        if reason == "Keep alive timeout":
            return f"keepalive timeout: nothing from the broker for {self._settings.keepalive} s"
        if detail:
            return f"connection lost{detail}"
        return f"broker closed the connection (rc=7): {TAKEOVER}"

    def _lost(self, reason: str, was_up: bool = False) -> None:
        """Record why, tell the owner, and try again after a jittered exponential backoff."""
        self.stats.last_error = reason
        self._report(False, reason)
        base, cap = self._settings.backoff
        if was_up and time.monotonic() - self._up_since >= cap:
            self._attempt = 0  # only a connection that lasted resets: no ping-pong on takeovers
        delay = self._settings.rng.uniform(0.0, min(cap, base * 2 ** min(self._attempt, 30)))
        self._attempt += 1
        level = logging.WARNING if self._attempt == 1 or was_up else logging.INFO
        if reason.startswith("duplicate client ID"):
            level = logging.DEBUG  # said once, at ERROR, by _takeover
        log.log(level, "%s: %s; reconnect attempt %d in %.2f s", self.client_id, reason,
                self._attempt, delay)
        self._timer = self._loop.call_later(delay, self._connect)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        try:
            self._handler(message.topic, message.payload)
        except Exception:  # noqa: BLE001 - the PUBACK and the other clients must go on
            log.exception("%s: on_message failed for %s", self.client_id, message.topic)

    def _subscribe_now(self, subs: list[tuple[str, int]]) -> None:
        for i in range(0, len(subs), MAX_FILTERS_PER_SUBSCRIBE):
            chunk = subs[i : i + MAX_FILTERS_PER_SUBSCRIBE]
            rc, mid = self._client.subscribe(chunk)
            if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                self._sub_mids[mid] = [topic for topic, _ in chunk]

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        filters = self._sub_mids.pop(mid, [])
        refused = [f for f, code in zip(filters, codes, strict=False) if code.is_failure]
        if refused:
            self.stats.last_error = f"subscription refused by the broker: {', '.join(refused)}"
            log.warning("%s: %s", self.client_id, self.stats.last_error)

    def _flush(self, closing: bool = False) -> None:
        rate = self._settings.max_publish_rate
        retry_in, again = None, False
        with self._lock:
            self._flush_scheduled = False
            if not (self._connected or closing):
                return
            if closing:
                batch = self._take(len(self._outbox))
            elif rate is None:  # unpaced: FLUSH_BATCH a round (a first-served VTN: all at once)
                batch = self._take(self._loop.batch_for(self._client, FLUSH_BATCH))
                again = len(batch) == FLUSH_BATCH and bool(self._outbox)
                self._flush_scheduled = again  # the rest next round, after the reads
            else:
                now = time.monotonic()
                self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
                self._refilled = now
                batch = self._take(int(self._tokens))
                self._tokens -= len(batch)
                if self._outbox and self._tokens < 1.0:  # the rest once the bucket refilled
                    self._flush_scheduled = True
                    retry_in = max(0.01, (1.0 - self._tokens) / rate)
        if retry_in is not None:
            self._loop.call_later(retry_in, self._flush)
        elif again:  # the next batch next round, whatever else is queued by then
            self._loop.call_next_round(self._flush)
        for (_topic, _payload, qos), (rc, mid) in zip(batch, self._client.publish_many(batch),
                                                      strict=True):
            # NO_CONN: paho keeps a QoS 1 message and re-sends it after the reconnect.
            if rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                self.stats.published += 1
                if qos:
                    self._unacked[mid] = time.monotonic()
            else:
                with self._lock:
                    self.stats.dropped += 1
                self.stats.last_error = f"publish refused: {mqtt.error_string(rc)}"

    def _take(self, most: int) -> list[tuple[str, bytes, int]]:
        """Up to `most` queued messages, QoS 1 ones while the window has room (lock held)."""
        window = self.max_inflight
        room = len(self._outbox) if window is None else window - len(self._unacked)
        outbox, taken = self._outbox, 0
        while taken < min(most, len(outbox)) and (room > 0 or not outbox[taken][2]):
            room -= outbox[taken][2] > 0
            taken += 1
        batch = outbox[:taken]
        del outbox[:taken]  # one shift of the list for the batch: a fan-out queues thousands
        return batch

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        sent = self._unacked.pop(mid, None)
        if not self._unacked:  # a new dict: an emptied one keeps its table (0.2 KB a VEN)
            self._unacked = {}
        if sent is not None and self._observer is not None:
            self._observer("puback", self.client_id, time.monotonic() - sent)
        closing = self._drain is not None
        if self._outbox:  # held back by the window: a slot is free (flush after this callback)
            with self._lock:
                schedule, self._flush_scheduled = closing or not self._flush_scheduled, True
            if schedule:
                self._loop.call_soon(lambda: self._flush(closing=closing))
        elif closing and not self._unacked:
            self._disconnect()

    def _shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._handshake is not None:
            self._handshake.cancel()
            self._handshake = None
        if self._client.is_connected():
            self._flush(closing=True)
            if self._unacked:  # _on_publish disconnects once the last PUBACK is in
                self._drain = self._loop.call_later(CLOSE_DRAIN_S, self._disconnect)
                return
        if self._client.socket() is not None:
            self._disconnect()  # _on_disconnect finishes once DISCONNECT is written
            return
        self._finish_close()

    def _disconnect(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None
        sock = self._client.socket()
        if self._crashing and sock is not None:
            self._loop.unwatch(sock)
            sock.close()  # no DISCONNECT, no TLS close_notify: the connection just ends
            self._finish_close()
            return
        if self._client.disconnect() == mqtt.MQTT_ERR_NO_CONN:
            self._finish_close()  # no socket, so no _on_disconnect will come

    def _finish_close(self) -> None:
        with self._lock:
            self._connected = False
            self.stats.dropped += len(self._outbox) + len(self._unacked)
            self._outbox.clear()
        self._unacked.clear()
        if self._drain is not None:
            self._drain.cancel()
        self._loop.detach(self._client)
        self._on_closed(self)
        self._closed.set()

    def _report(self, up: bool, reason: str | None) -> None:
        changed, self._reported = self._reported != (up, reason), (up, reason)
        try:
            if changed and self._state_handler is not None:
                self._state_handler(up, reason)
        except Exception:  # noqa: BLE001
            log.exception("%s: on_state failed", self.client_id)
