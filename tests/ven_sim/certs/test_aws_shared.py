"""`certs create --count N --vens-per-cert G` and `certs delete` against moto's server: N
things, one certificate per group of G attached to each of its things, resumable, and every
shared certificate detached and deleted again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.ven_sim.certs.test_aws_fleet import (
    CtrlC,
    RecordingPacer,
    _all,
    _certificate_count,
    _prefix,
    iot,  # noqa: F401 - the fixture
)
from ven_sim.certs.aws_fleet import create_identities, delete_identities
from ven_sim.certs.manifest import Manifest, probe_id
from ven_sim.cli import main
from ven_sim.fleet.identities import IdRange

VENS, GROUP, START = 7, 3, 10  # groups 10-12, 13-15 and 16 alone


def _check_groups(iot: Any, folder: Path, prefix: str) -> None:  # noqa: F811 - not the fixture
    """Every thing has exactly its group's certificate attached; each certificate, exactly
    its group's things; the manifest maps each ID to its group's files, which exist once."""
    manifest = Manifest(folder)
    ids = IdRange(prefix, START, START + VENS).ids()
    for first in range(0, VENS, GROUP):
        group = ids[first:first + GROUP]
        owner = manifest.identities[group[0]]
        assert owner.cert == f"{group[0]}/cert.pem" and not owner.shares_certificate
        for client_id in group:
            identity = manifest.identities[client_id]
            assert identity.stage == "done"
            assert (identity.certificate_arn, identity.cert, identity.key) == (
                owner.certificate_arn, owner.cert, owner.key)
            principals = iot.list_thing_principals(thingName=client_id)["principals"]
            assert principals == [owner.certificate_arn]
        things = iot.list_principal_things(principal=owner.certificate_arn)["things"]
        assert sorted(things) == group
    folders = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert folders == sorted([ids[0], ids[3], ids[6], probe_id(prefix)])


def test_a_certificate_per_group_attached_to_each_of_its_things(
    iot: Any, tmp_path: Path  # noqa: F811
) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    report = create_identities(IdRange(prefix, START, START + VENS), tmp_path,
                               pacer=RecordingPacer(), vens_per_cert=GROUP)
    assert (report.total, report.done, report.skipped) == (VENS + 1, VENS + 1, 0)
    assert _certificate_count(iot) - before == 3 + 1  # three groups and the probe
    _check_groups(iot, tmp_path, prefix)
    again = create_identities(IdRange(prefix, START, START + VENS), tmp_path,
                              pacer=RecordingPacer(), vens_per_cert=GROUP)
    assert (again.done, again.skipped) == (0, VENS + 1)


def test_an_interrupted_create_finishes_without_extra_certificates(
    iot: Any, tmp_path: Path  # noqa: F811
) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    ids = IdRange(prefix, START, START + VENS)
    # The groups' first VENs and the probe attach 4 times; the 6th attach is a joiner's.
    with pytest.raises(KeyboardInterrupt):
        create_identities(ids, tmp_path, pacer=CtrlC("AttachThingPrincipal", 6), threads=1,
                          vens_per_cert=GROUP)
    half = Manifest(tmp_path)
    done = [i for i in ids.ids() if i in half.identities and half.identities[i].usable]
    assert 0 < len(done) < VENS
    report = create_identities(ids, tmp_path, pacer=RecordingPacer(), vens_per_cert=GROUP)
    assert report.done > 0 and report.skipped > 0
    assert _certificate_count(iot) - before == 4
    _check_groups(iot, tmp_path, prefix)


def test_delete_detaches_every_thing_then_deletes_the_shared_certificates(
    iot: Any, tmp_path: Path  # noqa: F811
) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    create_identities(IdRange(prefix, START, START + VENS), tmp_path, pacer=RecordingPacer(),
                      vens_per_cert=GROUP)
    report = delete_identities(prefix, tmp_path, pacer=RecordingPacer())
    assert (report.total, report.done) == (VENS + 1, VENS + 1)
    assert _certificate_count(iot) == before
    assert not [t for t in _all(iot, "list_things", "things") if t["thingName"].startswith(prefix)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AmazonRootCA1.pem"]


def test_cli_create_with_groups_says_so_and_how_to_run_the_fleet(
    iot: Any, tmp_path: Path  # noqa: F811
) -> None:
    prefix, out = _prefix(), tmp_path / "certs"
    result = CliRunner().invoke(main, [
        "certs", "create", "--count", "5", "--prefix", prefix, "--vens-per-cert", "2",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "certificates 3 for the VENs (2 things each, runs from 0)" in result.output
    assert (f"--vens 5 --id-prefix {prefix} --id-start 0 --vens-per-cert 2 --broker aws"
            in result.output)
    result = CliRunner().invoke(main, ["certs", "create", "--thing", "t", "--vens-per-cert",
                                       "2", "--out", str(out)])
    assert result.exit_code == 2 and "--vens-per-cert goes with --count" in result.output
