"""A real mosquitto with mutual TLS on 127.0.0.1, for the tests and `ven-sim bench mqtt`.

Certificates come from a `LocalCA` in the given folder; clients need one of its client
certificates (`client_cert(client_id)`), as on AWS IoT.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ven_sim.certs.local_ca import CertPaths, LocalCA

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class MosquittoError(Exception):
    """mosquitto is missing or did not start."""


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    fallback = "/usr/sbin/mosquitto"  # Debian installs it outside a normal user's PATH
    return fallback if os.access(fallback, os.X_OK) else None


def free_port(host: str = HOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tls_ready(host: str, port: int, ca: LocalCA, client: CertPaths) -> bool:
    """True once the port completes a TLS handshake with our client certificate."""
    context = ssl.create_default_context(cafile=str(ca.ca_path))
    context.load_cert_chain(str(client.cert), str(client.key))
    try:
        with socket.create_connection((host, port), timeout=1.0) as raw, context.wrap_socket(
            raw, server_hostname=host
        ):
            return True
    except OSError:
        return False


def mosquitto_conf(
    host: str, port: int, server: CertPaths, extra: Sequence[str] = ()
) -> str:
    # As root mosquitto drops to user "mosquitto", who can't read our 0600 keys: stay root.
    user_line = "user root" if os.geteuid() == 0 else ""
    return "\n".join([
        "per_listener_settings false",
        f"listener {port} {host}",
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
        *extra,
        "",
    ])


class Mosquitto:
    """mosquitto as a child process, mTLS on `host:port` (0 picks a free port).

    `extra_conf` lines are appended to the configuration (e.g. `max_queued_messages 0`).
    """

    def __init__(
        self,
        folder: str | Path,
        host: str = HOST,
        port: int = 0,
        *,
        extra_conf: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.host = host
        self.port = port or free_port(host)
        self.ca = LocalCA(self.folder / "certs")
        self._extra = tuple(extra_conf)
        self._binary = binary
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtts://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process ID while it runs (its CPU, say)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def ca_path(self) -> Path:
        return self.ca.ca_path

    @property
    def log_path(self) -> Path:
        return self.folder / "mosquitto.log"

    def client_cert(self, client_id: str) -> CertPaths:
        return self.ca.client_cert(client_id)

    def start(self, timeout: float = START_TIMEOUT_S) -> Mosquitto:
        """Start and wait until the port completes an mTLS handshake."""
        binary = self._binary or mosquitto_binary()
        if binary is None:
            raise MosquittoError("mosquitto not installed (not on PATH nor /usr/sbin/mosquitto)")
        self.folder.mkdir(parents=True, exist_ok=True)
        server = self.ca.server_cert()
        conf = self.folder / "mosquitto.conf"
        conf.write_text(mosquitto_conf(self.host, self.port, server, self._extra))
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )
        probe = self.ca.client_cert("mosquitto-probe")
        deadline = time.monotonic() + timeout
        # Readiness poll of an external process: the only thing to wait on is the port itself.
        while not _tls_ready(self.host, self.port, self.ca, probe):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                text = self.log_path.read_text(errors="replace")
                raise MosquittoError(f"mosquitto did not start: {text}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash: no goodbye to any client, nothing saved (start() again)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
