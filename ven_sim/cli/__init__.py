"""`ven-sim`: the command group; each command lives in its own module here.

Command modules import only click and the light domain at import time; whatever
pulls in paho, amqtt, boto3, cryptography or matplotlib is imported inside the
command that needs it, so `ven-sim --help` stays fast (tests/test_imports.py).
"""

from __future__ import annotations

import logging

import click

from ven_sim.cli.bench import bench
from ven_sim.cli.broker import broker_command, shadow_service_command
from ven_sim.cli.certs import certs_group
from ven_sim.cli.fleet import fleet
from ven_sim.cli.live import live
from ven_sim.cli.run import run, validate
from ven_sim.cli.wire import listen, send

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ven-sim", message="ven-sim %(version)s")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Simulate OpenADR-style VENs on pykka actors and simulated time."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose == 0:
        # amqtt 0.12 logs a PUBACK race of its own as warnings and tracebacks
        # (docs/troubleshooting.md); -v shows them.
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)


main.add_command(validate)
main.add_command(run)
main.add_command(live)
main.add_command(listen)
main.add_command(send)
main.add_command(broker_command, "broker")
main.add_command(shadow_service_command, "shadow-service")
main.add_command(certs_group, "certs")
main.add_command(bench)
main.add_command(fleet)
