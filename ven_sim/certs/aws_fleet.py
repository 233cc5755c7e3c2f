"""Thousands of AWS IoT identities for `ven-sim fleet`: `certs create --count` and `certs delete`.

Each client ID `{prefix}-{index:06d}` gets a thing, an active certificate and its key in
`DIR/<id>/` (`cert.pem`, `private.key` 0600), the one policy they all share (`fleet_policy`:
each may connect only as its own thing) attached to the certificate, and the certificate
attached to the thing. With `vens_per_cert` G > 1 only the first VEN of each group (runs of
G from the range's start) gets a certificate, and it is attached to every thing of its
group: each VEN still connects only as its own thing (docs/fleet.md). Every call is paced
under its documented rate (`ApiPacer`), a few threads keep the slowest API
(CreateKeysAndCertificate, 10/s) busy despite round trips, and every step is journaled in
`DIR/manifest.jsonl` as it succeeds: a rerun skips what is done and finishes what is half
done. Keys are written before anything else happens to them and
never logged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ven_sim.certs.aws import (
    CERT_FILE,
    DEFAULT_POLICY_PREFIX,
    KEY_FILE,
    Account,
    CertsError,
    _aws_errors,
    _ensure_policy,
    _prepare_folder,
    _write,
    account_of,
    amazon_root_ca_path,
    delete_other_policy_versions,
)
from ven_sim.certs.manifest import (
    Identity,
    Manifest,
    ManifestError,
    ManifestHeader,
    probe_id,
)
from ven_sim.certs.pacing import RETRYABLE_CODES, ApiPacer, error_code
from ven_sim.certs.policies import fleet_policy, probe_policy
from ven_sim.fleet.identities import IdRange, certificate_owners

__all__ = ["BulkReport", "create_identities", "default_policy_name", "delete_identities"]

DEFAULT_THREADS = 4  # enough to keep 10 CreateKeysAndCertificate/s busy at ~300 ms a call
# Our pacer retries; botocore retrying too would hide throttles and double the waits.
_NO_BOTOCORE_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
_GONE = "ResourceNotFoundException"
# AWS detaches principals eventually: deleting the thing right after may still see them.
_STILL_ATTACHED = "InvalidRequestException"
_STILL_IN_USE = "DeleteConflictException"  # a certificate with things or policies attached

Progress = Callable[[int], None]  # called with the number of identities finished so far


@dataclass(frozen=True)
class BulkReport:
    """What one create or delete did; `skipped` were finished by an earlier run."""

    total: int
    done: int
    skipped: int
    repaired: int
    retries: int
    manifest: Path
    policy: str


def default_policy_name(prefix: str) -> str:
    return f"{DEFAULT_POLICY_PREFIX}fleet-{prefix}"


class _Job:
    """What every thread of one run shares: the client, the pacer, the manifest."""

    def __init__(self, session: boto3.Session, pacer: ApiPacer, manifest: Manifest) -> None:
        self.iot = session.client("iot", config=_NO_BOTOCORE_RETRIES)
        self.pacer = pacer
        self.manifest = manifest
        self.probe_id = probe_id(manifest.header.prefix) if manifest.header else ""

    def call(self, api: str, *, tolerate: str = "", retry: Iterable[str] = (),
             **params: Any) -> dict[str, Any]:
        """One paced call; `tolerate` names an error code that means "already so"."""
        try:
            return dict(self.pacer.call(
                self.iot, api, retry_codes=RETRYABLE_CODES | set(retry), **params
            ))
        except ClientError as exc:
            if tolerate and error_code(exc) == tolerate:
                return {}
            raise


def _run_all(
    work: Callable[[Identity], bool], todo: list[Identity], threads: int,
    progress: Progress | None, already: int, stopped: Callable[[], bool] | None = None,
) -> int:
    """`work` on every identity on `threads` threads; returns how many it repaired.

    On the first error, or Ctrl-C (a KeyboardInterrupt, or `stopped()` turning true: the
    command's signal flag), the identities under way are carried to their end (each step
    journaled) and the rest are not started.
    """
    repaired = finished = 0
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="certs") as pool:
        futures: set[Future[bool]] = {pool.submit(work, identity) for identity in todo}
        try:
            while futures:
                done, futures = wait(futures, return_when=FIRST_EXCEPTION, timeout=0.5)
                for future in done:
                    repaired += future.result()  # re-raises a thread's error here
                    finished += 1
                if done and progress is not None:
                    progress(already + finished)
                if stopped is not None and stopped():
                    raise KeyboardInterrupt
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return repaired


# -- create ---------------------------------------------------------------------------------
def create_identities(
    ids: IdRange,
    out_dir: str | Path,
    *,
    session: boto3.Session | None = None,
    policy_name: str | None = None,
    pacer: ApiPacer | None = None,
    threads: int = DEFAULT_THREADS,
    progress: Progress | None = None,
    stopped: Callable[[], bool] | None = None,
    vens_per_cert: int = 1,
) -> BulkReport:
    """Provision every ID of `ids` not yet done in `out_dir`'s manifest; with
    `vens_per_cert` > 1 a certificate per group, attached to each of its things."""
    folder = Path(out_dir)
    sess = session or boto3.Session()
    pacer = pacer or ApiPacer()
    policy = policy_name or default_policy_name(ids.prefix)
    with _aws_errors("provision identities"):
        account = account_of(sess)
        manifest = _open_manifest(folder, ManifestHeader(
            ids.prefix, policy, account.account, account.region))
        policy = _same_policy(manifest, policy_name) or policy
        amazon_root_ca_path(folder)  # the CA for every identity, written once
        job = _Job(sess, pacer, manifest)
        _ensure_policies(job, policy, ids.prefix, account)
        wanted = [*ids.ids(), probe_id(ids.prefix)]
        todo = [manifest.identities.get(i) or Identity(i, "new") for i in wanted]
        todo = [identity for identity in todo if not identity.usable]
        skipped = len(wanted) - len(todo)
        if progress is not None:
            progress(skipped)
        # Each group's first VEN makes the certificate; the others join it once all are made.
        owner_of = certificate_owners(ids, vens_per_cert) if vens_per_cert > 1 else {}
        joining = [i for i in todo if owner_of.get(i.client_id, i.client_id) != i.client_id]
        making = [i for i in todo if owner_of.get(i.client_id, i.client_id) == i.client_id]
        repaired = _run_all(lambda identity: _provision(job, identity, policy), making,
                            threads, progress, skipped, stopped)
        repaired += _run_all(
            lambda identity: _join(job, identity, manifest.identities[owner_of[identity.client_id]],
                                   policy),
            joining, threads, progress, skipped + len(making), stopped)
    return BulkReport(len(wanted), len(todo), skipped, repaired, pacer.retries, manifest.path,
                      policy)


def _open_manifest(folder: Path, header: ManifestHeader) -> Manifest:
    try:
        manifest = Manifest(folder)
        manifest.begin(header)
    except ManifestError as exc:
        raise CertsError(str(exc)) from None
    except OSError as exc:
        raise CertsError(f"cannot write the manifest in {folder}: {exc.strerror}") from None
    return manifest


def _same_policy(manifest: Manifest, asked: str | None) -> str | None:
    """The policy this folder's identities use; asking for another one is an error."""
    made = manifest.header.policy if manifest.header else None
    if made and asked and asked != made:
        raise CertsError(f"{manifest.path} uses policy {made!r}, not {asked!r}: "
                         "leave --policy-name out, or use another --out folder")
    return made


def _ensure_policies(job: _Job, policy: str, prefix: str, account: Account) -> None:
    where = (account.region, account.account)
    for name, document in ((policy, fleet_policy(*where, partition=account.partition)),
                           (_probe_policy_name(policy),
                            probe_policy(prefix, *where, partition=account.partition))):
        job.pacer.wait("CreatePolicy")
        # Ours by their names: an earlier ven-sim's (the probe's before it shared its acks,
        # say) is brought up to date, so a rerun of `certs create` mends it.
        _ensure_policy(job.iot, name, document, update=True)


def _probe_policy_name(policy: str) -> str:
    return f"{policy}-probe"


def _provision(job: _Job, identity: Identity, policy: str) -> bool:
    """Take one identity from wherever an earlier run left it to `done`; True if it was
    half done (a repair)."""
    with _aws_errors(f"provision {identity.client_id!r}"):
        return _provision_steps(job, identity, policy)


def _provision_steps(job: _Job, identity: Identity, policy: str) -> bool:
    repaired = identity.stage not in ("new", "deleted")
    record = job.manifest.record
    probe = identity.client_id == job.probe_id
    if identity.stage in ("new", "deleted", "thing"):
        # A thing made by an earlier run is reused; a certificate whose key was never
        # journaled cannot be (the key exists nowhere), so those start from a new one.
        identity = Identity(identity.client_id, "thing",
                            policy=_probe_policy_name(policy) if probe else policy)
        if not probe:  # the probe is no thing: its policy names its client IDs itself
            identity = record(identity.at("thing", thing_arn=_thing_arn(job, identity)))
        identity = record(_new_certificate(job, identity))
    if identity.stage == "keys":
        job.call("AttachPolicy", policyName=identity.policy, target=identity.certificate_arn)
        identity = record(identity.at("done" if probe else "policy"))
    if identity.stage == "policy":
        job.call("AttachThingPrincipal", thingName=identity.client_id,
                 principal=identity.certificate_arn)
        record(identity.at("done"))
    return repaired


def _join(job: _Job, identity: Identity, owner: Identity, policy: str) -> bool:
    """Take a VEN that shares `owner`'s certificate to `done`: its thing, then that
    certificate attached to it. True if it was half done (a repair)."""
    with _aws_errors(f"provision {identity.client_id!r}"):
        repaired = identity.stage not in ("new", "deleted")
        if identity.stage in ("keys", "policy") and not identity.shares_certificate:
            # Its own certificate from a run with one VEN per certificate: finish that one.
            return _provision_steps(job, identity, policy)
        if identity.stage in ("new", "deleted", "thing"):
            identity = Identity(identity.client_id, "thing", policy=owner.policy)
            identity = job.manifest.record(
                identity.at("thing", thing_arn=_thing_arn(job, identity)))
            identity = job.manifest.record(identity.at(
                "policy", certificate_id=owner.certificate_id,
                certificate_arn=owner.certificate_arn, cert=owner.cert, key=owner.key))
        job.call("AttachThingPrincipal", thingName=identity.client_id,
                 principal=identity.certificate_arn)
        job.manifest.record(identity.at("done"))
        return repaired


def _thing_arn(job: _Job, identity: Identity) -> str:
    thing = job.call("CreateThing", thingName=identity.client_id,
                     tolerate="ResourceAlreadyExistsException")
    return str(thing.get("thingArn") or job.call(
        "DescribeThing", thingName=identity.client_id)["thingArn"])


def _new_certificate(job: _Job, identity: Identity) -> Identity:
    created = job.call("CreateKeysAndCertificate", setAsActive=True)
    folder = _prepare_folder(job.manifest.folder, identity.client_id)
    # The key exists only in this response: on disk (0600) before anything else can fail.
    _write(folder / KEY_FILE, created["keyPair"]["PrivateKey"], 0o600)
    _write(folder / CERT_FILE, created["certificatePem"], 0o644)
    return identity.at(
        "keys", certificate_id=created["certificateId"],
        certificate_arn=created["certificateArn"],
        cert=f"{identity.client_id}/{CERT_FILE}", key=f"{identity.client_id}/{KEY_FILE}",
    )


# -- delete ---------------------------------------------------------------------------------
def delete_identities(
    prefix: str,
    out_dir: str | Path,
    *,
    session: boto3.Session | None = None,
    pacer: ApiPacer | None = None,
    threads: int = DEFAULT_THREADS,
    progress: Progress | None = None,
    stopped: Callable[[], bool] | None = None,
) -> BulkReport:
    """Detach, deactivate and delete every certificate and thing in `out_dir`'s manifest,
    their files, then the policy and the manifest itself."""
    folder = Path(out_dir)
    try:
        manifest = Manifest(folder)
    except ManifestError as exc:
        raise CertsError(str(exc)) from None
    if manifest.header is None:
        raise CertsError(f"no {manifest.path}: nothing made by `certs create` to delete")
    if manifest.header.prefix != prefix:
        raise CertsError(
            f"{manifest.path} holds prefix {manifest.header.prefix!r}, not {prefix!r}")
    sess = session or boto3.Session()
    pacer = pacer or ApiPacer()
    policy = manifest.header.policy
    todo = [i for i in manifest.identities.values() if i.stage != "deleted"]
    total, skipped = len(manifest.identities), len(manifest.identities) - len(todo)
    # VENs sharing a certificate leave it first: a certificate still attached to a thing
    # cannot be deleted.
    sharing = [i for i in todo if i.shares_certificate]
    owning = [i for i in todo if not i.shares_certificate]
    with _aws_errors("delete identities"):
        job = _Job(sess, pacer, manifest)
        _run_all(lambda identity: _remove(job, identity), sharing, threads, progress, skipped,
                 stopped)
        _run_all(lambda identity: _remove(job, identity), owning, threads, progress,
                 skipped + len(sharing), stopped)
        for name in (_probe_policy_name(policy), policy):
            try:
                delete_other_policy_versions(job.iot, name)  # a policy brought up to date
                job.call("DeletePolicy", policyName=name, tolerate=_GONE)
            except ClientError as exc:
                if error_code(exc) != "DeleteConflictException":
                    raise
                policy = ""  # other certificates still use it: theirs to delete
    manifest.remove()
    return BulkReport(total, len(todo), skipped, 0, pacer.retries, manifest.path, policy)


def _remove(job: _Job, identity: Identity) -> bool:
    with _aws_errors(f"delete {identity.client_id!r}"):
        _remove_steps(job, identity)
    return False


def _remove_steps(job: _Job, identity: Identity) -> None:
    name, cert = identity.client_id, identity.certificate_arn
    if cert and identity.thing_arn:
        job.call("DetachThingPrincipal", thingName=name, principal=cert, tolerate=_GONE)
    if cert and not identity.shares_certificate:  # its group's first VEN deletes a shared one
        job.call("DetachPolicy", policyName=identity.policy, target=cert, tolerate=_GONE)
        job.call("UpdateCertificate", certificateId=identity.certificate_id,
                 newStatus="INACTIVE", tolerate=_GONE)
        # AWS detaches principals eventually: the group's other things may still show.
        job.call("DeleteCertificate", certificateId=identity.certificate_id, tolerate=_GONE,
                 retry=[_STILL_IN_USE])
    if identity.thing_arn:
        job.call("DeleteThing", thingName=name, tolerate=_GONE, retry=[_STILL_ATTACHED])
    if not identity.shares_certificate:
        shutil.rmtree(job.manifest.folder / name, ignore_errors=True)
    job.manifest.record(identity.at("deleted"))
