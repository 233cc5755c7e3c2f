"""TLS files checked before OpenSSL sees them: FIFOs, devices, folders and encrypted keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ven_sim.certs.local_ca import LocalCA
from ven_sim.transports.endpoints import BrokerURL, MQTTConnectError, TlsFiles, check_pem_file
from ven_sim.transports.mqtt import make_client

ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
LEGACY = b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES\n\nx\n"


def test_a_plain_pem_passes(tmp_path: Path) -> None:
    pem = tmp_path / "ok.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    check_pem_file("--ca", pem)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: None, "--key file not found"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: os.mkfifo(p), "is a FIFO (named pipe)"),
        (lambda p: p.write_bytes(ENCRYPTED), "is encrypted"),
        (lambda p: p.write_bytes(LEGACY), "is encrypted"),
    ],
    ids=["missing", "folder", "fifo", "pkcs8-encrypted", "legacy-encrypted"],
)
def test_each_unusable_key_says_what_it_is(make, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "k"
    make(path)
    with pytest.raises(ValueError) as err:
        check_pem_file("--key", path, key=True)
    assert str(err.value).startswith("--key ") and expected in str(err.value)
    assert str(path) in str(err.value)


def test_a_device_is_no_pem_file() -> None:
    with pytest.raises(ValueError, match="/dev/zero is a device"):
        check_pem_file("--ca", "/dev/zero")


def test_a_certificate_mentioning_encryption_is_still_a_certificate(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    pem.write_bytes(ENCRYPTED)  # only keys are refused for it
    check_pem_file("--ca", pem)


def test_make_client_refuses_an_encrypted_per_ven_key_without_prompting(tmp_path: Path) -> None:
    # The path the CLI does not see: a key found in certs/<venId>/ at connect time.
    paths = LocalCA(tmp_path / "ca").client_cert("ven-1")
    key = tmp_path / "private.key"
    key.write_bytes(ENCRYPTED)
    url = BrokerURL("mqtts", "127.0.0.1", 8883)
    with pytest.raises(MQTTConnectError, match=f"TLS key {key} is encrypted"):
        make_client("ven-1", url, TlsFiles(paths.ca, paths.cert, key))


def test_the_local_ca_never_reads_a_fifo(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    LocalCA(folder)
    (folder / "ca.key").unlink()
    os.mkfifo(folder / "ca.key")
    # Unreadable: a fresh CA replaces it (as for any unreadable key) instead of blocking.
    ca = LocalCA(folder)
    assert (folder / "ca.key").is_file() and ca.ca_path.is_file()
