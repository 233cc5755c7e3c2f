"""The network loop's work per round is bounded: a burst is spread over rounds, in order.

On mosquitto with mTLS: a VTN's fan-out (one publish per subscriber at once, no in-flight
window) to 300 clients on one loop, each reading its message; and call_soon callbacks queued
all at once. Rounds are counted by the loop's own `round_observer`. And the handshake window:
halved by timeouts against a listener that never answers TLS, widened by completions.
"""

from __future__ import annotations

import array
import fcntl
import queue
import select
import socket
import ssl
import termios
import threading
import time
from collections import Counter

import pytest

from tests.ven_sim.helpers import TIMEOUT_S
from tests.ven_sim.transports.test_paho import Peer, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports import handshake, netloop
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.paho_connection import FLUSH_BATCH

SINKS = 300
READS_PER_ROUND = 100  # the cap for the test: a third of the sinks ready at once


class Rounds:
    """Counts the loop's rounds (on the loop thread) and what each one did."""

    def __init__(self, loop: NetworkLoop) -> None:
        self.count = 0
        self.work: Counter[int] = Counter()  # round -> items handled in it
        loop.round_observer = self._ended

    def _ended(self, _seconds: float) -> None:
        self.count += 1

    def note(self) -> None:
        self.work[self.count] += 1


def test_callbacks_queued_at_once_run_in_order_at_most_a_cap_per_round() -> None:
    loop = NetworkLoop().start()
    rounds = Rounds(loop)
    ran: list[int] = []
    done = threading.Event()
    total = 3 * netloop.MAX_CALLS_PER_ROUND + 5

    def step(i: int) -> None:
        rounds.note()
        ran.append(i)
        if i == total - 1:
            done.set()

    try:
        loop.call_soon(lambda: [loop.call_soon(lambda i=i: step(i)) for i in range(total)])
        assert done.wait(TIMEOUT_S)
    finally:
        loop.stop()
    assert ran == list(range(total))
    assert max(rounds.work.values()) == netloop.MAX_CALLS_PER_ROUND
    assert len(rounds.work) == 4  # three full rounds, then the last five


def test_a_fanout_to_more_clients_than_a_round_serves_reaches_every_one(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(netloop, "MAX_READS_PER_ROUND", READS_PER_ROUND)
    transport = _transport(mosquitto)  # the sinks' loop
    vtn_transport = _transport(mosquitto, max_inflight=None)  # a VTN: no window, batches
    rounds, vtn_rounds = Rounds(transport.loop), Rounds(vtn_transport.loop)
    got: queue.Queue[str] = queue.Queue()
    try:
        sinks = [Peer(transport, f"rounds-sink-{i}") for i in range(SINKS)]
        assert all(sink.state() == (True, None) for sink in sinks)
        for i, sink in enumerate(sinks):
            sink.listen(f"rounds/{i}", f"rounds/{i}")
            sink.conn._handler = lambda topic, _p: (rounds.note(), got.put(topic))
        vtn = Peer(vtn_transport, "rounds-vtn")
        assert vtn.state() == (True, None)
        socks = [sink.conn._client.socket() for sink in sinks]
        reported = count_reports(transport.loop, socks)
        held = threading.Event()

        def hold_until_all_are_ready() -> None:
            # The sinks' loop waits here until every sink's socket is readable: three
            # rounds' worth, so two rounds begin with sockets waiting in the backlog.
            held.set()
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline:
                if len(select.select(socks, [], [], 0.05)[0]) == SINKS:
                    return

        transport.loop.call_soon(hold_until_all_are_ready)
        assert held.wait(TIMEOUT_S)
        before = vtn_rounds.count
        for i in range(SINKS):  # one command each, as fast as the caller can
            vtn.conn.publish(f"rounds/{i}", b"event")
        topics = sorted(got.get(timeout=TIMEOUT_S) for _ in range(SINKS))
        assert topics == sorted(f"rounds/{i}" for i in range(SINKS))
        assert max(rounds.work.values()) == READS_PER_ROUND  # the cap held, and was needed
        # A socket waiting in the backlog is not reported again by each round's select()
        # (it was: 300 + 200 + 100 reports); a command split across reads may be, rarely.
        assert SINKS <= sum(reported.values()) <= SINKS + SINKS // 10
        # Out in batches of FLUSH_BATCH, a round apart.
        assert vtn_rounds.count - before >= -(-SINKS // FLUSH_BATCH)
        assert vtn.conn.stats.published == SINKS
    finally:
        transport.close()
        vtn_transport.close()


def count_reports(loop: NetworkLoop, socks: list[object]) -> Counter[object]:
    """How often the loop's select() reports each of `socks` ready, from now on."""
    reported: Counter[object] = Counter()
    selector = loop._selector
    select_ready = selector.select

    def counted(*args: object, **kwargs: object) -> list[tuple[object, int]]:
        events = select_ready(*args, **kwargs)
        reported.update(key.fileobj for key, _mask in events if key.fileobj in socks)
        return events

    selector.select = counted  # type: ignore[method-assign]
    return reported


# A TLS 1.3 record around each packet: its header (5), the inner content type (1), the AEAD
# tag (16). mosquitto writes every packet with its own SSL_write, so a record each.
TLS_RECORD_OVERHEAD = 22


def wire_bytes(topic: str, payload: bytes, count: int) -> int:
    """What `count` QoS 0 PUBLISH packets of `topic` and `payload` take on a TLS socket: the
    fixed header and remaining length, the topic and its length, the payload, a record each.
    Waiting for the payloads' bytes alone let a round start with the last packets still on
    the way (the burst then read in two rounds)."""
    remaining = 2 + len(topic.encode()) + len(payload)
    length_bytes = 1 if remaining < 128 else 2 if remaining < 16_384 else 3
    return count * (1 + length_bytes + remaining + TLS_RECORD_OVERHEAD)


def hold_until_buffered(loop: netloop.NetworkLoop, peers: list[Peer], size: int) -> None:
    """Keep `loop` busy (in a call) until each peer's socket holds `size` bytes (`wire_bytes`),
    so the next round finds all of them ready with their whole burst."""
    fds = [peer.conn._client.socket().fileno() for peer in peers]
    held = threading.Event()

    def hold() -> None:
        held.set()
        deadline = time.monotonic() + TIMEOUT_S
        waiting = array.array("i", [0])
        while time.monotonic() < deadline:
            buffered = []
            for fd in fds:
                fcntl.ioctl(fd, termios.FIONREAD, waiting)
                buffered.append(waiting[0])
            if min(buffered) >= size:
                return
            time.sleep(0.01)

    loop.call_soon(hold)
    assert held.wait(TIMEOUT_S)


def test_timeouts_narrow_the_handshake_window_and_completions_widen_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A listener that completes TCP connects (its backlog) and never answers a ClientHello.
    monkeypatch.setattr(handshake, "CONNECT_TIMEOUT_S", 0.2)
    silent = socket.create_server(("127.0.0.1", 0), backlog=256)
    port = silent.getsockname()[1]
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    loop = NetworkLoop().start()
    outcomes: queue.Queue[BaseException | None] = queue.Queue()
    under_way: list[int] = []

    def done(sock: object, error: BaseException | None, _tcp: float, _tls: float) -> None:
        under_way.append(handshake._turns[loop].busy)
        if sock is not None:
            sock.close()  # type: ignore[attr-defined]
        outcomes.put(error)

    def start(count: int, tls: ssl.SSLContext | None) -> None:
        for _ in range(count):
            handshake.Handshake(loop, "127.0.0.1", port, tls, done)

    try:
        loop.call_soon(lambda: start(100, context))
        errors = [outcomes.get(timeout=TIMEOUT_S) for _ in range(100)]
        assert all(isinstance(error, TimeoutError) for error in errors)
        turns = handshake._turns[loop]
        assert turns.window == handshake.MIN_HANDSHAKES and turns.busy == 0
        # After the first wave's timeouts, never more under way than the narrowed window.
        assert max(under_way[handshake.MAX_HANDSHAKES:]) <= handshake.MIN_HANDSHAKES
        loop.call_soon(lambda: start(10, None))  # TCP only: each completes at once
        assert [outcomes.get(timeout=TIMEOUT_S) for _ in range(10)] == [None] * 10
        assert turns.window == handshake.MIN_HANDSHAKES + 10
    finally:
        loop.stop()
        silent.close()


def test_a_busy_connection_reads_its_backlog_in_one_round(mosquitto: Mosquitto) -> None:
    burst = 50  # under MAX_PACKETS_PER_READ
    transport = _transport(mosquitto)  # the sink's loop
    source_transport = _transport(mosquitto)
    rounds = Rounds(transport.loop)
    got: queue.Queue[bytes] = queue.Queue()
    try:
        sink = Peer(transport, "drain-sink")
        assert sink.state() == (True, None)
        sink.listen("drain/#", "drain/echo")
        sink.conn._handler = lambda _t, payload: (rounds.note(), got.put(payload))
        source = Peer(source_transport, "drain-source")
        assert source.state() == (True, None)
        payload = b"x" * 200
        hold_until_buffered(transport.loop, [sink], wire_bytes("drain/n", payload, burst))
        for _ in range(burst):  # QoS 0: the broker's in-flight window does not hold them back
            source.conn.publish("drain/n", payload, qos=0)
        assert [got.get(timeout=TIMEOUT_S) for _ in range(burst)] == [payload] * burst
        assert list(rounds.work.values()) == [burst]  # one round, not one packet a round
    finally:
        transport.close()
        source_transport.close()
