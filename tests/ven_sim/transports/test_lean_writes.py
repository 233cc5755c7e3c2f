"""LeanClient's one-packet write on mosquitto with mTLS: sends that take part of a packet,
or fail for now (`SSLWantWriteError`), leave the rest to paho's loop, and every packet
arrives whole and in order; a burst goes out in joined batches."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from tests.ven_sim.transports.test_held_writes import WAIT_S, _Sends, _settled
from tests.ven_sim.transports.test_paho import Peer, _sink_and_source, _transport
from ven_sim.broker.mosquitto import Mosquitto


@pytest.mark.parametrize(("most_bytes", "refuse_every", "in_a_row"),
                         [(7, 0, 1), (100, 3, 1), (1 << 20, 2, 1), (1 << 20, 3, 2)])
def test_short_and_refused_sends_deliver_every_packet_in_order(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch, most_bytes: int, refuse_every: int,
    in_a_row: int,
) -> None:
    """Each `send` writes at most `most_bytes`, and every `refuse_every`-th one (0: none), with
    the `in_a_row - 1` before it, raises `SSLWantWriteError` having written nothing, as
    OpenSSL's would on a full socket buffer: both connections' writes (the source's publishes,
    the sink's PUBACKs) go on: a refused one-packet send waits for the socket to be writable,
    and the send after it may be refused too."""
    transport = _transport(mosquitto)
    tls_send = ssl.SSLSocket.send
    sends = {"all": 0, "refused": 0}

    def short_sends(self: ssl.SSLSocket, data: bytes, flags: int = 0) -> int:
        sends["all"] += 1
        if refuse_every and (sends["all"] % refuse_every == 0
                             or sends["all"] % refuse_every > refuse_every - in_a_row):
            sends["refused"] += 1
            raise ssl.SSLWantWriteError("would block")
        return tls_send(self, data[:most_bytes], flags)

    name = f"{most_bytes}-{refuse_every}-{in_a_row}"
    try:
        topic = f"lean-writes-{name}"
        sink, source = _sink_and_source(transport, topic)
        monkeypatch.setattr(ssl.SSLSocket, "send", short_sends)
        payloads = [b"%02d" % n + b"w" * (n * 61 % 400) for n in range(40)]
        got: list[tuple[str, bytes]] = []
        for n, payload in enumerate(payloads):
            source.conn.publish(f"{topic}/n", payload)
            if n < 8 or n % 4 == 3:  # the first eight one at a time, then bursts of four
                got += [sink.receive() for _ in range(n + 1 - len(got))]
        assert got == [(f"{topic}/n", payload) for payload in payloads]
        unacked = source.conn._client._out_messages  # noqa: SLF001 - paho's bookkeeping
        deadline = time.monotonic() + 10.0
        while unacked and time.monotonic() < deadline:  # every PUBACK written and read
            time.sleep(0.01)
        assert not unacked
        assert sends["refused"] >= (1 if refuse_every else 0)
    finally:
        monkeypatch.undo()
        transport.close()


def test_a_burst_goes_out_in_joined_batches(mosquitto: Mosquitto,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A VTN's fan-out (a burst handed to paho at once, served first): every batch of up to
    JOIN_BYTES in one `send` until the queue is empty or the socket's buffer full, not a
    packet a write after the first batch; every message delivered, in order."""
    transport = _transport(mosquitto)
    try:
        sink = Peer(transport, "lean-burst-sink")
        assert sink.state() == (True, None)
        sink.listen("lean-burst/#", "lean-burst/echo")
        source = Peer(transport, "lean-burst-source", serve_first=True)
        assert source.state() == (True, None)
        _settled(transport, source)
        source.conn.max_inflight = None  # as a VTN's: no window of 20 unacknowledged
        # Room for the whole burst, so that how it is written is the client's doing, not
        # the socket buffer's (on loopback it starts small and grows as the peer reads).
        source.conn._client.socket().setsockopt(  # noqa: SLF001
            socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
        sends = _Sends(monkeypatch)
        payloads = [b"%03d" % n + b"c" * 600 for n in range(300)]  # 180 KB: over JOIN_BYTES
        gate = threading.Event()  # the loop waits while the burst is queued, as a
        transport.loop.call_soon(lambda: gate.wait(WAIT_S))  # VTN's comes in one flush
        for payload in payloads:
            source.conn.publish("lean-burst/cmd", payload)
        gate.set()
        got = [sink.receive() for _ in payloads]
        assert got == [("lean-burst/cmd", payload) for payload in payloads]
        carried = sends.of(source)
        assert sum(sent.count(b"lean-burst/cmd") for sent in carried) == len(payloads)
        # A packet a write would be 300; batches of 64 KB (or what the socket took) far fewer.
        assert len(carried) <= len(payloads) // 10
    finally:
        transport.close()
