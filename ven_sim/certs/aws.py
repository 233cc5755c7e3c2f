"""Provision AWS IoT Core device certificates: fetch them from Secrets Manager or create them.

Files land in `<out_dir>/<thing>/` (folder 0700): `ca.pem`, `cert.pem` and `private.key` (0600).
Every AWS failure becomes one `CertsError` whose message never contains key material. boto3
honours `AWS_ENDPOINT_URL`, which is how the tests point it at a local moto server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from ven_sim.certs.policies import policy_document

log = logging.getLogger(__name__)

CA_FILE = "ca.pem"
CERT_FILE = "cert.pem"
KEY_FILE = "private.key"
SECRET_KEYS = ("ca_cert", "client_cert", "private_key")
DEFAULT_POLICY_PREFIX = "ven-sim-"
# AWS IoT thing names; the same rule keeps them safe as one path component and topic level.
THING_RE = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9:_-]")


class CertsError(Exception):
    """Certificates could not be fetched, created or written; the message says why."""


@dataclass(frozen=True)
class CertFiles:
    """Where one thing's CA, certificate and private key were written."""

    ca: Path
    cert: Path
    key: Path
    thing: str
    certificate_id: str | None = None
    certificate_arn: str | None = None


# -- AWS plumbing ---------------------------------------------------------------------------
@contextmanager
def _aws_errors(action: str) -> Iterator[None]:
    """Turn boto errors into one CertsError; AWS messages carry no secret values."""
    try:
        yield
    except NoCredentialsError:
        raise CertsError(
            f"{action}: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY)"
        ) from None
    except NoRegionError:
        raise CertsError(f"{action}: no AWS region set (set AWS_DEFAULT_REGION)") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        raise CertsError(f"{action}: {code}: {error.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:
        raise CertsError(f"{action}: {exc}") from None


def _session(session: boto3.Session | None) -> boto3.Session:
    return session if session is not None else boto3.Session()


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class Account:
    """Where IoT resources are made: their ARNs start `arn:{partition}:iot:{region}:{account}`."""

    account: str
    region: str
    partition: str


def account_of(session: boto3.Session) -> Account:
    """The caller's account and the session's region (one STS call: checks credentials too)."""
    identity = session.client("sts").get_caller_identity()
    region = session.region_name or session.client("iot").meta.region_name
    return Account(str(identity["Account"]), str(region), str(identity["Arn"]).split(":")[1])


def describe_endpoint(session: boto3.Session | None = None) -> str:
    """The account's ATS data endpoint host, e.g. `abc123-ats.iot.us-east-1.amazonaws.com`."""
    with _aws_errors("describe IoT endpoint"):
        iot = _session(session).client("iot")
        return str(iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])


AMAZON_ROOT_CA_1_SHA256 = "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e"
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


def amazon_root_ca_pem() -> str:
    """Amazon Root CA 1, taken from certifi's bundle and checked against its fingerprint.

    certifi is installed with ven-sim, so nothing is downloaded at run time, and no
    certificate file has to live in this repository.
    """
    import certifi

    bundle = Path(certifi.where()).read_text(encoding="ascii")
    for block in bundle.split(_PEM_BEGIN)[1:]:
        pem = _PEM_BEGIN + block[: block.index("-----END CERTIFICATE-----") + 25] + "\n"
        try:
            with warnings.catch_warnings():  # some other roots trip cryptography's warnings
                warnings.simplefilter("ignore")
                cert = x509.load_pem_x509_certificate(pem.encode())
        except ValueError:
            continue
        if cert.fingerprint(hashes.SHA256()).hex() == AMAZON_ROOT_CA_1_SHA256:
            return pem
    raise CertsError("Amazon Root CA 1 is not in certifi's bundle; upgrade certifi")


def amazon_root_ca_path(folder: str | Path | None = None) -> Path:
    """A file holding Amazon Root CA 1, written once into `folder` (default: certs/)."""
    folder = Path(folder or os.environ.get("VEN_SIM_CERTS", "certs"))
    path = folder / "AmazonRootCA1.pem"
    pem = amazon_root_ca_pem()
    if not path.is_file() or path.read_text(encoding="ascii") != pem:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(pem, encoding="ascii")  # a public certificate: no secret here
    return path


# -- files ----------------------------------------------------------------------------------
def _thing_name(thing: str) -> str:
    if not isinstance(thing, str) or not THING_RE.match(thing):
        raise CertsError(
            f"thing name {thing!r} is invalid: use 1-128 letters, digits, ':', '_' or '-'"
        )
    return thing


def _folder_name(secret_name: str) -> str:
    # Secret names may hold '/', '.', '+', '=' or '@': keep them to one safe path component.
    short = secret_name.split(":secret:", 1)[-1]  # an ARN names the folder by its secret name
    name = _UNSAFE_CHARS.sub("_", short)[:128]
    return name if name.strip("_") else "secret"


def _prepare_folder(out_dir: str | Path, name: str) -> Path:
    folder = Path(out_dir) / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # an older folder may be wider; it is about to hold a key
    except OSError as exc:
        raise CertsError(f"cannot create {folder}: {exc.strerror}") from None
    return folder


def _write(path: Path, data: str, mode: int) -> None:
    """Write via a fresh temp file created with its final mode, then swap it in."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        # O_EXCL on a fresh name: the mode given here is the one the file gets, never widened.
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL
        fd = os.open(tmp, flags, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CertsError(f"cannot write {path}: {exc.strerror}") from None


def _write_set(folder: Path, thing: str, ca: str, cert: str, key: str, **ids: str) -> CertFiles:
    files_ = CertFiles(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE, thing, **ids)
    _write(files_.ca, ca, 0o644)
    _write(files_.cert, cert, 0o644)
    _write(files_.key, key, 0o600)
    return files_


# -- Secrets Manager ------------------------------------------------------------------------
def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ))


def _check_pem(secret_name: str, values: Mapping[str, str]) -> None:
    """Each value must parse; messages name the field only, never its contents."""
    certs: dict[str, list[x509.Certificate]] = {}
    for field in ("ca_cert", "client_cert"):
        try:
            certs[field] = x509.load_pem_x509_certificates(values[field].encode())
        except ValueError:
            raise CertsError(f"secret {secret_name!r}: {field} is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(values["private_key"].encode(), None)
    except TypeError:
        raise CertsError(f"secret {secret_name!r}: private_key is encrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertsError(f"secret {secret_name!r}: private_key is not a PEM private key") from None
    # A key from another certificate would only fail later, at the TLS handshake.
    if _spki(key.public_key()) != _spki(certs["client_cert"][0].public_key()):
        raise CertsError(f"secret {secret_name!r}: private_key does not match client_cert")


def _parse_secret(secret_name: str, response: Mapping[str, Any]) -> dict[str, str]:
    text = response.get("SecretString")
    if text is None:
        raise CertsError(f"secret {secret_name!r} has no SecretString (binary secrets unsupported)")
    try:
        data = json.loads(text)
    except ValueError:
        raise CertsError(f"secret {secret_name!r} is not a JSON object") from None
    if not isinstance(data, dict):
        raise CertsError(f"secret {secret_name!r} is not a JSON object")
    missing = [k for k in SECRET_KEYS if not isinstance(data.get(k), str) or not data[k].strip()]
    if missing:
        raise CertsError(
            f"secret {secret_name!r} lacks {', '.join(missing)} "
            f"(needs string keys {', '.join(SECRET_KEYS)})"
        )
    return {k: data[k] for k in SECRET_KEYS}


def fetch_from_secret(
    secret_name: str,
    out_dir: str | Path,
    *,
    thing: str | None = None,
    session: boto3.Session | None = None,
) -> CertFiles:
    """Write the PEMs of a Secrets Manager secret to `<out_dir>/<thing or secret name>/`.

    The SecretString is JSON with PEM strings `ca_cert`, `client_cert` and `private_key`;
    all three are checked before anything is written.
    """
    name = _thing_name(thing) if thing is not None else _folder_name(secret_name)
    with _aws_errors(f"read secret {secret_name!r}"):
        client = _session(session).client("secretsmanager")
        try:
            response = client.get_secret_value(SecretId=secret_name)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            region = client.meta.region_name
            raise CertsError(f"secret {secret_name!r} not found in {region}") from None
    values = _parse_secret(secret_name, response)
    _check_pem(secret_name, values)
    folder = _prepare_folder(out_dir, name)
    return _write_set(
        folder, name, values["ca_cert"], values["client_cert"], values["private_key"]
    )


# -- IoT Core -------------------------------------------------------------------------------
def least_privilege_policy(
    thing: str, region: str, account: str, *, partition: str = "aws"
) -> dict[str, Any]:
    """An IoT policy letting `thing` connect as itself and use only its own topics."""
    _thing_name(thing)
    return policy_document(thing, f"arn:{partition}:iot:{region}:{account}")


MAX_POLICY_VERSIONS = 5  # AWS IoT keeps at most five versions of a policy


def _ensure_policy(iot: Any, name: str, document: dict[str, Any], *,
                   update: bool = False) -> None:
    """The IoT policy `name`, made with `document` if missing. One that exists with another
    document is left as it is (a warning), or with `update` (a policy ven-sim made, from an
    earlier version) given `document` as its new default version."""
    try:
        iot.create_policy(policyName=name, policyDocument=json.dumps(document))
    except ClientError as exc:
        if _error_code(exc) != "ResourceAlreadyExistsException":
            raise
        current = json.loads(iot.get_policy(policyName=name)["policyDocument"])
        if current == document:
            return
        if not update:
            log.warning("reusing existing IoT policy %s, whose document differs from ours", name)
            return
        others = _other_policy_versions(iot, name)
        if len(others) + 1 >= MAX_POLICY_VERSIONS:  # room for one: the oldest other goes
            iot.delete_policy_version(policyName=name, policyVersionId=others[0])
        made = iot.create_policy_version(policyName=name, policyDocument=json.dumps(document),
                                         setAsDefault=True)
        log.info("IoT policy %s brought up to date: version %s is its default now", name,
                 made["policyVersionId"])


def _other_policy_versions(iot: Any, name: str) -> list[str]:
    """The policy's versions but its default, oldest first."""
    versions = iot.list_policy_versions(policyName=name)["policyVersions"]
    return sorted((v["versionId"] for v in versions if not v.get("isDefaultVersion")), key=int)


def delete_other_policy_versions(iot: Any, name: str) -> None:
    """All but the default version of policy `name` (AWS deletes no policy that has others);
    nothing if the policy is gone."""
    try:
        for version in _other_policy_versions(iot, name):
            iot.delete_policy_version(policyName=name, policyVersionId=version)
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise


def _rollback(iot: Any, thing: str, cert_id: str, cert_arn: str, policy: str) -> str:
    """Best-effort removal of a certificate whose setup failed; says what is left."""
    steps = [
        lambda: iot.detach_thing_principal(thingName=thing, principal=cert_arn),
        lambda: iot.detach_policy(policyName=policy, target=cert_arn),
        lambda: iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE"),
        lambda: iot.delete_certificate(certificateId=cert_id),
    ]
    for step in steps:
        # The detach steps fail when the failure came before the attach: carry on.
        with suppress(ClientError, BotoCoreError):
            step()
    try:
        iot.describe_certificate(certificateId=cert_id)
    except (ClientError, BotoCoreError):
        return f"certificate {cert_id} was removed again"
    return f"certificate {cert_id} may remain in AWS IoT; deactivate and delete it"


def create_thing_certificate(
    thing: str,
    out_dir: str | Path,
    *,
    session: boto3.Session | None = None,
    policy_name: str | None = None,
) -> CertFiles:
    """Create (or reuse) `thing`, a new active certificate and a least-privilege policy.

    The certificate, its key and the bundled Amazon Root CA 1 go to `<out_dir>/<thing>/`.
    """
    _thing_name(thing)
    policy = policy_name or f"{DEFAULT_POLICY_PREFIX}{thing}"
    root_ca = amazon_root_ca_pem()
    sess = _session(session)
    with _aws_errors(f"provision thing {thing!r}"):
        iot = sess.client("iot")
        account = account_of(sess)
        # After the credential check, before anything is created: fail early if unwritable.
        folder = _prepare_folder(out_dir, thing)
        try:
            iot.create_thing(thingName=thing)
        except ClientError as exc:
            # Same name, other attributes: the thing exists already, which is all we need.
            if _error_code(exc) != "ResourceAlreadyExistsException":
                raise
        document = least_privilege_policy(
            thing, account.region, account.account, partition=account.partition
        )
        _ensure_policy(iot, policy, document)
        created = iot.create_keys_and_certificate(setAsActive=True)
    cert_id, cert_arn = created["certificateId"], created["certificateArn"]
    try:
        with _aws_errors(f"attach certificate {cert_id} to {thing!r}"):
            iot.attach_policy(policyName=policy, target=cert_arn)
            iot.attach_thing_principal(thingName=thing, principal=cert_arn)
        return _write_set(
            folder, thing, root_ca, created["certificatePem"],
            created["keyPair"]["PrivateKey"], certificate_id=cert_id, certificate_arn=cert_arn,
        )
    except CertsError as exc:
        # The private key exists only in memory here: an unusable certificate must not linger.
        raise CertsError(f"{exc}; {_rollback(iot, thing, cert_id, cert_arn, policy)}") from None
