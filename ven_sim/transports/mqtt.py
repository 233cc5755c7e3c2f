"""paho-mqtt helpers shared by the shadow service, the CLI and the tests: clients and connecting.

URLs and TLS file sets live in `endpoints` (no paho) and are re-exported here.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ven_sim.transports.endpoints import (
    DEFAULT_PORTS,
    BrokerURL,
    MQTTConnectError,
    TlsFiles,
    check_tls_files,
    no_pass_phrase,
)

__all__ = ["DEFAULT_PORTS", "BrokerURL", "MQTTConnectError", "TlsFiles", "connect", "make_client"]

def make_client(client_id: str, url: BrokerURL, tls: TlsFiles | None = None, *,
                client_class: type[mqtt.Client] = mqtt.Client,
                context: ssl.SSLContext | None = None) -> mqtt.Client:
    """A paho client (callback API v2, MQTT 3.1.1) configured for `url`; not yet connected.
    `client_class`: `mqtt.Client` or a subclass (`LeanClient` for the network loop's).
    `context`: an SSLContext already loaded with `tls` (another client's, for clients that
    share a certificate); otherwise the files are checked and loaded into a new one."""
    client = client_class(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if url.tls and context is not None:
        client.tls_set_context(context)
    elif url.tls:
        if tls is None:
            raise MQTTConnectError(f"{url} needs TLS files: at least the CA certificate")
        check_tls_files(tls)
        try:
            client.tls_set(
                ca_certs=str(tls.ca),
                certfile=str(tls.cert) if tls.cert else None,
                keyfile=str(tls.key) if tls.key else None,
                keyfile_password=no_pass_phrase,  # type: ignore[arg-type]  # ssl takes a callable
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        except (ssl.SSLError, ValueError, OSError) as exc:
            # Message names the files only: never echo key material.
            files = ", ".join(str(p) for p in (tls.ca, tls.cert, tls.key) if p is not None)
            raise MQTTConnectError(f"cannot load TLS files ({files}): {exc}") from None
    return client


def connect(client: mqtt.Client, url: BrokerURL, timeout: float = 10.0) -> None:
    """Connect, start paho's network thread and wait for an accepted CONNACK.

    Chains to any on_connect/on_disconnect the caller set. With TLS 1.3 a missing or foreign
    client certificate only shows up after the handshake, as a dropped connection, so a
    disconnect before the CONNACK is reported as a certificate problem.
    """
    done = threading.Event()
    outcome: dict[str, Any] = {}
    user_connect, user_disconnect = client.on_connect, client.on_disconnect

    def on_connect(c: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        outcome.setdefault("connack", rc)
        done.set()
        if user_connect is not None:
            user_connect(c, userdata, flags, rc, props)

    def on_disconnect(c: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        outcome.setdefault("dropped", rc)
        done.set()
        if user_disconnect is not None:
            user_disconnect(c, userdata, flags, rc, props)

    client.on_connect, client.on_disconnect = on_connect, on_disconnect
    try:
        client.connect(url.host, url.port, keepalive=30)
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message
        raise MQTTConnectError(f"{url}: broker certificate not trusted: {reason}") from None
    except (OSError, ssl.SSLError) as exc:
        raise MQTTConnectError(f"{url}: cannot connect: {exc}") from None
    client.loop_start()
    ok = done.wait(timeout)
    connack = outcome.get("connack")
    if ok and connack is not None and not connack.is_failure:
        return
    client.loop_stop()
    client.disconnect()
    if not ok:
        raise MQTTConnectError(f"{url}: no CONNACK within {timeout:g} s")
    if connack is not None:
        raise MQTTConnectError(f"{url}: connection refused: {connack}")
    raise MQTTConnectError(
        f"{url}: connection closed before CONNACK; the broker probably rejected the client "
        "certificate (missing, or not signed by its CA)"
    )
