"""BufferedTlsSocket on mosquitto with mTLS: paho's small reads come from one SSL_read."""

from __future__ import annotations

import ssl

import pytest

from tests.ven_sim.transports.test_paho import Peer, _sink_and_source, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.tls_reads import BufferedTlsSocket

MESSAGES = 200


def test_each_packet_costs_about_one_tls_read_and_arrives_whole(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = {"paho": 0, "tls": 0, "tls_pending": 0}
    buffered_recv, tls_recv, tls_pending = (
        BufferedTlsSocket.recv, ssl.SSLSocket.recv, ssl.SSLSocket.pending)

    def paho_reads(self: BufferedTlsSocket, buflen: int = 1024, flags: int = 0) -> bytes:
        calls["paho"] += 1
        return buffered_recv(self, buflen, flags)

    def tls_reads(self: ssl.SSLSocket, buflen: int = 1024, flags: int = 0) -> bytes:
        calls["tls"] += 1
        return tls_recv(self, buflen, flags)

    def tls_pendings(self: ssl.SSLSocket) -> int:
        calls["tls_pending"] += 1
        return tls_pending(self)

    transport = _transport(mosquitto)
    try:
        sink = Peer(transport, "tls-reads-sink")
        assert sink.state() == (True, None)
        assert isinstance(transport_socket := sink.conn._client.socket(), BufferedTlsSocket)
        sink.listen("tls-reads/#", "tls-reads/echo")
        source = Peer(transport, "tls-reads-source")
        assert source.state() == (True, None)
        monkeypatch.setattr(BufferedTlsSocket, "recv", paho_reads)
        monkeypatch.setattr(ssl.SSLSocket, "recv", tls_reads)
        monkeypatch.setattr(ssl.SSLSocket, "pending", tls_pendings)
        payloads = [(b"%04d:" % i) + bytes(range(256)) * (1 + i % 40) for i in range(MESSAGES)]
        payloads[-1] += bytes(range(256)) * 160  # 50 KB: records of 16 KB, read in turn
        for payload in payloads:
            source.conn.publish("tls-reads/n", payload)
        assert [sink.receive() for _ in range(MESSAGES)] == [
            ("tls-reads/n", payload) for payload in payloads]
        # Both connections read (the source its PUBACKs): TLS is asked about once a packet
        # (plus one "nothing more" per wake-up). LeanClient takes a packet that is all in the
        # buffer with slices; only one split across records (the 50 KB one) is read by
        # paho's `recv`s, a few a record.
        assert 0 < calls["paho"] <= 20
        assert calls["tls"] <= 2 * 2 * MESSAGES
        # OpenSSL is asked what it holds only after a full READ_CHUNK: the 50 KB message.
        assert calls["tls_pending"] <= 8
        assert transport_socket.pending() == 0  # nothing left behind in the buffer
    finally:
        transport.close()


def _tls_reads_one_at_a_time(mosquitto: Mosquitto, name: str) -> dict[str, int]:
    """MESSAGES publishes, each received before the next is sent (so every one wakes the
    sink, and its PUBACK the source): the TLS reads both connections made, by outcome."""
    calls = {"data": 0, "nothing": 0}
    tls_recv = ssl.SSLSocket.recv

    def tls_reads(self: ssl.SSLSocket, buflen: int = 1024, flags: int = 0) -> bytes:
        try:
            data = tls_recv(self, buflen, flags)
        except ssl.SSLWantReadError:
            calls["nothing"] += 1
            raise
        calls["data"] += 1
        return data

    transport = _transport(mosquitto)
    try:
        topic = f"tls-dry-{name}"
        sink, source = _sink_and_source(transport, topic)
        with pytest.MonkeyPatch.context() as patched:
            patched.setattr(ssl.SSLSocket, "recv", tls_reads)
            for n in range(MESSAGES):
                source.conn.publish(f"{topic}/n", b"%d" % n)
                assert sink.receive() == (f"{topic}/n", b"%d" % n)
        return calls
    finally:
        transport.close()


def test_reading_a_socket_dry_asks_the_kernel_instead_of_tls(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = _tls_reads_one_at_a_time(mosquitto, "checked")
    with monkeypatch.context() as patched:  # as before: a TLS read to find the socket empty
        patched.setattr(BufferedTlsSocket, "_kernel_queue", lambda _self: 1 << 30)
        unchecked = _tls_reads_one_at_a_time(mosquitto, "unchecked")
    # Every message and every PUBACK is about one TLS read that finds data, on both sides
    # (the broker may write two PUBACKs in one record; the last may come after the count)...
    assert 2 * MESSAGES - 10 <= checked["data"] <= 2 * MESSAGES + 10
    assert 2 * MESSAGES - 10 <= unchecked["data"] <= 2 * MESSAGES + 10
    # ...but reading dry took a TLS read that found nothing after each (at least the sink's,
    # woken once a message), and now takes none: the kernel said its queue was empty.
    assert unchecked["nothing"] >= MESSAGES
    assert checked["nothing"] <= 5
