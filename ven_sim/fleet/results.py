"""A fleet run's figures: fleet.json at the end, and the timeline (ven_sim.fleet.timeline).

`fleet.json` holds both the headline percentiles and the raw histograms (`histograms`), so
`merge` can add shards bucket by bucket and recompute exact percentiles for the whole fleet.
"""

from __future__ import annotations

import json
import math
import resource
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ven_sim.fleet.metrics import FANOUT_STAGES, PROBE_OPS
from ven_sim.fleet.probe import AckTally
from ven_sim.fleet.process_stats import cpu_seconds, rss_mb
from ven_sim.fleet.timeline import TIMELINE_FIELDS, timeline_row, write_timeline

if TYPE_CHECKING:
    from ven_sim.fleet.runner import FleetRunner

__all__ = [
    "BEHIND_SHOWN_MS", "BEHIND_WARN_MS", "FANOUT_QUANTILES", "LATENCIES", "SATURATED_PERCENT",
    "TIMELINE_FIELDS", "behind_warning", "cpu_seconds", "fanout_fields", "fleet_results",
    "latency_fields", "machine_fields", "rss_mb", "saturation_warning", "timeline_row",
    "write_results",
]

# The machine's CPUs at least this busy: the load generator itself is a bottleneck, and the
# latencies it measures include its own queueing, not only the broker's and the backend's.
SATURATED_PERCENT = 90.0
# A shard's timed steps (the VENs' ticks, the probe's pings, a fan-out's dispatch) starting
# this late: it no longer keeps to its schedule. A progress line says so from BEHIND_SHOWN_MS
# (an interval's p99), the end of the run from BEHIND_WARN_MS (the run's latest).
BEHIND_SHOWN_MS = 250.0
BEHIND_WARN_MS = 1000.0


def fleet_results(runner: FleetRunner, wall_s: float) -> dict[str, Any]:
    config, m, probe = runner.config, runner.metrics, runner.probe
    opened = sorted(m.opened.values())
    ups = sorted(m.first_up.values())
    rate = None
    if len(ups) > 1 and ups[-1] > opened[0]:
        rate = round(len(ups) / (ups[-1] - opened[0]), 1)
    end_t, end_cpu, end_rss = runner.end
    steady = None
    if runner.steady_from is not None and end_t - runner.steady_from[0] > 1.0:
        steady = round((end_cpu - runner.steady_from[1]) / (end_t - runner.steady_from[0]), 3)
    vens_connected = len(m.first_up)

    def tally(kind: str) -> dict[str, int]:
        return asdict(probe.tally[kind] if probe is not None else AckTally())

    return {
        "id_prefix": config.ids.prefix,
        "id_range": [config.ids.start, config.ids.stop],
        "shards": config.shards,
        "workers": 1,
        "vens_requested": config.vens,
        "vens_connected": vens_connected,
        "connected_at_end": m.connected,
        "ramp_per_s": round(config.shard_ramp_per_s, 3),
        "connect_rate_per_s": rate,
        "all_connected_s": None if runner.all_connected_at is None
        else round(runner.all_connected_at, 2),
        "ramp_behind_s": round(runner.ramp_behind_s, 2),
        "ramp_held_s": round(runner.ramp_held_s, 2),
        **latency_fields(m.summary),
        **{key: sum(tally(op)[field] for op in ops) for key, (ops, field) in COMMANDS.items()},
        "fanout": fanout_fields(tally, m.summary),
        "fanout_window": None if probe is None else probe.fanout_window(),
        "vtn_connections": config.vtn_connections,
        "acks_unmatched": 0 if probe is None else probe.unmatched_acks,
        "ack_subscriptions": 0 if probe is None else probe.ack_subscriptions,
        "telemetry_published": m.telemetry_published,
        "disconnects": dict(m.disconnects),
        "connect_failures": dict(m.connect_failures),
        "unexpected_disconnects": m.unexpected_disconnects,
        "reconnects": m.reconnects,
        "rss_mb": round(end_rss, 1),
        "rss_mb_before_vens": round(runner.rss_before_vens, 1),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_seconds": round(end_cpu, 2),
        "steady_cpu_cores": steady,
        # When the steady window opened (run seconds): the first fan-out and its restore over.
        "steady_from_s": None if runner.steady_from is None else round(runner.steady_from[0], 2),
        "duration_s": round(wall_s, 2),
        "stopped_early": runner.stopped_early,
        **machine_fields(runner.rows, wall_s),
        "histograms": m.histograms(),
        "connects": [  # the ramp as it happened: run seconds of open() and of CONNACK
            [cid, round(t_open, 4), _round(m.first_up.get(cid))]
            for cid, t_open in sorted(m.opened.items(), key=lambda item: item[1])
        ],
    }


LATENCIES = {  # fleet.json field: (histogram, quantiles)
    "connect_ms": ("connect", ("p50", "p95", "p99", "max")),
    "tcp_ms": ("tcp", ("p50", "p95", "p99", "max")),
    "tls_ms": ("tls", ("p50", "p95", "p99", "max")),
    "connack_ms": ("connack", ("p50", "p95", "p99", "max")),
    "puback_ms": ("puback", ("p50", "p99", "max")),
    "telemetry_latency_ms": ("telemetry_latency", ("p50", "p99", "max")),
    "command_rtt_ms": ("command_rtt", ("p50", "p95", "p99", "max")),
    "loop_round_ms": ("loop_round", ("p50", "p99", "max")),
    "schedule_lag_ms": ("schedule_lag", ("p50", "p99", "max")),
}
FANOUT_QUANTILES = ("p50", "p99", "max")
COMMANDS = {  # fleet.json count: (probe command kinds, tally field)
    "pings_sent": (("ping",), "sent"),
    "pings_answered": (("ping",), "acked"),
    "commands_sent": (PROBE_OPS, "sent"),
    "commands_answered": (PROBE_OPS, "acked"),
}


def fanout_fields(tally: Callable[[str], dict[str, int]],
                  summary: Callable[..., dict[str, float | None]]) -> dict[str, Any]:
    """fleet.json's `fanout`: the event to every VEN, and its `restore` when it ended.
    `tally(kind)` gives {"sent", "acked", "errors"} of "fanout" or "fanout_restore"."""

    def phase(kind: str) -> dict[str, Any]:
        counts = tally(kind)
        return {"vens": counts["sent"], "acked": counts["acked"], "errors": counts["errors"],
                "ms": summary(kind, *FANOUT_QUANTILES)}

    stages = {stage: summary(f"fanout_{stage}", *FANOUT_QUANTILES) for stage in FANOUT_STAGES}
    return {**phase("fanout"), "stages_ms": stages, "restore": phase("fanout_restore")}


def machine_fields(rows: list[dict[str, Any]], duration_s: float) -> dict[str, float | None]:
    """fleet.json's `machine_busy_percent_max`, the busiest timeline interval of the whole
    machine, and `machine_saturated_s`, how many of the run's `duration_s` seconds were in
    intervals at least SATURATED_PERCENT busy (the last row is taken as the run stops)."""
    busiest, saturated, previous_t = None, 0.0, 0.0
    for row in rows:
        t, busy = float(row["t_s"]), row.get("machine_busy_percent")
        if busy is not None:
            busiest = busy if busiest is None else max(busiest, busy)
            if busy >= SATURATED_PERCENT:
                saturated += t - previous_t
        previous_t = t
    # Down to a tenth of a second, so that it never reads as more than the run's length.
    return {"machine_busy_percent_max": busiest,
            "machine_saturated_s": math.floor(min(saturated, duration_s) * 10) / 10}


def saturation_warning(results: dict[str, Any]) -> str | None:
    """What to tell the user when the load generator's machine was saturated; None if not."""
    saturated = results.get("machine_saturated_s") or 0.0
    if saturated <= 0:
        return None
    return (f"warning: this machine's CPUs were at least {SATURATED_PERCENT:.0f} % busy for "
            f"{saturated:g} s of the run's {results['duration_s']:g} s (every process on it, "
            "a broker there included): the latencies measured then include this load "
            "generator's own queueing. Spread the fleet over more machines (--shard, --ray) "
            "or run fewer VENs on this one")


def behind_warning(results: dict[str, Any]) -> str | None:
    """What to tell the user when the fleet fell behind its own schedule; None if it kept it."""
    lag = (results.get("schedule_lag_ms") or {}).get("max")
    if lag is None or lag < BEHIND_WARN_MS:
        return None
    return (f"warning: this load generator fell behind its schedule: its timed work (the VENs' "
            f"telemetry ticks, the probe's commands) started up to {lag / 1000:.1f} s late "
            "(schedule_lag_ms). What it sent then went out late, and the latencies measured "
            "then include its own queueing. Give the fleet more CPU (--workers, --shard, "
            "--ray) or run fewer VENs on this machine")


def latency_fields(summary: Callable[..., dict[str, float | None]]) -> dict[str, Any]:
    """Every latency field of fleet.json from `summary(histogram_name, *quantiles)`."""
    fields: dict[str, Any] = {
        field: summary(name, *quantiles) for field, (name, quantiles) in LATENCIES.items()
    }
    fields["command_rtt_ms_by_op"] = {
        op: summary(f"command_rtt_{op}", *LATENCIES["command_rtt_ms"][1]) for op in PROBE_OPS
    }
    # The same two once every VEN is up and the fan-out is over (no ramp, no burst).
    fields["steady"] = {
        field: summary(f"{LATENCIES[field][0]}_steady", *LATENCIES[field][1])
        for field in ("telemetry_latency_ms", "command_rtt_ms")
    }
    return fields


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def write_results(out: Path, results: dict[str, Any], rows: list[dict[str, Any]], *,
                  name: str = "fleet.json") -> Path:
    """fleet.json (or `name`), timeline.csv and timeline_hist.jsonl into `out`; returns the
    results file's path."""
    out.mkdir(parents=True, exist_ok=True)
    write_timeline(out, rows)
    path = out / name
    tmp = path.with_name(f".{name}.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)
    return path
