"""`ven-sim fleet`: a load test of N full VENs against a broker (docs/fleet.md)."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sim.limits import KEEPALIVE_RANGE_S

if TYPE_CHECKING:
    from collections.abc import Callable

    from ven_sim.fleet.plan import FleetConfig
    from ven_sim.fleet.session import WireOptions

__all__ = ["fleet"]

SUMMARY_KEYS = ("vens_requested", "vens_connected", "connect_rate_per_s", "ramp_behind_s",
                "connect_ms", "puback_ms", "telemetry_latency_ms", "command_rtt_ms", "fanout",
                "telemetry_published", "disconnects", "unexpected_disconnects", "reconnects",
                "rss_mb", "cpu_seconds", "steady_cpu_cores", "machine_busy_percent_max",
                "machine_saturated_s", "schedule_lag_ms", "duration_s")
# A scenario file's fleet section sets these; giving one on the command line too is an error.
SCENARIO_OPTIONS = {"vens": "vens", "id_prefix": "id_prefix", "id_start": "id_start",
                    "ramp": "ramp_per_s", "duration": "duration_s",
                    "telemetry_interval": "telemetry_interval_s", "probe_rate": "probe_rate",
                    "vens_per_cert": "vens_per_cert"}
# Options a worker process does not inherit as given: each gets its own.
WORKER_OWN = {"workers", "ray_address", "shard", "out", "metrics_port", "progress_json"}


class FleetGroup(click.Group):
    """`ven-sim fleet FILE.yaml` is `ven-sim fleet --scenario FILE.yaml` (`merge` stays a
    subcommand)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {name for param in self.params if isinstance(param, click.Option)
                       and not param.is_flag for name in param.opts}
        rewritten, skip = list(args), False
        for position, arg in enumerate(rewritten):
            if skip:
                skip = False
            elif arg.startswith("-"):
                skip = arg in takes_value
            elif arg in self.commands:
                break
            else:
                rewritten[position:position + 1] = ["--scenario", arg]
                break
        return super().parse_args(ctx, rewritten)


@click.group("fleet", cls=FleetGroup, invoke_without_command=True)
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A fleet scenario file (also `ven-sim fleet FILE.yaml`): size, IDs, ramp, "
              "duration, telemetry, DR events.")
@click.option("--vens", type=click.IntRange(min=1),
              help="VENs in the whole fleet (all shards together); required to run.")
@click.option("--broker", default="embedded", show_default=True, metavar="KIND|URL",
              help="embedded, mqtts://HOST:PORT or aws.")
@click.option("--local-ca", type=click.Path(file_okay=False, path_type=Path),
              help="Mint a certificate per VEN (per group: --vens-per-cert) from this local "
              "CA (mosquitto, embedded).")
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
@click.option("--vens-per-cert", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="G", help="VENs sharing one certificate and TLS context: runs of G from "
              "--id-start (a leaked key acts as all G; docs/fleet.md).")
@click.option("--shard", default="0/1", show_default=True,
              help="Run slice I of N of the fleet's IDs (I/N).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine, one shard each (with --ray: Ray actors).")
@click.option("--ray", "ray_address", metavar="ADDRESS|local",
              help="Run the --workers shards as Ray actors: on a local cluster or ADDRESS.")
@click.option("--probe-rate", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Probes per second to random VENs: a ping, or an event then its restore, "
                   "in turn (command round trip).")
@click.option("--fanout/--no-fanout", default=True, show_default=True,
              help="Send one DR event to every connected VEN.")
@click.option("--fanout-at", type=click.FloatRange(min=0), metavar="S",
              help="Send the fan-out S seconds after the first connect [once all are up].")
@click.option("--vtn-connections", type=click.IntRange(min=1), metavar="K",
              help="The probe VTN's MQTT connections per shard: the fan-out goes out over all "
                   "K and its acks come back through a shared subscription [1; against aws, "
                   "one per 100 VENs of the fleet, at most 50: AWS delivers 100 messages/s "
                   "to a connection].")
@click.option("--probe-acks", type=click.Choice(["own", "every"]),
              help="What each shard's probe subscribes to for the acks: its own VENs' ack "
                   "topics, a filter each, or every VEN's (ven/ack/+) [own with several shards "
                   "on a broker given by URL, so the broker sends each ack once; else every].")
@click.option("--metrics-port", type=click.IntRange(0, 65535), metavar="P",
              help="Serve Prometheus metrics on port P (worker i: P+i).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address the Prometheus endpoint binds to (0.0.0.0: every interface).")
@click.option("--keepalive", type=click.IntRange(*KEEPALIVE_RANGE_S), default=60,
              show_default=True)
@click.option("--tls-version", type=click.Choice(["1.2", "1.3"]),
              help="Highest TLS version the VENs offer [1.3]; 1.2 handshakes take less CPU.")
@click.option("--force", is_flag=True, help="Run even over AWS IoT Core quotas.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder [runs/fleet-<time>[-shard-I-of-N]].")
@click.option("--progress-json", is_flag=True, hidden=True,
              help="Progress rows as JSON lines on stderr (for --workers).")
@click.pass_context
def fleet(ctx: click.Context, **params: Any) -> None:
    """Load-test a broker with N full VENs, each with its own ID and certificate (or its
    group's: --vens-per-cert).

    `ven-sim fleet FILE.yaml` runs a fleet scenario file; `ven-sim fleet merge DIR...`
    combines shards' results.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ven_sim.fleet.identities import IdentityError, parse_shard, shard_range
    from ven_sim.fleet.plan import (
        DEFAULT_FANOUT,
        FleetConfig,
        auto_vtn_connections,
        reads_own_acks,
    )
    from ven_sim.fleet.session import FleetError, WireOptions
    from ven_sim.wire import WireError

    p = params
    events = _apply_scenario(ctx, p) if p["scenario"] else ()
    if p["vens"] is None:
        raise click.UsageError("give --vens N or a scenario file (or a subcommand: merge)")
    if p["fanout_at"] is not None:
        if events:
            raise click.UsageError("--fanout-at: the scenario file's events say when")
        events = (dataclasses.replace(DEFAULT_FANOUT, at_s=p["fanout_at"]),)
    parallel = p["workers"] > 1 or p["ray_address"] is not None
    if parallel and p["shard"] != "0/1":
        raise click.UsageError("--shard runs one slice; --workers and --ray make the slices")
    try:
        index, count = parse_shard(p["shard"])
        if parallel:
            count = p["workers"]
        ranges = [shard_range(p["id_prefix"], p["vens"], p["id_start"], (i, count),
                              p["vens_per_cert"]) for i in range(count)]
    except IdentityError as exc:
        raise click.BadParameter(str(exc)) from None
    if (p["vtn_connections"] or 1) > 1 and p["broker"].startswith("embedded"):
        raise click.UsageError("--vtn-connections above 1 needs shared subscriptions, which "
                               "the embedded broker does not have: use mosquitto or aws")
    try:
        own_acks = reads_own_acks(p["broker"], count, p["probe_acks"])
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    configs = [FleetConfig(ids, p["vens"], count, p["ramp"], p["duration"],
                           p["telemetry_interval"], p["probe_rate"], p["fanout"], p["seed"],
                           events or (DEFAULT_FANOUT,), p["vens_per_cert"],
                           p["vtn_connections"] or auto_vtn_connections(p["vens"], p["broker"]),
                           own_acks=own_acks)
               for ids in ranges]
    out = p["out"]
    if out is None:
        suffix = f"-shard-{index}-of-{count}" if count > 1 and not parallel else ""
        out = Path("runs") / f"fleet-{time.strftime('%Y%m%d-%H%M%S')}{suffix}"
    options = WireOptions(p["broker"], p["local_ca"], p["ca"], p["cert"], p["key"],
                          p["certs_dir"], p["keepalive"], p["tls_version"])
    live = sys.stderr.isatty()

    def progress(line: str) -> None:
        click.echo(("\r" + line) if live else line, err=True, nl=not live)

    if p["metrics_port"] is not None:
        _require_prometheus()  # before any shard starts, whichever way they run
    try:
        if p["ray_address"] is not None:
            results = _run_ray(p, configs, options, out, progress)
        elif parallel:
            results = _run_workers(ctx, p, configs, out, progress)
        else:
            results = _run_one(p, configs[index], options, out, progress)
    except (FleetError, IdentityError, WireError, ConnectionError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    if live:
        click.echo("", err=True)
    click.echo(json.dumps({key: results.get(key) for key in SUMMARY_KEYS}, indent=2))
    click.echo(f"wrote {out / 'fleet.json'}, {out / 'timeline.csv'} and {out / 'timeline.png'}")
    if not p["progress_json"]:  # a --workers parent warns once for the whole machine
        _warn_if_overloaded(results)


def _warn_if_overloaded(results: dict[str, Any]) -> None:
    from ven_sim.fleet.results import behind_warning, saturation_warning

    for warning in (saturation_warning(results), behind_warning(results)):
        if warning is not None:
            click.echo(warning, err=True)


def _apply_scenario(ctx: click.Context, params: dict[str, Any]) -> tuple[Any, ...]:
    """The scenario file's fleet into `params`; returns its events."""
    from sim.fleet_scenario import load_fleet_scenario
    from sim.scenario import ScenarioError

    given = [name for name in SCENARIO_OPTIONS
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(f"{flags}: the scenario file sets these")
    from ven_sim.fleet.identities import IdentityError, IdRange

    try:
        scenario = load_fleet_scenario(params["scenario"])
        try:
            IdRange(scenario.id_prefix, 0, 0)  # the prefix rules live with the identities
        except IdentityError as exc:
            raise ScenarioError(scenario.file, scenario.lines.get("fleet.id_prefix"),
                                "fleet.id_prefix", str(exc)) from None
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    for option, attribute in SCENARIO_OPTIONS.items():
        params[option] = getattr(scenario, attribute)
    return scenario.events


def _run_one(p: dict[str, Any], config: FleetConfig, options: WireOptions, out: Path,
             progress: Callable[[str], None]) -> dict[str, Any]:
    from ven_sim.fleet.session import run_fleet

    server = None
    if p["metrics_port"] is not None:
        from ven_sim.fleet.prometheus import MetricsServer

        try:
            server = MetricsServer(p["metrics_port"], p["metrics_host"])
        except OSError as exc:
            raise click.ClickException(f"--metrics-port {p['metrics_port']}: {exc}") from None
        click.echo(f"prometheus metrics on http://{p['metrics_host']}:{server.port}/metrics")
    holder: dict[str, Any] = {}

    def on_runner(runner: Any) -> None:
        holder["runner"] = runner
        if server is not None:
            server.attach(runner)

    if p["progress_json"]:  # for a --workers parent: the row itself, one JSON line
        def progress(_line: str) -> None:
            click.echo(json.dumps(holder["runner"].latest_row), err=True)
    try:
        return run_fleet(config, options, out, force=p["force"], say=click.echo,
                         progress=progress, on_runner=on_runner)
    finally:
        if server is not None:
            server.close()


def _run_workers(ctx: click.Context, p: dict[str, Any], configs: list[FleetConfig], out: Path,
                 progress: Callable[[str], None]) -> dict[str, Any]:
    from ven_sim.fleet.workers import run_workers, worker_command

    _say_plan(configs, p["broker"])
    argv = _inherited_argv(ctx, p)
    merged, errors = run_workers(
        lambda i: worker_command(argv, i, len(configs), out, p["metrics_port"]), len(configs),
        out, target=p["vens"], progress=progress, echo=lambda line: click.echo(line, err=True))
    for error in errors:
        click.echo(f"error: {error}", err=True)
    if errors:
        raise click.ClickException(f"{len(errors)} of {len(configs)} workers failed; merged "
                                   f"the rest into {out / 'fleet.json'}")
    return merged


def _run_ray(p: dict[str, Any], configs: list[FleetConfig], options: WireOptions, out: Path,
             progress: Callable[[str], None]) -> dict[str, Any]:
    from ven_sim.fleet.ray_shards import run_on_ray

    _say_plan(configs, p["broker"])
    try:
        return run_on_ray(p["ray_address"], configs, options, out,
                          metrics=(p["metrics_host"], p["metrics_port"]), progress=progress)
    except ImportError:
        raise click.ClickException("--ray needs Ray: pip install -e .[ray]") from None


def _require_prometheus() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise click.ClickException(
            "--metrics-port needs prometheus_client: pip install -e .[fleet]") from None


def _say_plan(configs: list[FleetConfig], broker: str) -> None:
    """The plan of the whole fleet: every shard's range, then the fleet's figures."""
    from ven_sim.fleet.plan import plan_lines

    first = configs[0]
    click.echo(f"fleet: {first.fleet_vens:,} VENs in {len(configs)} shard(s): "
               + "; ".join(config.ids.describe() for config in configs))
    for line in plan_lines(first, broker)[1:]:  # the first is one shard's
        click.echo(line)


def _inherited_argv(ctx: click.Context, params: dict[str, Any]) -> list[str]:
    """The options a worker runs with: the fleet's, as given or defaulted here."""
    argv: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in WORKER_OWN:
            continue
        value = params[param.name]
        if value is None or (param.name in SCENARIO_OPTIONS and params["scenario"]):
            continue
        if param.is_flag and param.secondary_opts:
            argv.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            argv += [param.opts[0]] if value else []
        else:
            argv += [param.opts[0], str(value)]
    return argv


@fleet.command("merge")
@click.argument("parts", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="A folder for the merged fleet.json, timeline.csv (with its "
              "timeline_hist.jsonl) and timeline.png; or FILE.json: the results there, the "
              "timeline beside it.")
def merge(parts: tuple[Path, ...], out: Path | None) -> None:
    """Merge shards (their folders, or their fleet.json): summed counts, exact percentiles,
    and their timelines lined up by wall-clock interval."""
    from ven_sim.fleet.combined import shard_timeline, write_merged
    from ven_sim.fleet.identities import IdentityError
    from ven_sim.fleet.merge import load_parts, merge_results

    try:
        results = load_parts(list(parts))
        merged = merge_results(results)
        timelines = [shard_timeline(part) for part in parts]
    except (IdentityError, KeyError, ValueError) as exc:
        raise click.ClickException(f"cannot merge: {exc}") from None
    if out is not None:
        folder, name = (out.parent, out.name) if out.suffix == ".json" else (out, "fleet.json")
        missing = [str(part) for part, rows in zip(parts, timelines, strict=True) if rows is None]
        if missing:  # a fleet timeline without some shards would count too little
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(json.dumps(merged, indent=2) + "\n")
            click.echo("no merged timeline: no timeline.csv with its timeline_hist.jsonl in "
                       + ", ".join(missing), err=True)
        else:
            write_merged(folder, results, [rows for rows in timelines if rows is not None],
                         target=merged["vens_requested"], name=name)
            click.echo(f"merged timeline of {len(parts)} shard(s): {folder / 'timeline.csv'}, "
                       f"{folder / 'timeline.png'}", err=True)
    click.echo(json.dumps({k: v for k, v in merged.items() if k != "histograms"}, indent=2))
    _warn_if_overloaded(merged)
