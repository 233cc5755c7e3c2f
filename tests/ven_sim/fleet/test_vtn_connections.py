"""A probe VTN over several connections (`--vtn-connections`), against mosquitto with mTLS:
the fan-out's commands go out over each in turn, and each ack comes back once, over one of
them, through the shared subscription."""

from __future__ import annotations

import random
import time

from click.testing import CliRunner

from tests.ven_sim.fleet.test_probe import AnsweringVens
from tests.ven_sim.helpers import wait_for
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.cli import main
from ven_sim.fleet.metrics import FleetMetrics
from ven_sim.fleet.probe import ProbeVtn
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport

VENS = [f"ven-share-{n:06d}" for n in range(30)]
CONNECTIONS = 3
WAIT_S = 20.0  # generous: a loaded machine still acks 30 commands in well under a second


def test_the_fanout_goes_out_over_every_connection_and_each_ack_comes_back_once(
    mosquitto: Mosquitto,
) -> None:
    def tls(client_id: str) -> TlsFiles:
        return TlsFiles.from_paths(mosquitto.client_cert(client_id))

    transport = PahoTransport(mosquitto.url, tls, rng=random.Random(3))
    vens = AnsweringVens(transport, VENS)
    probe = ProbeVtn(transport, "ven-share-probe-1", FleetMetrics(), traced=[],
                     connections=CONNECTIONS)
    try:
        assert probe.ready.wait(WAIT_S) and wait_for(lambda: vens.connection.connected, WAIT_S)
        assert [c.client_id for c in probe.connections] == [
            "ven-share-probe-1", "ven-share-probe-1-1", "ven-share-probe-1-2"]
        probe.fanout(VENS)
        assert wait_for(lambda: probe.tally["fanout"].acked == len(VENS), WAIT_S), probe.tally
        assert [c.stats.published for c in probe.connections] == [len(VENS) // CONNECTIONS] * 3
        probe.restore_fanout("fleet-fanout")
        restored = len(VENS)
        assert wait_for(lambda: probe.tally["fanout_restore"].acked == restored, WAIT_S), \
            probe.tally
        time.sleep(1.0)  # a second copy of any ack would have come by now
        received = [c.stats.received for c in probe.connections]
        # Every ack once in all (the event's and the restore's), and each connection took some.
        assert sum(received) == 2 * len(VENS) and min(received) > 0, received
        assert probe.unmatched_acks == 0 and probe.fanout_pending == 0
        assert len(vens.commands) == 2 * len(VENS)
    finally:
        probe.close()
        vens.connection.close()
        transport.close()


def test_the_embedded_broker_refuses_more_than_one_vtn_connection() -> None:
    result = CliRunner().invoke(main, ["fleet", "--vens", "2", "--vtn-connections", "2"])
    assert result.exit_code == 2
    assert "shared subscriptions" in result.output and "embedded" in result.output


def test_probe_acks_own_is_refused_where_a_probe_cannot_hold_a_filter_a_ven() -> None:
    for broker in ("aws", "embedded"):
        result = CliRunner().invoke(main, ["fleet", "--vens", "2", "--workers", "2",
                                           "--broker", broker, "--probe-acks", "own"])
        assert result.exit_code == 2, result.output
        assert "--probe-acks own needs a broker given by URL" in result.output
