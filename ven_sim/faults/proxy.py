"""A fault-injecting TCP proxy on loopback, like toxiproxy: faults on a real broker.

Each route is a listening port on 127.0.0.1; every connection to it is piped byte for byte
to the broker. The proxy never reads what it carries, so TLS passes through untouched and
mutual TLS still runs end to end between the client and the broker. A route can be cut (its
connections closed, new ones refused until it is restored) or slowed (each chunk held for a
delay plus jitter, never overtaking the chunk before it). One asyncio loop on its own thread
carries every connection; the methods may be called from any thread.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["FaultProxy"]

CHUNK_BYTES = 65536
ARRIVALS_KEPT = 100_000  # connection attempts whose arrival time is kept
START_TIMEOUT_S = 10.0
CLOSE_DRAIN_S = 2.0  # how long `close` lets connections still open end on their own
CLOSE_POLL_S = 0.01


@dataclass
class _Route:
    name: str
    server: asyncio.Server | None = None
    port: int = 0
    cut: int = 0  # faults cutting it now; refused while > 0
    delays: dict[int, tuple[float, float]] = field(default_factory=dict)  # fault -> (s, jitter)
    pipes: set[_Pipe] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class ProxyStats:
    accepted: int = 0
    refused: int = 0  # connections closed at once: their route was cut
    cut: int = 0  # live connections closed by a cut
    delayed_chunks: int = 0
    # When each connection attempt arrived (time.monotonic()), accepted or refused: how
    # reconnects spread after a fault, as the broker would see them.
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))


class FaultProxy:
    """Routes on 127.0.0.1 piping to `upstream`; `start()` opens them, `close()` ends all
    (after letting what the connections still carry pass, for up to CLOSE_DRAIN_S)."""

    def __init__(self, upstream_host: str, upstream_port: int, routes: Iterable[str],
                 *, seed: int = 0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.routes = {name: _Route(name, rng=random.Random(f"{seed}:proxy:{name}"))
                       for name in routes}
        self.stats = ProxyStats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(START_TIMEOUT_S)
        return self

    def port(self, route: str) -> int:
        return self.routes[route].port

    def cut(self, routes: Iterable[str]) -> None:
        """Close the routes' connections and refuse new ones until `restore`; cuts nest."""
        self._call(self._cut, list(routes))

    def restore(self, routes: Iterable[str]) -> None:
        self._call(self._restore, list(routes))

    def slow(self, routes: Iterable[str], fault: int, delay_s: float, jitter_s: float) -> None:
        """Hold each chunk on the routes `delay_s` plus up to `jitter_s` (wall seconds)."""
        self._call(self._slow, list(routes), fault, (delay_s, jitter_s))

    def unslow(self, routes: Iterable[str], fault: int) -> None:
        self._call(self._slow, list(routes), fault, None)

    def close(self) -> None:
        if not self._thread.is_alive():
            self._loop.close()
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self._loop.close()

    # -- the proxy's loop thread -----------------------------------------------------------
    def _call(self, fn: Callable[..., None], *args: object) -> None:
        """Run `fn(*args)` on the proxy's loop and wait for it: its state is the loop's."""
        asyncio.run_coroutine_threadsafe(_run(fn, *args), self._loop).result(START_TIMEOUT_S)

    async def _listen(self) -> None:
        for route in self.routes.values():
            route.server = await asyncio.start_server(
                lambda r, w, route=route: self._accept(route, r, w), "127.0.0.1", 0)
            route.port = route.server.sockets[0].getsockname()[1]

    def _cut(self, names: list[str]) -> None:
        for name in names:
            route = self.routes[name]
            route.cut += 1
            for pipe in list(route.pipes):
                self.stats.cut += 1
                pipe.abort()

    def _restore(self, names: list[str]) -> None:
        for name in names:
            self.routes[name].cut -= 1

    def _slow(self, names: list[str], fault: int, delay: tuple[float, float] | None) -> None:
        for name in names:
            if delay is None:
                self.routes[name].delays.pop(fault, None)
            else:
                self.routes[name].delays[fault] = delay

    async def _accept(self, route: _Route, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self.stats.arrivals.append(time.monotonic())
        if route.cut:
            self.stats.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:  # the broker itself is away: the client sees its connection close
            writer.transport.abort()
            return
        if route.cut:  # cut while we connected upstream
            self.stats.refused += 1
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.stats.accepted += 1
        pipe = _Pipe(self, route, writer, up_writer)
        route.pipes.add(pipe)
        await asyncio.gather(pipe.pump(reader, up_writer), pipe.pump(up_reader, writer))
        route.pipes.discard(pipe)

    async def _shutdown(self) -> None:
        for route in self.routes.values():
            if route.server is not None:
                route.server.close()
        # A client that has just closed may still have its last bytes in a pipe: its
        # DISCONNECT, without which the broker would publish its will. Let those pass on.
        deadline = time.monotonic() + CLOSE_DRAIN_S
        while any(route.pipes for route in self.routes.values()) and time.monotonic() < deadline:
            await asyncio.sleep(CLOSE_POLL_S)
        for route in self.routes.values():
            for pipe in list(route.pipes):
                pipe.abort()
        # Every pipe's tasks end here, on a loop still running: none is left for the GC.
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Pipe:
    """One client connection and its upstream twin; each direction keeps its bytes' order."""

    def __init__(self, proxy: FaultProxy, route: _Route, client: asyncio.StreamWriter,
                 upstream: asyncio.StreamWriter) -> None:
        self.proxy, self.route = proxy, route
        self.writers = (client, upstream)

    def abort(self) -> None:
        for writer in self.writers:
            writer.transport.abort()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until either side closes, then close both, as a cut cable would. Chunks wait
        in a queue, so a slow route delays each by its own wait, not by the ones before it."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        sender = asyncio.ensure_future(self._send(queue, writer))
        due = 0.0  # when the latest chunk this way may go: a later one never overtakes it
        try:
            while chunk := await reader.read(CHUNK_BYTES):
                now = time.monotonic()
                if self.route.delays:
                    wait = sum(delay + self.route.rng.uniform(0.0, jitter)
                               for delay, jitter in self.route.delays.values())
                    self.proxy.stats.delayed_chunks += 1
                    now += wait
                due = max(now, due)
                queue.put_nowait((due, chunk))
            queue.put_nowait(None)
            await sender  # what was read still goes out, then the other side is closed
        except OSError:
            pass
        finally:
            sender.cancel()
            self.abort()

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes] | None],
                    writer: asyncio.StreamWriter) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, chunk = item
                if due > time.monotonic():
                    await asyncio.sleep(due - time.monotonic())
                writer.write(chunk)
                await writer.drain()
        except OSError:
            self.abort()  # the far side is gone: the reader of this way stops too


async def _run(fn: Callable[..., None], *args: object) -> None:
    fn(*args)
