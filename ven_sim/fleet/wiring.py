"""The fleet's transport: one `PahoTransport` (one network loop) for every VEN and the probe.

`--local-ca DIR` mints a certificate per VEN from the CA a mosquitto (or the embedded broker)
trusts, before the run starts, so no handshake waits for a key to be generated. Otherwise the
choice is `open_wire`'s: `embedded`, `mqtts://` with --ca/--cert/--key or per-VEN folders
`--certs-dir/<venId>/{cert.pem,private.key}`, or `aws`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ven_sim.transports.endpoints import BrokerURL, TlsFiles
from ven_sim.wire import Wire, WireError, open_wire

__all__ = ["mint_certificates", "open_fleet_wire", "prepare_clients"]


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
) -> Wire:
    if local_ca is None:
        return open_wire(broker, ca=ca, cert=cert, key=key, certs_dir=certs_dir,
                         keepalive=keepalive)
    from ven_sim.transports.paho import PahoTransport

    try:
        url = BrokerURL.parse(broker)
    except ValueError as exc:
        raise WireError(f"--local-ca needs --broker mqtts://HOST:PORT ({exc})") from None
    if not url.tls:
        raise WireError("--local-ca needs an mqtts:// broker")
    files = mint_certificates(local_ca, client_ids, progress)
    from ven_sim.certs.local_ca import LocalCA

    tools = LocalCA(local_ca)

    def tls(client_id: str) -> TlsFiles:
        # The probe's ID is made per run: minted when it connects.
        return files.get(client_id) or TlsFiles.from_paths(tools.client_cert(client_id))

    transport = PahoTransport(url, tls, keepalive=keepalive)
    return Wire(transport, f"{url} (certificates from {local_ca})", networked=True)


def prepare_clients(
    transport: object, client_ids: list[str], progress: Callable[[int], None] | None = None
) -> float:
    """Load every VEN's certificate into its client before the ramp; returns the seconds."""
    prepare = getattr(transport, "prepare", None)
    if prepare is None:
        return 0.0
    began = time.monotonic()
    for n, client_id in enumerate(client_ids, 1):
        prepare(client_id)
        if progress is not None and (n % 1000 == 0 or n == len(client_ids)):
            progress(n)
    return time.monotonic() - began
