"""`ven-sim fleet --certs-dir DIR` with the manifest of `certs create --count`: every VEN
connects with its own certificate from it, the probe with the probe's, and a run whose IDs
the manifest does not cover is refused before anything connects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ven_sim.certs.helpers import SimClock
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.certs.aws_fleet import create_identities
from ven_sim.certs.local_ca import LocalCA
from ven_sim.certs.manifest import Identity, Manifest, ManifestHeader, probe_id
from ven_sim.cli import main
from ven_sim.fleet.identities import CLAIM_FILE, IdRange, certificate_owners
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.session import WireOptions, run_fleet

VENS = 12


def _manifest_from_local_ca(ca: LocalCA, folder: Path, prefix: str, vens: int,
                            vens_per_cert: int = 1) -> None:
    """What `certs create --count [--vens-per-cert G]` leaves, with certificates mosquitto
    trusts (AWS's would not be): a manifest, and per identity (per group's first)
    DIR/<id>/cert.pem and private.key."""
    manifest = Manifest(folder)
    manifest.begin(ManifestHeader(prefix, f"ven-sim-fleet-{prefix}", "local", "local"))
    owners = certificate_owners(IdRange(prefix, 0, vens), vens_per_cert)
    for client_id in [*IdRange(prefix, 0, vens).ids(), probe_id(prefix)]:
        owner = owners.get(client_id, client_id)
        if owner == client_id:
            minted = ca.client_cert(client_id)
            (folder / client_id).mkdir(mode=0o700)
            shutil.copy(minted.cert, folder / client_id / "cert.pem")
            shutil.copy(minted.key, folder / client_id / "private.key")
        manifest.record(Identity(client_id, "done", cert=f"{owner}/cert.pem",
                                 key=f"{owner}/private.key"))


def test_each_ven_and_the_probe_connect_with_their_certificates_from_the_manifest(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    ca = LocalCA(mosquitto.folder / "certs")
    certs = tmp_path / "certs"
    _manifest_from_local_ca(ca, certs, "ven-man", VENS)
    config = FleetConfig(IdRange("ven-man", 0, VENS), VENS, ramp_per_s=40.0, duration_s=4.0,
                         telemetry_interval_s=2.0, probe_rate=5.0)
    # No --cert/--key: mosquitto requires a client certificate, so only the manifest's serve.
    options = WireOptions(mosquitto.url, ca=str(ca.ca_path), certs_dir=certs)
    results = run_fleet(config, options, tmp_path / "runs" / "man", say=lambda _line: None)
    assert results["vens_connected"] == VENS and results["connect_failures"] == {}
    assert results["fanout"]["acked"] == VENS  # the probe connected, with the probe's cert
    assert results["pings_answered"] > 0


@pytest.fixture
def three_of_five(moto_server: str, tmp_path: Path) -> Path:
    """A real manifest from moto with ven-load-000000 .. 000002 in it."""
    from ven_sim.certs.pacing import ApiPacer

    certs = tmp_path / "certs"
    create_identities(IdRange("ven-load", 0, 3), certs, pacer=ApiPacer(SimClock()))
    return certs


def test_a_run_the_manifest_does_not_cover_is_refused_naming_the_missing_ids(
    three_of_five: Path, tmp_path: Path
) -> None:
    out = tmp_path / "runs" / "aws"
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "5", "--broker", "aws", "--certs-dir", str(three_of_five),
        "--out", str(out),
    ])
    assert result.exit_code == 1
    assert (f"2 of 5 VENs have no certificate in {three_of_five / 'manifest.jsonl'} "
            "(ven-load-000003, ven-load-000004)") in result.output
    assert "ven-sim certs create --count N --prefix P --start I" in result.output
    assert not (out / CLAIM_FILE).exists()


def test_aws_without_a_manifest_needs_every_vens_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "4", "--id-start", "10", "--broker", "aws",
        "--certs-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "runs" / "x"),
    ])
    assert result.exit_code == 1
    assert "4 of 4 VENs have no certificate in" in result.output
    assert "(ven-load-000010, ven-load-000011, ven-load-000012, ...)" in result.output


def test_a_damaged_manifest_is_one_clear_error(three_of_five: Path, tmp_path: Path) -> None:
    manifest = three_of_five / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join([lines[0], "{oops\n", *lines[1:]]))
    result = CliRunner().invoke(main, [
        "fleet", "--vens", "3", "--broker", "aws", "--certs-dir", str(three_of_five),
        "--out", str(tmp_path / "runs" / "x"),
    ])
    assert result.exit_code == 1
    assert result.output.endswith(f"Error: {manifest}, line 2: not JSON\n")
