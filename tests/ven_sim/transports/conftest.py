"""Fixtures of the transport tests: a socket pair for the tests that look at a client's
queued packets; a local CA for the TLS client tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ven_sim.certs.local_ca import LocalCA


@pytest.fixture
def pair() -> Iterator[socket.socket]:
    """A connected socket pair: a client "connected" on one end queues, never writes."""
    ours, theirs = socket.socketpair()
    yield ours
    ours.close()
    theirs.close()


@pytest.fixture()
def ca(tmp_path: Path) -> Iterator[LocalCA]:
    yield LocalCA(tmp_path / "ca")
