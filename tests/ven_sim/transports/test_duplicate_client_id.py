"""Two VENs with one thing name: recognised after repeated takeovers, reported once."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from ven_sim.transports.mqtt import TlsFiles
from ven_sim.transports.paho import PahoTransport
from ven_sim.transports.takeovers import DUPLICATE_TAKEOVERS

TIMEOUT_S = 60.0


@pytest.mark.parametrize("wire", ["embedded_broker", "mosquitto"])
def test_a_shared_client_id_is_named_once_after_repeated_takeovers(
        wire: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> None:
    broker = request.getfixturevalue(wire)
    thing = f"ven-twin-{wire}"
    reasons: list[str] = []
    lock = threading.Lock()

    def on_state(up: bool, reason: str | None) -> None:
        if not up and reason:
            with lock:
                reasons.append(reason)

    transports = [
        PahoTransport(broker.url, lambda cid: TlsFiles.from_paths(broker.client_cert(cid)),
                      backoff=(0.05, 0.3))
        for _ in range(2)
    ]
    twins = [transports[0].open(thing, lambda *_: None, on_state)]
    try:
        deadline = time.monotonic() + TIMEOUT_S
        # The second starts once the first is up, as a second copy of a VEN does: two
        # CONNECTs in the same instant can leave amqtt with both sessions and no takeover.
        while not twins[0].connected:
            assert time.monotonic() < deadline, "the first twin never connected"
            time.sleep(0.05)
        twins.append(transports[1].open(thing, lambda *_: None, on_state))
        while True:
            with lock:
                named = [r for r in reasons if r.startswith("duplicate client ID")]
            if len(named) >= 4:  # well past the first report
                break
            assert time.monotonic() < deadline, reasons
            time.sleep(0.05)
    finally:
        for transport in transports:
            transport.close()
    assert f"another VEN or client connects as {thing!r}" in named[0]
    assert f"{DUPLICATE_TAKEOVERS} takeovers in" in named[0]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Once per connection at most, however long they flap.
    assert 1 <= len(errors) <= len(twins)
    assert all(thing in r.getMessage() for r in errors)
