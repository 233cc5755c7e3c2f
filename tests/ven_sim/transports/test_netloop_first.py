"""A first-served connection (a VTN's) on a loop shared with VENs, on mosquitto with mTLS.

It is read until its socket is empty in one round, ahead of the VENs, whose reads stay capped at
`MAX_PACKETS_PER_READ` a round; and its publishes go out in one burst at the next round's
start, ahead of the calls other connections queued and outside their cap.
"""

from __future__ import annotations

import threading
import time

from tests.ven_sim.helpers import TIMEOUT_S
from tests.ven_sim.transports.test_netloop_rounds import Rounds, hold_until_buffered, wire_bytes
from tests.ven_sim.transports.test_paho import Peer, _transport
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports import netloop
from ven_sim.transports.paho_connection import FLUSH_BATCH

BURST = 3 * netloop.MAX_PACKETS_PER_READ + 10  # more than a VEN may read in one round
PAYLOAD = b"x" * 200


def test_a_vtn_is_read_dry_first_while_a_ven_reads_a_capped_share(mosquitto: Mosquitto) -> None:
    transport = _transport(mosquitto)  # the VTN and the VEN share this loop
    source_transport = _transport(mosquitto)
    rounds = Rounds(transport.loop)
    order: list[tuple[int, str]] = []  # (round, who) per message read
    done = threading.Semaphore(0)
    try:
        vtn, ven = Peer(transport, "first-vtn", serve_first=True), Peer(transport, "first-ven")
        for peer, name in ((vtn, "vtn"), (ven, "ven")):
            assert peer.state() == (True, None)
            peer.listen(f"first/{name}/#", f"first/{name}/echo")
            peer.conn._handler = lambda _t, _p, who=name: (order.append((rounds.count, who)),
                                                           done.release())
        source = Peer(source_transport, "first-source")
        assert source.state() == (True, None)
        hold_until_buffered(transport.loop, [vtn, ven],
                            wire_bytes("first/vtn/n", PAYLOAD, BURST))
        for _ in range(BURST):  # QoS 0: the broker's in-flight window does not hold them back
            source.conn.publish("first/ven/n", PAYLOAD, qos=0)
            source.conn.publish("first/vtn/n", PAYLOAD, qos=0)
        for _ in range(2 * BURST):
            assert done.acquire(timeout=TIMEOUT_S)
    finally:
        transport.close()
        source_transport.close()
    vtn_rounds = {r for r, who in order if who == "vtn"}
    assert len(vtn_rounds) == 1  # the whole burst in one round
    first_round = vtn_rounds.pop()
    in_first_round = [who for r, who in order if r == first_round]
    assert in_first_round[:BURST] == ["vtn"] * BURST  # ahead of the VEN
    ven_per_round = [sum(1 for r, who in order if who == "ven" and r == n)
                     for n in sorted({r for r, who in order if who == "ven"})]
    assert ven_per_round[:3] == [netloop.MAX_PACKETS_PER_READ] * 3  # the VEN's cap held
    assert sum(ven_per_round) == BURST


def test_a_vtn_burst_goes_out_in_one_round_ahead_of_queued_calls(mosquitto: Mosquitto) -> None:
    transport = _transport(mosquitto, max_inflight=None)  # a VTN: no in-flight window
    loop = transport.loop
    commands = 3 * FLUSH_BATCH + 7
    fillers = 2 * netloop.MAX_CALLS_PER_ROUND
    ran_fillers: list[int] = []
    published_by_round: list[tuple[int, int]] = []  # (published so far, fillers run so far)
    try:
        vtn = Peer(transport, "first-burst-vtn", serve_first=True)
        assert vtn.state() == (True, None)
        holding, released = threading.Event(), threading.Event()
        loop.round_observer = lambda _s: published_by_round.append(
            (vtn.conn.stats.published, len(ran_fillers)))

        def hold() -> None:
            holding.set()
            assert released.wait(TIMEOUT_S)
            published_by_round.clear()  # count from the round after this one

        loop.call_soon(hold)
        assert holding.wait(TIMEOUT_S)  # what follows queues behind the loop's current round
        for i in range(fillers):  # other connections' calls, queued before the VTN's
            loop.call_soon(lambda i=i: ran_fillers.append(i))
        for i in range(commands):
            vtn.conn.publish(f"first/burst/{i}", b"event")
        released.set()
        deadline = time.monotonic() + TIMEOUT_S
        while len(ran_fillers) < fillers and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        transport.close()
    # The hold's round ends first; in the next one every command went to paho, before any
    # queued call had run beyond one round's cap.
    published, fillers_run = published_by_round[1]
    assert published == commands
    assert fillers_run <= netloop.MAX_CALLS_PER_ROUND
    assert ran_fillers == list(range(fillers))
