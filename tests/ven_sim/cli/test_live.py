"""`ven-sim live` as a newcomer meets it: defaults, the web UI's port, --config errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from ven_sim.cli import main

QUICK = ["live", "--broker", "inprocess", "--web-port", "0", "--seconds", "1"]


def test_a_local_broker_needs_no_thing_name() -> None:
    result = CliRunner().invoke(main, QUICK)
    assert result.exit_code == 0, result.output
    assert "ven-local-1 live on in-process bus" in result.stderr
    assert "ven-local-1 stopped" in result.stderr


def test_a_network_broker_still_asks_for_the_thing_name() -> None:
    result = CliRunner().invoke(main, ["live", "--broker", "mqtt://127.0.0.1:1", "--web-port", "0"])
    assert result.exit_code == 2
    assert "--broker mqtt://127.0.0.1:1 needs --thing-name (or IOT_THING_NAME)" in result.output


def test_a_taken_web_port_is_named_with_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["live", "--broker", "inprocess", "--web-port", str(port), "--seconds", "5"]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"Error: web UI: port {port} on 127.0.0.1 is already in use" in result.output
    assert "--web-port" in result.output and "Errno" not in result.output


BAD_CONFIGS = {
    "typo": (
        "template: house\nparms: {has_ev: true}\n",
        ":2: parms: unknown key (did you mean params?)",
    ),
    "zero_interval": (
        "seed: 1\nreport_interval_seconds: 0\n",
        ":2: report_interval_seconds: must be a number 1-3600 (got 0)",
    ),
    "template": ("template: hous\n", ":1: template: must be one of house, apartment, solar_home"),
    "param": (
        "params:\n  has_ev: true\n  hvac_setpont_c: 3\n",
        ":3: params.hvac_setpont_c: unknown key (did you mean hvac_setpoint_c?)",
    ),
    "weather": ("weather: {min_c: 22}\n", ":1: weather.max_c: required key is missing"),
    "yaml": ("seed: [1\n", ":2: not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_errors_name_the_line_and_suggest(case: str, tmp_path: Path) -> None:
    text, expected = BAD_CONFIGS[case]
    config = tmp_path / "live.yaml"
    config.write_text(text)
    result = CliRunner().invoke(main, [*QUICK, "--config", str(config)])
    assert result.exit_code == 1
    assert f"Error: {config}{expected}" in result.output
    assert result.output.count("\n") == 1  # one line


def test_a_config_that_is_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "live.yaml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, [*QUICK, "--config", str(fifo)])
    assert result.exit_code == 1 and f"{fifo}: not a regular file" in result.output


def test_a_good_config_runs(tmp_path: Path) -> None:
    config = tmp_path / "live.yaml"
    config.write_text(
        "template: solar_home\nseed: 7\nparams: {hvac_setpoint_c: 23.5, has_ev: true}\n"
        "report_interval_seconds: 2\nweather: {min_c: 22, max_c: 35, peak_hour: 15}\n"
    )
    result = CliRunner().invoke(main, [*QUICK, "--config", str(config)])
    assert result.exit_code == 0, result.output


@pytest.fixture
def encrypted_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its pass-phrase protected key."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "enc.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ))
    return cert_path, key_path


def _live_with_key(cert: Path, key: str) -> list[str]:
    return ["live", "--thing-name", "x", "--broker", "mqtts://127.0.0.1:1", "--ca", str(cert),
            "--cert", str(cert), "--key", key, "--web-port", "0", "--seconds", "1"]


def test_an_encrypted_key_is_refused_with_how_to_decrypt_it(
    encrypted_pair: tuple[Path, Path],
) -> None:
    cert, key = encrypted_pair
    # CliRunner gives no terminal: this must neither prompt nor hang.
    result = CliRunner().invoke(main, _live_with_key(cert, str(key)), input="")
    assert result.exit_code == 1
    assert f"--key {key} is encrypted (protected by a pass phrase)" in result.output
    assert f"openssl pkey -in {key}" in result.output and "Errno" not in result.output


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_key_that_is_not_a_regular_file_is_named_so(
    kind: str, encrypted_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, _ = encrypted_pair
    if kind == "fifo":
        key = tmp_path / "key.fifo"
        os.mkfifo(key)
        expected = f"--key {key} is a FIFO (named pipe): give a regular PEM file"
    else:
        key = Path("/dev/zero")
        expected = "--key /dev/zero is a device: give a regular PEM file"
    result = CliRunner().invoke(main, _live_with_key(cert, str(key)))
    assert result.exit_code == 1
    assert expected in result.output and "not found" not in result.output
