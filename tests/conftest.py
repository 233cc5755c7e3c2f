"""Shared fixtures: a real mosquitto with mutual TLS, and the embedded amqtt broker."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iot.broker import EmbeddedBroker
from iot.ca import CertPaths, LocalCA

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class MosquittoBroker:
    """A running mosquitto: where it listens and the CA whose certificates it accepts."""

    host: str
    port: int
    ca: LocalCA

    @property
    def ca_path(self) -> Path:
        return self.ca.ca_path

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"

    def client_cert(self, client_id: str) -> CertPaths:
        return self.ca.client_cert(client_id)


def _mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    fallback = "/usr/sbin/mosquitto"  # Debian installs it outside a normal user's PATH
    return fallback if os.access(fallback, os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tls_ready(port: int, ca: LocalCA, client: CertPaths) -> bool:
    """True once the port completes a TLS handshake with our client certificate."""
    context = ssl.create_default_context(cafile=str(ca.ca_path))
    context.load_cert_chain(str(client.cert), str(client.key))
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as raw, context.wrap_socket(
            raw, server_hostname=HOST
        ):
            return True
    except OSError:
        return False


def _mosquitto_conf(port: int, server: CertPaths, user_line: str) -> str:
    return "\n".join([
        "per_listener_settings false",
        f"listener {port} {HOST}",
        f"cafile {server.ca}",
        f"certfile {server.cert}",
        f"keyfile {server.key}",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous true",
        "persistence false",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        user_line,
        "",
    ])


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """mosquitto on a free 127.0.0.1 port, mTLS with certificates from a LocalCA in tmp."""
    binary = _mosquitto_binary()
    if binary is None:
        pytest.skip("mosquitto not installed (not on PATH nor /usr/sbin/mosquitto); "
                    "tests/run.sh apt-installs it")
    folder = tmp_path_factory.mktemp("mosquitto")
    ca = LocalCA(folder / "certs")
    server = ca.server_cert()
    port = _free_port()
    # As root mosquitto drops to user "mosquitto", who can't read our 0600 keys: stay root.
    user_line = "user root" if os.geteuid() == 0 else ""
    conf = folder / "mosquitto.conf"
    conf.write_text(_mosquitto_conf(port, server, user_line))
    log_path = folder / "mosquitto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    probe = ca.client_cert("fixture-probe")
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        # Readiness poll of an external process: the only thing to wait on is the port itself.
        while not _tls_ready(port, ca, probe):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mosquitto did not start: {log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield MosquittoBroker(HOST, port, ca)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded amqtt broker (mTLS on a free port, plus a plain listener), CA in tmp."""
    ca = LocalCA(tmp_path_factory.mktemp("embedded") / "certs")
    with EmbeddedBroker(ca, HOST, 0, plain_port=0) as broker:
        yield broker
