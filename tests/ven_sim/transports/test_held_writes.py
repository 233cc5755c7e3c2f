"""Held PUBACKs: `HeldWrites` hands clients back when their deadline comes, in the order they
were held, and a loop's `LoopHolds` each of its holds so; a `LeanClient` on a loop queues a
PUBACK alone without asking for a write, and one that follows it, or any other packet, asks
for the write of both, paho's bytes in paho's order. On a `NetworkLoop`, a held client whose
write fails stops neither the others nor the loop. Over mosquitto with mTLS: a command's
PUBACK goes out in the same TLS write as the reply published after it, a PUBACK with nothing
after it is written once its hold is over, and with `puback_hold_s=0` at once."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.ven_sim.transports.test_lean_packets import _Conn, _connected, _queued
from tests.ven_sim.transports.test_paho import Peer, _sink_and_source, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.held_writes import PUBACK_HOLD_S, HeldWrites, LoopHolds
from ven_sim.transports.lean_client import LeanClient
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.paho import PahoTransport
from ven_sim.transports.paho_settings import ErrorTap
from ven_sim.transports.tls_reads import BufferedTlsSocket

TOPIC = "ven/ack/ven-held-000001"
WAIT_S = 10.0  # how long a test waits for a write it expects; nothing is timed against it
CLOCK_SLACK_S = 0.005


def test_clients_fall_due_in_the_order_they_were_held() -> None:
    held = HeldWrites(hold_s=1.0)
    held.hold("a", now=10.0)
    held.hold("b", now=10.5)
    held.hold("a", now=10.9)  # its earlier deadline stands
    assert held.next_due() == 11.0
    assert held.take_due(10.99) == []
    assert held.take_due(11.0) == ["a"]
    held.hold("c", now=11.2)
    held.release("b")  # written with other packets meanwhile
    assert len(held) == 1 and held.next_due() == 12.2
    assert held.take_due(100.0) == ["c"]
    assert held.next_due() is None and held.take_due(200.0) == []


def test_each_hold_of_a_loop_hands_clients_back_in_the_order_held() -> None:
    holds = LoopHolds()
    long, short = holds.holder(1.0), holds.holder(0.25)
    assert holds.holder(1.0) is long and holds.next_due() is None
    long.hold("a", now=10.0)
    short.hold("b", now=10.5)
    short.hold("c", now=10.6)
    assert len(holds) == 3 and holds.next_due() == 10.75  # b's, though held after a
    assert holds.take_due(10.8) == ["b"]
    holds.release("c")  # written with other packets meanwhile
    assert holds.next_due() == 11.0 and holds.take_due(11.0) == ["a"]
    assert not holds and holds.next_due() is None


def _lean_with_holder(pair: socket.socket) -> tuple[LeanClient, HeldWrites, list[int]]:
    lean = _connected(LeanClient, pair, ErrorTap(_Conn()))
    writes: list[int] = []
    lean.on_socket_register_write = lambda *_args: writes.append(1)
    lean.puback_holder = HeldWrites()
    return lean, lean.puback_holder, writes


def test_a_puback_alone_waits_and_a_second_is_written_with_it(pair: socket.socket) -> None:
    stock = _connected(mqtt.Client, pair, None)
    lean, held, writes = _lean_with_holder(pair)
    for client in (stock, lean):
        client._send_puback(7)  # noqa: SLF001 - what answers a QoS 1 PUBLISH
    assert _queued(lean) == _queued(stock)
    assert writes == [] and held.next_due() is not None
    for client in (stock, lean):
        client._send_puback(8)  # noqa: SLF001
    assert _queued(lean) == _queued(stock)  # both, in order
    assert writes == [1]  # the write of both asked for at the second


def test_a_held_puback_goes_before_what_is_published_after_it(pair: socket.socket) -> None:
    stock = _connected(mqtt.Client, pair, None)
    lean, _held, writes = _lean_with_holder(pair)
    for client in (stock, lean):
        client._send_puback(3)  # noqa: SLF001
    assert lean.publish_many([(TOPIC, b"ack", 1)]) == [(stock.publish(TOPIC, b"ack", 1).rc, 1)]
    assert _queued(lean) == _queued(stock)
    assert writes == [1]


def test_a_held_puback_is_written_when_its_hold_is_over(pair: socket.socket) -> None:
    lean, held, writes = _lean_with_holder(pair)
    lean._send_puback(5)  # noqa: SLF001
    assert held.take_due(time.monotonic() + PUBACK_HOLD_S) == [lean]
    lean.write_held()
    assert writes == [1]
    lean._out_packet.clear()  # noqa: SLF001 - "written"
    lean._call_socket_unregister_write()  # noqa: SLF001 - as paho does once its queue is empty
    lean.write_held()  # nothing queued any more: no write asked for
    assert writes == [1]


class _HeldClient:
    """What the loop asks of a held client: its ID (for a log line) and `write_held`."""

    def __init__(self, name: str, fails: bool = False) -> None:
        self._client_id = name.encode()
        self.fails = fails
        self.asked = threading.Event()

    def write_held(self) -> None:
        self.asked.set()
        if self.fails:
            raise RuntimeError(f"{self._client_id!r} cannot write")


def test_a_held_client_that_fails_stops_neither_the_others_nor_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = NetworkLoop().start()
    failing, other = _HeldClient("ven-fails", fails=True), _HeldClient("ven-other")
    try:
        # Held long ago: both fall due in this round, the failing one first.
        held = loop._held.holder(PUBACK_HOLD_S)  # noqa: SLF001
        loop.call_soon(lambda: [held.hold(client, now=0.0) for client in (failing, other)])
        assert other.asked.wait(WAIT_S) and failing.asked.is_set()
        still_running = threading.Event()
        loop.call_soon(still_running.set)
        assert still_running.wait(WAIT_S) and loop.running
    finally:
        loop.stop()
    assert "held write failed for ven-fails" in caplog.text


class _Sends:
    """Every TLS `send` of one client, as the bytes it carried and when it was made."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_socket: dict[int, list[tuple[float, bytes]]] = {}
        self._lock = threading.Lock()
        tls_send = BufferedTlsSocket.send
        sends = self

        def recording_send(sock: BufferedTlsSocket, data: Any, flags: int = 0) -> int:
            sent = tls_send(sock, data, flags)
            sent_at = time.monotonic()
            with sends._lock:
                sends.by_socket.setdefault(id(sock), []).append((sent_at, bytes(data[:sent])))
            return sent

        monkeypatch.setattr(BufferedTlsSocket, "send", recording_send)

    def timed(self, peer: Peer) -> list[tuple[float, bytes]]:
        """`peer`'s sends so far: (time.monotonic() once sent, bytes)."""
        with self._lock:
            return list(self.by_socket.get(id(peer.conn._client.socket()), []))  # noqa: SLF001

    def of(self, peer: Peer) -> list[bytes]:
        return [sent for _at, sent in self.timed(peer)]

    def wait_for(self, peer: Peer, packet: bytes) -> list[bytes]:
        deadline = time.monotonic() + WAIT_S
        while not any(packet in sent for sent in self.of(peer)) and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.of(peer)


def _round_trip(transport: PahoTransport) -> None:
    """Wait until the loop has run a callback queued now: a message that reached
    `on_message` before has its PUBACK queued (just after it, on the loop's thread)."""
    done = threading.Event()
    transport.loop.call_soon(done.set)
    assert done.wait(WAIT_S)


def _settled(transport: PahoTransport, peer: Peer) -> None:
    """Wait until `peer` has nothing queued (a PUBACK held from before the test's steps)."""
    _round_trip(transport)
    deadline = time.monotonic() + WAIT_S
    while peer.conn._client._out_packet and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.01)
    assert not peer.conn._client._out_packet  # noqa: SLF001


def _vtn_and_ven(transport: PahoTransport, name: str) -> tuple[Peer, Peer]:
    """A VTN, and a VEN subscribed to `name-cmd/#` with nothing queued."""
    vtn, ven = _sink_and_source(transport, name)
    ven.listen(f"{name}-cmd/#", f"{name}-cmd/echo")
    _settled(transport, ven)  # the echo's PUBACK written
    return vtn, ven


def test_a_commands_puback_goes_in_one_write_with_the_reply(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = _transport(mosquitto)
    try:
        vtn, ven = _vtn_and_ven(transport, "held")
        ven.conn._client.puback_holder.hold_s = 60.0  # noqa: SLF001 - only the reply may write it
        sends = _Sends(monkeypatch)
        vtn.conn.publish("held-cmd/ven", b"command")
        assert ven.receive() == ("held-cmd/ven", b"command")
        reply = b"ack of the command"
        ven.conn.publish("held/ack", reply)  # from this thread, as the kernel's would come
        assert vtn.receive() == ("held/ack", reply)
        written = sends.wait_for(ven, reply)
        with_reply = [sent for sent in written if reply in sent]
        assert len(with_reply) == 1
        # Its own PUBACK (the echo's was written before the recording began) comes first,
        # in the same write: a PUBACK packet, then the reply's PUBLISH.
        assert with_reply[0][:2] == bytes([0x40, 2]) and with_reply[0][4] & 0xF0 == mqtt.PUBLISH
        assert not [sent for sent in written if sent[:1] == b"\x40" and len(sent) == 4]
    finally:
        transport.close()


def test_a_puback_with_nothing_after_it_is_written_after_its_hold(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = _transport(mosquitto)
    try:
        vtn, ven = _vtn_and_ven(transport, "held-alone")
        sends = _Sends(monkeypatch)
        published_at = time.monotonic()  # before the VEN can have read the command
        vtn.conn.publish("held-alone-cmd/ven", b"command")
        assert ven.receive() == ("held-alone-cmd/ven", b"command")
        deadline = time.monotonic() + WAIT_S
        while not sends.of(ven) and time.monotonic() < deadline:
            time.sleep(0.01)
        [(written_at, written)] = sends.timed(ven)
        assert written[:2] == bytes([0x40, 2]) and len(written) == 4
        # Held from when the VEN read the command: a lower bound, however loaded the machine
        # (a few ms off for the clock's and select()'s rounding).
        assert written_at - published_at >= PUBACK_HOLD_S - CLOCK_SLACK_S
        assert not transport.loop._held  # noqa: SLF001 - nothing waits any more
    finally:
        transport.close()


def test_a_puback_with_no_hold_is_written_at_once(
    mosquitto: Mosquitto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`puback_hold_s=0` (a broker with an in-flight window of 1): a PUBACK is written in the
    loop round that read its message, as paho writes it."""
    transport = _transport(mosquitto, puback_hold_s=0)
    try:
        vtn, ven = _vtn_and_ven(transport, "held-none")
        assert ven.conn._client.puback_holder is None  # noqa: SLF001
        sends = _Sends(monkeypatch)
        vtn.conn.publish("held-none-cmd/ven", b"command")
        assert ven.receive() == ("held-none-cmd/ven", b"command")
        # The first round trip may run in the round that read the command, before its
        # writes; the second runs in a later round, so after them.
        _round_trip(transport)
        _round_trip(transport)
        [written] = sends.of(ven)
        assert written[:2] == bytes([0x40, 2]) and len(written) == 4  # the PUBACK, alone
    finally:
        transport.close()
