"""`ven-sim fleet --ray local`: two shards as Ray actors add up to one process's fleet."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ven_sim.fleet.live_run import run_until
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.cli import main
from ven_sim.fleet.identities import shard_range
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.session import WireOptions, run_fleet

ray = pytest.importorskip("ray")

VENS = 40
DURATION_S = 7.0
INTERVAL_S = 1.0


def config(prefix: str, shard: tuple[int, int]) -> FleetConfig:
    return FleetConfig(shard_range(prefix, VENS, 0, shard), VENS, shard[1], ramp_per_s=40.0,
                       duration_s=DURATION_S, telemetry_interval_s=INTERVAL_S, probe_rate=5.0)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """One local cluster (`--ray local` in this process) for the whole module; yields its
    address, which a `ven-sim fleet --ray ADDRESS` process joins instead of starting its own."""
    from ven_sim.fleet.ray_shards import connect

    connect("local")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def test_ctrl_c_stops_every_ray_shard_and_still_merges(
    local_ray: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    out = tmp_path / "interrupted"
    command = [
        sys.executable, "-m", "ven_sim", "fleet", "--ray", local_ray, "--workers", "2",
        "--vens", "20", "--ramp", "40", "--duration", "600", "--telemetry-interval", "1",
        "--id-prefix", "ven-raysig", "--broker", mosquitto.url,
        "--local-ca", str(mosquitto.folder / "certs"), "--out", str(out),
    ]
    code, line, stdout, stderr = run_until(command, "connected 20/20", "fan-out acked 20",
                                           timeout_s=120.0)
    assert code == 0, stdout + stderr
    assert "ray shards 2" in line
    merged = json.loads((out / "fleet.json").read_text())
    assert merged["stopped_early"] is True and merged["shards_merged"] == 2
    assert merged["vens_connected"] == 20 and merged["unexpected_disconnects"] == 0
    for i in range(2):
        shard = json.loads((out / f"shard-{i}" / "fleet.json").read_text())
        assert shard["stopped_early"] is True and shard["duration_s"] < 600


def test_two_ray_shards_merge_to_one_process_totals(
    local_ray: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
    one = run_fleet(config("ven-one", (0, 1)), options, tmp_path / "one", say=lambda _: None)
    out = tmp_path / "ray"
    scratch_before = set(Path(tempfile.gettempdir()).glob("ven-sim-fleet-*"))
    result = CliRunner().invoke(main, [
        "fleet", "--ray", "local", "--workers", "2", "--vens", str(VENS), "--ramp", "40",
        "--duration", str(DURATION_S), "--telemetry-interval", str(INTERVAL_S),
        "--probe-rate", "5", "--id-prefix", "ven-ray", "--broker", mosquitto.url,
        "--local-ca", str(mosquitto.folder / "certs"), "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert f"fleet: {VENS} VENs in 2 shard(s)" in result.output
    merged = json.loads((out / "fleet.json").read_text())
    assert merged["workers"] == 2 and merged["shards_merged"] == 2
    for key in ("vens_requested", "vens_connected"):
        assert merged[key] == one[key] == VENS, key
    assert merged["fanout"]["vens"] == merged["fanout"]["acked"] == one["fanout"]["acked"] == VENS
    assert merged["fanout"]["restore"]["acked"] == one["fanout"]["restore"]["acked"] == VENS
    assert merged["reconnects"] == one["reconnects"] == 0
    assert merged["unexpected_disconnects"] == one["unexpected_disconnects"] == 0
    # Same run length, same ramp: each VEN reports once a second from its connect to the
    # stop, so the totals differ by a report per VEN at most (where the stop fell).
    assert abs(merged["telemetry_published"] - one["telemetry_published"]) <= VENS
    assert merged["telemetry_published"] >= VENS * (DURATION_S - 3) / INTERVAL_S
    assert merged["id_ranges"] == [["ven-ray", 0, VENS // 2], ["ven-ray", VENS // 2, VENS]]
    shard_ids = [json.loads((out / f"shard-{i}" / "fleet.json").read_text())["id_range"]
                 for i in range(2)]
    assert shard_ids == [[0, VENS // 2], [VENS // 2, VENS]]
    assert (out / "timeline.png").stat().st_size > 0
    assert (out / "shard-1" / "timeline.png").stat().st_size > 0
    # The shards' scratch folders go with their run: none is left behind in the temp dir.
    assert set(Path(tempfile.gettempdir()).glob("ven-sim-fleet-*")) <= scratch_before


def test_more_shards_than_the_cluster_has_cpus_are_refused(
    local_ray: str, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    from ven_sim.fleet.ray_shards import run_on_ray

    options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
    with pytest.raises(RuntimeError, match="3 shards need a CPU each; the Ray cluster has 2"):
        run_on_ray("local", [config("ven-many", (i, 3)) for i in range(3)], options,
                   tmp_path / "many")

