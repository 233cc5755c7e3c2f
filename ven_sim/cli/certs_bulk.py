"""`ven-sim certs create --count` and `certs delete`: the terminal side of many identities.

A bar on a terminal, a line every tenth of the way otherwise; Ctrl-C stops after the steps
under way are journaled and says how to carry on. Loaded only by those commands (boto3).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import click

from ven_sim.certs.aws import CertsError
from ven_sim.certs.aws_fleet import BulkReport, create_identities, delete_identities
from ven_sim.certs.manifest import Manifest, ManifestError
from ven_sim.fleet.identities import IdentityError, IdRange, certificate_count
from ven_sim.signals import StopSignals

__all__ = ["create_many", "delete_many"]

INTERRUPTED = 130  # the shell's exit status after Ctrl-C


@contextmanager
def progress_reporter(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A callable taking the number finished so far, drawn as a bar on a terminal."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            shown = 0

            def advance(finished: int) -> None:
                nonlocal shown
                bar.update(finished - shown)
                shown = finished

            yield advance
        return
    step = max(1, total // 10)
    last = -1

    def line(finished: int) -> None:
        nonlocal last
        if finished // step != last // step or finished == total:
            click.echo(f"{label}: {finished:,}/{total:,}", err=True)
            last = finished

    yield line


def create_many(session: boto3.Session, prefix: str, start: int, count: int, out_dir: str,
                policy_name: str | None, threads: int, vens_per_cert: int = 1) -> None:
    try:
        ids = IdRange(prefix, start, start + count)
    except IdentityError as exc:
        raise click.BadParameter(str(exc), param_hint="--prefix") from None
    try:
        # SIGINT and SIGTERM set a flag the work loop reads (also when the shell started this
        # in the background with SIGINT ignored), so the steps under way finish journaled.
        with StopSignals() as stop, progress_reporter(count + 1, "identities") as progress:
            report = create_identities(ids, out_dir, session=session, policy_name=policy_name,
                                       threads=threads, progress=progress,
                                       stopped=lambda: stop.requested,
                                       vens_per_cert=vens_per_cert)
    except CertsError as exc:
        raise click.ClickException(f"{exc}\n{_resume_hint(out_dir, ids)}") from None
    except KeyboardInterrupt:
        click.echo(f"interrupted. {_resume_hint(out_dir, ids)}", err=True)
        sys.exit(INTERRUPTED)
    new = report.done - report.repaired
    click.echo(f"identities  {report.total:,}: {count:,} VENs and the probe ({new:,} new, "
               f"{report.repaired:,} finished, {report.skipped:,} already done)")
    if vens_per_cert > 1:
        groups = certificate_count(count, vens_per_cert)
        click.echo(f"certificates {groups:,} for the VENs ({vens_per_cert:,} things each, runs "
                   f"from {start}) and the probe's: a leaked key acts as all of its things")
    click.echo(f"policy      {report.policy}")
    click.echo(f"manifest    {report.manifest}")
    _retries(report)
    click.echo(f"ca          {Path(out_dir) / 'AmazonRootCA1.pem'}")
    shared = f" --vens-per-cert {vens_per_cert}" if vens_per_cert > 1 else ""
    click.echo(f"fleet       ven-sim fleet --vens {count} --id-prefix {prefix} "
               f"--id-start {start}{shared} --broker aws --certs-dir {out_dir}")


def delete_many(session: boto3.Session, prefix: str, out_dir: str, threads: int) -> None:
    try:
        total = len(Manifest(Path(out_dir)).identities)
    except ManifestError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with StopSignals() as stop, progress_reporter(total, "deleted") as progress:
            report = delete_identities(prefix, out_dir, session=session, threads=threads,
                                       progress=progress, stopped=lambda: stop.requested)
    except CertsError as exc:
        raise click.ClickException(f"{exc}\nrun the same command again to carry on") from None
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to carry on", err=True)
        sys.exit(INTERRUPTED)
    click.echo(f"identities  {report.total:,} deleted ({report.skipped:,} by an earlier run)")
    kept = "kept: other certificates still use it"
    click.echo(f"policy      {f'{report.policy} deleted' if report.policy else kept}")
    click.echo(f"manifest    {report.manifest} removed")
    _retries(report)


def _retries(report: BulkReport) -> None:
    if report.retries:
        click.echo(f"retried     {report.retries:,} throttled or failed calls")


def _resume_hint(out_dir: str, ids: IdRange) -> str:
    manifest = Manifest(Path(out_dir))
    done = sum(1 for i in ids.ids() if (m := manifest.identities.get(i)) and m.usable)
    return (f"{done:,} of {len(ids):,} identities are done (in {manifest.path}); "
            "run the same command again to finish the rest")
