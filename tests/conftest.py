"""Shared fixtures: a real mosquitto with mutual TLS, and the embedded amqtt broker."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from ven_sim.broker.embedded import EmbeddedBroker
from ven_sim.broker.mosquitto import Mosquitto, MosquittoError, mosquitto_binary
from ven_sim.certs.local_ca import LocalCA

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


MOTO_REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto on a free 127.0.0.1 port; boto3 reaches it through AWS_ENDPOINT_URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
        # Keep a developer's own ~/.aws and any instance metadata out of the tests.
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield f"http://{host}:{port}"
    server.stop()
