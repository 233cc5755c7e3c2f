"""Certificate provisioning against moto's server: Secrets Manager, IoT Core and STS over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ven_sim.certs.aws import (
    CertsError,
    amazon_root_ca_path,
    amazon_root_ca_pem,
    create_thing_certificate,
    describe_endpoint,
    fetch_from_secret,
    least_privilege_policy,
)
from ven_sim.cli import main

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"
AMAZON_ROOT_CA_1_SHA256 = "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"


@pytest.fixture
def aws(moto_server: str) -> boto3.Session:
    return boto3.Session()


@dataclass(frozen=True)
class Pems:
    ca: str
    cert: str
    key: str


def _self_signed(cn: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


@pytest.fixture(scope="module")
def pems() -> Pems:
    ca, _ = _self_signed("test-ca")
    cert, key = _self_signed("ven-test")
    return Pems(ca, cert, key)


def _key_body(key_pem: str) -> str:
    """A line from the middle of the key: must never appear in any message."""
    return key_pem.splitlines()[1]


def _secret(aws: boto3.Session, value: dict[str, Any] | str) -> str:
    name = f"ven-sim/test/{uuid.uuid4().hex[:8]}"
    text = value if isinstance(value, str) else json.dumps(value)
    aws.client("secretsmanager").create_secret(Name=name, SecretString=text)
    return name


def _thing() -> str:
    return f"ven-{uuid.uuid4().hex[:8]}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- fetch ----------------------------------------------------------------------------------
def test_fetch_writes_the_three_files_with_a_private_key(
    aws: boto3.Session, pems: Pems, tmp_path: Path
) -> None:
    name = _secret(aws, {"ca_cert": pems.ca, "client_cert": pems.cert, "private_key": pems.key})
    files = fetch_from_secret(name, tmp_path / "certs", thing="ven-7")
    assert files.thing == "ven-7"
    assert (files.ca, files.cert, files.key) == tuple(
        tmp_path / "certs" / "ven-7" / f for f in ("ca.pem", "cert.pem", "private.key")
    )
    assert files.ca.read_text() == pems.ca
    assert files.cert.read_text() == pems.cert
    assert files.key.read_text() == pems.key
    assert _mode(files.key) == 0o600
    assert _mode(files.key.parent) == 0o700
    assert files.certificate_id is None


def test_fetch_names_the_folder_after_the_secret_and_never_widens_an_old_key(
    aws: boto3.Session, pems: Pems, tmp_path: Path
) -> None:
    name = _secret(aws, {"ca_cert": pems.ca, "client_cert": pems.cert, "private_key": pems.key})
    folder = tmp_path / name.replace("/", "_")
    folder.mkdir(mode=0o755)
    (folder / "private.key").write_text("old")
    (folder / "private.key").chmod(0o644)
    files = fetch_from_secret(name, tmp_path)
    assert files.key == folder / "private.key"
    assert files.thing == folder.name
    assert _mode(files.key) == 0o600
    assert _mode(folder) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["ca.pem", "cert.pem", "private.key"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"private_key": None}, "lacks private_key"),
        ({"ca_cert": None, "client_cert": None}, "lacks ca_cert, client_cert"),
        ({"client_cert": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"},
         "client_cert is not a PEM certificate"),
        ({"private_key": "KEY"}, "private_key is not a PEM private key"),
        ({"private_key": "OTHER"}, "private_key does not match client_cert"),
    ],
)
def test_fetch_rejects_a_bad_secret_without_leaking_the_key(
    aws: boto3.Session, pems: Pems, tmp_path: Path, change: dict[str, str | None], expected: str
) -> None:
    value: dict[str, str] = {"ca_cert": pems.ca, "client_cert": pems.cert, "private_key": pems.key}
    for field, new in change.items():
        if new is None:
            del value[field]
        elif new == "KEY":  # a key with its middle damaged: the markers survive
            lines = pems.key.splitlines()
            value[field] = "\n".join([lines[0], "!!" + lines[1], *lines[2:]])
        elif new == "OTHER":
            value[field] = _self_signed("someone-else")[1]
        else:
            value[field] = new
    name = _secret(aws, value)
    with pytest.raises(CertsError) as caught:
        fetch_from_secret(name, tmp_path)
    message = str(caught.value)
    assert expected in message and name in message
    assert _key_body(pems.key) not in message
    assert "PRIVATE KEY" not in message
    assert not any(tmp_path.iterdir())  # nothing is written unless all three are good


def test_fetch_rejects_a_secret_that_is_not_json(aws: boto3.Session, tmp_path: Path) -> None:
    name = _secret(aws, "not json")
    with pytest.raises(CertsError, match="is not a JSON object"):
        fetch_from_secret(name, tmp_path)


def test_fetch_of_an_unknown_secret_says_not_found(aws: boto3.Session, tmp_path: Path) -> None:
    with pytest.raises(CertsError, match=r"^secret 'no/such-secret' not found in us-east-1$"):
        fetch_from_secret("no/such-secret", tmp_path)


def test_fetch_without_credentials_says_so(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(CertsError, match="no AWS credentials found"):
        fetch_from_secret("any", tmp_path)


def test_fetch_rejects_a_thing_name_that_is_no_path_component(tmp_path: Path) -> None:
    with pytest.raises(CertsError, match="thing name '../x' is invalid"):
        fetch_from_secret("any", tmp_path, thing="../x")


# -- create ---------------------------------------------------------------------------------
def test_least_privilege_policy_covers_only_the_things_own_resources() -> None:
    doc = least_privilege_policy("ven-1", REGION, ACCOUNT)
    by_action = {s["Action"]: s["Resource"] for s in doc["Statement"]}
    assert all(s["Effect"] == "Allow" for s in doc["Statement"])
    assert by_action == {
        "iot:Connect": f"{ARN}:client/ven-1",
        "iot:Publish": [
            f"{ARN}:topic/volttron/metering",
            f"{ARN}:topic/ven/telemetry/ven-1",
            f"{ARN}:topic/ven/ack/ven-1",
            f"{ARN}:topic/ven/status/ven-1",
            f"{ARN}:topic/$aws/things/ven-1/shadow/get",
            f"{ARN}:topic/$aws/things/ven-1/shadow/update",
        ],
        "iot:Subscribe": [
            f"{ARN}:topicfilter/ven/cmd/ven-1",
            f"{ARN}:topicfilter/$aws/things/ven-1/shadow/*",
        ],
        "iot:Receive": [
            f"{ARN}:topic/ven/cmd/ven-1",
            f"{ARN}:topic/$aws/things/ven-1/shadow/*",
        ],
    }
    with pytest.raises(CertsError):
        least_privilege_policy("ven/+", REGION, ACCOUNT)


def test_create_provisions_thing_certificate_and_policy(aws: boto3.Session, tmp_path: Path) -> None:
    thing = _thing()
    files = create_thing_certificate(thing, tmp_path / "certs")
    iot = aws.client("iot")

    assert iot.describe_thing(thingName=thing)["thingName"] == thing
    described = iot.describe_certificate(certificateId=files.certificate_id)
    assert described["certificateDescription"]["status"] == "ACTIVE"
    assert described["certificateDescription"]["certificateArn"] == files.certificate_arn

    policy = iot.get_policy(policyName=f"ven-sim-{thing}")
    assert json.loads(policy["policyDocument"]) == least_privilege_policy(thing, REGION, ACCOUNT)
    attached = iot.list_attached_policies(target=files.certificate_arn)["policies"]
    assert [p["policyName"] for p in attached] == [f"ven-sim-{thing}"]
    assert iot.list_thing_principals(thingName=thing)["principals"] == [files.certificate_arn]

    assert files.key.parent == tmp_path / "certs" / thing
    assert _mode(files.key) == 0o600 and _mode(files.key.parent) == 0o700
    assert files.ca.read_text() == amazon_root_ca_pem()
    assert files.cert.read_text() == described["certificateDescription"]["certificatePem"]
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    key = serialization.load_pem_private_key(files.key.read_bytes(), None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def test_create_again_reuses_the_thing_and_a_named_policy(
    aws: boto3.Session, tmp_path: Path
) -> None:
    thing, policy = _thing(), f"fleet-{uuid.uuid4().hex[:8]}"
    first = create_thing_certificate(thing, tmp_path, policy_name=policy)
    second = create_thing_certificate(thing, tmp_path, policy_name=policy)
    assert first.certificate_id != second.certificate_id
    iot = aws.client("iot")
    principals = iot.list_thing_principals(thingName=thing)["principals"]
    assert sorted(principals) == sorted([first.certificate_arn, second.certificate_arn])
    attached = iot.list_attached_policies(target=second.certificate_arn)["policies"]
    assert [p["policyName"] for p in attached] == [policy]


def test_create_removes_the_certificate_when_attaching_fails(
    aws: boto3.Session, tmp_path: Path
) -> None:
    iot = aws.client("iot")
    before = {c["certificateId"] for c in iot.list_certificates()["certificates"]}

    def refuse(**_kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}},
                          "AttachThingPrincipal")

    class RefusingSession(boto3.Session):
        def client(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            client = super().client(*args, **kwargs)
            if args[0] == "iot":
                client.attach_thing_principal = refuse
            return client

    with pytest.raises(CertsError, match="AccessDeniedException: denied;.*removed again"):
        create_thing_certificate(_thing(), tmp_path, session=RefusingSession())
    after = {c["certificateId"] for c in iot.list_certificates()["certificates"]}
    assert after == before
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_describe_endpoint_returns_the_ats_host(aws: boto3.Session) -> None:
    host = describe_endpoint(aws)
    assert "-ats.iot." in host and "://" not in host and "/" not in host


# -- CLI ------------------------------------------------------------------------------------
def test_cli_fetch_prints_paths_not_keys(aws: boto3.Session, pems: Pems, tmp_path: Path) -> None:
    name = _secret(aws, {"ca_cert": pems.ca, "client_cert": pems.cert, "private_key": pems.key})
    out = tmp_path / "certs"
    result = CliRunner().invoke(
        main, ["certs", "fetch", "--secret", name, "--thing", "ven-9", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for file in ("ca.pem", "cert.pem", "private.key"):
        assert str(out / "ven-9" / file) in result.output
    assert "PRIVATE KEY" not in result.output and _key_body(pems.key) not in result.output


def test_cli_create_prints_paths_certificate_and_endpoint(
    aws: boto3.Session, tmp_path: Path
) -> None:
    thing = _thing()
    result = CliRunner().invoke(main, ["certs", "create", "--thing", thing, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = tmp_path / thing / "private.key"
    assert str(key) in result.output and str(tmp_path / thing / "cert.pem") in result.output
    assert "PRIVATE KEY" not in result.output
    assert key.read_text().splitlines()[1] not in result.output
    assert "certificate " in result.output and "-ats.iot." in result.output


def test_cli_errors_are_one_line_and_exit_1(aws: boto3.Session, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["certs", "fetch", "--secret", "missing", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: secret 'missing' not found in us-east-1"]


# -- bundled root CA ------------------------------------------------------------------------
def test_bundled_root_ca_is_amazon_root_ca_1(tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(amazon_root_ca_path(tmp_path).read_bytes())
    assert cert.subject.rfc4514_string() == "CN=Amazon Root CA 1,O=Amazon,C=US"
    assert cert.subject == cert.issuer
    assert cert.fingerprint(hashes.SHA256()).hex() == AMAZON_ROOT_CA_1_SHA256
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
