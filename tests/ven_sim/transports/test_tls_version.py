"""A fleet may pin TLS 1.2 (`--tls-version 1.2`, cheaper handshakes); 1.3 stays the default."""

from __future__ import annotations

import queue
import random
import ssl

import pytest

from tests.ven_sim.helpers import TIMEOUT_S
from ven_sim.broker.mosquitto import Mosquitto
from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport


@pytest.mark.parametrize(("pinned", "negotiated"), [
    (None, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
])
def test_the_highest_tls_version_offered_is_the_one_negotiated(
    mosquitto: Mosquitto, pinned: ssl.TLSVersion | None, negotiated: str,
) -> None:
    def tls(client_id: str) -> TlsFiles:
        return TlsFiles.from_paths(mosquitto.client_cert(client_id))

    transport = PahoTransport(mosquitto.url, tls, rng=random.Random(7), max_tls_version=pinned)
    states: queue.Queue[tuple[bool, str | None]] = queue.Queue()
    try:
        conn = transport.open("ven-tls", lambda _t, _p: None, lambda up, why: states.put((up, why)))
        assert states.get(timeout=TIMEOUT_S) == (True, None)
        versions: queue.Queue[str] = queue.Queue()
        # paho's socket belongs to the loop thread: read it there.
        transport.loop.call_soon(lambda: versions.put(conn._client.socket().version()))
        assert versions.get(timeout=TIMEOUT_S) == negotiated
    finally:
        transport.close()
