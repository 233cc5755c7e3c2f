"""The manifest journal: last record wins, a line cut short by a crash never happened, and
the fleet finds which of its VENs have no identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ven_sim.certs.manifest import (
    MANIFEST_FILE,
    Identity,
    Manifest,
    ManifestError,
    ManifestHeader,
    missing_identities,
    probe_id,
    probe_of,
)

HEADER = ManifestHeader("ven-load", "ven-sim-fleet-ven-load", "123456789012", "us-east-1")


def _done(folder: Path, client_id: str) -> Identity:
    (folder / client_id).mkdir(parents=True, exist_ok=True)
    for name in ("cert.pem", "private.key"):
        (folder / client_id / name).write_text(name)
    return Identity(client_id, "done", cert=f"{client_id}/cert.pem",
                    key=f"{client_id}/private.key")


def test_the_last_record_of_an_id_wins_and_survives_a_reread(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    manifest.begin(HEADER)
    manifest.record(Identity("ven-load-000000", "thing", thing_arn="arn:thing"))
    manifest.record(Identity("ven-load-000000", "keys", certificate_id="c0"))
    again = Manifest(tmp_path)
    assert again.header == HEADER
    assert again.identities == {"ven-load-000000": Identity("ven-load-000000", "keys",
                                                            certificate_id="c0")}


def test_a_line_cut_short_by_a_crash_is_dropped_then_cut_off(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path)
    manifest.begin(HEADER)
    manifest.record(Identity("ven-load-000000", "thing"))
    path = tmp_path / MANIFEST_FILE
    with path.open("a") as fh:
        fh.write('{"client_id": "ven-load-000001", "sta')  # the crash
    reread = Manifest(tmp_path)
    assert list(reread.identities) == ["ven-load-000000"]
    reread.record(Identity("ven-load-000002", "thing"))
    lines = path.read_text().splitlines()
    assert [json.loads(line).get("client_id") for line in lines] == [
        None, "ven-load-000000", "ven-load-000002"]


def test_a_damaged_line_in_the_middle_is_an_error_naming_it(tmp_path: Path) -> None:
    Manifest(tmp_path).begin(HEADER)
    with (tmp_path / MANIFEST_FILE).open("a") as fh:
        fh.write("not json\n" + json.dumps({"client_id": "x", "stage": "done"}) + "\n")
    with pytest.raises(ManifestError, match=r"manifest.jsonl, line 2: not JSON"):
        Manifest(tmp_path)


def test_another_account_or_region_is_refused(tmp_path: Path) -> None:
    Manifest(tmp_path).begin(HEADER)
    other = ManifestHeader("ven-load", HEADER.policy, HEADER.account, "eu-west-1")
    with pytest.raises(ManifestError, match="region 'us-east-1', not 'eu-west-1'"):
        Manifest(tmp_path).begin(other)


def test_missing_identities_lists_unfinished_and_fileless_ids(tmp_path: Path) -> None:
    assert missing_identities(tmp_path, ["ven-load-000000"]) is None  # no manifest at all
    manifest = Manifest(tmp_path)
    manifest.begin(HEADER)
    manifest.record(_done(tmp_path, "ven-load-000000"))
    manifest.record(Identity("ven-load-000001", "policy"))
    gone = manifest.record(_done(tmp_path, "ven-load-000002"))
    (tmp_path / gone.key).unlink()
    ids = [f"ven-load-{i:06d}" for i in range(4)]
    assert missing_identities(tmp_path, ids) == ids[1:]
    assert probe_of(manifest) is None
    manifest.record(_done(tmp_path, probe_id("ven-load")))
    assert probe_of(Manifest(tmp_path)) == Identity(
        "ven-load-probe", "done", cert="ven-load-probe/cert.pem",
        key="ven-load-probe/private.key")
