"""`release_own_certificate`: a client connection lets go of its certificate and key after its
handshake, keeps working, and the server saw the identity it presented."""

from __future__ import annotations

import ctypes
import queue
import socket
import ssl
import threading

import pytest

from tests.ven_sim.helpers import client_certificate, mutual_tls_listener
from ven_sim.certs.local_ca import LocalCA
from ven_sim.fleet.process_stats import malloc_in_use_mb
from ven_sim.transports import own_certificate
from ven_sim.transports.client_tls import ClientCertificate, SharedClientContext
from ven_sim.transports.handshake import Handshake
from ven_sim.transports.netloop import NetworkLoop
from ven_sim.transports.own_certificate import release_own_certificate

HOST = "127.0.0.1"


class _EchoServer:
    """Accepts `connections` TLS clients that must present a certificate of `ca`; answers
    each with its certificate's common name, then echoes what it sends until it closes."""

    def __init__(self, ca: LocalCA, connections: int) -> None:
        self.context, self.listener = mutual_tls_listener(ca, HOST)
        self.port = self.listener.getsockname()[1]
        self.connections = connections
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        accepted = []
        for _ in range(self.connections):
            raw, _address = self.listener.accept()
            conn = self.context.wrap_socket(raw, server_side=True)
            subject = dict(pair[0] for pair in conn.getpeercert()["subject"])
            conn.sendall(subject["commonName"].encode() + b"\n")
            accepted.append(conn)
        for conn in accepted:
            with conn:
                while data := conn.recv(64):
                    conn.sendall(data)
        self.listener.close()


def _open(context: SharedClientContext, port: int, certificate: ClientCertificate,
          ) -> ssl.SSLSocket:
    conn = context.wrap_as(certificate, socket.create_connection((HOST, port), timeout=10), HOST)
    conn.do_handshake()
    return conn


def _line(conn: ssl.SSLSocket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(64)
        assert chunk, "the server closed the connection"
        data += chunk
    return data.decode().strip()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_a_connection_works_on_without_its_certificate(
    ca: LocalCA, version: ssl.TLSVersion
) -> None:
    names = [f"ven-{i}" for i in range(3)]
    server = _EchoServer(ca, len(names))
    context = SharedClientContext(ca.ca_path)
    context.maximum_version = version
    # Nothing may ask for the certificate after the handshake.
    assert context.options & ssl.OP_NO_RENEGOTIATION and not context.post_handshake_auth
    conns = [_open(context, server.port, client_certificate(ca, name)) for name in names]
    assert [release_own_certificate(conn) for conn in conns] == [True] * len(names)
    # Each presented its own identity, and carries data both ways afterwards (TLS 1.3's
    # session tickets, read after the handshake, included).
    assert [_line(conn) for conn in conns] == names
    for conn in conns:
        conn.sendall(b"after the release\n")
        assert _line(conn) == "after the release"
        assert conn.version() == ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2")
        conn.close()
    server.thread.join(10)
    assert not server.thread.is_alive()


def test_the_certificates_and_keys_are_freed(ca: LocalCA) -> None:
    """What a fleet gains: each connection held the only reference to its parsed certificate
    and key (the shared context moved on to the next), about 5.6 KB in malloc's use."""
    if malloc_in_use_mb() is None:
        pytest.skip("needs glibc's mallinfo2")
    count = 40
    server = _EchoServer(ca, count)
    context = SharedClientContext(ca.ca_path)
    conns = [_open(context, server.port, client_certificate(ca, f"ven-{i}")) for i in range(count)]
    assert [_line(conn) for conn in conns] == [f"ven-{i}" for i in range(count)]
    before = malloc_in_use_mb()
    released = [release_own_certificate(conn) for conn in conns]
    after = malloc_in_use_mb()
    assert released == [True] * count
    freed_kb = (before - after) * 1024 / count  # type: ignore[operator]
    assert freed_kb > 2.5, f"{freed_kb:.1f} KB a connection"
    for conn in conns:
        conn.close()
    server.thread.join(10)


def test_anything_but_a_cpython_ssl_connection_is_left_alone() -> None:
    class NotASocket:
        _sslobj = b"not an SSL object"

    assert release_own_certificate(NotASocket()) is False  # type: ignore[arg-type]
    with socket.socket() as raw:
        assert release_own_certificate(raw) is False  # type: ignore[arg-type]


def _holds_a_certificate(conn: ssl.SSLSocket) -> bool:
    """Whether OpenSSL would present a certificate on `conn` (`SSL_get_certificate`)."""
    library = own_certificate._library
    library.SSL_get_certificate.argtypes = [ctypes.c_void_p]
    library.SSL_get_certificate.restype = ctypes.c_void_p
    return bool(library.SSL_get_certificate(own_certificate._ssl_pointer(conn._sslobj)))


def test_a_fleet_connection_lets_go_of_it_as_its_handshake_ends(ca: LocalCA) -> None:
    """`Handshake` (how every transport's client connects) releases it with a shared context."""
    server = _EchoServer(ca, 1)
    context = SharedClientContext(ca.ca_path)
    certificate = client_certificate(ca, "ven-0")
    kept = _open(context, server.port, certificate)  # for the control: not released
    assert _holds_a_certificate(kept) and _line(kept) == "ven-0"
    kept.close()
    server.thread.join(10)

    server = _EchoServer(ca, 1)
    loop = NetworkLoop().start()
    done: queue.Queue[tuple[ssl.SSLSocket, BaseException | None]] = queue.Queue()
    try:
        loop.call_soon(lambda: Handshake(loop, HOST, server.port, context,
                                         lambda sock, error, _tcp, _tls: done.put((sock, error)),
                                         certificate))
        conn, error = done.get(timeout=10)
        assert error is None
        assert not _holds_a_certificate(conn)
        conn.setblocking(True)
        conn.settimeout(10)
        assert _line(conn) == "ven-0"
        conn.close()
    finally:
        loop.stop()
    server.thread.join(10)
