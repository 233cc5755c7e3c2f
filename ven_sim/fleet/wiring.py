"""The fleet's transport: one `PahoTransport` (one network loop) for every VEN and the probe.

`--local-ca DIR` mints a certificate per VEN from the CA a mosquitto (or the embedded broker)
trusts, before the run starts, so no handshake waits for a key to be generated. Otherwise the
choice is `open_wire`'s: `embedded`, `mqtts://` with --ca/--cert/--key or per-VEN folders
`--certs-dir/<venId>/{cert.pem,private.key}` (or the files the manifest of `certs create`
names), or `aws`.

`--vens-per-cert G` (`owners`: each VEN's group's first VEN): the local CA mints one
certificate per group, under the group's first VEN's ID, and the VENs of a group share one
SSLContext, loaded once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ven_sim.transports.endpoints import BrokerURL, TlsFiles
from ven_sim.wire import Wire, WireError, open_wire

__all__ = [
    "check_identities",
    "mint_certificates",
    "open_fleet_wire",
    "prepare_clients",
    "probe_certificate",
]


def mint_certificates(
    ca_folder: Path, client_ids: list[str], progress: Callable[[int], None] | None = None
) -> dict[str, TlsFiles]:
    """A certificate and key (0600) per client ID from the local CA; existing ones reused."""
    from ven_sim.certs.local_ca import LocalCA

    ca = LocalCA(ca_folder)
    files = {}
    for n, client_id in enumerate(client_ids, 1):
        files[client_id] = TlsFiles.from_paths(ca.client_cert(client_id))
        if progress is not None and (n % 500 == 0 or n == len(client_ids)):
            progress(n)
    return files


def open_fleet_wire(
    broker: str,
    *,
    client_ids: list[str],
    local_ca: Path | None = None,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    certs_dir: Path = Path("certs"),
    keepalive: int = 60,
    progress: Callable[[int], None] | None = None,
    owners: dict[str, str] | None = None,
) -> Wire:
    """`owners`: client ID to the ID whose certificate it uses (`certificate_owners`); by
    default each its own."""
    shared = owners is not None and any(i != owner for i, owner in owners.items())
    if local_ca is None:
        if shared and broker.startswith("embedded"):
            raise WireError("--vens-per-cert needs --local-ca DIR (mosquitto) or a --certs-dir "
                            "from `certs create --vens-per-cert`: the embedded broker's CA "
                            "mints a certificate per VEN")
        check_identities(certs_dir, client_ids, required=broker == "aws" and cert is None)
        if cert is None and key is None:
            cert, key = probe_certificate(certs_dir)
        wire = open_wire(broker, ca=ca, cert=cert, key=key, certs_dir=certs_dir,
                         keepalive=keepalive)
        return wire
    from ven_sim.transports.paho import PahoTransport

    try:
        url = BrokerURL.parse(broker)
    except ValueError as exc:
        raise WireError(f"--local-ca needs --broker mqtts://HOST:PORT ({exc})") from None
    if not url.tls:
        raise WireError("--local-ca needs an mqtts:// broker")
    owner_of = owners or {}
    files = mint_certificates(local_ca, list(dict.fromkeys(owner_of.get(i, i) for i in client_ids)),
                              progress)
    from ven_sim.certs.local_ca import LocalCA

    tools = LocalCA(local_ca)

    def tls(client_id: str) -> TlsFiles:
        # Taken once read: a client keeps its certificate's two file names (client_tls.py),
        # and a VEN's three Paths, held for the whole run, were 2.7 KB. The probe's ID is made
        # per run: minted when it connects; so would be a VEN's whose files were taken (the
        # files exist: LocalCA reuses them). A group's files stay, one object for its VENs.
        owner = owner_of.get(client_id, client_id)
        found = files.get(owner) if shared else files.pop(owner, None)
        return found or TlsFiles.from_paths(tools.client_cert(owner))

    transport = PahoTransport(url, tls, keepalive=keepalive)
    return Wire(transport, f"{url} (certificates from {local_ca})", networked=True)


def check_identities(certs_dir: Path, client_ids: list[str], *, required: bool) -> None:
    """Every VEN must have its own certificate (or its group's, `--vens-per-cert`) in
    `certs_dir`: all of them in its manifest (`certs create --count`) when it has one, else
    each in `certs_dir/<venId>/` when `required` (AWS, where a certificate may connect only
    as a thing it is attached to)."""
    from ven_sim.certs.manifest import MANIFEST_FILE, ManifestError, missing_identities

    try:
        missing = missing_identities(certs_dir, client_ids)
    except ManifestError as exc:
        raise WireError(str(exc)) from None
    where = certs_dir / MANIFEST_FILE
    if missing is None:
        if not required:
            return
        where = certs_dir
        missing = [i for i in client_ids if not all(
            (certs_dir / i / name).is_file() for name in ("cert.pem", "private.key"))]
    if missing:
        first = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise WireError(
            f"{len(missing):,} of {len(client_ids):,} VENs have no certificate in {where} "
            f"({first}): make them with `ven-sim certs create --count N --prefix P "
            f"--start I --out {certs_dir}` (a rerun adds only what is missing)"
        )


def probe_certificate(certs_dir: Path) -> tuple[str | None, str | None]:
    """The probe's certificate and key from the manifest of `certs create --count`: every
    VEN has its own (or its group's), so the "shared" one is the probe's alone."""
    from ven_sim.certs.manifest import Manifest, probe_of

    probe = probe_of(Manifest(certs_dir))
    if probe is None:
        return None, None
    return str(certs_dir / probe.cert), str(certs_dir / probe.key)


def prepare_clients(
    transport: object, client_ids: list[str], progress: Callable[[int], None] | None = None
) -> float:
    """Load every VEN's certificate into its client before the ramp (on the transport's
    network loop: `PahoTransport.prepare_many`); returns the seconds."""
    prepare_many = getattr(transport, "prepare_many", None)
    if prepare_many is None:
        return 0.0
    began = time.monotonic()

    def every_thousand(n: int) -> None:
        if progress is not None and (n % 1000 == 0 or n == len(client_ids)):
            progress(n)

    prepare_many(client_ids, every_thousand)
    return time.monotonic() - began
