"""Fleet identities: shards split the ID range disjointly; overlapping claims are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ven_sim.fleet.identities import (
    CLAIM_FILE,
    IdentityError,
    IdRange,
    claim,
    parse_shard,
    shard_range,
)


@pytest.mark.parametrize(("vens", "shards"), [(10_000, 4), (7, 3), (5, 5), (3, 4)])
def test_shards_cover_the_fleet_once(vens: int, shards: int) -> None:
    ranges = [shard_range("ven-load", vens, 1000, (i, shards)) for i in range(shards)]
    ids = [vid for r in ranges for vid in r.ids()]
    assert len(ids) == len(set(ids)) == vens
    assert ids[0] == "ven-load-001000" and ids[-1] == f"ven-load-{1000 + vens - 1:06d}"
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
    for a in ranges:
        assert not any(a.overlaps(b) for b in ranges if b is not a)


@pytest.mark.parametrize("text", ["1", "2/2", "-1/3", "a/b", "0/0", "1/2/3"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(IdentityError):
        parse_shard(text)


def test_parse_shard() -> None:
    assert parse_shard(" 3/8 ") == (3, 8)


@pytest.mark.parametrize("prefix", ["", "has/slash", "plus+", "x" * 101])
def test_prefixes_that_cannot_be_a_client_id_are_refused(prefix: str) -> None:
    with pytest.raises(IdentityError):
        IdRange(prefix, 0, 1)


def test_overlapping_claims_in_sibling_folders_are_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = claim(runs / "shard-0", IdRange("ven-load", 0, 100))
    assert json.loads(first.read_text()) == {"prefix": "ven-load", "start": 0, "stop": 100}
    with pytest.raises(IdentityError, match="ven-load-000050 .. ven-load-000149 overlap"):
        claim(runs / "shard-1", IdRange("ven-load", 50, 150))
    assert not (runs / "shard-1" / CLAIM_FILE).exists()
    claim(runs / "shard-1", IdRange("ven-load", 100, 200))  # adjacent: fine
    claim(runs / "other", IdRange("ven-other", 0, 100))  # another prefix: fine
    claim(runs / "shard-0", IdRange("ven-load", 0, 100))  # the same run again: its own claim
    first.unlink()
    claim(runs / "shard-2", IdRange("ven-load", 0, 100))  # released: free again


def test_a_claim_appears_whole_and_an_unreadable_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sibling shards start together and read each other's claims: a claim is written aside
    and renamed into place, so it is never seen half written (the second worker of a bench
    run once read its sibling's empty claim.json and died on the JSON error); a claim that
    cannot be read is refused by name, not with a traceback."""
    runs = tmp_path / "runs"
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(source: Path, target: Path) -> None:
        assert not Path(target).exists()  # nothing was written at the claim's path before
        assert json.loads(Path(source).read_text())["stop"] == 10  # and the file is whole
        renames.append((Path(source).name, Path(target).name))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    claim(runs / "shard-0", IdRange("ven-load", 0, 10))
    assert renames == [(f".{CLAIM_FILE}.tmp", CLAIM_FILE)]
    assert sorted(p.name for p in (runs / "shard-0").iterdir()) == [CLAIM_FILE]
    (runs / "shard-9").mkdir()
    (runs / "shard-9" / CLAIM_FILE).write_text("")
    with pytest.raises(IdentityError, match="cannot read the claim .*shard-9.*remove it"):
        claim(runs / "shard-1", IdRange("ven-load", 10, 20))
