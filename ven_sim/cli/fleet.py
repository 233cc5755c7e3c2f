"""`ven-sim fleet`: a load test of N full VENs against a broker (docs/fleet.md)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from sim.limits import KEEPALIVE_RANGE_S

__all__ = ["fleet"]

SUMMARY_KEYS = ("vens_requested", "vens_connected", "connect_rate_per_s", "connect_ms",
                "puback_ms", "telemetry_latency_ms", "command_rtt_ms", "fanout",
                "telemetry_published", "disconnects", "unexpected_disconnects", "rss_mb",
                "cpu_seconds", "steady_cpu_cores", "duration_s")


@click.group("fleet", invoke_without_command=True)
@click.option("--vens", type=click.IntRange(min=1),
              help="VENs in the whole fleet (all shards together); required to run.")
@click.option("--broker", default="embedded", show_default=True, metavar="KIND|URL",
              help="embedded, mqtts://HOST:PORT or aws.")
@click.option("--local-ca", type=click.Path(file_okay=False, path_type=Path),
              help="Mint a certificate per VEN from this local CA (mosquitto, embedded).")
@click.option("--ca", type=click.Path(dir_okay=False), help="CA certificate [CA_CERT].")
@click.option("--cert", type=click.Path(dir_okay=False), help="Shared client certificate.")
@click.option("--key", type=click.Path(dir_okay=False), help="Shared private key.")
@click.option("--certs-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("certs"), show_default=True,
              help="Per-VEN certificates: DIR/<venId>/cert.pem and private.key.")
@click.option("--ramp", type=click.FloatRange(min=0.1), default=100.0, show_default=True,
              help="CONNECTs per second for the whole fleet.")
@click.option("--duration", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds from the first connect to the stop.")
@click.option("--telemetry-interval", type=click.FloatRange(min=1), default=5.0,
              show_default=True, help="Seconds between a VEN's telemetry reports.")
@click.option("--id-prefix", default="ven-load", show_default=True)
@click.option("--id-start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--shard", default="0/1", show_default=True,
              help="Run slice I of N of the fleet's IDs (I/N).")
@click.option("--probe-rate", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Pings per second to random VENs (command round trip).")
@click.option("--fanout/--no-fanout", default=True, show_default=True,
              help="Send one DR event to every VEN once all are connected.")
@click.option("--keepalive", type=click.IntRange(*KEEPALIVE_RANGE_S), default=60,
              show_default=True)
@click.option("--force", is_flag=True, help="Run even over AWS IoT Core quotas.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder [runs/fleet-<time>[-shard-I-of-N]].")
@click.pass_context
def fleet(ctx: click.Context, vens: int | None, broker: str, local_ca: Path | None,
          ca: str | None, cert: str | None, key: str | None, certs_dir: Path, ramp: float,
          duration: float,
          telemetry_interval: float, id_prefix: str, id_start: int, shard: str,
          probe_rate: float, fanout: bool, keepalive: int, force: bool, seed: int,
          out: Path | None) -> None:
    """Load-test a broker with N full VENs, each with its own ID and certificate.

    `ven-sim fleet merge DIR...` combines shards' results.
    """
    if ctx.invoked_subcommand is not None:
        return
    if vens is None:
        raise click.UsageError("give --vens N (or a subcommand: merge)")
    from ven_sim.fleet.identities import IdentityError, parse_shard, shard_range
    from ven_sim.fleet.plan import FleetConfig
    from ven_sim.fleet.session import FleetError, WireOptions, run_fleet
    from ven_sim.wire import WireError

    try:
        index, count = parse_shard(shard)
        ids = shard_range(id_prefix, vens, id_start, (index, count))
    except IdentityError as exc:
        raise click.BadParameter(str(exc)) from None
    config = FleetConfig(ids, vens, count, ramp, duration, telemetry_interval, probe_rate,
                         fanout, seed)
    if out is None:
        suffix = f"-shard-{index}-of-{count}" if count > 1 else ""
        out = Path("runs") / f"fleet-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
    options = WireOptions(broker, local_ca, ca, cert, key, certs_dir, keepalive)
    live = sys.stderr.isatty()

    def progress(line: str) -> None:
        click.echo(("\r" + line) if live else line, err=True, nl=not live)

    try:
        results = run_fleet(config, options, out, force=force, say=click.echo, progress=progress)
    except (FleetError, IdentityError, WireError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from None
    if live:
        click.echo("", err=True)
    click.echo(json.dumps({key: results[key] for key in SUMMARY_KEYS}, indent=2))
    click.echo(f"wrote {out / 'fleet.json'} and {out / 'timeline.csv'}")


@fleet.command("merge")
@click.argument("parts", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the merged fleet.json here too.")
def merge(parts: tuple[Path, ...], out: Path | None) -> None:
    """Merge shards' fleet.json (files or their folders): exact percentiles, summed counts."""
    from ven_sim.fleet.identities import IdentityError
    from ven_sim.fleet.merge import load_parts, merge_results

    try:
        merged = merge_results(load_parts(list(parts)))
    except (IdentityError, KeyError, ValueError) as exc:
        raise click.ClickException(f"cannot merge: {exc}") from None
    if out is not None:
        out.write_text(json.dumps(merged, indent=2) + "\n")
    click.echo(json.dumps({k: v for k, v in merged.items() if k != "histograms"}, indent=2))
