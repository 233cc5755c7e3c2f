"""Where a broker is and how to trust it: URLs and TLS file sets, without importing paho."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ven_sim.certs.local_ca import CertPaths

__all__ = ["DEFAULT_PORTS", "BrokerURL", "MQTTConnectError", "TlsFiles"]

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class MQTTConnectError(Exception):
    """The broker could not be reached, refused us, or rejected our certificates."""


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
