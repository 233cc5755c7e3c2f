"""`--metrics-port P`: a Prometheus endpoint on a running fleet (prometheus_client, lazy).

Nothing is copied while the run goes on: a collector reads the runner's own counters and
histograms at each scrape, so the endpoint shows exactly what fleet.json will. Latency
histograms are re-bucketed from the run's log buckets (2 % wide) into Prometheus's `le`
buckets: a sample whose 2 % bucket straddles a bound is counted above it. RSS and CPU come
from prometheus_client's process collector (`process_resident_memory_bytes`,
`process_cpu_seconds_total`). The server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ven_sim.fleet.histogram import FLOOR_MS, GROWTH

if TYPE_CHECKING:
    from ven_sim.fleet.runner import FleetRunner

__all__ = ["LATENCY_BUCKETS_S", "MetricsServer", "prometheus_buckets"]

# Seconds: command round trips sit in the tens of ms, a fan-out to thousands in seconds.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
EXPORTED_HISTOGRAMS = {  # run histogram: (metric name, help)
    "command_rtt": ("ven_fleet_command_rtt_seconds",
                    "Probe command (ping, event, restore) to the VEN's ack."),
    "fanout": ("ven_fleet_fanout_ack_seconds", "DR event dispatch start to each VEN's ack."),
    "fanout_restore": ("ven_fleet_fanout_restore_ack_seconds",
                       "Restore dispatch start (the fan-out's event over) to each VEN's ack."),
    "connect": ("ven_fleet_connect_seconds", "open() to the first CONNACK, per VEN."),
    "puback": ("ven_fleet_puback_seconds", "QoS 1 publish to its PUBACK."),
    "schedule_lag": ("ven_fleet_schedule_lag_seconds",
                     "How late each timed step (VEN ticks, probe pings, fan-outs) started."),
}


def prometheus_buckets(buckets: dict[int, int]) -> list[tuple[str, int]]:
    """Cumulative (le, count) pairs in seconds from a `Histogram`'s log buckets (ms)."""
    pairs, seen = [], 0
    ordered = sorted(buckets.items())
    position = 0
    for bound_s in LATENCY_BUCKETS_S:
        while position < len(ordered) and FLOOR_MS * GROWTH ** ordered[position][0] <= (
            bound_s * 1000.0
        ):
            seen += ordered[position][1]
            position += 1
        pairs.append((repr(bound_s), seen))
    pairs.append(("+Inf", sum(buckets.values())))
    return pairs


class _FleetCollector:
    """Reads a runner's figures at scrape time; empty until the runner exists."""

    def __init__(self) -> None:
        self.runner: FleetRunner | None = None

    def describe(self) -> list[Any]:
        return []  # families vary with the run: do not let the registry call collect() early

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        runner = self.runner
        if runner is None:
            return
        m, config = runner.metrics, runner.config
        with m.lock:
            connected, opened, connects = len(m.up), len(m.opened), len(m.first_up)
            disconnects = dict(m.disconnects)
            failures = dict(m.connect_failures)
            unexpected, reconnects = m.unexpected_disconnects, m.reconnects
            hists = {name: (dict(m.hist[name].buckets), m.hist[name].total)
                     for name in EXPORTED_HISTOGRAMS}
        yield GaugeMetricFamily("ven_fleet_vens", "VENs in this shard.", value=config.vens)
        yield GaugeMetricFamily("ven_fleet_connected", "VEN connections up now.", value=connected)
        yield CounterMetricFamily("ven_fleet_opened", "VEN connections opened (the ramp).",
                                  value=opened)
        yield CounterMetricFamily("ven_fleet_connects", "VENs that reached a first CONNACK.",
                                  value=connects)
        lost = CounterMetricFamily("ven_fleet_disconnects", "Losses of an up connection.",
                                   labels=["reason"])
        for reason, count in sorted(disconnects.items()):
            lost.add_metric([reason], count)
        yield lost
        failed = CounterMetricFamily("ven_fleet_connect_failures",
                                     "Failed attempts before a first CONNACK.", labels=["reason"])
        for reason, count in sorted(failures.items()):
            failed.add_metric([reason], count)
        yield failed
        yield CounterMetricFamily("ven_fleet_unexpected_disconnects",
                                  "Losses before the stop began.", value=unexpected)
        yield CounterMetricFamily("ven_fleet_reconnects",
                                  "VEN connections back up after a loss.", value=reconnects)
        yield CounterMetricFamily("ven_fleet_messages_published",
                                  "Every VEN publish (telemetry, shadow, acks).", value=m.published)
        yield CounterMetricFamily("ven_fleet_telemetry_published", "Telemetry reports.",
                                  value=m.telemetry_published)
        probe = runner.probe
        yield CounterMetricFamily("ven_fleet_fanout_acked", "Acks of the DR fan-out.",
                                  value=0 if probe is None else probe.tally["fanout"].acked)
        yield CounterMetricFamily("ven_fleet_fanout_restore_acked",
                                  "Acks of the restore that ends the fan-out's event.",
                                  value=0 if probe is None else probe.tally["fanout_restore"].acked)
        yield CounterMetricFamily("ven_fleet_actor_restarts", "Actor failures handled by "
                                  "the supervisor.",
                                  value=runner.dispatcher.supervisor.total_restarts)
        for name, (metric, help_text) in EXPORTED_HISTOGRAMS.items():
            buckets, total_ms = hists[name]
            yield HistogramMetricFamily(metric, help_text, buckets=prometheus_buckets(buckets),
                                        sum_value=total_ms / 1000.0)


class MetricsServer:
    """An HTTP endpoint for Prometheus; `attach(runner)` once the runner exists."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server

        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # RSS, CPU seconds, open files
        self.collector = _FleetCollector()
        self.registry.register(self.collector)
        self.server, self.thread = start_http_server(port, addr=host, registry=self.registry)
        self.port = self.server.server_port

    def attach(self, runner: FleetRunner) -> None:
        self.collector.runner = runner

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
