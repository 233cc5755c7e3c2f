"""The ramp's backpressure: no VEN is opened while the handshake window is full, and a run
says how far behind its planned ramp it fell (`ramp_behind_s`, `ramp_held_s`).

First the gate itself, on a listener that completes TCP connects and never answers TLS (a
broker too busy to handshake): the window fills and stays full. Then a whole fleet on
mosquitto with mTLS whose ramp asks for far more connects per second than a window of two
handshakes can give: it falls behind, says so, and every VEN still connects.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.ven_sim.helpers import TIMEOUT_S
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import IdRange
from ven_sim.fleet.merge import merge_results
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.transports import handshake
from ven_sim.transports.endpoints import TlsFiles
from ven_sim.transports.paho import PahoTransport

VENS = 120
RAMP = 5000.0  # connects/s asked for: the whole fleet planned within 24 ms
WINDOW = 2  # handshakes at once: each costs a millisecond or more of CPU, so it cannot


def _wait_for(condition, timeout: float = TIMEOUT_S) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_the_window_fills_when_handshakes_do_not_finish(mosquitto: Mosquitto) -> None:
    silent = socket.create_server(("127.0.0.1", 0), backlog=256)  # never answers a ClientHello
    url = f"mqtts://127.0.0.1:{silent.getsockname()[1]}"
    transport = PahoTransport(url, lambda cid: TlsFiles.from_paths(mosquitto.client_cert(cid)))
    try:
        assert not transport.connect_window_full()
        opened = 0
        while not transport.connect_window_full() and opened < 2 * handshake.MAX_HANDSHAKES:
            transport.open(f"bp-silent-{opened}", lambda _t, _p: None)
            opened += 1
        # Full at the window, counting connections whose start has not run on the loop yet.
        assert opened == handshake.MAX_HANDSHAKES
        busy, window = handshake.handshake_window(transport.loop)
        assert _wait_for(lambda: handshake.handshake_window(transport.loop)[0] == opened)
        assert window == handshake.MAX_HANDSHAKES and transport.connect_window_full()
    finally:
        transport.close(timeout=1.0)
        silent.close()


def test_the_window_empties_as_handshakes_complete(mosquitto: Mosquitto) -> None:
    transport = PahoTransport(mosquitto.url,
                              lambda cid: TlsFiles.from_paths(mosquitto.client_cert(cid)))
    try:
        for n in range(10):
            transport.open(f"bp-ok-{n}", lambda _t, _p: None)
        assert _wait_for(lambda: handshake.handshake_window(transport.loop)[0] == 0)
        assert not transport.connect_window_full()
    finally:
        transport.close()


@pytest.fixture(scope="module")
def held_run(mosquitto: Mosquitto, tmp_path_factory: pytest.TempPathFactory) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handshake, "MAX_HANDSHAKES", WINDOW)
        out = tmp_path_factory.mktemp("backpressure") / "runs" / "shard-0"
        config = FleetConfig(IdRange("ven-bp", 0, VENS), VENS, ramp_per_s=RAMP,
                             duration_s=8.0, telemetry_interval_s=2.0, probe_rate=2.0)
        options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
        return run_fleet(config, options, Path(out), say=lambda _line: None)


def test_a_ramp_faster_than_the_window_is_held_and_says_how_late(held_run: dict) -> None:
    results = held_run
    assert results["vens_connected"] == VENS and results["unexpected_disconnects"] == 0
    assert results["fanout"]["acked"] == VENS  # sent once the late ramp had ended
    planned_end = VENS / RAMP
    opens = [t_open for _, t_open, _ in results["connects"]]
    took = opens[-1] - opens[0]
    # The ramp waited for handshake turns, so it took longer than planned, and says so.
    assert took > 4 * planned_end
    assert results["ramp_held_s"] > 0.0
    assert results["ramp_behind_s"] >= took - planned_end - 0.05
    # Each wait moved the rest of the plan back: it never caught up faster than planned.
    assert results["ramp_behind_s"] >= results["ramp_held_s"] - 0.05
    # The wait is the ramp's, not the VENs': opened at once, the last of them would have
    # waited for every handshake before it, its connect time as long as the ramp's delay.
    assert results["connect_ms"]["p99"] < 0.5 * results["ramp_behind_s"] * 1000.0


def test_merged_shards_report_the_latest_ramp(held_run: dict) -> None:
    on_time = {**held_run, "id_range": [VENS, 2 * VENS], "ramp_behind_s": 0.0,
               "ramp_held_s": 0.0}
    merged = merge_results([held_run, on_time])
    assert merged["ramp_behind_s"] == held_run["ramp_behind_s"]
    assert merged["ramp_held_s"] == held_run["ramp_held_s"]
