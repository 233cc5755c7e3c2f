"""`ven-sim broker` and `ven-sim shadow-service`: the embedded AWS IoT Core stand-in."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ven_sim.broker.shadow_doc import SHADOW_CLIENT_ID
from ven_sim.signals import StopSignals
from ven_sim.transports.endpoints import BrokerURL, MQTTConnectError, TlsFiles

__all__ = ["broker_command", "shadow_service_command"]

FilePath = click.Path(exists=True, dir_okay=False, path_type=Path)


def _fail_clearly(action: Callable[[], None]) -> None:
    # The errors a user can cause (bad certs, busy port, unreachable broker): one line, exit 1.
    from amqtt.errors import BrokerError

    from ven_sim.certs.local_ca import CAError

    try:
        action()
    except (MQTTConnectError, CAError, BrokerError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8883, show_default=True, type=click.IntRange(0, 65535),
              help="mTLS port (0: any free port).")
@click.option("--certs", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the local CA, the server and the client certificates "
              "[default: $VEN_SIM_CERTS/local, else certs/local].")
@click.option("--with-shadow/--no-shadow", default=True, show_default=True,
              help="Also run the device shadow service ($aws/things/+/shadow/...).")
@click.option("--plain-port", type=click.IntRange(0, 65535),
              help="Also listen without TLS on this port (tests and debugging only).")
@click.option("--client-cert", "client_ids", multiple=True, metavar="THING",
              help="Issue a client certificate for THING before starting (repeatable).")
@click.option("--shadow-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep shadows in this JSON file across restarts.")
def broker_command(
    host: str,
    port: int,
    certs: Path,
    with_shadow: bool,
    plain_port: int | None,
    client_ids: tuple[str, ...],
    shadow_file: Path | None,
) -> None:
    """Run an AWS IoT Core stand-in: MQTT with mutual TLS, plus device shadows."""
    from ven_sim.broker.embedded import EmbeddedBroker
    from ven_sim.broker.shadow_service import ShadowService
    from ven_sim.certs.local_ca import LocalCA

    # Where `listen`, `send` and runs look too (--certs-dir / VEN_SIM_CERTS, then local/).
    certs = certs or Path(os.environ.get("VEN_SIM_CERTS", "certs")) / "local"

    def run() -> None:
        ca = LocalCA(certs)
        for client_id in client_ids:
            paths = ca.client_cert(client_id)
            click.echo(f"client {client_id}: --cert {paths.cert} --key {paths.key}")
        broker = EmbeddedBroker(ca, host, port, plain_port=plain_port).start()
        shadow = None
        try:
            if with_shadow:
                tls = TlsFiles.from_paths(ca.client_cert(SHADOW_CLIENT_ID))
                shadow = ShadowService(broker.url, tls, persist_path=shadow_file).start()
            # Handlers before the announcement: a signal right after it stops us cleanly.
            with StopSignals() as signals:
                _announce(broker.url, broker.plain_url, ca, certs, with_shadow, port)
                signals.wait()
        finally:
            if shadow is not None:
                shadow.stop()
            broker.stop()
        click.echo("broker stopped")

    _fail_clearly(run)


def _announce(
    url: str, plain_url: str | None, ca: Any, certs: Path, shadow: bool, port: int
) -> None:
    click.echo(f"broker: {url} (client certificate required)")
    if plain_url:
        click.echo(f"plain:  {plain_url} (no TLS)")
    click.echo(f"CA:     {ca.ca_path}")
    click.echo(f"shadow: {'on' if shadow else 'off'}")
    click.echo(
        f"client certificates: ven-sim broker --certs {certs} --client-cert THING, or in Python "
        f"LocalCA('{certs}').client_cert('THING') -> {certs}/clients/THING/cert.pem, key.pem"
    )
    where = url.rsplit(":", 1)[-1] if port == 0 else str(port)
    if certs.name == "local":
        click.echo(f"tools:  ven-sim listen --broker embedded:{where} --certs-dir {certs.parent}")
    else:  # the tools look for DIR/local/ca.pem
        click.echo("tools:  listen and send find the CA only in a folder named local: "
                   "give --certs DIR/local to use them")
    click.echo("Ctrl-C to stop.")


@click.command("shadow-service")
@click.option("--broker", "broker_url", required=True, metavar="mqtts://HOST:PORT|mqtt://HOST:PORT",
              help="Broker to serve shadows on.")
@click.option("--ca", type=FilePath, help="CA certificate to trust the broker with (mqtts).")
@click.option("--cert", type=FilePath, help="Client certificate (mTLS).")
@click.option("--key", type=FilePath, help="Client private key (mTLS).")
@click.option("--client-id", default=SHADOW_CLIENT_ID, show_default=True)
@click.option("--shadow-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep shadows in this JSON file across restarts.")
@click.option("--nice", "niceness", type=click.IntRange(0, 19), default=0, show_default=True,
              help="Run this much nicer (lower CPU priority): to yield a load generator's "
                   "cores to what it measures, as AWS's service on its own machines would.")
def shadow_service_command(
    broker_url: str,
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    client_id: str,
    shadow_file: Path | None,
    niceness: int,
) -> None:
    """Serve AWS IoT device shadows ($aws/things/+/shadow/...) on an existing broker."""
    if niceness:
        os.nice(niceness)  # before any thread starts: each inherits it
    try:
        url = BrokerURL.parse(broker_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--broker") from None
    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if url.tls and ca is None:
        raise click.UsageError(f"{url} is TLS: --ca is required")
    tls = TlsFiles(ca, cert, key) if url.tls and ca is not None else None

    def run() -> None:
        from ven_sim.broker.shadow_service import ShadowService

        service = ShadowService(url, tls, client_id=client_id, persist_path=shadow_file).start()
        try:
            with StopSignals() as signals:  # before the line that says we are up
                click.echo(f"shadow service on {url} as {client_id}. Ctrl-C to stop.")
                signals.wait()
        finally:
            service.stop()
        click.echo("shadow service stopped")

    _fail_clearly(run)
