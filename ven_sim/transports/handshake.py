"""TCP connect and TLS handshake without blocking the network loop.

paho's `reconnect()` connects and handshakes in blocking calls: on loopback that is 2-6 ms of
the loop thread per client, against a remote broker several round trips, during which no
other client is served. `Handshake` does both as non-blocking steps driven by the loop's
selector, then hands the ready socket to paho (`PahoConnection` makes paho's
`_create_socket` return it), which sends CONNECT on it as usual.

At most MAX_HANDSHAKES are under way per loop; the rest wait their turn, and their timeout
starts when they do. Started all at once, a ramp faster than the loop can finish them slowed
every handshake past its timeout, and the retries added more (10,000 VENs at 250/s on this
2-core machine: thousands of "no TCP/TLS handshake within 5 s"). The window adapts as TCP's
does: a timeout halves it (down to MIN_HANDSHAKES), each handshake that completes widens it by
one: when this process or the broker is short of CPU, fewer handshakes share it and each
finishes in time instead of all of them timing out and starting over.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import ssl
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from ven_sim.transports.client_tls import ClientCertificate, SharedClientContext, begin_connect
from ven_sim.transports.loop_handles import TimerHandle
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.own_certificate import release_own_certificate
from ven_sim.transports.tls_reads import wrap_client

__all__ = [
    "CONNECT_TIMEOUT_S", "MAX_HANDSHAKES", "MIN_HANDSHAKES", "Handshake", "handshake_window",
    "resolve",
]

CONNECT_TIMEOUT_S = 5.0  # paho's own connect timeout
MAX_HANDSHAKES = 64  # under way at once per loop: on loopback about two loop rounds each
MIN_HANDSHAKES = 4  # the window never closes below this
DNS_TTL_S = 60.0  # one lookup per host a minute, not one per client (it blocks)

_dns: dict[tuple[str, int], tuple[float, list[Any]]] = {}

Done = Callable[[Any, BaseException | None, float, float], None]  # sock, error, tcp s, tls s


def resolve(host: str, port: int) -> list[Any]:
    """getaddrinfo for a TCP stream, cached for DNS_TTL_S."""
    now = time.monotonic()
    cached = _dns.get((host, port))
    if cached is not None and now - cached[0] < DNS_TTL_S:
        return cached[1]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    _dns[(host, port)] = (now, infos)
    return infos


class _Turns:
    """One loop's handshakes under way; those past MAX_HANDSHAKES wait in order (loop thread)."""

    def __init__(self, loop: NetworkLoop) -> None:
        self.loop = loop
        self.busy = 0
        self.window = MAX_HANDSHAKES
        self.waiting: deque[Callable[[], None]] = deque()

    def enter(self, start: Callable[[], None]) -> None:
        if self.busy < self.window:
            self.busy += 1
            start()
        else:
            self.waiting.append(start)

    def leave(self, outcome: str = "done") -> None:
        """A turn ends: "done" (handshake complete), "timeout", or anything else (failed,
        cancelled), which leaves the window as it is."""
        self.busy -= 1
        if outcome == "timeout":
            self.window = max(MIN_HANDSHAKES, self.window // 2)
        elif outcome == "done":
            self.window = min(MAX_HANDSHAKES, self.window + 1)
        while self.waiting and self.busy < self.window:
            self.busy += 1
            self.loop.call_soon(self.waiting.popleft())


_turns: weakref.WeakKeyDictionary[NetworkLoop, _Turns] = weakref.WeakKeyDictionary()


def handshake_window(loop: NetworkLoop) -> tuple[int, int]:
    """(handshakes under way or waiting for a turn, the window) on `loop`: a ramp that
    opens more while the first reaches the second only lengthens the queue. Read from any
    thread (two ints and a length, each read at once)."""
    turns = _turns.get(loop)
    if turns is None:
        return 0, MAX_HANDSHAKES
    return turns.busy + len(turns.waiting), turns.window


class Handshake:
    """One attempt: connect, then (with a context) TLS; `done` runs once, on the loop.
    `certificate`: the client's own, loaded into `context` (a `SharedClientContext`) as its
    socket is wrapped; `prepared`: a socket the context has wrapped for it already."""

    def __init__(self, loop: NetworkLoop, host: str, port: int,
                 context: ssl.SSLContext | None, done: Done,
                 certificate: ClientCertificate | None = None, prepared: Any = None) -> None:
        self.loop, self.host, self.port, self.context, self.done = loop, host, port, context, done
        self.certificate = certificate
        self.prepared = prepared  # a SharedClientContext.prepare()d socket, for the first try
        self.begin = time.monotonic()
        self.tcp_s = 0.0
        self.sock: Any = None
        self._finished = self._started = self._wrapping = False
        self._timer: TimerHandle | None = None
        self._turns = _turns.get(loop) or _turns.setdefault(loop, _Turns(loop))
        self._turns.enter(self._start)

    def _start(self) -> None:
        self._started = True
        if self._finished:  # cancelled while it waited its turn
            self._turns.leave("cancelled")
            return
        loop, host, port = self.loop, self.host, self.port
        self.begin = time.monotonic()
        self._timer = loop.call_later(CONNECT_TIMEOUT_S, self._timed_out)
        context = self.context
        try:
            family, kind, proto, _, address = resolve(host, port)[0]
            sock, self.prepared = self.prepared, None
            if sock is None:
                sock = self.sock = socket.socket(family, kind, proto)
                sock.setblocking(False)
                if isinstance(context, SharedClientContext):
                    # Its SSL object made before it dials; a certificate to load is loaded
                    # off this thread, and the connect begun there.
                    sock = context.prepare_if_loaded(self.certificate, sock, host)
                    if sock is None:
                        self._wrapping = True
                        context.dial_soon(self.certificate, self.sock, address, host,
                                          self._from_loader)
                        return
            self.sock = sock
            begin_connect(sock, address)
        except (OSError, ValueError) as exc:
            self._finish(exc)
            return
        loop.watch(self.sock, selectors.EVENT_WRITE, self._connected)

    def _from_loader(self, dialled: Any, began: float, error: BaseException | None) -> None:
        """`dial_soon`'s answer, on the context's thread: back to the loop with it."""
        self.loop.call_soon(lambda: self._dialled(dialled, began, error))

    def _dialled(self, dialled: Any, began: float, error: BaseException | None) -> None:
        self._wrapping = False
        if self._finished:  # timed out or cancelled meanwhile: _close left the socket to us
            self.sock = dialled or self.sock
            self._close()
        elif error is not None:
            self._finish(error)
        else:
            self.sock, self.begin = dialled, began
            self.loop.watch(self.sock, selectors.EVENT_WRITE, self._connected)

    def cancel(self) -> None:
        if not self._finished:
            self._finished = True
            self._end_turn("cancelled")
            self._close()

    def _end_turn(self, outcome: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._started:  # a handshake still waiting leaves when its turn comes
            self._turns.leave(outcome)

    def _connected(self, _mask: int) -> None:
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._finish(ConnectionRefusedError(code, f"{errno.errorcode.get(code, code)}"))
            return
        self.tcp_s = time.monotonic() - self.begin
        if self.context is None:
            self._finish(None)
            return
        self.loop.unwatch(self.sock)
        if not isinstance(self.context, SharedClientContext):  # that one wrapped as it dialled
            try:
                self.sock = wrap_client(self.context, self.sock, self.host)
            except (OSError, ValueError) as exc:
                self._finish(exc)
                return
        self._step(0)

    def _step(self, _mask: int) -> None:
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.loop.watch(self.sock, selectors.EVENT_READ, self._step)
            return
        except ssl.SSLWantWriteError:
            self.loop.watch(self.sock, selectors.EVENT_WRITE, self._step)
            return
        except (OSError, ValueError) as exc:  # SSLError is an OSError
            self._finish(exc)
            return
        if isinstance(self.context, SharedClientContext):  # its certificate is its own
            release_own_certificate(self.sock)
        self._finish(None)

    def _timed_out(self) -> None:
        self._finish(TimeoutError(f"no TCP/TLS handshake within {CONNECT_TIMEOUT_S:g} s"),
                     "timeout")

    def _finish(self, error: BaseException | None, outcome: str = "") -> None:
        if self._finished:
            return
        self._finished = True
        self._end_turn(outcome or ("failed" if error is not None else "done"))
        if self.sock is not None:
            self.loop.unwatch(self.sock)
        if error is not None:
            self._close()
        tls_s = time.monotonic() - self.begin - self.tcp_s
        self.done(None if error else self.sock, error, self.tcp_s, tls_s)

    def _close(self) -> None:
        if self.prepared is not None:  # cancelled before its turn
            self.prepared.close()
            self.prepared = None
        if self.sock is not None and not self._wrapping:  # a wrap under way owns it
            self.loop.unwatch(self.sock)
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
