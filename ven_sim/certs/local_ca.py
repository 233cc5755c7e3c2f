"""A local certificate authority for the embedded broker, its server and its clients.

Everything lives under one folder (default `certs/local/`): `ca.pem`/`ca.key`, `server.pem`/
`server.key` and `clients/<client_id>/cert.pem`/`key.pem`. Existing files are reused while they
still verify against this CA, so calling the methods again is cheap and idempotent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ven_sim.transports.endpoints import check_pem_file

DEFAULT_FOLDER = Path("certs/local")
DEFAULT_HOSTNAMES = ("localhost", "127.0.0.1")
# AWS IoT thing names: letters, digits, colon, underscore, hyphen; also keeps paths safe.
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
CA_DAYS = 3650
LEAF_DAYS = 825
# Leaf certs are renewed this long before they expire so a long run never hits expiry.
RENEW_MARGIN = dt.timedelta(days=7)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class CAError(Exception):
    """A certificate or key could not be created or read."""


@dataclass(frozen=True)
class CertPaths:
    """Where a certificate, its private key and the CA that signed it are."""

    cert: Path
    key: Path
    ca: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    # Create the temp file 0600 from the start (never chmod after writing), then swap it in.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _san_entries(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


class LocalCA:
    """A self-signed CA kept in `folder`; created on first use, reused afterwards."""

    def __init__(self, folder: str | Path = DEFAULT_FOLDER, key_type: str = "ec") -> None:
        if key_type not in ("ec", "rsa"):
            raise ValueError(f"key_type must be 'ec' or 'rsa', not {key_type!r}")
        self.folder = Path(folder)
        self.key_type = key_type
        self._cert, self._key = self._load_or_create_ca()

    @property
    def ca_path(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key_path(self) -> Path:
        return self.folder / "ca.key"

    @property
    def certificate(self) -> x509.Certificate:
        return self._cert

    def server_cert(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> CertPaths:
        """Server cert/key whose SAN covers `hostnames` (DNS names or IP addresses)."""
        if not hostnames:
            raise ValueError("server_cert needs at least one hostname")
        san = _san_entries(hostnames)
        paths = CertPaths(self.folder / "server.pem", self.folder / "server.key", self.ca_path)
        if not self._leaf_is_valid(paths, required_san=san):
            self._issue(paths, hostnames[0], ExtendedKeyUsageOID.SERVER_AUTH, san)
        return paths

    def client_cert(self, client_id: str) -> CertPaths:
        """Client cert/key with CN = `client_id` (the thing name), under clients/<client_id>/."""
        if not CLIENT_ID_RE.match(client_id):
            raise ValueError(f"invalid client id {client_id!r}: use [A-Za-z0-9:_-], 1-128 chars")
        folder = self.folder / "clients" / client_id
        paths = CertPaths(folder / "cert.pem", folder / "key.pem", self.ca_path)
        if not self._leaf_is_valid(paths, required_cn=client_id):
            self._issue(paths, client_id, ExtendedKeyUsageOID.CLIENT_AUTH, None)
        return paths

    # -- internals -----------------------------------------------------------------------------

    def _new_key(self) -> PrivateKey:
        if self.key_type == "rsa":
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return ec.generate_private_key(ec.SECP256R1())

    def _load_pair(self, cert_path: Path, key_path: Path) -> tuple[x509.Certificate, PrivateKey]:
        # A FIFO or device in place of a file would block the read: ValueError instead.
        check_pem_file("certificate", cert_path)
        check_pem_file("private key", key_path, key=True)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("unsupported key type")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            raise ValueError("key does not match certificate")
        return cert, key

    def _load_or_create_ca(self) -> tuple[x509.Certificate, PrivateKey]:
        if self.ca_path.exists() and self.ca_key_path.exists():
            try:
                cert, key = self._load_pair(self.ca_path, self.ca_key_path)
                if cert.not_valid_after_utc > _now() + RENEW_MARGIN:
                    return cert, key
            except (ValueError, TypeError):
                pass  # unreadable or mismatched: replace with a fresh CA below
        return self._create_ca()

    def _create_ca(self) -> tuple[x509.Certificate, PrivateKey]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CAError(f"cannot create {self.folder}: {exc}") from exc
        key = self._new_key()
        name = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ven-sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, "ven-sim local CA"),
        ])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )
        cert = (
            self._builder(name, name, key.public_key(), CA_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(self.ca_key_path, self._key_pem(key))
        _write_public(self.ca_path, cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    @staticmethod
    def _builder(
        subject: x509.Name, issuer: x509.Name, public_key: CertificatePublicKeyTypes, days: int
    ) -> x509.CertificateBuilder:
        now = _now()
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            # Backdated a little so a client with a slightly slow clock still accepts it.
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=days))
        )

    @staticmethod
    def _key_pem(key: PrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def _leaf_is_valid(
        self,
        paths: CertPaths,
        required_san: list[x509.GeneralName] | None = None,
        required_cn: str | None = None,
    ) -> bool:
        if not (paths.cert.exists() and paths.key.exists()):
            return False
        try:
            cert, _ = self._load_pair(paths.cert, paths.key)
            cert.verify_directly_issued_by(self._cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        if cert.not_valid_after_utc < _now() + RENEW_MARGIN:
            return False
        if required_cn is not None:
            cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if [a.value for a in cns] != [required_cn]:
                return False
        if required_san is not None:
            try:
                have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            except x509.ExtensionNotFound:
                return False
            if not all(entry in have for entry in required_san):
                return False
        return True

    def _issue(
        self,
        paths: CertPaths,
        common_name: str,
        purpose: x509.ObjectIdentifier,
        san: list[x509.GeneralName] | None,
    ) -> None:
        paths.cert.parent.mkdir(parents=True, exist_ok=True)
        key = self._new_key()
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ven-sim"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        ca_ski = self._cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        is_rsa = isinstance(key, rsa.RSAPrivateKey)
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
            data_encipherment=False, key_agreement=not is_rsa, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False,
        )
        builder = (
            self._builder(subject, self._cert.subject, key.public_key(), LEAF_DAYS)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        _write_private(paths.key, self._key_pem(key))
        _write_public(paths.cert, cert.public_bytes(serialization.Encoding.PEM))
