"""The probe's fan-out awaits exactly the commands it sent: acked ones leave its count, and
an event that cannot be encoded leaves nothing behind that waits for an ack."""

from __future__ import annotations

import pytest

from sim import contract
from sim.commands import Command, parse_command
from sim.fleet_scenario import FleetEvent
from ven_sim.fleet.metrics import FleetMetrics
from ven_sim.fleet.probe import ProbeVtn
from ven_sim.transports.base import BaseTransport
from ven_sim.transports.inprocess import InProcessBus, InProcessTransport

VENS = ["ven-probe-000001", "ven-probe-000002"]


class AnsweringVens:
    """VENs on the bus as far as the probe can tell: each command read and acked."""

    def __init__(self, transport: BaseTransport, ven_ids: list[str] = VENS) -> None:
        self.commands: list[Command] = []
        self.connection = transport.open("the-vens", self._on_command)
        for ven_id in ven_ids:
            self.connection.subscribe(contract.topics(ven_id).command)

    def _on_command(self, topic: str, payload: bytes) -> None:
        ven_id = topic.rsplit("/", 1)[1]
        command = parse_command(payload, ven_id)
        assert isinstance(command, Command), command
        self.commands.append(command)
        ack = contract.ack_payload(command, ven_id=ven_id, ts=0.0)
        self.connection.publish(contract.topics(ven_id).ack, contract.encode(ack))


def test_a_fanout_that_cannot_be_encoded_leaves_nothing_waiting() -> None:
    transport = InProcessTransport(InProcessBus())
    vens = AnsweringVens(transport)
    probe = ProbeVtn(transport, "probe-1", FleetMetrics(), traced=[])
    try:
        with pytest.raises(ValueError, match="JSON"):  # NaN is not JSON
            probe.fanout(VENS, FleetEvent("unencodable", None, float("nan"), 60.0))
        assert vens.commands == []
        assert probe.fanout_pending == 0 and probe.tally["fanout"].sent == 0
        assert probe.fanout_began is None  # no dispatch began

        probe.fanout(VENS, FleetEvent("evt-1", None, 0.5, 60.0))
        assert [(c.op, c.event_id) for c in vens.commands] == [("event", "evt-1")] * 2
        assert probe.tally["fanout"].acked == 2
        assert probe.fanout_pending == 1  # acked by both, its restore not sent yet
        probe.restore_fanout("evt-1")
        assert probe.tally["fanout_restore"].acked == 2 and probe.fanout_pending == 0
    finally:
        probe.close()
        vens.connection.close()


def test_over_three_connections_the_fanout_is_dealt_out_and_each_ack_taken_once() -> None:
    ven_ids = [f"ven-probe-{n:06d}" for n in range(9)]
    transport = InProcessTransport(InProcessBus())
    vens = AnsweringVens(transport, ven_ids)
    probe = ProbeVtn(transport, "probe-3", FleetMetrics(), traced=[], connections=3)
    try:
        assert probe.ready.is_set()
        probe.fanout(ven_ids, FleetEvent("evt-3", None, 0.5, 60.0))
        assert [c.stats.published for c in probe.connections] == [3, 3, 3]
        assert [c.stats.received for c in probe.connections] == [3, 3, 3]  # one ack each
        assert probe.tally["fanout"].acked == 9 and probe.unmatched_acks == 0
    finally:
        probe.close()
        vens.connection.close()


@pytest.mark.parametrize("connections", [1, 2])
def test_two_shards_probes_each_read_their_own_vens_acks_alone(connections: int) -> None:
    """Two shards' probes on one bus: on `ven/ack/+` each reads the other's acks as well; on
    its own VENs' ack topics (`own_acks`) each reads its own alone, every one once."""
    shards = [[f"ven-probe-{n:06d}" for n in range(i * 4, i * 4 + 4)] for i in range(2)]
    for own in (False, True):
        transport = InProcessTransport(InProcessBus())
        vens = AnsweringVens(transport, shards[0] + shards[1])
        probes = [ProbeVtn(transport, f"probe-{i}", FleetMetrics(), traced=[],
                           connections=connections, own_acks=ids if own else None)
                  for i, ids in enumerate(shards)]
        try:
            for probe, ids in zip(probes, shards, strict=True):
                probe.fanout(ids, FleetEvent(f"evt-{probe.connection.client_id}", None, 0.5, 60))
            for probe in probes:
                assert probe.tally["fanout"].acked == 4
                assert probe.unmatched_acks == (0 if own else 4)
                assert sum(c.stats.received for c in probe.connections) == (4 if own else 8)
                assert probe.ack_subscriptions == (4 if own else 1) * connections
        finally:
            for probe in probes:
                probe.close()
            vens.connection.close()
