"""`ven-sim live`: one VEN in real time against AWS IoT Core (or a local broker)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import click

from ven_sim.cli.options import broker_options, open_broker
from ven_sim.signals import StopSignals

logger = logging.getLogger(__name__)

# A local demo needs no thing registered anywhere; AWS ties the certificate to a real thing.
LOCAL_THING_NAME = "ven-local-1"


@click.command()
@click.option("--thing-name", envvar="IOT_THING_NAME", help="Thing name = client ID = venId.")
@click.option(
    "--panel-amperage",
    envvar="PANEL_AMPERAGE",
    type=click.Choice(["100", "150", "200"]),
    default="200",
    show_default=True,
)
@click.option("--web-host", default="127.0.0.1", show_default=True, help="Web UI address.")
@click.option("--web-port", envvar="WEB_PORT", type=click.IntRange(0, 65535), default=8080,
              show_default=True, help="Web UI port (0: none).")
@click.option("--web-token", envvar="WEB_TOKEN",
              help="Token for control endpoints (required when not on loopback).")
@click.option("--web-token-file", envvar="WEB_TOKEN_FILE", type=click.Path(dir_okay=False),
              help="Read the web token from this file (kept out of ps and the environment).")
@click.option("--web-allow-host", multiple=True,
              help="Another name the web UI may be reached by (Host header); repeatable.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML: template, params, seed, weather, report_interval_seconds.")
@click.option("--seconds", type=click.FloatRange(min=1), help="Stop after S seconds (tests).")
@broker_options
def live(thing_name, panel_amperage, web_host, web_port, web_token, web_token_file,
         web_allow_host, config_file, seconds, **broker) -> None:
    """Run one VEN in real time: telemetry every 5 s, commands, shadow, web UI.

    --broker defaults to aws when IOT_ENDPOINT is set, else to the embedded broker.
    --thing-name defaults to ven-local-1 on a local broker (embedded, inprocess).
    SIGINT/SIGTERM stop it cleanly (shadow reports offline) with exit code 0.
    """
    from ven_sim.live.config import load_live_config
    from ven_sim.live.ven import LiveVen

    if web_token_file:
        web_token = _read_token(web_token_file)
    if broker["broker"] is None:
        broker["broker"] = "aws" if os.environ.get("IOT_ENDPOINT") else "embedded"
    if not thing_name:
        kind = broker["broker"]
        if kind != "inprocess" and kind.split(":")[0] != "embedded":
            raise click.UsageError(
                f"--broker {kind} needs --thing-name (or IOT_THING_NAME): the thing your "
                "certificate belongs to"
            )
        thing_name = LOCAL_THING_NAME
    config = load_live_config(config_file, thing_name=thing_name, panel_amps=int(panel_amperage))
    with open_broker(**broker) as wire:
        assert wire is not None
        try:
            ven = LiveVen(config, wire)
        except (OSError, ValueError) as exc:  # unreadable cert/key, bad template or params
            raise click.ClickException(f"cannot start {thing_name}: {exc}") from None
        # Handlers first: whoever sees "live on" may signal at once and expect a clean
        # stop. A signal before `run` begins makes `run` shut down right away.
        with StopSignals(on_signal=ven.stop):
            click.echo(f"{thing_name} live on {wire.description}", err=True)
            server = None
            if web_port:
                from ven_sim.web.server import WebServer

                try:
                    server = WebServer(ven, host=web_host, port=web_port, token=web_token,
                                       allowed_hosts=web_allow_host)
                    server.start()
                except (ValueError, OSError) as exc:  # no token off loopback, port taken
                    ven.stop()
                    raise click.ClickException(web_ui_error(web_host, web_port, exc)) from None
                click.echo(f"web UI on http://{server.host}:{server.port}/", err=True)
            try:
                ven.run(seconds if seconds else float("inf"))
            finally:
                if server is not None:
                    server.stop()
    click.echo(f"{thing_name} stopped", err=True)


def web_ui_error(host: str, port: int, exc: Exception) -> str:
    """What went wrong starting the web UI, naming the address and what to do."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return (
            f"web UI: port {port} on {host} is already in use (another ven-sim live?): "
            "give another --web-port (or WEB_PORT), or --web-port 0 for no web UI"
        )
    if isinstance(exc, OSError):
        return f"web UI: cannot listen on {host}:{port}: {exc.strerror or exc}"
    return f"web UI: {exc}"


def _read_token(path: str) -> str:
    """The token in `path`, surrounding whitespace removed; never echoed in an error."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise click.ClickException(f"cannot read --web-token-file {path}: {reason}") from None
    if not token:
        raise click.ClickException(f"--web-token-file {path} is empty")
    return token
