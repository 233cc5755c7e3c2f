"""`ven-sim`: thin click commands over the library API."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from sim.cli_broker import broker_options, open_broker
from sim.cli_live import live
from sim.cli_wire import listen, send
from sim.scenario import ScenarioError, load_scenario, parse_speed


class SpeedType(click.ParamType):
    name = "max|FACTOR"

    def convert(self, value, param, ctx):
        try:
            return parse_speed(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Simulate OpenADR-style VENs on pykka actors and simulated time."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # amqtt 0.12 logs a PUBACK race of its own as warnings and tracebacks
        # (docs/troubleshooting.md); -v shows them.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)


def _load(path: str, **overrides):
    try:
        scenario = load_scenario(path)
        return scenario.with_overrides(**overrides)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
def validate(scenario: str) -> None:
    """Check a scenario file; print one line per problem-free file."""
    loaded = _load(scenario)
    click.echo(
        f"{scenario}: ok ({loaded.ven_count} VENs, {len(loaded.events)} events, "
        f"{loaded.duration_s / 3600:g} h)"
    )


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder.")
@click.option("--seed", type=int, help="Override the scenario's seed.")
@click.option("--speed", type=SpeedType(), help="max, or simulated seconds per wall second.")
@click.option("--vens", type=click.IntRange(min=1), help="Scale the fleet to N VENs.")
@broker_options
def run(scenario: str, out_dir: str | None, seed, speed, vens, **broker) -> None:
    """Run SCENARIO and write summary.json, timeseries.csv and report.png.

    With --broker, every VEN also speaks the backend contract over MQTT (telemetry, acks,
    shadow) and DR events go out as backend commands; a network broker needs --speed N.
    """
    from sim.output import write_outputs
    from sim.report import progress_bar, summary_table
    from sim.runner import run_scenario

    loaded = _load(scenario, seed=seed, speed=speed, vens=vens)
    if broker["broker"] not in (None, "inprocess") and loaded.speed == "max":
        raise click.UsageError("a network broker needs a paced run: add --speed 600 (or any N)")
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = str(Path("runs") / f"{loaded.name}-{stamp}")
    target = Path(out_dir)
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} already exists and is not empty")
    with (
        open_broker(**broker) as wire,
        progress_bar(loaded.duration_s, enabled=sys.stderr.isatty()) as advance,
    ):
        if wire is not None:
            click.echo(f"on the wire: {wire.description}", err=True)
        result = run_scenario(loaded, progress=advance, wire=wire)
    written = write_outputs(
        target, result.summary, result.log.sorted_rows(), loaded.start.timestamp()
    )
    click.echo(summary_table(result.summary))
    click.echo(f"results in {written}/ (summary.json, timeseries.csv, report.png)")


@main.group()
def bench() -> None:
    """Benchmarks; each prints JSON figures (see docs/benchmarks.md)."""


@bench.command("sim")
@click.option("--vens", type=click.IntRange(min=1), default=200, show_default=True)
@click.option("--hours", type=click.FloatRange(min=0.1), default=24.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--report-interval", type=click.FloatRange(min=1), default=300.0, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def bench_sim(vens: int, hours: float, workers: int, report_interval: float, seed: int) -> None:
    """VEN-days per wall minute on actors, against a plain loop of the same models."""
    from sim.bench import bench_sim as run_bench

    figures = run_bench(
        vens=vens, hours=hours, workers=workers, report_interval_s=report_interval, seed=seed
    )
    click.echo(json.dumps(figures, indent=2))


def _attach_iot_commands() -> None:
    # The embedded IoT Core lives in the iot package; its commands join this group.
    from iot.certs_cli import certs_group
    from iot.cli import broker_command, shadow_service_command

    main.add_command(broker_command, "broker")
    main.add_command(listen, "listen")
    main.add_command(live, "live")
    main.add_command(send, "send")
    main.add_command(shadow_service_command, "shadow-service")
    main.add_command(certs_group, "certs")


_attach_iot_commands()


@bench.command("mqtt")
@click.option("--clients", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--messages", type=click.IntRange(min=1), default=20000, show_default=True)
@click.option("--broker", help="mqtts://HOST:PORT of a running broker (default: start mosquitto).")
def bench_mqtt(clients: int, messages: int, broker: str | None) -> None:
    """Many mTLS clients on one network loop: connects/s, msg/s, latency, memory."""
    from sim.bench_mqtt import bench_mqtt as run_bench

    click.echo(json.dumps(run_bench(clients, messages, broker), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
