"""PahoTransport over real MQTT with mTLS: on mosquitto and on the embedded broker alike.

Subscriptions are confirmed by a self-echo (a connection publishes to a filter it just
subscribed to: the broker handles one connection's packets in order), never by sleeping.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ven_sim.helpers import TIMEOUT_S, Broker
from ven_sim.broker.embedded import EmbeddedBroker
from ven_sim.broker.mosquitto import Mosquitto, free_port, mosquitto_binary
from ven_sim.certs.local_ca import LocalCA
from ven_sim.transports import handshake
from ven_sim.transports.base import MessageHandler
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.paho import PahoConnection, PahoTransport

FAST = (0.05, 0.2)  # backoff (base, cap) so reconnects happen within the test


@pytest.fixture(params=["mosquitto", "embedded_broker"])
def broker(request: pytest.FixtureRequest) -> Broker:
    return request.getfixturevalue(request.param)


def _transport(broker: Broker, **kwargs: Any) -> PahoTransport:
    """Each client ID gets its own certificate from the broker's CA, as each VEN would."""

    def tls(client_id: str) -> TlsFiles:
        return TlsFiles.from_paths(broker.client_cert(client_id))

    return PahoTransport(broker.url, tls, rng=random.Random(7), **kwargs)


class Peer:
    """A connection whose messages and state changes land in queues."""

    def __init__(
        self, transport: PahoTransport, client_id: str, on_down: Callable[[], None] | None = None,
        *, serve_first: bool = False,
    ) -> None:
        self.inbox: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.states: queue.Queue[tuple[bool, str | None]] = queue.Queue()
        self.on_down = on_down
        self.conn: PahoConnection = transport.open(
            client_id, lambda t, p: self.inbox.put((t, p)), self._on_state, serve_first=serve_first
        )

    def _on_state(self, up: bool, reason: str | None) -> None:
        if not up and self.on_down is not None:
            self.on_down()
        self.states.put((up, reason))

    def state(self) -> tuple[bool, str | None]:
        return self.states.get(timeout=TIMEOUT_S)

    def receive(self) -> tuple[str, bytes]:
        return self.inbox.get(timeout=TIMEOUT_S)

    def listen(self, topic_filter: str, echo_topic: str, qos: int = 1) -> None:
        """Subscribe and wait until the broker routes to us (our own message comes back)."""
        self.conn.subscribe(topic_filter, qos)
        self.conn.publish(echo_topic, b"echo")
        assert self.receive() == (echo_topic, b"echo")


def test_two_connections_exchange_qos1_both_ways(broker: Broker) -> None:
    transport = _transport(broker)
    try:
        a, b = Peer(transport, "ven-pt-a"), Peer(transport, "ven-pt-b")
        assert a.state() == (True, None) and b.state() == (True, None)
        a.listen("pt/a/#", "pt/a/echo")
        b.listen("pt/b/#", "pt/b/echo")
        a.conn.publish("pt/b/cmd", b"to b")
        b.conn.publish("pt/a/cmd", b"to a")
        assert b.receive() == ("pt/b/cmd", b"to b")
        assert a.receive() == ("pt/a/cmd", b"to a")
        assert a.conn.stats.published == 2 and a.conn.stats.received == 2
    finally:
        transport.close()
    assert not a.conn.connected and not transport.loop.running


def test_close_delivers_what_was_published_before_it(broker: Broker) -> None:
    # More than the 20 in flight: the rest wait in the connection's outbox, not on the socket.
    transport = _transport(broker)
    try:
        watcher, sender = Peer(transport, "ven-close-watch"), Peer(transport, "ven-close-send")
        assert watcher.state() == (True, None) and sender.state() == (True, None)
        watcher.listen("close/#", "close/echo", qos=0)
        for i in range(100):
            sender.conn.publish("close/data", str(i).encode())
        sender.conn.close()
        assert not sender.conn.connected and sender.conn.stats.dropped == 0
        got = sorted(int(watcher.receive()[1]) for _ in range(100))
        assert got == list(range(100))
    finally:
        transport.close()


def test_a_crash_sends_what_was_queued_then_the_broker_publishes_the_will(
        broker: Broker) -> None:
    """A `ven_crash` on a real broker: the queue goes out, then the socket is dropped with no
    DISCONNECT, so the broker itself publishes the will, after everything the client sent."""
    transport = _transport(broker)
    try:
        watcher = Peer(transport, "ven-crash-watch")
        assert watcher.state() == (True, None)
        watcher.listen("crash/#", "crash/echo")
        ups: queue.Queue[bool] = queue.Queue()
        dying = transport.open("ven-crash-dying", lambda _t, _p: None,
                               lambda up, _reason: ups.put(up), will=("crash/will", b"gone"))
        assert ups.get(timeout=TIMEOUT_S) is True
        for i in range(30):  # more than paho's 20 in flight
            dying.publish("crash/data", str(i).encode())
        assert dying.crash().wait(TIMEOUT_S)
        got = [watcher.receive() for _ in range(31)]
        assert got == [("crash/data", str(i).encode()) for i in range(30)] + [
            ("crash/will", b"gone")]
        assert not dying.connected and dying.stats.dropped == 0
        assert dying.stats.connects == 1 and ups.empty()  # no down report, no reconnect
    finally:
        transport.close()


def test_200_clients_on_one_loop_each_get_their_message(broker: Broker) -> None:
    threads_before = threading.active_count()
    loop = NetworkLoop().start()
    transport = _transport(broker, loop=loop)
    ids = [f"ven-many-{i:03d}" for i in range(200)]
    ready, delivered = threading.Semaphore(0), threading.Semaphore(0)
    wrong: list[str] = []

    def handler(client_id: str) -> MessageHandler:
        def on_message(topic: str, payload: bytes) -> None:
            if topic.endswith("/ready"):
                ready.release()
            elif payload == client_id.encode():
                delivered.release()
            else:
                wrong.append(f"{client_id} got {payload!r}")
        return on_message

    try:
        conns = [transport.open(cid, handler(cid)) for cid in ids]
        for cid, conn in zip(ids, conns, strict=True):
            conn.subscribe(f"many/{cid}/#")
            conn.publish(f"many/{cid}/ready", b"")  # queued until connected, after the SUBSCRIBE
        for _ in ids:
            assert ready.acquire(timeout=TIMEOUT_S), "a client never got its own echo"
        assert loop.clients == 200
        assert threading.active_count() <= threads_before + 2
        sender = conns[0]
        for cid in ids:
            sender.publish(f"many/{cid}/cmd", cid.encode())
        for _ in ids:
            assert delivered.acquire(timeout=TIMEOUT_S), "a client missed its message"
        assert not wrong
    finally:
        transport.close()
        loop.stop()
    assert loop.clients == 0


@pytest.fixture(params=["mosquitto", "embedded"])
def restartable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Mosquitto | EmbeddedBroker]:
    """A broker of our own on a fixed port, so the test can stop and restart it."""
    if request.param == "mosquitto":
        if mosquitto_binary() is None:
            pytest.skip("mosquitto not installed")
        own: Mosquitto | EmbeddedBroker = Mosquitto(tmp_path)  # port fixed at creation
    else:
        own = EmbeddedBroker(LocalCA(tmp_path / "certs"), "127.0.0.1", free_port())
    own.start()
    try:
        yield own
    finally:
        own.stop()


def test_offline_buffer_and_resubscribe_across_broker_restart(
    restartable: Mosquitto | EmbeddedBroker,
) -> None:
    transport = _transport(restartable, backoff=FAST, offline_buffer=3)
    try:
        ven, other = Peer(transport, "ven-restart"), Peer(transport, "ven-restart-other")
        assert ven.state() == (True, None) and other.state() == (True, None)
        # QoS 0 deliveries: amqtt 0.12 registers its PUBACK waiter only after sending, a fast
        # client's PUBACK can beat it, and then its shutdown hangs on that waiter.
        ven.listen("rs/ven/#", "rs/ven/echo", qos=0)
        restartable.stop()
        assert ven.state()[0] is False
        assert not ven.conn.connected
        for i in range(5):  # the broker is down: buffered, the two oldest dropped
            ven.conn.publish("rs/ven/buffered", f"m{i}".encode())
        assert ven.conn.stats.dropped == 2
        restartable.start()
        while (up := ven.state()) != (True, None):
            assert up[0] is False  # failed attempts while the broker was down
        # Received only if the subscription came back first: same connection, in order.
        assert [ven.receive() for _ in range(3)] == [
            ("rs/ven/buffered", b"m2"), ("rs/ven/buffered", b"m3"), ("rs/ven/buffered", b"m4")
        ]
        while other.state() != (True, None):
            pass
        other.conn.publish("rs/ven/cmd", b"after reconnect")
        assert ven.receive() == ("rs/ven/cmd", b"after reconnect")
    finally:
        transport.close()


def test_same_client_id_kicks_then_reconnects_and_flushes(broker: Broker) -> None:
    # AWS IoT and mosquitto kick the first connection; the embedded broker is made to as well.
    transport = _transport(broker, backoff=FAST)
    thief_side = _transport(broker, backoff=(5.0, 5.0))  # the thief stays out once kicked
    try:
        # Published from on_state(False), on the loop thread before any reconnect: buffered.
        ven = Peer(transport, "ven-twin", lambda: ven.conn.publish("twin/while-down", b"queued"))
        assert ven.state() == (True, None)
        ven.listen("twin/#", "twin/echo")
        thief = thief_side.open("ven-twin", lambda t, p: None)
        up, reason = ven.state()
        assert not up and reason is not None and "same client ID" in reason
        assert ven.conn.stats.last_error == reason
        thief.close()
        while ven.state() != (True, None):
            pass
        assert ven.receive() == ("twin/while-down", b"queued")
        assert ven.conn.stats.connects >= 2 and ven.conn.stats.disconnects >= 1
    finally:
        thief_side.close()
        transport.close()


def test_certificate_from_another_ca_is_reported_and_loop_survives(
    broker: Broker, tmp_path: Path
) -> None:
    loop = NetworkLoop().start()
    other_ca = LocalCA(tmp_path)
    foreign = other_ca.client_cert("ven-intruder")
    honest = broker.client_cert("ven-honest")
    sides = {
        # Our certificate is not from the broker's CA: it refuses us after the handshake.
        "intruder": TlsFiles(broker.ca_path, foreign.cert, foreign.key),
        # We don't trust the broker's certificate: refused before anything is sent.
        "doubter": TlsFiles(other_ca.ca_path, honest.cert, honest.key),
    }
    transports = [
        PahoTransport(broker.url, tls, loop=loop, backoff=(5.0, 5.0)) for tls in sides.values()
    ]
    good_side = _transport(broker, loop=loop)
    try:
        intruder, doubter = (Peer(t, "ven-honest") for t in transports)
        up, reason = intruder.state()
        assert not up and reason is not None and "client certificate" in reason
        assert intruder.conn.stats.last_error == reason and intruder.conn.stats.connects == 0
        up, reason = doubter.state()
        assert not up and reason is not None and "broker certificate not trusted" in reason
        good = Peer(good_side, "ven-good")  # the same loop still serves everyone else
        assert good.state() == (True, None)
        good.listen("honest/#", "honest/echo")
    finally:
        for transport in [*transports, good_side]:
            transport.close()
        loop.stop()


@pytest.mark.parametrize("keepalive", [0, 29, 1201, True])
def test_keepalive_outside_aws_range_is_refused(keepalive: int) -> None:
    with pytest.raises(ValueError, match="keepalive"):
        PahoTransport("mqtts://127.0.0.1:8883", None, keepalive=keepalive)


def test_network_loop_runs_callbacks_and_timers_in_order() -> None:
    loop = NetworkLoop().start()
    seen: queue.Queue[str] = queue.Queue()

    def schedule() -> None:  # on the loop thread, so no timer can fire before cancel()
        seen.put(threading.current_thread().name)
        loop.call_later(0.05, lambda: seen.put("late"))
        loop.call_later(0.01, lambda: seen.put("early"))
        loop.call_later(0.0, lambda: seen.put("cancelled")).cancel()

    try:
        loop.call_soon(schedule)
        assert [seen.get(timeout=TIMEOUT_S) for _ in range(3)] == ["mqtt-netloop", "early", "late"]
    finally:
        loop.stop()
    assert not loop.running and seen.empty()


def _sink_and_source(transport: PahoTransport, name: str) -> tuple[Peer, Peer]:
    """Two connected peers: `name-sink` listening on `name/#`, and `name-source`."""
    sink = Peer(transport, f"{name}-sink")
    assert sink.state() == (True, None)
    sink.listen(f"{name}/#", f"{name}/echo")
    source = Peer(transport, f"{name}-source")
    assert source.state() == (True, None)
    return sink, source


def test_publish_rate_is_capped_like_aws_iot(mosquitto: Mosquitto) -> None:
    # 50/s with a burst of 50: 150 messages need at least two seconds of refill.
    transport = _transport(mosquitto, max_publish_rate=50.0)
    try:
        sink, source = _sink_and_source(transport, "rate")
        started = time.monotonic()
        for i in range(150):
            source.conn.publish("rate/n", str(i).encode())
        got = [sink.receive()[1] for _ in range(150)]
        elapsed = time.monotonic() - started
        assert got == [str(i).encode() for i in range(150)]  # in order, none lost
        assert elapsed >= 1.8  # a lower bound the limiter guarantees, whatever the machine
    finally:
        transport.close()


def test_the_inflight_window_holds_back_the_rest_and_all_arrive_in_order(
    mosquitto: Mosquitto,
) -> None:
    # A VTN's fan-out is many QoS 1 publishes at once: the connection keeps at most
    # max_inflight unacknowledged (paho itself queues nothing), and each PUBACK sends the next.
    in_flight: list[int] = []
    transport = _transport(mosquitto, max_inflight=5)
    try:
        sink, source = _sink_and_source(transport, "window")

        def observe(event: str, client_id: str, _seconds: float) -> None:
            if event == "puback" and client_id == "window-source":
                in_flight.append(len(source.conn._unacked) + 1)  # + the one just acknowledged

        source.conn._observer = observe
        for i in range(300):
            source.conn.publish("window/n", str(i).encode())
        got = [sink.receive()[1] for _ in range(300)]
        assert got == [str(i).encode() for i in range(300)]  # in order, none lost
        source.conn.close()  # returns once the last PUBACK is in
        assert len(in_flight) == 300 and max(in_flight) <= 5
        assert max(in_flight) == 5  # the window was used, not one at a time
        assert source.conn._client.max_inflight_messages == 0  # paho keeps no queue of its own
    finally:
        transport.close()


def test_a_burst_larger_than_the_socket_buffer_arrives_whole_and_in_order(
    mosquitto: Mosquitto,
) -> None:
    # 12 MB at once: writes stop at a full send buffer and resume when select() says so.
    transport = _transport(mosquitto, max_inflight=None)
    try:
        sink, source = _sink_and_source(transport, "burst")
        blob = bytes(range(256)) * 400  # 100 KB
        for i in range(120):
            source.conn.publish("burst/n", str(i).encode() + b":" + blob)
        got = [sink.receive()[1] for _ in range(120)]
        assert [m.split(b":", 1)[0] for m in got] == [str(i).encode() for i in range(120)]
        assert all(m.split(b":", 1)[1] == blob for m in got)
    finally:
        transport.close()


def test_handshakes_take_turns_and_closing_frees_every_turn(mosquitto: Mosquitto) -> None:
    under_way: list[int] = []
    transport = _transport(mosquitto)
    transport.observer = lambda event, _cid, _s: (
        under_way.append(handshake._turns[transport.loop].busy) if event == "tls" else None)
    try:
        peers = [Peer(transport, f"turns-{i}") for i in range(150)]
        assert all(peer.state() == (True, None) for peer in peers)
        assert len(under_way) == 150 and max(under_way) <= handshake.MAX_HANDSHAKES
        # A burst closed at once, most of it still waiting for a turn: every turn comes back.
        late = [transport.open(f"turns-late-{i}", lambda _t, _p: None) for i in range(150)]
        for conn in late:
            conn.close()
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            turns = _on_loop(transport.loop, lambda: (handshake._turns[transport.loop].busy,
                                                      len(handshake._turns[transport.loop].waiting)))
            if turns == (0, 0):
                break
            time.sleep(0.05)
        assert turns == (0, 0)
    finally:
        transport.close()


def _on_loop(loop: NetworkLoop, fn: Callable[[], Any]) -> Any:
    result: queue.Queue[Any] = queue.Queue()
    loop.call_soon(lambda: result.put(fn()))
    return result.get(timeout=TIMEOUT_S)


def test_max_inflight_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_inflight must be >= 1"):
        PahoTransport("mqtts://127.0.0.1:8883", None, max_inflight=0)


def test_a_negative_puback_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="puback_hold_s must be >= 0"):
        PahoTransport("mqtts://127.0.0.1:8883", None, puback_hold_s=-0.1)


def test_a_prepared_client_loads_its_certificate_once_before_open(mosquitto: Mosquitto) -> None:
    loads: list[str] = []

    def tls(client_id: str) -> TlsFiles:
        loads.append(client_id)
        return TlsFiles.from_paths(mosquitto.client_cert(client_id))

    transport = PahoTransport(mosquitto.url, tls, rng=random.Random(7))
    try:
        transport.prepare("ven-prepared")
        assert loads == ["ven-prepared"]
        peer = Peer(transport, "ven-prepared")
        assert peer.state() == (True, None)
        assert loads == ["ven-prepared"]  # open() took the prepared client
        Peer(transport, "ven-unprepared")
        assert loads == ["ven-prepared", "ven-unprepared"]
    finally:
        transport.close()
