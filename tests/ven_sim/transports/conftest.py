"""Fixtures of the transport tests that look at a client's queued packets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def pair() -> Iterator[socket.socket]:
    """A connected socket pair: a client "connected" on one end queues, never writes."""
    ours, theirs = socket.socketpair()
    yield ours
    ours.close()
    theirs.close()
