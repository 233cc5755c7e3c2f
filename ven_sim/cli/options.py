"""The `--broker/--ca/--cert/--key` options shared by `run`, `live`, `listen` and `send`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from sim.limits import KEEPALIVE_RANGE_S
from ven_sim.transports.endpoints import MQTTConnectError
from ven_sim.wire import Wire, WireError, open_wire

BROKER_HELP = (
    "inprocess (no network), embedded[:PORT] (local mTLS broker + shadows, port 8883), "
    "mqtt://HOST:PORT, "
    "mqtts://HOST:PORT or aws (IOT_ENDPOINT or describe-endpoint)."
)


def broker_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--broker", metavar="KIND|URL", help=BROKER_HELP),
        click.option("--ca", type=click.Path(dir_okay=False), help="CA certificate [CA_CERT]."),
        click.option(
            "--cert", type=click.Path(dir_okay=False), help="Client certificate [CLIENT_CERT]."
        ),
        click.option("--key", type=click.Path(dir_okay=False), help="Private key [PRIVATE_KEY]."),
        click.option(
            "--aws-port",
            type=click.Choice(["8883", "443"]),
            envvar="IOT_PORT",
            help="AWS IoT port: 8883, or 443 with ALPN x-amzn-mqtt-ca [IOT_PORT].",
        ),
        click.option(
            "--certs-dir",
            type=click.Path(file_okay=False),
            envvar="VEN_SIM_CERTS",
            default="certs",
            show_default=True,
            help="Where certificates live; the embedded broker's CA is in its local/ "
            "[VEN_SIM_CERTS].",
        ),
        click.option(
            "--keepalive",
            type=click.IntRange(*KEEPALIVE_RANGE_S),
            default=60,
            show_default=True,
            help="MQTT keepalive in seconds (AWS IoT allows 30-1200).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@contextmanager
def open_broker(
    broker: str | None,
    ca: str | None,
    cert: str | None,
    key: str | None,
    keepalive: int,
    aws_port: str | None = None,
    certs_dir: str = "certs",
    client_only: bool = False,
) -> Iterator[Wire | None]:
    """The wire for --broker (None without one), closed on the way out.

    `client_only`: connect to an embedded broker that is already running instead of
    starting one (the tools).
    """
    if broker is None:
        yield None
        return
    try:
        wire = open_wire(
            broker,
            ca=ca,
            cert=cert,
            key=key,
            keepalive=keepalive,
            certs_dir=certs_dir,
            start_embedded=not client_only,
            env={**os.environ, **({"IOT_PORT": aws_port} if aws_port else {})},
        )
    except WireError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # broker start-up or TLS files: say what, not a traceback
        raise click.ClickException(f"cannot open {broker}: {exc}") from None
    try:
        yield wire
    except MQTTConnectError as exc:  # a certificate or key that loads badly, per VEN
        raise click.ClickException(str(exc)) from None
    finally:
        wire.close()
