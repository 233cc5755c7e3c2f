"""Where a broker is and how to trust it: URLs and TLS file sets, without importing paho."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ven_sim.certs.local_ca import CertPaths

__all__ = [
    "DEFAULT_PORTS",
    "BrokerURL",
    "MQTTConnectError",
    "TlsFiles",
    "check_pem_file",
    "check_tls_files",
    "no_pass_phrase",
]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
MAX_PEM_BYTES = 1 << 20  # a CA bundle is tens of KB; more means the wrong file
# Markers of a pass-phrase protected key: PKCS#8 and the traditional OpenSSL form.
_ENCRYPTED = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")


def check_pem_file(label: str, path: str | os.PathLike[str], *, key: bool = False) -> None:
    """ValueError, naming `label` and `path`, unless `path` is a readable, plain PEM file.

    Checked before OpenSSL sees the file: a FIFO or /dev/zero would block or be read
    forever, and an encrypted key would make OpenSSL prompt on the terminal (or fail
    with "[Errno 22] Invalid argument" without one).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{label} file not found: {path}") from None
    except OSError as exc:
        raise ValueError(f"{label} {path}: cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{label} {path} is a folder: give the PEM file in it")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else (
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
            "not a regular file")
        raise ValueError(f"{label} {path} is {kind}: give a regular PEM file")
    if info.st_size > MAX_PEM_BYTES:
        raise ValueError(f"{label} {path} is {info.st_size} bytes, too big for a PEM file")
    try:
        with open(path, "rb") as handle:
            text = handle.read(MAX_PEM_BYTES)
    except OSError as exc:
        raise ValueError(f"{label} {path}: cannot read: {exc.strerror or exc}") from None
    if key and any(marker in text for marker in _ENCRYPTED):
        # Never prompt: a VEN runs unattended, and a prompt without a terminal hangs or fails.
        raise ValueError(
            f"{label} {path} is encrypted (protected by a pass phrase) and ven-sim does not "
            f"ask for pass phrases: write a decrypted copy once with `openssl pkey -in {path} "
            "-out private.key && chmod 600 private.key` and give that file"
        )


def no_pass_phrase() -> bytes:
    """OpenSSL's pass-phrase callback: refuse rather than prompt on the terminal."""
    raise ValueError("the private key is encrypted and ven-sim does not ask for pass phrases")


class MQTTConnectError(Exception):
    """The broker could not be reached, refused us, or rejected our certificates."""


def check_tls_files(tls: TlsFiles) -> None:
    """MQTTConnectError, naming the file, unless each file `tls` names is a readable, plain PEM
    file (`check_pem_file`): checked before OpenSSL reads them."""
    for label, path in (("TLS CA", tls.ca), ("TLS cert", tls.cert), ("TLS key", tls.key)):
        if path is not None:
            try:
                check_pem_file(label, path, key=label == "TLS key")
            except ValueError as exc:
                raise MQTTConnectError(str(exc)) from None


@dataclass(frozen=True)
class BrokerURL:
    """`mqtts://host:port` (TLS) or `mqtt://host:port` (plain TCP)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> BrokerURL:
        parts = urlsplit(text)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"broker URL must be mqtts://HOST:PORT or mqtt://HOST:PORT: {text}")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:  # a port that isn't a number or is out of range
            raise ValueError(f"bad port in broker URL {text}: {exc}") from None
        return cls(parts.scheme, parts.hostname, port)

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class TlsFiles:
    """CA to trust the broker with, and optionally our client certificate and key (mTLS)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_paths(cls, paths: CertPaths) -> TlsFiles:
        return cls(paths.ca, paths.cert, paths.key)
