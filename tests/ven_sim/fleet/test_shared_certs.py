"""`--vens-per-cert G`: VENs of a group share one certificate, against a real mosquitto with
mutual TLS; with G = 1 (the default) every VEN has its own. Either way the fleet's clients share
one SSLContext, each connection loading its own certificate (client_tls.py), and the broker
sees each VEN as its certificate's owner."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.ven_sim.fleet.test_certs_dir import _manifest_from_local_ca
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.certs.local_ca import LocalCA
from ven_sim.cli import main
from ven_sim.fleet.identities import (
    IdentityError,
    IdRange,
    certificate_owner,
    certificate_owners,
    shard_range,
)
from ven_sim.fleet.plan import FleetConfig, plan_lines
from ven_sim.fleet.session import WireOptions, run_fleet
from ven_sim.fleet.wiring import open_fleet_wire, prepare_clients
from ven_sim.transports.client_tls import ClientCertificate
from ven_sim.wire import WireError

VENS = 20
GROUP = 5


def _minted(mosquitto: Mosquitto, prefix: str) -> list[str]:
    """The client certificates the local CA holds for `prefix`'s VENs (not the probe's)."""
    clients = mosquitto.folder / "certs" / "clients"
    return sorted(p.name for p in clients.glob(f"{prefix}-0*") if (p / "cert.pem").is_file())


def test_groups_run_from_the_range_start() -> None:
    assert [certificate_owner(i, 7, 3) for i in range(7, 15)] == [7, 7, 7, 10, 10, 10, 13, 13]
    assert [certificate_owner(i, 7, 1) for i in range(7, 10)] == [7, 8, 9]
    owners = certificate_owners(IdRange("v", 10, 17), 5)
    assert owners == {"v-000010": "v-000010", "v-000011": "v-000010", "v-000012": "v-000010",
                      "v-000013": "v-000010", "v-000014": "v-000010", "v-000015": "v-000015",
                      "v-000016": "v-000015"}
    with pytest.raises(IdentityError, match=">= 1"):
        certificate_owner(3, 0, 0)


def test_shards_keep_whole_groups() -> None:
    ranges = [shard_range("v", 1000, 40, (i, 3), 100) for i in range(3)]
    assert [(r.start, r.stop) for r in ranges] == [(40, 340), (340, 640), (640, 1040)]
    # The last group may be short; it stays whole too.
    ranges = [shard_range("v", 1050, 0, (i, 2), 100) for i in range(2)]
    assert [(r.start, r.stop) for r in ranges] == [(0, 500), (500, 1050)]
    with pytest.raises(IdentityError, match="fewer than the 3 shards"):
        shard_range("v", 200, 0, (0, 3), 100)


def test_one_per_cert_slices_as_before() -> None:
    """G = 1 is the slicing every earlier run used: sizes within one, nothing refused."""
    for vens, shards in ((10_000, 3), (7, 4), (1, 2)):
        for i in range(shards):
            old = (vens * i // shards, vens * (i + 1) // shards)
            new = shard_range("v", vens, 0, (i, shards))
            assert (new.start, new.stop) == old


def test_plan_names_the_sharing() -> None:
    shared = FleetConfig(IdRange("v", 0, 10_000), 10_000, vens_per_cert=100)
    assert any("certificates: 100 for 10,000 VENs" in line and "leaked key" in line
               for line in plan_lines(shared, "aws"))
    alone = FleetConfig(IdRange("v", 0, 10_000), 10_000)
    assert not any("certificates:" in line for line in plan_lines(alone, "aws"))


def _certificates(wire: Any, client_ids: list[str]) -> dict[str, ClientCertificate | None]:
    """Each prepared client's certificate, once every client shares one context."""
    prepare_clients(wire.transport, client_ids)
    prepared = wire.transport._prepared
    assert len({id(prepared[i]._ssl_context) for i in client_ids}) == 1
    return {i: prepared[i]._tls_certificate for i in client_ids}


def _owner(certificate: ClientCertificate | None) -> str:
    """The VEN a certificate was minted for: its folder's name (local CA or certs dir)."""
    assert certificate is not None
    return Path(certificate.cert).parent.name


def test_a_group_names_one_certificate(mosquitto: Mosquitto) -> None:
    ids = IdRange("ven-ctx", 0, VENS)
    wire = open_fleet_wire(mosquitto.url, client_ids=ids.ids(),
                           local_ca=mosquitto.folder / "certs",
                           owners=certificate_owners(ids, GROUP))
    try:
        probe = "ven-ctx-probe-1"  # the probe has a certificate of its own
        certificates = _certificates(wire, [*ids.ids(), probe])
        assert {i: _owner(c) for i, c in certificates.items()} == {
            **certificate_owners(ids, GROUP), probe: probe}
    finally:
        wire.close()
    assert _minted(mosquitto, "ven-ctx") == [f"ven-ctx-{n:06d}" for n in range(0, VENS, GROUP)]


def test_one_per_cert_names_a_certificate_each(mosquitto: Mosquitto) -> None:
    ids = IdRange("ven-own", 0, 6)
    wire = open_fleet_wire(mosquitto.url, client_ids=ids.ids(),
                           local_ca=mosquitto.folder / "certs")
    try:
        certificates = _certificates(wire, ids.ids())
        assert [_owner(certificates[i]) for i in ids.ids()] == ids.ids()
        # Each with its first connect's TLS socket made, closed if it is never opened.
        prepared = [wire.transport._prepared[i]._tls_socket for i in ids.ids()]
        assert all(sock is not None and sock.fileno() >= 0 for sock in prepared)
    finally:
        wire.close()
    assert all(sock.fileno() == -1 for sock in prepared)
    assert _minted(mosquitto, "ven-own") == ids.ids()


def test_a_shared_certificate_fleet_connects_and_acks(mosquitto: Mosquitto,
                                                      tmp_path: Path) -> None:
    config = FleetConfig(IdRange("ven-share", 0, VENS), VENS, ramp_per_s=50.0, duration_s=6.0,
                         telemetry_interval_s=2.0, probe_rate=5.0, vens_per_cert=GROUP)
    said: list[str] = []
    options = WireOptions(mosquitto.url, local_ca=mosquitto.folder / "certs")
    results = run_fleet(config, options, tmp_path / "run", say=said.append)
    assert results["vens_connected"] == results["connected_at_end"] == VENS
    assert results["fanout"]["acked"] == VENS and results["fanout"]["errors"] == 0
    assert results["unexpected_disconnects"] == 0 and results["connect_failures"] == {}
    assert results["pings_answered"] == results["pings_sent"] > 0
    assert "certificates: 4/4" in said
    assert _minted(mosquitto, "ven-share") == [f"ven-share-{n:06d}"
                                               for n in range(0, VENS, GROUP)]


def test_a_manifest_with_groups_serves_each_group_one_context(mosquitto: Mosquitto,
                                                              tmp_path: Path) -> None:
    """The AWS path (`certs create --vens-per-cert`): a VEN without a folder of its own
    connects with the files the manifest names, its group's."""
    ca, certs = LocalCA(mosquitto.folder / "certs"), tmp_path / "certs"
    _manifest_from_local_ca(ca, certs, "ven-mang", VENS, GROUP)
    ids = IdRange("ven-mang", 0, VENS)
    wire = open_fleet_wire(mosquitto.url, client_ids=ids.ids(), ca=str(ca.ca_path),
                           certs_dir=certs, owners=certificate_owners(ids, GROUP))
    try:
        certificates = _certificates(wire, ids.ids())
        assert len(set(certificates.values())) == VENS // GROUP
    finally:
        wire.close()
    config = FleetConfig(ids, VENS, ramp_per_s=40.0, duration_s=4.0, telemetry_interval_s=2.0,
                         probe_rate=5.0, vens_per_cert=GROUP)
    options = WireOptions(mosquitto.url, ca=str(ca.ca_path), certs_dir=certs)
    results = run_fleet(config, options, tmp_path / "runs" / "man", say=lambda _line: None)
    assert results["vens_connected"] == VENS and results["connect_failures"] == {}
    assert results["fanout"]["acked"] == VENS


def test_the_command_line_refuses_groups_that_cannot_fill_the_workers(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fleet", "--vens", "8", "--workers", "3",
                                       "--vens-per-cert", "4", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "8 VENs at 4 per certificate are 2 certificate group(s), fewer than the 3" in (
        result.output)


def test_a_manifest_is_followed_whatever_the_groups_and_embedded_refuses_them(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Each VEN connects with the files the manifest names, attached to its own thing: a
    fleet's --vens-per-cert that differs from the manifest's does not change whose files."""
    ca, certs = LocalCA(mosquitto.folder / "certs"), tmp_path / "certs"
    _manifest_from_local_ca(ca, certs, "ven-mis", 4)  # a certificate each
    owners = certificate_owners(IdRange("ven-mis", 0, 4), 2)
    wire = open_fleet_wire(mosquitto.url, client_ids=list(owners), ca=str(ca.ca_path),
                           certs_dir=certs, owners=owners)
    try:
        certificates = _certificates(wire, list(owners))
        assert len(set(certificates.values())) == 4
    finally:
        wire.close()
    with pytest.raises(WireError, match="the embedded broker's CA mints a certificate per VEN"):
        open_fleet_wire("embedded", client_ids=list(owners), certs_dir=certs, owners=owners)


@pytest.fixture(scope="module")
def noting_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A mosquitto of this module's own that logs each connection and its username (with
    `use_identity_as_username`, the CN of the certificate the client presented)."""
    broker = Mosquitto(tmp_path_factory.mktemp("noting"), extra_conf=("log_type notice",))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _usernames(mosquitto: Mosquitto, prefix: str) -> dict[str, str]:
    """{client ID: username} of each connection of `prefix`'s VENs that mosquitto logged."""
    pattern = re.compile(rf"New client connected from \S+ as ({prefix}-\d+) \(.*u'([^']*)'\)")
    return dict(pattern.findall(mosquitto.log_path.read_text()))


def test_the_broker_sees_each_ven_as_its_certificates_owner(noting_mosquitto: Mosquitto,
                                                           tmp_path: Path) -> None:
    """Every connection presents the certificate of its VEN (its group's first), though all
    of them are wrapped by one shared context that holds one certificate at a time."""
    ids = IdRange("ven-who", 0, VENS)
    config = FleetConfig(ids, VENS, ramp_per_s=50.0, duration_s=3.0, telemetry_interval_s=2.0,
                         probe_rate=5.0, vens_per_cert=GROUP)
    options = WireOptions(noting_mosquitto.url, local_ca=noting_mosquitto.folder / "certs")
    results = run_fleet(config, options, tmp_path / "run", say=lambda _line: None)
    assert results["vens_connected"] == VENS and results["fanout"]["acked"] == VENS
    assert _usernames(noting_mosquitto, "ven-who") == certificate_owners(ids, GROUP)
