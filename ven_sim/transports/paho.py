"""`Transport` over real MQTT (AWS IoT Core, mosquitto, the embedded broker): paho clients on
one shared `NetworkLoop` thread; mutual TLS, QoS 1, offline buffer, reconnect with backoff.

`publish`, `subscribe` and `close` may be called from any thread: they queue work for the loop
thread, where paho and the callbacks (`on_message`, `on_state`) run. AWS IoT limits enforced:
keepalive 30-1200 s, payload <= 128 KB, QoS 0 or 1. A second connection with the same client ID
kicks the first; MQTT 3.1.1 shows that only as the broker closing the socket (paho rc=7).
"""

from __future__ import annotations

import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import paho.mqtt.client as mqtt

from sim.limits import KEEPALIVE_RANGE_S, OFFLINE_BUFFER_MESSAGES
from ven_sim.transports.base import BaseTransport, MessageHandler, StateHandler
from ven_sim.transports.client_tls import ClientCertificate, SharedClientContext
from ven_sim.transports.endpoints import check_tls_files
from ven_sim.transports.handshake import handshake_window, resolve
from ven_sim.transports.held_writes import PUBACK_HOLD_S
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.mqtt import BrokerURL, TlsFiles, make_client
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.paho_connection import PahoConnection
from ven_sim.transports.paho_settings import ConnectionSettings

__all__ = ["PahoConnection", "PahoTransport", "TlsSource"]

TlsSource = TlsFiles | Callable[[str], TlsFiles] | None
PREPARE_TURN = 100  # clients `prepare_many` prepares in one loop callback: about 60 ms


class PahoTransport(BaseTransport):
    """Opens `PahoConnection`s; all of them share one `NetworkLoop` (its own unless given)."""

    def __init__(
        self,
        url: BrokerURL | str,
        tls: TlsSource,
        *,
        keepalive: int = 60,
        loop: NetworkLoop | None = None,
        offline_buffer: int = OFFLINE_BUFFER_MESSAGES,
        max_publish_rate: float | None = None,
        backoff: tuple[float, float] = (1.0, 60.0),
        rng: random.Random | None = None,
        alpn: tuple[str, ...] = (),
        observer: Callable[[str, str, float], None] | None = None,
        max_inflight: int | None = 20,
        max_tls_version: ssl.TLSVersion | None = None,
        puback_hold_s: float = PUBACK_HOLD_S,
    ) -> None:
        low, high = KEEPALIVE_RANGE_S
        if isinstance(keepalive, bool) or not low <= keepalive <= high:
            raise ValueError(f"keepalive must be {low}..{high} s (AWS IoT limits): {keepalive}")
        if offline_buffer < 0:
            raise ValueError(f"offline_buffer must be >= 0: {offline_buffer}")
        if not 0 < backoff[0] <= backoff[1]:
            raise ValueError(f"backoff must be (base, cap) with 0 < base <= cap: {backoff}")
        if max_inflight is not None and max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1 or None (no limit): {max_inflight}")
        if not puback_hold_s >= 0:
            raise ValueError(f"puback_hold_s must be >= 0 (0: at once): {puback_hold_s}")
        self.url = BrokerURL.parse(url) if isinstance(url, str) else url
        self.keepalive = int(keepalive)
        self.offline_buffer = offline_buffer
        # AWS IoT allows 100 publishes/s per connection; above it messages are throttled.
        self.max_publish_rate = max_publish_rate
        self.backoff = backoff
        self.rng = rng or random.Random()
        # AWS IoT on port 443 picks MQTT by ALPN ("x-amzn-mqtt-ca") for networks blocking 8883.
        self.alpn = alpn
        self.observer = observer  # see ConnectionSettings.observer
        self.max_inflight = max_inflight  # QoS 1 publishes awaiting PUBACK, per connection
        # None: the highest both sides support. A fleet may pin TLS 1.2 (docs/fleet.md).
        self.max_tls_version = max_tls_version
        self.puback_hold_s = puback_hold_s  # see ConnectionSettings.puback_hold_s
        self.loop = loop or NetworkLoop()
        self._tls = tls
        self._owns_loop = loop is None
        self._lock = threading.Lock()
        self._connections: set[PahoConnection] = set()
        self._prepared: dict[str, mqtt.Client] = {}  # prepare()d clients waiting for open()
        # One TLS context per CA (with a client certificate or without) for all the clients;
        # each connection's own certificate is loaded into it at its handshake (client_tls.py).
        self._contexts: dict[tuple[Path, bool], SharedClientContext] = {}
        self._starting = 0  # opened, their start() not yet run on the loop (under _lock)
        self._settings: ConnectionSettings | None = None  # the connections' latest
        self._closed = False

    def open(
        self, client_id: str, on_message: MessageHandler, on_state: StateHandler | None = None,
        *, will: tuple[str, bytes] | None = None, serve_first: bool = False,
    ) -> PahoConnection:
        """Create the client (TLS files are loaded here, errors raise) and connect in the loop.
        `serve_first`: a VTN's connection, served ahead of the rest (`NetworkLoop.serve_first`)."""
        with self._lock:
            client = self._prepared.pop(client_id, None)
        client = client or self._make_client(client_id)
        if will is not None:
            client.will_set(will[0], will[1], qos=1)
        settings = ConnectionSettings(
            self.url, self.keepalive, self.loop, self.offline_buffer, self.max_publish_rate,
            self.backoff, self.rng, self.observer, self.max_inflight, self.puback_hold_s,
        )
        if settings != self._settings:  # frozen: one shared while the fields stand (166 B a VEN)
            self._settings = settings
        conn = PahoConnection(self._settings, client_id, client, on_message, on_state,
                              self._forget)
        with self._lock:
            if self._closed:
                raise RuntimeError("transport is closed")
            if self._owns_loop and not self.loop.running:
                self.loop.start()
            self._connections.add(conn)
            self._starting += 1
        if serve_first:
            self.loop.call_soon(lambda: self.loop.serve_first(client))
        self.loop.call_soon(lambda: self._start(conn))
        return conn

    def _start(self, conn: PahoConnection) -> None:
        with self._lock:
            self._starting -= 1
        conn.start()

    def connect_window_full(self) -> bool:
        """True while the connections opened and not yet through their TCP/TLS handshake
        fill the loop's handshake window (handshake.py): a ramp should wait, not open more
        (they would only queue, and their connect times would measure the queue)."""
        busy, window = handshake_window(self.loop)
        return self._starting + busy >= window

    def sibling(self, url: BrokerURL) -> PahoTransport:
        """A transport to `url` with these settings and certificates, on this one's loop
        (a fault-injecting proxy in front of the same broker). Close it before this one."""
        sibling = PahoTransport(
            url, self._tls, keepalive=self.keepalive, loop=self.loop,
            offline_buffer=self.offline_buffer, max_publish_rate=self.max_publish_rate,
            backoff=self.backoff, rng=self.rng, alpn=self.alpn, observer=self.observer,
            max_tls_version=self.max_tls_version, puback_hold_s=self.puback_hold_s,
        )
        return sibling

    def prepare_many(self, client_ids: Sequence[str],
                     progress: Callable[[int], None] | None = None) -> None:
        """`prepare` each client, on the network loop's thread (started now if this transport
        owns it), PREPARE_TURN at a time so the loop serves its connections between turns;
        returns once all are prepared, `progress(n)` after each turn.

        On the loop's thread because glibc gives each thread a malloc arena of its own, and
        memory freed in an arena is reused only by the threads allocating from it. Each
        connection lets go of its certificate and key on the loop's thread once its
        handshake is done (own_certificate.py): loaded on the caller's thread, that memory
        was left in its arena, freed but unused (10,000 VENs: 63.4 KB a VEN against 57.8).
        """
        with self._lock:
            if self._owns_loop and not self.loop.running:
                self.loop.start()
        count = len(client_ids)

        def prepare_turn(start: int) -> int:
            end = min(start + PREPARE_TURN, count)
            for client_id in client_ids[start:end]:
                self.prepare(client_id)
            if progress is not None:
                progress(end)
            return end

        if not self.loop.running or self.loop.in_loop_thread():
            prepared = 0
            while prepared < count:
                prepared = prepare_turn(prepared)
            return
        done = threading.Event()
        errors: list[BaseException] = []

        def turn(start: int) -> None:
            try:
                end = prepare_turn(start)
            except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
                errors.append(exc)
                end = count
            if end < count:
                self.loop.call_soon(lambda: turn(end))
            else:
                done.set()

        if count:
            self.loop.call_soon(lambda: turn(0))
            while not done.wait(0.5):
                if not self.loop.running:
                    raise RuntimeError("the network loop stopped while clients were prepared")
        if errors:
            raise errors[0]

    def prepare(self, client_id: str) -> None:
        """Create `client_id`'s client now, for a later `open()`, with the TLS socket of its
        first connect: its certificate loaded and its SSL object made (client_tls.py).

        A load test ramps connects at a set rate: loading a key and certificate takes about
        half a millisecond of CPU that would otherwise slow the ramp and its connect times.
        """
        client = self._make_client(client_id)
        context = client._ssl_context
        if isinstance(context, SharedClientContext):
            family, kind, proto, _, _address = resolve(self.url.host, self.url.port)[0]
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            try:
                client._tls_socket = context.prepare(client._tls_certificate, sock,
                                                     self.url.host)
            except (OSError, ValueError):
                sock.close()  # its first connect loads the files again, and says why
        with self._lock:
            self._prepared[client_id] = client

    def _make_client(self, client_id: str) -> LeanClient:
        tls = self._tls(client_id) if callable(self._tls) else self._tls
        certificate = ClientCertificate.of(tls) if tls is not None else None
        context = self._context_for(tls, certificate) if self.url.tls and tls else None
        client = cast(LeanClient, make_client(client_id, self.url, tls, client_class=LeanClient,
                                              context=context))
        client._tls_certificate = certificate
        # Its handler reads a message's topic and payload, the same on the light path
        # (tests/ven_sim/transports/test_light_incoming.py), without paho's per-message objects.
        client.light_incoming_publishes()
        return client

    def _context_for(self, tls: TlsFiles,
                     certificate: ClientCertificate | None) -> SharedClientContext:
        """The clients' context for `tls`'s CA, made on first use; `tls`'s files checked, and
        the first certificate loaded: a wrong --cert/--key pair fails open(), not each
        connect. (Another client's pair that does not load fails its connects, by name.)"""
        check_tls_files(tls)  # a missing or encrypted file fails open(), not each handshake
        key = (tls.ca, certificate is not None)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = SharedClientContext(tls.ca)
                if certificate is not None:
                    context.check(certificate)
                if self.max_tls_version is not None:
                    context.maximum_version = self.max_tls_version
                if self.alpn:
                    context.set_alpn_protocols(list(self.alpn))
                self._contexts[key] = context
        return context

    def close(self, timeout: float = 10.0) -> None:
        """Disconnect every connection cleanly; stop the loop if this transport made it."""
        with self._lock:
            self._closed = True
            connections = list(self._connections)
            for unopened in self._prepared.values():
                unopened.take_tls_socket(close=True)
            self._prepared.clear()
        done = [conn.close_async() for conn in connections]
        if self.loop.running and not self.loop.in_loop_thread():
            deadline = time.monotonic() + timeout
            for event in done:
                event.wait(max(0.0, deadline - time.monotonic()))
        if self._owns_loop:
            self.loop.stop(timeout)
        for context in self._contexts.values():
            context.close()

    def _forget(self, conn: PahoConnection) -> None:
        with self._lock:
            self._connections.discard(conn)
