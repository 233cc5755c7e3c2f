"""`ven-sim validate` and `ven-sim run`: a scenario file, checked or run."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sim.scenario import Scenario, ScenarioError, parse_speed
from ven_sim.cli.options import broker_options, open_broker

__all__ = ["run", "validate"]

RUN_FILES = frozenset({"summary.json", "timeseries.csv", "report.png", "circuits.csv"})


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
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    for warning in scenario.warnings:
        click.echo(f"warning: {warning}", err=True)
    try:
        scenario = scenario.with_overrides(**overrides)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    problem = size_problem(scenario)  # again: --vens may have grown the fleet
    if problem is not None:
        raise click.ClickException(f"{path}: {problem}")
    return scenario


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(scenarios: tuple[str, ...]) -> None:
    """Check scenario files; print one line per file, ok or what is wrong (exit 1 if any is)."""
    failed = 0
    for scenario in scenarios:
        try:
            loaded = _load(scenario)
        except click.ClickException as exc:
            failed += 1
            click.echo(f"Error: {exc.message}", err=True)
            continue
        click.echo(
            f"{scenario}: ok ({plural(loaded.ven_count, 'VEN')}, "
            f"{plural(len(loaded.events), 'event')}, {loaded.duration_s / 3600:g} h)"
        )
    if failed:
        raise SystemExit(1)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Output folder.")
@click.option("--seed", type=int, help="Override the scenario's seed.")
@click.option("--speed", type=SpeedType(), help="max, or simulated seconds per wall second.")
@click.option("--vens", type=click.IntRange(min=1), help="Scale the fleet to N VENs.")
@click.option("--force", is_flag=True, help="Replace the output of an earlier run in --out.")
@click.option("--circuits", is_flag=True,
              help="Also write circuits.csv: every circuit of every VEN per interval.")
@broker_options
def run(
    scenario: str, out_dir: str | None, seed, speed, vens, force: bool, circuits: bool, **broker
) -> None:
    """Run SCENARIO and write summary.json, timeseries.csv and report.png.

    With --broker, every VEN also speaks the backend contract over MQTT (telemetry, acks,
    shadow) and DR events go out as backend commands; a network broker needs --speed N.
    A paced run that falls behind its --speed says so (and in summary.json's `pacing`).
    """
    from ven_sim.output import check_writable, write_outputs
    from ven_sim.report import progress_bar, progress_lines, summary_table
    from ven_sim.runner import run_scenario
    from ven_sim.signals import StopSignals

    loaded = _load(scenario, seed=seed, speed=speed, vens=vens)
    if broker["broker"] not in (None, "inprocess") and loaded.speed == "max":
        raise click.UsageError("a network broker needs a paced run: add --speed 600 (or any N)")
    from ven_sim.faults import fault_wire_problem

    problem = fault_wire_problem(loaded, broker["broker"])
    if problem is not None:
        raise click.UsageError(problem)
    if out_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = str(Path("runs") / f"{loaded.name}-{stamp}")
    target = Path(out_dir)
    check_out_dir(target, force)  # before the run, not after minutes of it
    try:
        check_writable(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write results to {target}: "
                                   f"{exc.strerror or exc}") from None
    # A terminal gets a bar; a log file a line every few seconds.
    progress = (
        progress_bar(loaded.duration_s, enabled=True)
        if sys.stderr.isatty()
        else progress_lines(loaded.duration_s, lambda line: click.echo(line, err=True))
    )
    # A signal stops the kernel: what was simulated so far is measured and written.
    with StopSignals() as stop, open_broker(**broker) as wire, progress as advance:
        if wire is not None:
            click.echo(f"on the wire: {wire.description}", err=True)
        click.echo(f"running {loaded.name} ({loaded.ven_count} VENs); Ctrl-C stops it and "
                   "keeps what was simulated", err=True)
        result = run_scenario(loaded, progress=advance, wire=wire, circuits=circuits, stop=stop)
        interrupted = result.summary.get("interrupted_at")
        if interrupted:
            click.echo(f"interrupted at {interrupted} (simulated): summary.json and "
                       f"timeseries.csv of what was simulated go to {target}/", err=True)
        pacing = result.summary.get("pacing") or {}
        if pacing.get("warning"):
            click.echo(f"Warning: {pacing['warning']}", err=True)
        files = "summary.json, timeseries.csv" + ("" if interrupted else ", report.png")
        with replacing(target, force):
            written = write_outputs(target, result.summary, result.log.sorted_rows(),
                                    loaded.start.timestamp(), report=not interrupted)
            if circuits:
                from ven_sim.circuits_csv import write_circuits

                types = {(v.ven_id, cid): kind for v in result.vens for cid, kind in
                         v.circuit_types.items()}
                write_circuits(written / "circuits.csv", result.log.circuit_rows, types,
                               loaded.start.timestamp(), loaded.zone)
                files += ", circuits.csv"
    if interrupted:
        sys.exit(130)  # the shell's code for a command ended by a signal it handled
    click.echo(summary_table(result.summary))
    click.echo(f"results in {written}/ ({files})")


def check_out_dir(target: Path, force: bool) -> None:
    """Refuse an --out that holds anything, or with --force anything but a run's files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise click.ClickException(f"--out {target} is a file, not a folder")
    present = {p.name for p in target.iterdir()}
    if not present:
        return
    if not force:
        raise click.ClickException(
            f"{target} already exists and is not empty: give another --out, or --force to "
            "replace the earlier run in it"
        )
    others = sorted(present - RUN_FILES)
    if others:
        # --force replaces a run's output, never a folder of other things.
        raise click.ClickException(
            f"--force only replaces a run's output, and {target} also holds "
            f"{', '.join(others[:5])}: give another --out"
        )


@contextmanager
def replacing(target: Path, force: bool) -> Iterator[None]:
    """With --force, move the earlier run aside; drop it once the new one is written."""
    if not (force and target.is_dir() and any(target.iterdir())):
        yield
        return
    check_out_dir(target, force)  # still only a run's files
    aside = target.with_name(f".{target.name}.replaced")
    shutil.rmtree(aside, ignore_errors=True)
    target.rename(aside)
    try:
        yield
    except BaseException:
        if not target.exists():
            aside.rename(target)  # the new run failed to write: keep the old one
        raise
    shutil.rmtree(aside, ignore_errors=True)
