"""One `ven-sim fleet` invocation as a library call (the CLI and `bench fleet` share it).

Order: identities and the plan (guardrails refuse against AWS unless forced), the claim on
the ID range, certificates, the wire, the run under StopSignals, and the results written
even when the run was stopped early.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ven_sim.fleet.identities import certificate_count, certificate_owners, claim
from ven_sim.fleet.plan import FleetConfig, guardrails, plan_lines
from ven_sim.fleet.results import rss_mb
from ven_sim.fleet.runner import FleetRunner
from ven_sim.fleet.timeline_plot import shard_title, write_run_files
from ven_sim.fleet.wiring import open_fleet_wire, prepare_clients
from ven_sim.signals import StopSignals

__all__ = ["TLS_VERSIONS", "FleetError", "WireOptions", "run_fleet"]

# --tls-version: a TLS 1.2 handshake costs the client about 13 % less CPU than 1.3; memory
# per VEN is alike once free pages are returned (docs/benchmarks.md). AWS IoT takes both.
TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class FleetError(Exception):
    """A run refused before it started (a quota, an ID overlap, a broker choice)."""


@dataclass(frozen=True)
class WireOptions:
    broker: str
    local_ca: Path | None = None
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    certs_dir: Path = Path("certs")
    keepalive: int = 60
    tls_version: str | None = None  # "1.2" or "1.3": the highest the VENs offer (None: 1.3)


def run_fleet(
    config: FleetConfig,
    wire_options: WireOptions,
    out: Path,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
    on_runner: Callable[[FleetRunner], None] | None = None,
) -> dict[str, Any]:
    """Run one shard and write `out/fleet.json`, `out/timeline.csv` and `out/timeline.png`;
    return the figures. `on_runner` sees the runner before it starts (the Prometheus
    endpoint, a Ray shard's progress)."""
    broker = wire_options.broker
    if wire_options.tls_version is not None and (broker == "inprocess"
                                                 or broker.startswith("mqtt://")):
        raise FleetError(f"--tls-version needs a TLS broker: {broker} has no TLS")
    for line in plan_lines(config, wire_options.broker):
        say(line)
    problems = guardrails(config)
    if problems and wire_options.broker == "aws" and not force:
        raise FleetError("over AWS IoT Core quotas (--force to run anyway): " + "; ".join(problems))
    for problem in problems:
        say(f"warning: {problem}")
    claim_path = claim(out, config.ids)
    try:
        ids = config.ids.ids()
        # With a certificate each (the default) no map: every VEN owns its certificate.
        owners = (certificate_owners(config.ids, config.vens_per_cert)
                  if config.vens_per_cert > 1 else None)
        certificates = certificate_count(len(ids), config.vens_per_cert)
        wire = open_fleet_wire(
            wire_options.broker, client_ids=ids, local_ca=wire_options.local_ca,
            ca=wire_options.ca, cert=wire_options.cert, key=wire_options.key,
            certs_dir=wire_options.certs_dir, keepalive=wire_options.keepalive,
            progress=lambda n: say(f"certificates: {n:,}/{certificates:,}"),
            owners=owners,
        )
        try:
            if wire_options.tls_version is not None:
                wire.transport.max_tls_version = TLS_VERSIONS[wire_options.tls_version]  # type: ignore[attr-defined]
            rss_before = rss_mb()  # before the VENs' clients: their memory is theirs
            prepared_s = prepare_clients(
                wire.transport, ids, lambda n: say(f"clients prepared: {n:,}/{len(ids):,}")
            )
            runner = FleetRunner(config, wire.transport, progress=progress)
            if on_runner is not None:
                on_runner(runner)
            with StopSignals(runner.stop):
                results = runner.run()
            results["clients_prepared_s"] = round(prepared_s, 2)
            results["rss_mb_before_vens"] = round(rss_before, 1)
        finally:
            wire.close()
        results["broker"] = wire.description
        write_run_files(out, results, runner.rows, target=config.vens,
                        title=shard_title(config))
        return results
    finally:
        claim_path.unlink(missing_ok=True)
