"""One client SSLContext for many client certificates: a fleet's VENs each connect with their
own certificate and key, through one context of their CA.

OpenSSL's `SSL_new` copies the context's certificate and key into the connection it makes.
So loading a client's certificate and key into the shared context just before wrapping its
socket gives that connection the client's identity for good, whatever the context holds
afterwards (tests/ven_sim/transports/test_client_tls.py asks a TLS server which certificate
each connection presented). A context of its own per VEN was 17-18 KB of a VEN's 52 KB of
TLS memory (`ven-sim bench tls-memory`): OpenSSL 3's contexts carry their cipher and
algorithm tables and their own copy of the CA store.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from ven_sim.transports.endpoints import (
    MQTTConnectError,
    TlsFiles,
    check_tls_files,
    no_pass_phrase,
)
from ven_sim.transports.tls_reads import BufferedTlsSocket, wrap_client

__all__ = ["ClientCertificate", "Dialled", "SharedClientContext", "begin_connect"]

# dial_soon's answer: (the wrapped socket, when its connect began, None) or (None, 0.0, error)
Dialled = Callable[[Any, float, BaseException | None], None]


class ClientCertificate(NamedTuple):
    """A client's certificate and key files, as the strings OpenSSL is given (a connection
    keeps these for its reconnects: three `Path`s were 2.7 KB a VEN)."""

    cert: str
    key: str

    @classmethod
    def of(cls, tls: TlsFiles) -> ClientCertificate | None:
        """The certificate `tls` names; None without one."""
        if tls.cert is None:
            return None
        return cls(str(tls.cert), str(tls.key if tls.key is not None else tls.cert))


def begin_connect(sock: socket.socket, address: Any) -> None:
    """Start `sock`'s non-blocking connect to `address` (a prepared TLS socket's too: the
    plain socket's `connect_ex`); OSError if it fails at once."""
    code = socket.socket.connect_ex(sock, address)
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(code, f"[Errno {code}] {errno.errorcode.get(code, '')}".strip())


class SharedClientContext(ssl.SSLContext):
    """A TLS client context trusting `ca` (TLS 1.2 at least, the broker's certificate and
    hostname checked, as AWS IoT wants), for connections with different certificates.

    `wrap_as` loads a certificate and wraps a socket under one lock: another thread's load
    between the two would give the connection the wrong identity. Connections that follow one
    another with the same files (the VENs of a certificate group) load them once and share the
    parsed certificate and key.
    """

    def __new__(cls, ca: str | Path) -> SharedClientContext:
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, ca: str | Path) -> None:
        check_tls_files(TlsFiles(Path(ca)))
        try:
            self.load_verify_locations(str(ca))
        except (ssl.SSLError, OSError) as exc:
            raise MQTTConnectError(f"cannot load the TLS CA {ca}: {exc}") from None
        self.minimum_version = ssl.TLSVersion.TLSv1_2
        self.verify_mode = ssl.CERT_REQUIRED
        self.check_hostname = True
        # Its connections let go of their certificates after the handshake (own_certificate.py):
        # nothing may ask for one again (a TLS 1.2 renegotiation; TLS 1.3's post-handshake
        # authentication is off unless asked for).
        self.options |= ssl.OP_NO_RENEGOTIATION
        self._wrapping = threading.Lock()
        self._loaded: ClientCertificate | None = None
        self._loader: ThreadPoolExecutor | None = None  # dial_soon's thread, made on first use
        self._loader_lock = threading.Lock()

    def wrap_as(self, certificate: ClientCertificate | None, sock: Any,
                host: str) -> BufferedTlsSocket:
        """`sock` wrapped for a handshake with `host`, presenting `certificate` (none: no
        client certificate). ValueError, naming the files, if they cannot be loaded."""
        with self._wrapping:
            self._load(certificate)
            return wrap_client(self, sock, host)

    def prepare(self, certificate: ClientCertificate | None, sock: socket.socket,
                host: str) -> BufferedTlsSocket:
        """`sock`, a TCP socket not yet connected, wrapped to present `certificate` to `host`,
        with its connection's SSL object made now, while `certificate` is loaded. Connect it
        with `begin_connect` (not `SSLSocket.connect_ex`, which would make another).
        ValueError, naming the files, if they cannot be loaded."""
        with self._wrapping:
            self._load(certificate)
            wrapped = wrap_client(self, sock, host)
            # SSLSocket makes an unconnected socket's SSL object as it dials, with whatever
            # certificate the context holds then; made here as CPython's _real_connect does.
            wrapped._sslobj = self._wrap_socket(  # type: ignore[attr-defined]
                wrapped, False, host, owner=wrapped, session=None)
        return wrapped

    def prepare_if_loaded(self, certificate: ClientCertificate | None, sock: socket.socket,
                          host: str) -> BufferedTlsSocket | None:
        """`prepare` now if `certificate` is the one loaded (the rest of a certificate group)
        and no other thread holds the context; else None, and nothing done."""
        if not self._wrapping.acquire(blocking=False):
            return None
        try:
            if certificate != self._loaded:
                return None
        finally:
            self._wrapping.release()
        return self.prepare(certificate, sock, host)

    def dial_soon(self, certificate: ClientCertificate | None, sock: socket.socket,
                  address: Any, host: str, done: Dialled) -> None:
        """`prepare` and `begin_connect` on this context's own thread, then
        `done(wrapped, when, None)` (`when`: the connect's start, `time.monotonic()`) or
        `done(None, 0.0, error)` there. Loading a certificate and key takes OpenSSL 3 about half
        a millisecond of CPU, out of the GIL but in three parts: on a network loop's thread it
        held up the loop's other connections, and each part waited for the GIL back. A fleet's
        clients are prepared before the ramp (`PahoTransport.prepare`); this serves the rest
        and every reconnect."""

        def run() -> None:
            try:
                wrapped = self.prepare(certificate, sock, host)
                began = time.monotonic()
                begin_connect(wrapped, address)
            except (OSError, ValueError) as exc:
                done(None, 0.0, exc)
            else:
                done(wrapped, began, None)

        with self._loader_lock:  # not _wrapping: a load under way would hold up the caller
            if self._loader is None:
                self._loader = ThreadPoolExecutor(1, thread_name_prefix="tls-certificates")
            self._loader.submit(run)

    def close(self) -> None:
        """Stop the thread `dial_soon` started, once the wraps asked of it are done."""
        with self._loader_lock:
            loader, self._loader = self._loader, None
        if loader is not None:
            loader.shutdown(wait=False)

    def check(self, certificate: ClientCertificate) -> None:
        """MQTTConnectError, naming the files, unless `certificate` loads: the certificate
        and key parse and belong together. (About 0.4 ms of CPU: a fleet checks its first.)"""
        with self._wrapping:
            try:
                self._load(certificate)
            except ValueError as exc:
                raise MQTTConnectError(str(exc)) from None

    def _load(self, certificate: ClientCertificate | None) -> None:
        if certificate is None:
            if self._loaded is not None:
                raise ValueError("a context that has loaded a client certificate cannot "
                                 "wrap a connection without one")
        elif certificate != self._loaded:
            self._loaded = None  # a failed load may leave half of it in the context
            try:
                self.load_cert_chain(certificate.cert, certificate.key, password=no_pass_phrase)
            except (ssl.SSLError, OSError) as exc:
                # The files' names only: never echo key material.
                raise ValueError(f"cannot load TLS files ({certificate.cert}, "
                                 f"{certificate.key}): {exc}") from None
            self._loaded = certificate
