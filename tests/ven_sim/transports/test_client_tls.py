"""`SharedClientContext`: one client context, each connection presenting the certificate
loaded when its socket was wrapped, as a real TLS server on loopback sees it."""

from __future__ import annotations

import queue
import select
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.ven_sim.helpers import client_certificate, mutual_tls_listener
from ven_sim.certs.local_ca import LocalCA
from ven_sim.transports.client_tls import ClientCertificate, SharedClientContext, begin_connect
from ven_sim.transports.endpoints import MQTTConnectError, TlsFiles
from ven_sim.transports.paho import PahoTransport

HOST = "127.0.0.1"


class _NamingServer:
    """Accepts TLS connections that must present a certificate of `ca`, and answers each
    with the common name of the certificate it presented."""

    def __init__(self, ca: LocalCA, connections: int) -> None:
        self.context, self.listener = mutual_tls_listener(ca, HOST)
        self.port = self.listener.getsockname()[1]
        self.seen: list[str] = []
        self.thread = threading.Thread(target=self._serve, args=(connections,), daemon=True)
        self.thread.start()

    def _serve(self, connections: int) -> None:
        for _ in range(connections):
            raw, _address = self.listener.accept()
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    subject = dict(pair[0] for pair in conn.getpeercert()["subject"])
                    self.seen.append(subject["commonName"])
                    conn.sendall(subject["commonName"].encode())
            except ssl.SSLError as exc:  # the client refused this server's certificate
                self.seen.append(f"refused: {exc.reason}")
                raw.close()
        self.listener.close()


def _connect(context: SharedClientContext, port: int,
             certificate: ClientCertificate | None) -> ssl.SSLSocket:
    raw = socket.create_connection((HOST, port), timeout=10)
    return context.wrap_as(certificate, raw, HOST)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_each_connection_keeps_the_certificate_it_was_wrapped_with(
    ca: LocalCA, version: ssl.TLSVersion
) -> None:
    server = _NamingServer(ca, 3)
    context = SharedClientContext(ca.ca_path)
    context.maximum_version = version
    a, b, c = (client_certificate(ca, name) for name in ("ven-a", "ven-b", "ven-c"))
    # Wrapped one after another, each with its certificate; a and c share one (a group).
    wrapped = [_connect(context, server.port, certificate) for certificate in (a, b, a)]
    context.wrap_as(c, socket.socket(), HOST).close()  # the context now holds a fourth
    answers = []
    for conn in wrapped:
        conn.do_handshake()  # after the context moved on
        assert conn.version() == ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2")
        answers.append(conn.recv(64).decode())
        conn.close()
    server.thread.join(10)
    assert server.seen == answers == ["ven-a", "ven-b", "ven-a"]


def test_the_broker_certificate_is_checked(ca: LocalCA, tmp_path: Path) -> None:
    server = _NamingServer(ca, 1)
    stranger = LocalCA(tmp_path / "stranger")  # trusts another CA: the server is not trusted
    context = SharedClientContext(stranger.ca_path)
    conn = _connect(context, server.port, client_certificate(stranger, "ven-a"))
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.do_handshake()
    conn.close()
    server.thread.join(10)
    assert server.seen == ["refused: TLSV1_ALERT_UNKNOWN_CA"]
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2 and context.check_hostname


def test_files_that_do_not_load_name_the_files_not_the_key(ca: LocalCA) -> None:
    context = SharedClientContext(ca.ca_path)
    a, b = client_certificate(ca, "ven-a"), client_certificate(ca, "ven-b")
    mismatched = ClientCertificate(a.cert, b.key)
    with socket.socket() as raw, pytest.raises(ValueError, match="cannot load TLS files") as caught:
        context.wrap_as(mismatched, raw, HOST)
    assert a.cert in str(caught.value) and "PRIVATE KEY" not in str(caught.value)
    context.wrap_as(a, socket.socket(), HOST).close()  # the next load starts afresh
    with socket.socket() as raw, pytest.raises(ValueError, match="without one"):
        context.wrap_as(None, raw, HOST)


def test_a_missing_ca_is_a_connect_error(tmp_path: Path) -> None:
    with pytest.raises(MQTTConnectError, match="TLS CA file not found"):
        SharedClientContext(tmp_path / "nope.pem")


def test_a_transport_refuses_a_pair_that_does_not_load_when_it_opens(ca: LocalCA) -> None:
    """A wrong --cert/--key pair is an error at open(), not a connection retried forever."""
    a, b = ca.client_cert("ven-a"), ca.client_cert("ven-b")
    transport = PahoTransport("mqtts://127.0.0.1:8883", TlsFiles(ca.ca_path, a.cert, b.key))
    try:
        with pytest.raises(MQTTConnectError, match="cannot load TLS files"):
            transport.open("ven-a", lambda _topic, _payload: None)
    finally:
        transport.close()


def _tcp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


def _handshake(conn: ssl.SSLSocket) -> str:
    """Once its non-blocking connect is through: the handshake, and the server's answer."""
    select.select([], [conn], [], 10)  # the TCP connect done (writable)
    conn.settimeout(10)
    conn.do_handshake()
    answer = conn.recv(64).decode()
    conn.close()
    return answer


def test_a_certificate_not_loaded_is_dialled_on_the_contexts_own_thread(ca: LocalCA) -> None:
    """`prepare_if_loaded` prepares at once only with the certificate the context holds;
    `dial_soon` loads another on a thread of the context's, dials, and answers there."""
    server = _NamingServer(ca, 3)
    context = SharedClientContext(ca.ca_path)
    a, b, c = (client_certificate(ca, name) for name in ("ven-a", "ven-b", "ven-c"))
    context.check(a)
    address = (HOST, server.port)
    with _tcp_socket() as raw:
        assert context.prepare_if_loaded(b, raw, HOST) is None  # nothing done
    first = context.prepare_if_loaded(a, _tcp_socket(), HOST)
    assert first is not None
    prepared = context.prepare(c, _tcp_socket(), HOST)  # made long before it dials
    context.check(a)
    begin_connect(first, address)
    answers: queue.Queue[tuple[ssl.SSLSocket | None, float, BaseException | None, str]] = (
        queue.Queue())
    before = time.monotonic()
    context.dial_soon(b, _tcp_socket(), address, HOST, lambda dialled, began, error: answers.put(
        (dialled, began, error, threading.current_thread().name)))
    second, began, error, thread = answers.get(timeout=10)
    assert error is None and second is not None and thread.startswith("tls-certificates")
    assert before <= began <= time.monotonic()
    begin_connect(prepared, address)
    # The context holds b now; the other two still present a and c.
    assert [_handshake(first), _handshake(second), _handshake(prepared)] == [
        "ven-a", "ven-b", "ven-c"]
    server.thread.join(10)
    assert server.seen == ["ven-a", "ven-b", "ven-c"]
    context.close()


def test_dial_soon_answers_an_error_by_the_files_names(ca: LocalCA) -> None:
    context = SharedClientContext(ca.ca_path)
    a, b = ca.client_cert("ven-a"), ca.client_cert("ven-b")
    answers: queue.Queue[tuple[object, BaseException | None]] = queue.Queue()
    with _tcp_socket() as raw:
        context.dial_soon(ClientCertificate(str(a.cert), str(b.key)), raw, (HOST, 9), HOST,
                          lambda dialled, _began, error: answers.put((dialled, error)))
        dialled, error = answers.get(timeout=10)
    assert dialled is None and isinstance(error, ValueError)
    assert "cannot load TLS files" in str(error)
    context.close()
