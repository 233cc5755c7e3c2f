"""A fleet run's figures: the timeline rows while it runs, fleet.json at the end.

`fleet.json` holds both the headline percentiles and the raw histograms (`histograms`), so
`merge` can add shards bucket by bucket and recompute exact percentiles for the whole fleet.
"""

from __future__ import annotations

import csv
import json
import os
import resource
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ven_sim.fleet.runner import FleetRunner

__all__ = [
    "FANOUT_QUANTILES", "LATENCIES", "TIMELINE_FIELDS", "cpu_seconds", "fleet_results",
    "latency_fields", "rss_mb", "timeline_row", "write_results",
]

TIMELINE_FIELDS = (
    "t_s", "connected", "opened", "telemetry_published", "telemetry_per_s", "connect_p99_ms",
    "puback_p99_ms", "telemetry_latency_p99_ms", "command_rtt_p99_ms", "fanout_acked",
    "unexpected_disconnects", "cpu_cores", "rss_mb",
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    """Current resident memory (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timeline_row(runner: FleetRunner, previous: tuple[float, int]) -> dict[str, Any]:
    """The run now; `previous` is (t_s, telemetry_published) of the last timeline row."""
    m = runner.metrics
    t = m.now()
    published = m.telemetry_published
    span = max(1e-9, t - previous[0])
    probe = runner.probe
    return {
        "t_s": round(t, 1),
        "connected": m.connected,
        "opened": len(m.opened),
        "telemetry_published": published,
        "telemetry_per_s": round((published - previous[1]) / span, 1),
        "connect_p99_ms": m.summary("connect", "p99")["p99"],
        "puback_p99_ms": m.summary("puback", "p99")["p99"],
        "telemetry_latency_p99_ms": m.summary("telemetry_latency", "p99")["p99"],
        "command_rtt_p99_ms": m.summary("command_rtt", "p99")["p99"],
        "fanout_acked": 0 if probe is None else probe.fanout_acked,
        "unexpected_disconnects": m.unexpected_disconnects,
        "cpu_cores": round(cpu_seconds() / max(t, 1e-9), 3),
        "rss_mb": round(rss_mb(), 1),
    }


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
        **latency_fields(m.summary),
        "pings_sent": 0 if probe is None else probe.pings_sent,
        "pings_answered": m.hist["command_rtt"].count,
        "fanout": {
            "vens": 0 if probe is None else probe.fanout_sent,
            "acked": 0 if probe is None else probe.fanout_acked,
            "errors": 0 if probe is None else probe.fanout_errors,
            "ms": m.summary("fanout", *FANOUT_QUANTILES),
        },
        "telemetry_published": m.telemetry_published,
        "disconnects": dict(m.disconnects),
        "connect_failures": dict(m.connect_failures),
        "unexpected_disconnects": m.unexpected_disconnects,
        "rss_mb": round(end_rss, 1),
        "rss_mb_before_vens": round(runner.rss_before_vens, 1),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_seconds": round(end_cpu, 2),
        "steady_cpu_cores": steady,
        "duration_s": round(wall_s, 2),
        "stopped_early": runner.stopped_early,
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
}
FANOUT_QUANTILES = ("p50", "p99", "max")


def latency_fields(summary: Callable[..., dict[str, float | None]]) -> dict[str, Any]:
    """Every latency field of fleet.json from `summary(histogram_name, *quantiles)`."""
    fields: dict[str, Any] = {
        field: summary(name, *quantiles) for field, (name, quantiles) in LATENCIES.items()
    }
    # The same two once every VEN is up and the fan-out is over (no ramp, no burst).
    fields["steady"] = {
        field: summary(f"{LATENCIES[field][0]}_steady", *LATENCIES[field][1])
        for field in ("telemetry_latency_ms", "command_rtt_ms")
    }
    return fields


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def write_results(out: Path, results: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    """fleet.json and timeline.csv into `out`; returns the path of fleet.json."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "timeline.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TIMELINE_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    path = out / "fleet.json"
    tmp = path.with_name(".fleet.json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)
    return path
