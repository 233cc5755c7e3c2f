"""`ven-sim validate` and `ven-sim run`: a scenario file, checked or run."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sim.scenario import Scenario, ScenarioError, parse_speed
from ven_sim.cli.options import broker_options, open_broker

__all__ = ["run", "validate"]


class SpeedType(click.ParamType):
    name = "max|FACTOR"

    def convert(self, value, param, ctx):
        try:
            return parse_speed(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _load(path: str, **overrides: Any) -> Scenario:
    # the loader brings in jsonschema and ruamel.yaml: only the commands that read a file pay
    from sim.scenario_loader import load_scenario, size_problem

    try:
        scenario = load_scenario(path).with_overrides(**overrides)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    problem = size_problem(scenario)  # again: --vens may have grown the fleet
    if problem is not None:
        raise click.ClickException(f"{path}: {problem}")
    return scenario


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
def validate(scenario: str) -> None:
    """Check a scenario file; print one line per problem-free file."""
    loaded = _load(scenario)
    click.echo(
        f"{scenario}: ok ({loaded.ven_count} VENs, {len(loaded.events)} events, "
        f"{loaded.duration_s / 3600:g} h)"
    )


@click.command()
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
    from ven_sim.output import check_writable, write_outputs
    from ven_sim.report import progress_bar, summary_table
    from ven_sim.runner import run_scenario
    from ven_sim.signals import StopSignals

    loaded = _load(scenario, seed=seed, speed=speed, vens=vens)
    if broker["broker"] not in (None, "inprocess") and loaded.speed == "max":
        raise click.UsageError("a network broker needs a paced run: add --speed 600 (or any N)")
    if loaded.faults and broker["broker"] != "inprocess":
        raise click.UsageError("this scenario has faults: they play on a broker the run "
                               "controls, add --broker inprocess")
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = str(Path("runs") / f"{loaded.name}-{stamp}")
    target = Path(out_dir)
    if target.exists() and any(target.iterdir()):
        raise click.ClickException(f"{target} already exists and is not empty")
    try:  # now, not after an hour of simulation
        check_writable(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write results to {target}: "
                                   f"{exc.strerror or exc}") from None
    # A signal stops the kernel: what was simulated so far is measured and written.
    with (
        StopSignals() as stop,
        open_broker(**broker) as wire,
        progress_bar(loaded.duration_s, enabled=sys.stderr.isatty()) as advance,
    ):
        if wire is not None:
            click.echo(f"on the wire: {wire.description}", err=True)
        click.echo(f"running {loaded.name} ({loaded.ven_count} VENs); Ctrl-C stops it and "
                   "keeps what was simulated", err=True)
        result = run_scenario(loaded, progress=advance, wire=wire, stop=stop)
        interrupted = result.summary.get("interrupted_at")
        if interrupted:
            click.echo(f"interrupted at {interrupted} (simulated): summary.json and "
                       f"timeseries.csv of what was simulated go to {target}/", err=True)
        written = write_outputs(target, result.summary, result.log.sorted_rows(),
                                loaded.start.timestamp(), report=not interrupted)
    if interrupted:
        sys.exit(130)  # the shell's code for a command ended by a signal it handled
    click.echo(summary_table(result.summary))
    click.echo(f"results in {written}/ (summary.json, timeseries.csv, report.png)")
