"""The local CA: files, key modes, reuse, and certificates that real TLS accepts."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from ven_sim.certs.local_ca import CertPaths, LocalCA


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> None:
    """A full TLS handshake in memory (no sockets); raises ssl.SSLError on failure."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_side = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    server_side = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for name, side in (("client", client_side), ("server", server_side)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def _contexts(ca: LocalCA, server: CertPaths, client: CertPaths) -> tuple[ssl.SSLContext, ...]:
    client_ctx = ssl.create_default_context(cafile=str(ca.ca_path))
    client_ctx.load_cert_chain(str(client.cert), str(client.key))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca.ca_path))
    server_ctx.load_cert_chain(str(server.cert), str(server.key))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    return client_ctx, server_ctx


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_files_and_private_key_modes(tmp_path: Path, key_type: str) -> None:
    ca = LocalCA(tmp_path / "local", key_type=key_type)
    server = ca.server_cert()
    client = ca.client_cert("ven-001")
    assert ca.ca_path == tmp_path / "local" / "ca.pem"
    assert client.cert == tmp_path / "local" / "clients" / "ven-001" / "cert.pem"
    for key in (ca.ca_key_path, server.key, client.key):
        assert _mode(key) == 0o600, key
    for cert in (ca.ca_path, server.cert, client.cert):
        assert b"BEGIN CERTIFICATE" in cert.read_bytes()
    leaf = x509.load_pem_x509_certificate(client.cert.read_bytes())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ven-001"


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost"])
def test_server_cert_verifies_for_loopback(tmp_path: Path, hostname: str) -> None:
    ca = LocalCA(tmp_path)
    client_ctx, server_ctx = _contexts(ca, ca.server_cert(), ca.client_cert("ven-001"))
    _handshake(client_ctx, server_ctx, hostname)


def test_server_cert_rejected_for_other_names(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    client_ctx, server_ctx = _contexts(ca, ca.server_cert(), ca.client_cert("ven-001"))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client_ctx, server_ctx, "example.com")


def test_client_cert_from_another_ca_is_refused(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "ours")
    stranger = LocalCA(tmp_path / "theirs").client_cert("ven-001")
    client_ctx, server_ctx = _contexts(ca, ca.server_cert(), stranger)
    client_ctx.load_verify_locations(str(ca.ca_path))
    with pytest.raises(ssl.SSLError):
        _handshake(client_ctx, server_ctx, "127.0.0.1")


def test_reuses_existing_files(tmp_path: Path) -> None:
    first = LocalCA(tmp_path)
    server, client = first.server_cert(), first.client_cert("ven-001")
    before = {p: p.read_bytes() for p in (first.ca_path, server.cert, server.key, client.cert)}
    again = LocalCA(tmp_path)
    assert again.server_cert() == server
    assert again.client_cert("ven-001") == client
    assert {p: p.read_bytes() for p in before} == before


def test_reissues_when_ca_or_hostnames_change(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    client = ca.client_cert("ven-001")
    server = ca.server_cert()
    old_client, old_server = client.cert.read_bytes(), server.cert.read_bytes()
    ca.server_cert(["localhost", "127.0.0.1", "broker.test"])
    assert server.cert.read_bytes() != old_server
    ca.ca_key_path.unlink()  # a lost CA key means a new CA, so leaves must be re-signed
    fresh = LocalCA(tmp_path)
    fresh.client_cert("ven-001")
    assert client.cert.read_bytes() != old_client
    leaf = x509.load_pem_x509_certificate(client.cert.read_bytes())
    leaf.verify_directly_issued_by(fresh.certificate)


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "x" * 129, "spa ce"])
def test_rejects_unsafe_client_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        LocalCA(tmp_path).client_cert(bad)
