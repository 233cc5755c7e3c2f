"""`ven-sim certs fetch|create|delete`: provision AWS IoT Core device certificates.

Prints the paths it wrote, never key contents. `ven_sim.certs.aws` (and so boto3) is imported inside
each command so that `ven-sim --help` and the other commands stay quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    import boto3

    from ven_sim.certs.aws import CertFiles

OutDir = click.Path(file_okay=False, writable=True)


def _report(files: CertFiles) -> None:
    click.echo(f"thing       {files.thing}")
    if files.certificate_id:
        click.echo(f"certificate {files.certificate_id}")
        click.echo(f"arn         {files.certificate_arn}")
    click.echo(f"ca          {files.ca}")
    click.echo(f"cert        {files.cert}")
    click.echo(f"key         {files.key}")


def _fail(message: str) -> NoReturn:
    # ClickException prints exactly one "Error: ..." line and exits 1.
    raise click.ClickException(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def certs_group() -> None:
    """Fetch, create or delete AWS IoT Core device certificates (files under OUT/<thing>/)."""


@certs_group.command()
@click.option("--secret", "secret_name", required=True,
              help="Secrets Manager secret: JSON with ca_cert, client_cert, private_key.")
@click.option("--thing", help="Folder name under OUT (default: the secret's name).")
@click.option("--out", "out_dir", type=OutDir, default="certs", show_default=True)
def fetch(secret_name: str, thing: str | None, out_dir: str) -> None:
    """Write a thing's CA, certificate and key from Secrets Manager."""
    from ven_sim.certs.aws import CertsError, fetch_from_secret

    try:
        files = fetch_from_secret(secret_name, out_dir, thing=thing)
    except CertsError as exc:
        _fail(str(exc))
    _report(files)


@certs_group.command()
@click.option("--thing", help="One AWS IoT thing name (created if missing).")
@click.option("--count", type=click.IntRange(min=1),
              help="Make COUNT identities PREFIX-000000, PREFIX-000001, ... (with --prefix).")
@click.option("--prefix", help="Client ID prefix of --count's identities (as fleet --id-prefix).")
@click.option("--start", type=click.IntRange(min=0), default=0, show_default=True,
              help="Index of the first of --count's identities (as fleet --id-start).")
@click.option("--vens-per-cert", type=click.IntRange(min=1), default=1, show_default=True,
              metavar="G", help="With --count: one certificate per G identities (runs of G "
              "from --start), attached to each of their things (as fleet --vens-per-cert).")
@click.option("--out", "out_dir", type=OutDir, default="certs", show_default=True)
@click.option("--region", help="AWS region [your AWS configuration's].")
@click.option("--policy-name",
              help="IoT policy to create or reuse [ven-sim-<thing>, ven-sim-fleet-<prefix>].")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Identities under way at once (every API stays paced under its quota).")
def create(thing: str | None, count: int | None, prefix: str | None, start: int,
           vens_per_cert: int, out_dir: str, region: str | None, policy_name: str | None,
           threads: int) -> None:
    """Create things, active certificates and a least-privilege policy in AWS IoT.

    --thing NAME makes one; --count N --prefix P makes N for `ven-sim fleet`, paced under
    AWS's API rates and resumable: run it again after Ctrl-C or an error to finish.
    """
    import boto3

    from ven_sim.certs.aws import CertsError, create_thing_certificate

    if thing is not None and (count is not None or prefix is not None):
        raise click.UsageError("give either --thing or --count with --prefix, not both")
    if thing is None and (count is None or prefix is None):
        raise click.UsageError("give --thing NAME, or --count N with --prefix P")
    if thing is not None and vens_per_cert > 1:
        raise click.UsageError("--vens-per-cert goes with --count: --thing makes one identity")
    session = boto3.Session(region_name=region)
    if count is not None and prefix is not None:
        from ven_sim.cli.certs_bulk import create_many

        create_many(session, prefix, start, count, out_dir, policy_name, threads, vens_per_cert)
    else:
        assert thing is not None
        try:
            files = create_thing_certificate(
                thing, out_dir, session=session, policy_name=policy_name)
        except CertsError as exc:
            _fail(str(exc))
        _report(files)
    _echo_endpoint(session)


def _echo_endpoint(session: boto3.Session) -> None:
    from ven_sim.certs.aws import CertsError, describe_endpoint

    try:
        click.echo(f"endpoint    mqtts://{describe_endpoint(session)}:8883")
    except CertsError as exc:
        # The certificates exist and their files are written: a missing endpoint is no failure.
        click.echo(f"warning: {exc}", err=True)


@certs_group.command()
@click.option("--prefix", required=True, help="The prefix given to `certs create --count`.")
@click.option("--out", "out_dir", type=OutDir, default="certs", show_default=True)
@click.option("--region", help="AWS region [your AWS configuration's].")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True)
def delete(prefix: str, out_dir: str, region: str | None, threads: int) -> None:
    """Delete what `certs create --count` made: certificates, things, policy, files.

    Reads OUT/manifest.jsonl; resumable like create.
    """
    import boto3

    from ven_sim.cli.certs_bulk import delete_many

    delete_many(boto3.Session(region_name=region), prefix, out_dir, threads)


if __name__ == "__main__":  # pragma: no cover
    certs_group()
