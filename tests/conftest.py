"""Shared fixtures: a real mosquitto with mutual TLS, and the embedded amqtt broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iot.broker import EmbeddedBroker
from iot.ca import LocalCA
from iot.mosquitto import Mosquitto, MosquittoError, mosquitto_binary

HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """mosquitto on a free 127.0.0.1 port, mTLS with certificates from a LocalCA in tmp."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto not installed (not on PATH nor /usr/sbin/mosquitto); "
                    "tests/run.sh apt-installs it")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), HOST)
    try:
        broker.start(START_TIMEOUT_S)
    except MosquittoError as exc:
        pytest.fail(str(exc))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded amqtt broker (mTLS on a free port, plus a plain listener), CA in tmp."""
    ca = LocalCA(tmp_path_factory.mktemp("embedded") / "certs")
    with EmbeddedBroker(ca, HOST, 0, plain_port=0) as broker:
        yield broker
