"""`PahoTransport.prepare_many`: a fleet's clients prepared on the network loop's thread, a
turn at a time, against mosquitto with mTLS."""

from __future__ import annotations

import random
import threading

import pytest

from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PREPARE_TURN, PahoTransport

CLIENTS = 2 * PREPARE_TURN + 50


class _Loads(PahoTransport):
    """Records each client whose files are asked for, and on which thread it is prepared;
    refuses to prepare `broken`."""

    def __init__(self, mosquitto: Mosquitto, broken: str = "") -> None:
        self.loads: list[str] = []
        self.threads: set[str] = set()
        self.broken = broken
        self.mosquitto = mosquitto
        super().__init__(mosquitto.url, self._files, rng=random.Random(7))

    def _files(self, client_id: str) -> TlsFiles:
        self.loads.append(client_id)
        return TlsFiles.from_paths(self.mosquitto.client_cert(client_id))

    def prepare(self, client_id: str) -> None:
        if client_id == self.broken:
            raise RuntimeError(f"cannot prepare {client_id}")
        self.threads.add(threading.current_thread().name)
        super().prepare(client_id)


def test_clients_are_prepared_on_the_loop_a_turn_at_a_time(mosquitto: Mosquitto) -> None:
    ids = [f"ven-prep-{i:03d}" for i in range(CLIENTS)]
    transport = _Loads(mosquitto)
    progress: list[tuple[int, str]] = []
    try:
        transport.prepare_many(ids, lambda n: progress.append(
            (n, threading.current_thread().name)))
        assert transport.threads == {"mqtt-netloop"}
        assert progress == [(PREPARE_TURN, "mqtt-netloop"), (2 * PREPARE_TURN, "mqtt-netloop"),
                            (CLIENTS, "mqtt-netloop")]
        assert transport.loads == ids
        prepared = [transport._prepared[i]._tls_socket for i in ids]
        assert all(sock is not None and sock.fileno() >= 0 for sock in prepared)
    finally:
        transport.close()
    assert all(sock.fileno() == -1 for sock in prepared)


def test_a_client_that_cannot_be_prepared_fails_the_caller_and_the_loop_runs_on(
    mosquitto: Mosquitto,
) -> None:
    ids = [f"ven-prep-{i:03d}" for i in range(CLIENTS)]
    transport = _Loads(mosquitto, broken=ids[PREPARE_TURN + 3])
    try:
        with pytest.raises(RuntimeError, match=f"cannot prepare {ids[PREPARE_TURN + 3]}"):
            transport.prepare_many(ids)
        assert transport.loads == ids[:PREPARE_TURN + 3]  # nothing after it
        assert transport.loop.running
        transport.prepare_many(ids[-2:])  # the loop takes more
        assert transport.loads[-2:] == ids[-2:]
    finally:
        transport.close()
