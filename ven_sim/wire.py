"""Choosing the wire for a run: `--broker inprocess|embedded|mqtt://|mqtts://|aws`.

`open_wire` returns a `Wire`: the transport every VEN's gateway uses, plus
whatever had to be started for it (the embedded broker and shadow service)
so `close()` can stop it again. Certificates come from `--ca/--cert/--key`,
or the environment names users already have (`CA_CERT`, `CLIENT_CERT`,
`PRIVATE_KEY`), or a per-VEN folder `certs/<venId>/` when one exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sim.limits import MAX_PUBLISHES_PER_S
from ven_sim.transports.base import BaseTransport as Transport
from ven_sim.transports.endpoints import BrokerURL, TlsFiles, check_pem_file

AWS_PORT = 8883
AWS_ALPN = "x-amzn-mqtt-ca"  # MQTT over 443 (set IOT_PORT=443)
EMBEDDED_PORT = 8883  # `listen` and `send` find a run's embedded broker here


class WireError(Exception):
    """The broker choice or its certificates are unusable; the message says which."""


@dataclass
class Wire:
    transport: Transport
    description: str
    networked: bool  # False for in-process: deterministic, fine at speed max
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        self.transport.close()
        for close in reversed(self.closers):
            close()


def open_wire(
    spec: str,
    *,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    certs_dir: str | Path = "certs",
    keepalive: int = 60,
    env: Mapping[str, str] = os.environ,
    start_embedded: bool = True,
) -> Wire:
    """Start or connect what `spec` names; raises WireError with one clear message.

    `embedded[:PORT]` starts the local broker (default port 8883) unless
    `start_embedded` is False: then it connects to one already running there, with
    a client certificate from the same local CA (`listen`, `send`).
    """
    if spec == "inprocess":
        from ven_sim.broker.shadow_store import ShadowStore
        from ven_sim.transports.inprocess import InProcessBus, InProcessTransport

        bus = InProcessBus(shadows=ShadowStore())
        return Wire(InProcessTransport(bus), "in-process bus with shadows", networked=False)
    if spec == "embedded" or spec.startswith("embedded:"):
        port = _embedded_port(spec)
        if start_embedded:
            return _embedded(Path(certs_dir), keepalive, port)
        return _embedded_client(Path(certs_dir), keepalive, port)
    if spec == "aws":
        return _aws(ca, cert, key, Path(certs_dir), keepalive, env)
    try:
        url = BrokerURL.parse(spec)
    except ValueError as exc:
        raise WireError(
            f"--broker must be inprocess, embedded, aws, mqtt://HOST:PORT or mqtts://HOST:PORT "
            f"({exc})"
        ) from None
    tls = _tls_source(url, ca, cert, key, Path(certs_dir), env) if url.tls else None
    return _paho(url, tls, keepalive, str(url))


def _embedded_port(spec: str) -> int:
    if spec == "embedded":
        return EMBEDDED_PORT
    text = spec.split(":", 1)[1]
    if not text.isdigit() or int(text) > 65535:
        raise WireError(f"embedded broker port must be a number 0-65535: {spec}")
    return int(text)


def _embedded_client(certs_dir: Path, keepalive: int, port: int) -> Wire:
    from ven_sim.certs.local_ca import LocalCA

    if not (certs_dir / "local" / "ca.pem").is_file():
        # Say where we looked: a broker started from another folder keeps its CA there.
        raise WireError(
            f"no local CA at {(certs_dir / 'local' / 'ca.pem').absolute()}: start "
            "`ven-sim broker` (or a run with --broker embedded) first, or point to the certs "
            "folder of the one running: --certs-dir DIR or VEN_SIM_CERTS=DIR, its CA being "
            "DIR/local/ca.pem"
        )
    ca = LocalCA(certs_dir / "local")
    # One certificate for every tool connection: listen and send use throwaway client IDs.
    tools = TlsFiles.from_paths(ca.client_cert("ven-sim-tools"))
    return _paho(
        BrokerURL("mqtts", "127.0.0.1", port),
        tools,
        keepalive,
        f"embedded broker mqtts://127.0.0.1:{port}",
    )


def _embedded(certs_dir: Path, keepalive: int, port: int) -> Wire:
    from ven_sim.broker.embedded import EmbeddedBroker
    from ven_sim.broker.shadow_service import ShadowService
    from ven_sim.certs.local_ca import LocalCA

    ca = LocalCA(certs_dir / "local")
    try:
        broker = EmbeddedBroker(ca, port=port).start()
    except Exception as exc:
        raise WireError(f"cannot start the embedded broker on port {port}: {exc}") from None
    try:
        shadow = ShadowService(broker.url, TlsFiles.from_paths(ca.client_cert("shadow-service")))
        shadow.start()
    except Exception:
        broker.stop()
        raise
    wire = _paho(
        BrokerURL.parse(broker.url),
        lambda client_id: TlsFiles.from_paths(ca.client_cert(client_id)),
        keepalive,
        f"embedded broker {broker.url} (CA {ca.ca_path})",
    )
    wire.closers += [broker.stop, shadow.stop]
    return wire


def _aws(
    ca: str | None,
    cert: str | None,
    key: str | None,
    certs_dir: Path,
    keepalive: int,
    env: Mapping[str, str],
) -> Wire:
    from ven_sim.certs.aws import CertsError, amazon_root_ca_path, describe_endpoint

    endpoint = env.get("IOT_ENDPOINT")
    if not endpoint:
        try:
            endpoint = describe_endpoint()
        except CertsError as exc:
            raise WireError(f"set IOT_ENDPOINT or AWS credentials: {exc}") from None
    port = int(env.get("IOT_PORT", AWS_PORT))
    if port not in (AWS_PORT, 443):
        raise WireError(f"AWS IoT Core listens for MQTT on 8883, or 443 with ALPN (got {port})")
    url = BrokerURL("mqtts", endpoint, port)
    ca = ca or env.get("CA_CERT") or str(amazon_root_ca_path(certs_dir))
    tls = _tls_source(url, ca, cert, key, certs_dir, env)
    alpn = (AWS_ALPN,) if port == 443 else ()
    return _paho(url, tls, keepalive, f"AWS IoT Core {url}", alpn=alpn, rate=MAX_PUBLISHES_PER_S)


def _tls_source(
    url: BrokerURL,
    ca: str | None,
    cert: str | None,
    key: str | None,
    certs_dir: Path,
    env: Mapping[str, str],
) -> Callable[[str], TlsFiles]:
    ca = ca or env.get("CA_CERT")
    cert = cert or env.get("CLIENT_CERT")
    key = key or env.get("PRIVATE_KEY")
    if not ca:
        raise WireError(f"{url} needs --ca (or CA_CERT): the CA that signed the broker")
    if bool(cert) != bool(key):
        raise WireError("give --cert and --key together (or CLIENT_CERT and PRIVATE_KEY)")
    for label, path in (("--ca", ca), ("--cert", cert), ("--key", key)):
        if path:
            try:
                check_pem_file(label, path, key=label == "--key")
            except ValueError as exc:
                raise WireError(str(exc)) from None
    shared = TlsFiles(Path(ca), Path(cert) if cert else None, Path(key) if key else None)
    from ven_sim.certs.manifest import Identity, Manifest, ManifestError

    listed: list[dict[str, Identity]] = []  # the manifest's, read once, when first needed

    def for_client(client_id: str) -> TlsFiles:
        # AWS policies tie a certificate to its thing: prefer certs/<venId>/ when present.
        own = certs_dir / client_id
        if (own / "cert.pem").is_file() and (own / "private.key").is_file():
            return TlsFiles(Path(ca), own / "cert.pem", own / "private.key")
        # A VEN sharing its group's certificate (`certs create --vens-per-cert`): the
        # manifest names the group's files.
        if not listed:
            try:
                listed.append(Manifest(certs_dir).identities)
            except ManifestError:  # unreadable: the shared files, as without a manifest
                listed.append({})
        identity = listed[0].get(client_id)
        if identity is not None and identity.usable:
            return TlsFiles(Path(ca), certs_dir / identity.cert, certs_dir / identity.key)
        return shared

    return for_client


def _paho(
    url: BrokerURL,
    tls: TlsFiles | Callable[[str], TlsFiles] | None,
    keepalive: int,
    what: str,
    alpn: tuple[str, ...] = (),
    rate: float | None = None,
) -> Wire:
    from ven_sim.transports.paho import PahoTransport

    try:
        transport = PahoTransport(
            url, tls, keepalive=keepalive, alpn=alpn, max_publish_rate=rate
        )
    except ValueError as exc:
        raise WireError(str(exc)) from None
    return Wire(transport, what, networked=True)
