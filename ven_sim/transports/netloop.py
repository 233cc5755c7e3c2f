"""One thread, one `selectors` loop, many paho clients.

paho's `loop_start()` costs a thread (and a select() of its own) per client and stalls at a few
hundred clients per process. Here every client registers its socket with one selector (two,
nested: readiness.py) through paho 2's hooks (`on_socket_open/close`, `..._(un)register_write`),
and the loop thread calls `loop_read`, `loop_write` and, about once a second, `loop_misc`
(keepalive pings) for each of them. Packets queued during a round are written at its end;
only a socket whose send buffer is full is watched for writability. (A PUBACK queued alone
waits for the client's next packets, at most PUBACK_HOLD_S: held_writes.py.) A round's work
is bounded (ready clients, queued calls, packets per client), so a burst takes several short
rounds and handshakes and timers are served in each; but a `serve_first` connection (a VTN)
is served ahead of the others, read until its socket is empty, its calls and publishes not
held back.

paho clients are not thread-safe, so every call on them happens on the loop thread: other
threads hand work over with `call_soon(fn)` (a queue plus a socketpair that wakes the selector),
and `call_later(delay, fn)` keeps a timer heap (reconnect backoff). A guest (`host`: a fleet
worker's kernel) runs a round of its own in each round, after the reads, on this thread.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt

from ven_sim.transports.held_writes import PUBACK_HOLD_S, LoopHolds
from ven_sim.transports.loop_handles import TimerHandle, Timers, _Watch, client_name, pending_bytes
from ven_sim.transports.readiness import Readiness

if TYPE_CHECKING:
    from ven_sim.kernel import Guest

log = logging.getLogger(__name__)

MISC_INTERVAL_S = 1.0  # keepalive bookkeeping; far below the 30 s minimum keepalive
MISC_SLICES = 20  # each MISC_INTERVAL_S/MISC_SLICES, loop_misc for 1/MISC_SLICES of the clients
STOP_GRACE_S = 2.0  # how long stop() lets DISCONNECT packets drain before closing sockets
# Work one round does at most, so a burst (a fan-out, a ramp) cannot make a round seconds
# long: handshakes (at most MAX_HANDSHAKES under way) and timers are served every round.
MAX_READS_PER_ROUND = 256  # ready clients served; the rest wait in order for the next rounds
MAX_CALLS_PER_ROUND = 256  # call_soon callbacks (flushes, subscribes) run
MAX_PACKETS_PER_READ = 64  # packets one ready client may read per round
# A guest's (host) share of a round: as long as the round's reads, and at least this long.
GUEST_SLICE_S = 0.002
MAX_PACKETS_FIRST = 100_000  # a serve_first one's: its socket dry, unless a peer never stops


class NetworkLoop:
    """A daemon thread driving many paho clients from one selector (two, nested: `Readiness`)."""

    def __init__(self, name: str = "mqtt-netloop") -> None:
        self.name = name
        # The wake-up, handshakes and serve_first clients are "urgent": polled every round.
        self._selector = Readiness()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None, urgent=True)
        self._wake_pending = False
        self._ready: deque[Callable[[], None]] = deque()
        self._next_round: deque[Callable[[], None]] = deque()  # round's start, not behind _ready
        self._first: set[mqtt.Client] = set()  # serve_first: served ahead of the others
        self._backlog: deque[tuple[mqtt.Client, Any, int]] = deque()  # ready, not served yet
        self._guest: Guest | None = None
        self._timers = Timers()
        self._clients: set[mqtt.Client] = set()
        self._misc_due: list[mqtt.Client] = []  # this round's clients still to get loop_misc
        self._writes: dict[mqtt.Client, Any] = {}  # client -> socket, packets queued this round
        self._held = LoopHolds()  # clients with a PUBACK queued, written later (held_writes.py)
        self._write_watched: set[Any] = set()  # sockets whose buffer filled: select() watches
        self._watched: set[Any] = set()  # sockets registered by watch() (handshakes)
        self._thread: threading.Thread | None = None
        self._running = False
        self._stopping = False
        self._stop_deadline = 0.0
        # Bound once: each client's four would otherwise be bound methods of its own (256 B a VEN).
        self._socket_callbacks = (self._on_socket_open, self._on_socket_close,
                                  self._on_register_write, self._on_unregister_write)
        # Called with each round's busy seconds (select() returning to the end of the round),
        # on the loop thread: how long a socket may wait to be served (fleet.json loop_round).
        self.round_observer: Callable[[float], None] | None = None

    # -- any thread ---------------------------------------------------------------------------

    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def stopping(self) -> bool:
        """True once stop() began: connections must not schedule reconnects any more."""
        return self._stopping

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def start(self) -> NetworkLoop:
        if self._thread is not None:
            raise RuntimeError("network loop already started")
        self._running = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect every client cleanly, close their sockets and end the thread."""
        thread = self._thread
        if thread is None or not self._running:
            return
        self.call_soon(self._begin_stop)
        if not self.in_loop_thread():
            thread.join(timeout)

    def call_soon(self, fn: Callable[[], None], client: mqtt.Client | None = None) -> None:
        """Run `fn()` on the loop thread, in call order; `client`'s calls at the next round's
        start if it is served first (`serve_first`). Safe from any thread."""
        (self._next_round if client in self._first else self._ready).append(fn)
        self.wake()  # the loop itself checks _ready before it selects

    def call_next_round(self, fn: Callable[[], None]) -> None:
        """Run `fn()` at the start of the next round, ahead of the `call_soon` queue and
        outside its cap: the next batch of a burst the caller already bounds (an unpaced
        connection's outbox, FLUSH_BATCH a round). Loop thread only."""
        self._next_round.append(fn)

    def batch_for(self, client: mqtt.Client, most: int) -> int:
        """How many queued publishes `client` may hand paho at once: `most`, or all of them
        if it is served first (a VTN's fan-out in one burst). Safe from any thread."""
        return sys.maxsize if client in self._first else most

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle:
        """Run `fn()` on the loop thread after `delay` seconds. Safe from any thread."""
        handle = TimerHandle(time.monotonic() + max(0.0, delay), fn)
        self._timers.add(handle)
        self.wake()
        return handle

    def host(self, guest: Guest | None) -> None:
        """Run a round of `guest` in each round, after the reads (None: no more). Any thread."""
        self._guest = guest
        self.wake()

    def wake(self) -> None:
        """Begin a round soon (a guest has work). Safe from any thread."""
        if not self.in_loop_thread():
            self._wake()

    def _wake(self) -> None:
        # One byte per select() round is enough; the flag spares a syscall per call_soon.
        if self._wake_pending:
            return
        self._wake_pending = True
        # A full buffer means a wake-up is pending anyway; a closed one, that the loop ended.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- loop thread only ---------------------------------------------------------------------

    def attach(self, client: mqtt.Client, puback_hold_s: float = PUBACK_HOLD_S) -> None:
        """Route `client`'s sockets through this loop. Call before connecting, on the loop.
        A LeanClient's lone PUBACKs wait up to `puback_hold_s` for its next packets (0: not)."""
        (client.on_socket_open, client.on_socket_close, client.on_socket_register_write,
         client.on_socket_unregister_write) = self._socket_callbacks
        if hasattr(client, "puback_holder"):  # a LeanClient
            client.puback_holder = self._held.holder(puback_hold_s) if puback_hold_s > 0 else None
        self._clients.add(client)

    def serve_first(self, client: mqtt.Client) -> None:
        """Serve `client` ahead of the others and read it dry each round (a VTN: a load
        test's latencies must not include its instrument's queue). Loop thread only."""
        self._first.add(client)
        self._selector.make_urgent(client.socket())  # if connected; else _on_socket_open does

    def detach(self, client: mqtt.Client) -> None:
        self._clients.discard(client)
        self._first.discard(client)
        self._writes.pop(client, None)
        self._held.release(client)
        sock = client.socket()
        if sock is not None:
            self._unregister(sock)

    def watch(self, sock: Any, events: int, callback: Callable[[int], None]) -> None:
        """Call `callback(mask)` when `sock` is ready (a handshake before paho owns it)."""
        # Not modify() and register() on its KeyError: the error's message is the socket's
        # repr, two system calls, and every handshake's new TLS socket took that path.
        if sock in self._watched:
            self._selector.modify(sock, events, _Watch(callback))
        else:
            self._selector.register(sock, events, _Watch(callback), urgent=True)
            self._watched.add(sock)

    def unwatch(self, sock: Any) -> None:
        self._unregister(sock)

    def _on_socket_open(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._selector.register(sock, selectors.EVENT_READ, client, urgent=client in self._first)

    def _on_socket_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._unregister(sock)

    def _on_register_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        # Written at the end of this round (_write_queued), not once select() finds the socket
        # writable: that cost two epoll_ctl calls and a select round per packet.
        self._writes[client] = sock
        self._held.release(client)  # a held PUBACK goes with these packets

    def _on_unregister_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        self._writes.pop(client, None)
        if sock in self._write_watched:
            self._write_watched.discard(sock)
            with contextlib.suppress(KeyError, ValueError):  # socket closed or unregistered
                self._selector.modify(sock, selectors.EVENT_READ, client)

    def _write_queued(self) -> None:
        while self._writes:
            writes, self._writes = self._writes, {}
            for client, sock in writes.items():
                if client.socket() is not sock:
                    continue  # closed or replaced since
                try:
                    client.loop_write()
                except Exception:  # noqa: BLE001 - one client's failure must not stop the others
                    log.exception("%s: error writing for client %s", self.name, client_name(client))
                # Still queued: the socket's buffer is full, select() says when it drains.
                # (paho calls register_write once until unregister: ask it, not the hook.)
                self._writes.pop(client, None)
                if client.socket() is sock and client.want_write():
                    self._watch_write(client, sock)

    def _watch_write(self, client: mqtt.Client, sock: Any) -> None:
        if sock not in self._write_watched:
            self._write_watched.add(sock)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)

    def _unregister(self, sock: Any) -> None:
        self._watched.discard(sock)
        self._write_watched.discard(sock)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)

    def _run(self) -> None:
        next_misc = time.monotonic() + MISC_INTERVAL_S / MISC_SLICES
        try:
            while self._running:
                # With a backlog, only the urgent sockets: the others are not taken in yet.
                events = self._selector.select(self._timeout(next_misc),
                                               urgent_only=bool(self._backlog))
                began = time.monotonic()
                # A client still in the backlog is still ready (select() is level-triggered):
                # new ones are taken in once the backlog has been served, so none waits twice.
                take_clients = not self._backlog
                first: list[tuple[mqtt.Client, Any, int]] = []
                for key, mask in events:
                    if key.data is None:
                        self._drain_wake()
                    elif isinstance(key.data, _Watch):  # handshakes: never behind a backlog
                        self._call(lambda w=key.data, m=mask: w.callback(m))
                    elif key.data in self._first:
                        first.append((key.data, key.fileobj, mask))
                    elif take_clients:
                        self._backlog.append((key.data, key.fileobj, mask))
                for client, sock, mask in first:
                    if client.socket() is sock:
                        self._service(client, sock, mask, MAX_PACKETS_FIRST)
                self._serve_backlog()
                if self._guest is not None:  # what was read is handled, its replies queued
                    now = time.monotonic()  # as long as the reads took, at least GUEST_SLICE_S
                    self._guest.run_round(now + max(GUEST_SLICE_S, now - began))
                self._wake_pending = False  # before draining, so a concurrent call_soon re-wakes
                self._run_next_round()
                self._run_ready()
                self._run_timers()
                now = time.monotonic()
                if now >= next_misc:
                    next_misc = now + MISC_INTERVAL_S / MISC_SLICES
                    self._misc()
                for client in self._held.take_due(now):
                    try:
                        client.write_held()
                    except Exception:  # noqa: BLE001 - one client's failure must not stop the others
                        log.exception("%s: held write failed for %s", self.name,
                                      client_name(client))
                self._write_queued()
                if self.round_observer is not None:
                    self.round_observer(time.monotonic() - began)
                if self._stopping and (not self._open_sockets() or now >= self._stop_deadline):
                    self._running = False
        except Exception:  # noqa: BLE001 - log why the loop died instead of dying silently
            log.exception("%s: network loop crashed", self.name)
        finally:
            self._running = False
            self._close_all()

    def _timeout(self, next_misc: float) -> float:
        if self._ready or self._writes or self._backlog or self._next_round:
            return 0.0
        held = self._held.next_due()
        deadline = next_misc if held is None else min(next_misc, held)
        if self._guest is not None:
            deadline = min(deadline, time.monotonic() + self._guest.idle_for())
        timer = self._timers.next_due()
        if timer is not None:
            deadline = min(deadline, timer)
        return max(0.0, deadline - time.monotonic())

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError once drained
            while self._wake_r.recv(4096):
                pass

    def _serve_backlog(self) -> None:
        backlog = self._backlog
        for _ in range(min(len(backlog), MAX_READS_PER_ROUND)):
            client, sock, mask = backlog.popleft()
            if client.socket() is sock:  # not closed or replaced since select() saw it
                self._service(client, sock, mask, MAX_PACKETS_PER_READ)

    def _service(self, client: mqtt.Client, sock: Any, mask: int, most: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                client.loop_read()  # paho reads one packet (more only with QoS 1 in flight)
                # Then what TLS holds (select() cannot see it) and, on a socket that tells,
                # what the kernel holds, up to a bound: a busy connection (a VTN reading acks)
                # would fall behind at one packet per round once rounds are capped.
                packets = 1
                while (client.socket() is sock and packets < most
                       and (pending_bytes(sock) or not getattr(sock, "drained", True))):
                    client.loop_read()
                    packets += 1
            if mask & selectors.EVENT_WRITE and client.socket() is sock:
                client.loop_write()
        except Exception:  # noqa: BLE001 - one client's failure must not stop the others
            log.exception("%s: error servicing client %s", self.name, client_name(client))

    def _run_next_round(self) -> None:
        # What was queued before this round began; callbacks that queue more wait a round.
        due = self._next_round
        for _ in range(len(due)):
            self._call(due.popleft())

    def _run_ready(self) -> None:
        # Only what was queued before this round (callbacks that queue more wait a round),
        # and at most MAX_CALLS_PER_ROUND of it.
        for _ in range(min(len(self._ready), MAX_CALLS_PER_ROUND)):
            fn = self._ready.popleft()
            self._call(fn)

    def _run_timers(self) -> None:
        for handle in self._timers.take_due(time.monotonic()):
            if not handle.cancelled:
                self._call(handle.fn)

    def _call(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a failing callback must not stop the loop
            log.exception("%s: callback %r failed", self.name, fn)

    def _misc(self) -> None:
        # A slice at a time: loop_misc for 10,000 clients at once held the loop about 8 ms.
        if not self._misc_due:
            self._misc_due = list(self._clients)
        due = self._misc_due
        for _ in range(min(len(due), -(-len(self._clients) // MISC_SLICES))):
            client = due.pop()
            if client not in self._clients:
                continue  # detached since the round began
            try:
                client.loop_misc()
            except Exception:  # noqa: BLE001
                log.exception("%s: loop_misc failed for %s", self.name, client_name(client))

    def _begin_stop(self) -> None:
        self._stopping = True
        self._stop_deadline = time.monotonic() + STOP_GRACE_S
        for client in list(self._clients):
            if client.socket() is not None:
                try:
                    client.disconnect()
                except Exception:  # noqa: BLE001
                    log.exception("%s: disconnect failed for %s", self.name, client_name(client))

    def _open_sockets(self) -> bool:
        return any(key.data is not None for key in self._selector.registered())

    def _close_all(self) -> None:
        for key in list(self._selector.registered()):  # a snapshot: registered() is lazy
            if key.data is not None:
                with contextlib.suppress(OSError):
                    key.fileobj.close()  # type: ignore[union-attr]
        self._clients.clear()
        self._first.clear()
        self._backlog.clear()
        self._next_round.clear()
        self._watched.clear()
        self._misc_due.clear()
        self._writes.clear()
        self._held.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

