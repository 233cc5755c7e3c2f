"""Fleet identities: `{prefix}-{index:06d}`, split into disjoint ranges per shard.

AWS IoT kicks the older of two connections with one client ID (rc=7), so two load
generators must never share an ID. `--shard I/N` takes slice I of N of the fleet's index
range, so shards of one fleet are disjoint by construction. And while it runs, each run
holds a claim file in its output folder: runs whose output folders are siblings (say
`runs/load/shard-0` and `runs/load/shard-1`, on a shared volume) refuse overlapping ranges.
The claim is removed when the run ends; a crashed run's claim must be removed by hand.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLAIM_FILE", "IdRange", "IdentityError", "certificate_count", "certificate_owner",
    "certificate_owners", "claim", "parse_shard", "shard_range",
]

CLAIM_FILE = "claim.json"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")  # safe as an AWS thing name and a path


class IdentityError(ValueError):
    """A bad prefix or shard, or a range that overlaps another run's."""


@dataclass(frozen=True)
class IdRange:
    """VEN indexes `start` .. `stop - 1` under `prefix`."""

    prefix: str
    start: int
    stop: int

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise IdentityError(f"id prefix must be 1-100 of A-Z a-z 0-9 _ -: {self.prefix!r}")
        if not 0 <= self.start <= self.stop:
            raise IdentityError(f"bad id range {self.start}..{self.stop}")

    def __len__(self) -> int:
        return self.stop - self.start

    def ids(self) -> list[str]:
        return [ven_id(self.prefix, i) for i in range(self.start, self.stop)]

    def overlaps(self, other: IdRange) -> bool:
        return (self.prefix == other.prefix and self.start < other.stop
                and other.start < self.stop and len(self) > 0 and len(other) > 0)

    def describe(self) -> str:
        if not len(self):
            return f"{self.prefix}: none"
        return f"{ven_id(self.prefix, self.start)} .. {ven_id(self.prefix, self.stop - 1)}"


def ven_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index:06d}"


def parse_shard(text: str) -> tuple[int, int]:
    """ "I/N" -> (I, N) with 0 <= I < N."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match:
        raise IdentityError(f"--shard must be I/N (e.g. 0/4), not {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        raise IdentityError(f"--shard {text}: need 0 <= I < N")
    return index, count


def certificate_owner(index: int, origin: int, vens_per_cert: int = 1) -> int:
    """The index whose certificate VEN `index` uses: the first of its group. Groups are runs
    of `vens_per_cert` consecutive indexes from `origin` (the range's first index); with 1,
    every VEN is its own owner."""
    if vens_per_cert < 1:
        raise IdentityError(f"VENs per certificate must be >= 1: {vens_per_cert}")
    return index - (index - origin) % vens_per_cert


def certificate_count(vens: int, vens_per_cert: int) -> int:
    """How many certificates `vens` VENs need at `vens_per_cert` each (the last group may be
    short)."""
    return -(-vens // vens_per_cert)


def certificate_owners(ids: IdRange, vens_per_cert: int) -> dict[str, str]:
    """Each client ID of `ids` to the client ID whose certificate it uses, groups aligned to
    `ids.start` (a shard's range starts on a group: `shard_range`)."""
    return {ven_id(ids.prefix, i): ven_id(ids.prefix, certificate_owner(i, ids.start,
                                                                         vens_per_cert))
            for i in range(ids.start, ids.stop)}


def shard_range(prefix: str, vens: int, id_start: int, shard: tuple[int, int],
                vens_per_cert: int = 1) -> IdRange:
    """Slice `shard` of the fleet `id_start .. id_start + vens - 1`, in whole certificate
    groups (`certificate_owner`): group counts differ by one at most, so with one VEN per
    certificate sizes differ by one at most. Shared certificates in fewer groups than shards
    are an error (a shard would have none)."""
    index, count = shard
    groups = certificate_count(vens, vens_per_cert)
    if vens_per_cert > 1 and groups < count:
        raise IdentityError(
            f"{vens:,} VENs at {vens_per_cert:,} per certificate are {groups:,} certificate "
            f"group(s), fewer than the {count} shards: a shard keeps whole groups")
    begin = id_start + min(vens, groups * index // count * vens_per_cert)
    end = id_start + min(vens, groups * (index + 1) // count * vens_per_cert)
    return IdRange(prefix, begin, end)


def claim(out: Path, mine: IdRange) -> Path:
    """Write `out/claim.json` for `mine`; refuse if a sibling folder's claim overlaps it."""
    out.mkdir(parents=True, exist_ok=True)
    for other_file in sorted(out.parent.glob(f"*/{CLAIM_FILE}")):
        if other_file.parent.resolve() == out.resolve():
            continue
        try:
            data = json.loads(other_file.read_text())
            other = IdRange(data["prefix"], int(data["start"]), int(data["stop"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IdentityError(
                f"cannot read the claim {other_file} ({exc}): remove it if its run is over"
            ) from None
        if mine.overlaps(other):
            raise IdentityError(
                f"ids {mine.describe()} overlap {other.describe()} claimed by "
                f"{other_file}: two clients with one ID kick each other (rc=7); remove that "
                "file if its run is over"
            )
    path = out / CLAIM_FILE
    data = {"prefix": mine.prefix, "start": mine.start, "stop": mine.stop}
    # Whole or not at all: a sibling shard starting at the same moment (the workers of one
    # `--workers K` run do) reads every claim, and found this one empty while it was written.
    partial = out / f".{CLAIM_FILE}.tmp"
    partial.write_text(json.dumps(data) + "\n")
    os.replace(partial, path)
    return path
