"""Choosing the wire: broker specs, certificate sources, AWS endpoint and port."""

from __future__ import annotations

from pathlib import Path

import pytest

from ven_sim.transports.inprocess import InProcessTransport
from ven_sim.wire import WireError, open_wire


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name in ("ca", "cert", "key"):
        path = tmp_path / f"{name}.pem"
        path.write_text("not used until a connection opens")
        files[name] = str(path)
    return files


def test_inprocess_is_not_networked() -> None:
    wire = open_wire("inprocess")
    assert isinstance(wire.transport, InProcessTransport) and not wire.networked
    wire.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("carrier-pigeon", "--broker must be"),
        ("mqtts://127.0.0.1:8883", "needs --ca"),
        ("embedded:99999", "port must be a number"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(WireError, match=message):
        open_wire(spec, env={})


def test_cert_and_key_come_together_and_must_exist(pem_files: dict[str, str]) -> None:
    with pytest.raises(WireError, match="together"):
        open_wire("mqtts://127.0.0.1:8883", ca=pem_files["ca"], cert=pem_files["cert"], env={})
    with pytest.raises(WireError, match="missing.pem"):
        open_wire("mqtts://127.0.0.1:8883", ca="/nowhere/missing.pem", env={})


def test_environment_names_users_already_have(pem_files: dict[str, str]) -> None:
    env = {
        "CA_CERT": pem_files["ca"],
        "CLIENT_CERT": pem_files["cert"],
        "PRIVATE_KEY": pem_files["key"],
    }
    wire = open_wire("mqtts://127.0.0.1:8883", env=env)
    assert wire.networked and "127.0.0.1:8883" in wire.description
    wire.close()


def test_aws_endpoint_from_env_and_443_with_alpn(pem_files: dict[str, str]) -> None:
    env = {"IOT_ENDPOINT": "abc-ats.iot.eu-west-1.amazonaws.com"}
    wire = open_wire(
        "aws", ca=pem_files["ca"], cert=pem_files["cert"], key=pem_files["key"], env=env
    )
    assert wire.description.endswith("abc-ats.iot.eu-west-1.amazonaws.com:8883")
    assert wire.transport.alpn == ()
    wire.close()
    wire = open_wire(
        "aws",
        cert=pem_files["cert"],
        key=pem_files["key"],
        env={**env, "IOT_PORT": "443"},
        certs_dir=Path(pem_files["ca"]).parent,
    )
    assert wire.transport.alpn == ("x-amzn-mqtt-ca",)  # the CA defaults to Amazon Root CA 1
    wire.close()
    with pytest.raises(WireError, match="8883, or 443"):
        open_wire(
            "aws",
            cert=pem_files["cert"],
            key=pem_files["key"],
            env={**env, "IOT_PORT": "1883"},
            certs_dir=Path(pem_files["ca"]).parent,
        )


def test_aws_endpoint_from_describe_endpoint(moto_server: str, pem_files: dict[str, str]) -> None:
    wire = open_wire(
        "aws",
        cert=pem_files["cert"],
        key=pem_files["key"],
        env={},
        certs_dir=Path(pem_files["ca"]).parent,
    )
    assert "iot" in wire.description and wire.description.endswith(":8883")
    wire.close()


def test_per_ven_certificates_win_over_the_shared_one(
    tmp_path: Path, pem_files: dict[str, str]
) -> None:
    own = tmp_path / "certs" / "ven-7"
    own.mkdir(parents=True)
    (own / "cert.pem").write_text("x")
    (own / "private.key").write_text("x")
    from ven_sim.transports.mqtt import BrokerURL
    from ven_sim.wire import _tls_source

    source = _tls_source(
        BrokerURL.parse("mqtts://h:8883"),
        pem_files["ca"],
        pem_files["cert"],
        pem_files["key"],
        tmp_path / "certs",
        {},
    )
    assert source("ven-7").cert == own / "cert.pem"
    assert str(source("ven-8").cert) == pem_files["cert"]
