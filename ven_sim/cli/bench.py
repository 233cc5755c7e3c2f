"""`ven-sim bench ...`: benchmark commands; each prints JSON figures."""

from __future__ import annotations

import json

import click

__all__ = ["bench"]


@click.group()
def bench() -> None:
    """Benchmarks; each prints JSON figures (see docs/benchmarks.md)."""


@bench.command("sim")
@click.option("--vens", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--hours", type=click.FloatRange(min=0.1), default=24.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--report-interval", type=click.FloatRange(min=1), default=300.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Run both phases this many times, alternating; the headline figures are "
                   "each phase's median wall time, every repeat listed under `repeats`.")
def bench_sim(
    vens: int, hours: float, workers: int, report_interval: float, seed: int, repeat: int
) -> None:
    """VEN-days per wall minute on actors, against a plain loop of the same models."""
    from ven_sim.bench.sim import bench_sim as run_bench

    figures = run_bench(
        vens=vens, hours=hours, workers=workers, report_interval_s=report_interval, seed=seed,
        repeat=repeat,
    )
    click.echo(json.dumps(figures, indent=2))


@bench.command("event-path")
@click.option("--vens", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--repeat", type=click.IntRange(min=1), default=5, show_default=True,
              help="Runs, each in a fresh process; the figures are medians.")
@click.option("--against", type=click.Path(exists=True, file_okay=False),
              help="Another source tree (a `git archive` of main, say) to run alternately.")
def bench_event_path(vens: int, repeat: int, against: str | None) -> None:
    """CPU per VEN of a DR event and its restore (command in, acks and shadow reports out), and
    of a steady telemetry tick."""
    from ven_sim.bench.event_path import bench_event_path as run_bench

    try:
        figures = run_bench(vens, repeat, against)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(figures, indent=2))


@bench.command("mqtt")
@click.option("--clients", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--messages", type=click.IntRange(min=1), default=20000, show_default=True)
@click.option("--broker", help="mqtts://HOST:PORT of a running broker (default: start mosquitto).")
def bench_mqtt(clients: int, messages: int, broker: str | None) -> None:
    """Many mTLS clients on one network loop: connects/s, msg/s, latency, memory."""
    from ven_sim.bench.mqtt import bench_mqtt as run_bench

    click.echo(json.dumps(run_bench(clients, messages, broker), indent=2))


@bench.command("fleet")
@click.option("--vens", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--duration", type=click.FloatRange(min=10), default=120.0, show_default=True)
@click.option("--ramp", type=click.FloatRange(min=1), default=250.0, show_default=True,
              help="CONNECTs per second.")
@click.option("--probe-rate", type=click.FloatRange(min=0), default=5.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes, one shard each [this machine's cores].")
@click.option("--stock/--no-stock", default=True, show_default=True,
              help="Also count stock paho clients with loop_start() each.")
@click.option("--tls-version", type=click.Choice(["1.2", "1.3"]),
              help="Highest TLS version the VENs offer [1.3].")
@click.option("--shadow-priority", type=click.Choice(["low", "normal"]), default="low",
              show_default=True,
              help="The shadow service's CPU priority: low (nice 10) yields these cores to "
                   "the fleet and mosquitto, as AWS's service on its own machines would.")
@click.option("--vens-per-cert", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="G", help="VENs sharing one certificate and TLS context (ven-sim fleet's).")
@click.option("--vtn-connections", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="K", help="The probe VTN's connections per worker (ven-sim fleet's).")
@click.option("--probe-acks", type=click.Choice(["own", "every"]),
              help="What each worker's probe subscribes to for the acks (ven-sim fleet's) "
                   "[own with more than one worker].")
def bench_fleet(vens: int, duration: float, ramp: float, probe_rate: float,
                workers: int | None, stock: bool, tls_version: str | None,
                shadow_priority: str, vens_per_cert: int, vtn_connections: int,
                probe_acks: str | None) -> None:
    """N full VENs against mosquitto with mTLS on loopback: the load tester's figures."""
    from ven_sim.bench.fleet import bench_fleet as run_bench

    figures = run_bench(vens, duration, workers=workers, ramp=ramp, probe_rate=probe_rate,
                        stock=stock, tls_version=tls_version,
                        shadow_priority=shadow_priority, vens_per_cert=vens_per_cert,
                        vtn_connections=vtn_connections, probe_acks=probe_acks)
    click.echo(json.dumps(figures, indent=2))


@bench.command("fleet-workers")
@click.option("--vens", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--workers", type=click.IntRange(min=2), default=2, show_default=True)
@click.option("--duration", type=click.FloatRange(min=10), default=60.0, show_default=True)
@click.option("--ramp", type=click.FloatRange(min=1), default=250.0, show_default=True,
              help="CONNECTs per second, the whole fleet.")
@click.option("--skip-single", is_flag=True,
              help="Run only the K workers, not the one-process run first.")
def bench_fleet_workers(vens: int, workers: int, duration: float, ramp: float,
                        skip_single: bool) -> None:
    """One fleet in one process, then in K worker processes: connect rate, fan-out, CPU."""
    from ven_sim.bench.fleet_workers import bench_fleet_workers as run_bench

    figures = run_bench(vens, workers, duration, ramp=ramp, skip_single=skip_single)
    click.echo(json.dumps(figures, indent=2))


@bench.command("tls-memory")
@click.option("--connections", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--per-context", type=click.IntRange(min=2), default=100, show_default=True,
              help="Connections sharing one context and certificate on the grouped side.")
@click.option("--repeat", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs of each side, alternating.")
@click.option("--tls-version", type=click.Choice(["1.2", "1.3"]), default=None,
              help="Highest TLS version the contexts offer [1.3].")
@click.option("--no-tickets", is_flag=True, help="Set OP_NO_TICKET on the contexts.")
def bench_tls_memory(connections: int, per_context: int, repeat: int, tls_version: str | None,
                     no_tickets: bool) -> None:
    """TLS client memory, contexts and connections apart: a context each, one per group of
    connections sharing a certificate, and one for all (each its own certificate)."""
    from ven_sim.bench.tls_memory import bench_tls_memory as run_bench

    click.echo(json.dumps(run_bench(connections, per_context, repeat=repeat,
                                    tls_version=tls_version, no_tickets=no_tickets), indent=2))


@bench.command("memory")
@click.option("--vens", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--duration", type=click.FloatRange(min=10), default=60.0, show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=40, show_default=True,
              help="Allocation sites and object types listed, largest first.")
def bench_memory(vens: int, duration: float, top: int) -> None:
    """A fleet VEN's Python heap under tracemalloc: per VEN, by allocation site and by type."""
    from ven_sim.bench.memory import bench_memory as run_bench

    click.echo(json.dumps(run_bench(vens, duration, top=top), indent=2))
