"""`ven-sim certs fetch|create`: provision AWS IoT Core device certificates.

Prints the paths it wrote, never key contents. `ven_sim.certs.aws` (and so boto3) is imported inside
each command so that `ven-sim --help` and the other commands stay quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
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
    """Fetch or create AWS IoT Core device certificates (files under OUT/<thing>/)."""


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
@click.option("--thing", required=True, help="AWS IoT thing name (created if missing).")
@click.option("--out", "out_dir", type=OutDir, default="certs", show_default=True)
@click.option("--policy-name", help="IoT policy to create or reuse (default: ven-sim-<thing>).")
def create(thing: str, out_dir: str, policy_name: str | None) -> None:
    """Create a thing, an active certificate and a least-privilege policy in AWS IoT."""
    from ven_sim.certs.aws import CertsError, create_thing_certificate, describe_endpoint

    try:
        files = create_thing_certificate(thing, out_dir, policy_name=policy_name)
    except CertsError as exc:
        _fail(str(exc))
    _report(files)
    try:
        click.echo(f"endpoint    mqtts://{describe_endpoint()}:8883")
    except CertsError as exc:
        # The certificate exists and its files are written: a missing endpoint is no failure.
        click.echo(f"warning: {exc}", err=True)


if __name__ == "__main__":  # pragma: no cover
    certs_group()
