"""`ven-sim bench tls-memory`: what a TLS client costs in memory, its context and its
connection apart, with a context per connection against one per group of connections and one
for all of them (a fleet transport's: each connection's certificate loaded as it is wrapped,
and let go of once its handshake is done).

Each side runs in a child process of its own (a fresh heap): it makes the contexts (CA, and
a certificate and EC P-256 key from the bench mosquitto's local CA, as `ven-sim fleet`
loads them), then opens every connection to mosquitto with mutual TLS, sends MQTT CONNECT,
reads the CONNACK and does a PINGREQ round trip, and keeps them open. After each step it
returns free pages to the system (`malloc_trim`) and reads RSS and the bytes malloc has in
use (glibc's `mallinfo2`): the figures are per connection, from the step before.
`--tls-version 1.2` caps what the contexts offer (`maximum_version`); `--no-tickets` sets
`OP_NO_TICKET` on them (a TLS 1.2 client then asks for no session ticket).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ven_sim.bench.mqtt import _raise_fd_limit
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.fleet.identities import certificate_owner, ven_id
from ven_sim.fleet.process_stats import malloc_in_use_mb, release_free_memory, rss_mb
from ven_sim.fleet.wiring import mint_certificates
from ven_sim.transports.client_tls import ClientCertificate, SharedClientContext
from ven_sim.transports.endpoints import TlsFiles
from ven_sim.transports.own_certificate import release_own_certificate

__all__ = ["bench_tls_memory", "measure_side"]

ID_PREFIX = "tlsmem"
PINGREQ, PINGRESP = b"\xc0\x00", b"\xd0\x00"


def _connect_packet(client_id: str) -> bytes:
    """MQTT 3.1.1 CONNECT, clean session, keepalive 60 s."""
    name = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(name).to_bytes(2, "big") + name
    return bytes([0x10, len(body)]) + body  # a short client ID: one length byte


def _read_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def _open(context: ssl.SSLContext, host: str, port: int, client_id: str,
          certificate: ClientCertificate | None = None) -> ssl.SSLSocket:
    raw = socket.create_connection((host, port), timeout=10)
    if isinstance(context, SharedClientContext):
        sock: ssl.SSLSocket = context.wrap_as(certificate, raw, host)
        sock.do_handshake()
        release_own_certificate(sock)  # as a fleet's connections do (handshake.py)
    else:
        sock = context.wrap_socket(raw, server_hostname=host)
    sock.sendall(_connect_packet(client_id))
    connack = _read_exactly(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"{client_id}: CONNACK refused: {connack.hex()}")
    sock.sendall(PINGREQ)
    if _read_exactly(sock, 2) != PINGRESP:
        raise ConnectionError(f"{client_id}: no PINGRESP")
    return sock


def _memory() -> tuple[float, float | None]:
    release_free_memory()
    return rss_mb(), malloc_in_use_mb()


def measure_side(host: str, port: int, files: list[TlsFiles], client_ids: list[str], *,
                 tls_version: str | None = None, no_tickets: bool = False,
                 shared: bool = False) -> dict[str, Any]:
    """In this process: a context per distinct `files` entry (`shared`: one context, as a
    fleet's transport has, each connection's certificate loaded into it as it is wrapped),
    then a connection per client ID with its entry's context; KB per connection for each
    step."""
    from ven_sim.fleet.session import TLS_VERSIONS
    base = _memory()
    contexts: dict[TlsFiles, ssl.SSLContext] = {}
    for tls in files:
        if tls not in contexts:
            context = contexts.get(files[0]) if shared else None
            if context is None:
                context = SharedClientContext(tls.ca) if shared else ssl.SSLContext(
                    ssl.PROTOCOL_TLS_CLIENT)
                if not shared:
                    context.load_verify_locations(str(tls.ca))
                    context.load_cert_chain(str(tls.cert), str(tls.key))
                if tls_version is not None:
                    context.maximum_version = TLS_VERSIONS[tls_version]
                if no_tickets:
                    context.options |= ssl.OP_NO_TICKET
            contexts[tls] = context
    loaded = _memory()
    sockets = [_open(contexts[tls], host, port, client_id, ClientCertificate.of(tls))
               for tls, client_id in zip(files, client_ids, strict=True)]
    connected = _memory()
    n = len(client_ids)

    def per_connection_kb(after: tuple[float, float | None],
                          before: tuple[float, float | None]) -> dict[str, float | None]:
        in_use = None if after[1] is None or before[1] is None else after[1] - before[1]
        return {"rss": round((after[0] - before[0]) * 1024 / n, 1),
                "malloc_in_use": None if in_use is None else round(in_use * 1024 / n, 1)}

    figures = {"connections": n, "contexts": len({id(c) for c in contexts.values()}),
               "tls_version": sockets[0].version() if sockets else None,
               "session_tickets": sum(bool(s.session and s.session.has_ticket) for s in sockets),
               "contexts_kb_per_connection": per_connection_kb(loaded, base),
               "connections_kb_per_connection": per_connection_kb(connected, loaded),
               "total_kb_per_connection": per_connection_kb(connected, base)}
    for sock in sockets:
        sock.close()
    return figures


def bench_tls_memory(connections: int, per_context: int, *, repeat: int = 2,
                     say: Any = None, tls_version: str | None = None,
                     no_tickets: bool = False) -> dict[str, Any]:
    """Both sides, `repeat` times each, alternating, each side in a fresh child process."""
    say = say or (lambda line: print(line, file=sys.stderr))
    _raise_fd_limit(connections + 256)
    ids = [ven_id(ID_PREFIX, i) for i in range(connections)]
    with tempfile.TemporaryDirectory(prefix="bench-tls-") as folder, \
            Mosquitto(folder) as mosquitto:
        minted = mint_certificates(mosquitto.folder / "certs", ids,
                                   lambda n: say(f"certificates: {n:,}/{connections:,}"))
        grouped = [ven_id(ID_PREFIX, certificate_owner(i, 0, per_context))
                   for i in range(connections)]
        # side: (whose certificate each connection presents, one shared context)
        sides = {"context_each": (ids, False), f"context_per_{per_context}": (grouped, False),
                 "one_context": (ids, True)}
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for round_ in range(repeat):
            for side, (owners, shared) in sides.items():
                say(f"round {round_ + 1}/{repeat}: {side}")
                job = {"host": mosquitto.host, "port": mosquitto.port, "ids": ids,
                       "tls_version": tls_version, "no_tickets": no_tickets, "shared": shared,
                       "files": [[str(p) for p in (minted[o].ca, minted[o].cert, minted[o].key)]
                                 for o in owners]}
                runs[side].append(_child(job))
    return {"connections": connections, "per_context": per_context,
            "tls_version": tls_version or "1.3", "no_tickets": no_tickets, "runs": runs}


def _child(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "ven_sim.bench.tls_memory"],
                          input=json.dumps(job), capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _main() -> None:
    job = json.loads(sys.stdin.read())
    files = [TlsFiles(*(Path(p) for p in entry)) for entry in job["files"]]
    print(json.dumps(measure_side(job["host"], job["port"], files, job["ids"],
                                  tls_version=job["tls_version"], no_tickets=job["no_tickets"],
                                  shared=job["shared"])))


if __name__ == "__main__":
    _main()
