"""`ven-sim fleet merge`: one report from the `fleet.json` of several shards.

Counts add up; latencies are recomputed from the shards' histograms added bucket by bucket,
so a merged p99 is the p99 of every sample, never an average of the shards' p99s. Shards
whose ID ranges overlap are refused (they would have kicked each other's connections).
Rates and CPU add up too, which is right for shards that ran at the same time.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.identities import IdentityError, IdRange
from ven_sim.fleet.results import fanout_fields, latency_fields

__all__ = ["load_parts", "merge_results"]

SUMMED = ("vens_requested", "vens_connected", "connected_at_end", "telemetry_published",
          "unexpected_disconnects", "reconnects", "pings_sent", "pings_answered",
          "commands_sent", "commands_answered", "workers", "vtn_connections", "acks_unmatched",
          "ack_subscriptions")
SUMMED_FLOATS = ("connect_rate_per_s", "cpu_seconds", "steady_cpu_cores", "rss_mb",
                 "rss_mb_before_vens")


def load_parts(paths: list[Path]) -> list[dict[str, Any]]:
    """fleet.json files, or folders holding one."""
    files = [path / "fleet.json" if path.is_dir() else path for path in paths]
    return [json.loads(file.read_text()) for file in files]


def merge_results(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if not parts:
        raise ValueError("nothing to merge")
    ranges = [IdRange(part["id_prefix"], *part["id_range"]) for part in parts]
    for i, a in enumerate(ranges):
        for b in ranges[i + 1:]:
            if a.overlaps(b):
                raise IdentityError(f"shards overlap: {a.describe()} and {b.describe()}")
    hists: dict[str, Histogram] = {}
    for part in parts:
        for name, data in part["histograms"].items():
            hists.setdefault(name, Histogram()).merge(Histogram.from_dict(data))

    def summary(name: str, *quantiles: str) -> dict[str, float | None]:
        return hists.get(name, Histogram()).summary(*quantiles)

    def tally(kind: str) -> dict[str, int]:
        """A fan-out phase's counts over the shards (a shard before restores had none)."""
        phases = [part["fanout"] if kind == "fanout" else part["fanout"].get("restore", {})
                  for part in parts]
        return {field: sum(phase.get(name, 0) for phase in phases)
                for field, name in (("sent", "vens"), ("acked", "acked"), ("errors", "errors"))}

    # The shards in the order of their IDs: a shard's place here is how the rest names it.
    in_id_order = sorted(range(len(parts)), key=lambda i: (ranges[i].prefix, ranges[i].start))
    merged: dict[str, Any] = {
        "id_ranges": [[ranges[i].prefix, ranges[i].start, ranges[i].stop] for i in in_id_order],
        "shards_merged": len(parts),
        **{key: sum(part.get(key) or 0 for part in parts) for key in SUMMED},
        **{key: round(sum(part.get(key) or 0.0 for part in parts), 3) for key in SUMMED_FLOATS},
        **latency_fields(summary),
        "fanout": fanout_fields(tally, summary),
        "fanout_window": _fanout_window([parts[i].get("fanout_window") for i in in_id_order]),
        "disconnects": dict(sum((Counter(p["disconnects"]) for p in parts), Counter())),
        "connect_failures": dict(
            sum((Counter(p["connect_failures"]) for p in parts), Counter())
        ),
        # The last shard's; None unless every shard got all its VENs up.
        "all_connected_s": _latest([part.get("all_connected_s") for part in parts]),
        "steady_from_s": _latest([part.get("steady_from_s") for part in parts]),
        "duration_s": max(part["duration_s"] for part in parts),
        # Each shard ramps its share at once: the latest shard is how late the fleet was.
        **{key: max(part.get(key) or 0.0 for part in parts)
           for key in ("ramp_behind_s", "ramp_held_s")},
        # The shards load their certificates at the same time: the slowest one's.
        "clients_prepared_s": max(part.get("clients_prepared_s") or 0.0 for part in parts),
        # Shards on one machine read the same CPUs; on several, the busiest machine's.
        "machine_busy_percent_max": max(
            (part["machine_busy_percent_max"] for part in parts
             if part.get("machine_busy_percent_max") is not None), default=None),
        "machine_saturated_s": max(part.get("machine_saturated_s") or 0.0 for part in parts),
        "stopped_early": any(part["stopped_early"] for part in parts),
        "histograms": {name: hist.to_dict() for name, hist in sorted(hists.items())},
    }
    return merged


def _fanout_window(windows: list[dict[str, float] | None]) -> dict[str, Any] | None:
    """The shards' fan-outs (`windows`, in the order of `id_ranges`) as one window, the
    first dispatch to the last ack; `shards` each shard's own with a fan-out, as [its place
    in `id_ranges`, began_at, last_ack_at] (each starts its fan-out once its VENs are up)."""
    known = [(shard, window) for shard, window in enumerate(windows) if window]
    if not known:
        return None
    return {"began_at": min(w["began_at"] for _, w in known),
            "last_ack_at": max(w["last_ack_at"] for _, w in known),
            "shards": [[shard, w["began_at"], w["last_ack_at"]] for shard, w in known]}


def _latest(times: list[float | None]) -> float | None:
    known = [t for t in times if t is not None]
    return max(known) if known and len(known) == len(times) else None
