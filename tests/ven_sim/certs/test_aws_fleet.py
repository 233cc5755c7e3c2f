"""`certs create --count` and `certs delete` against moto's server: real boto3 calls over
loopback, paced on simulated time, interrupted and resumed."""

from __future__ import annotations

import fnmatch
import json
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from sim.limits import IOT_API_RATE_PER_S
from tests.ven_sim.certs.helpers import SimClock
from ven_sim.certs.aws_fleet import create_identities, default_policy_name, delete_identities
from ven_sim.certs.manifest import MANIFEST_FILE, Manifest, probe_id
from ven_sim.certs.pacing import ApiPacer
from ven_sim.certs.policies import fleet_policy, probe_policy
from ven_sim.cli import main
from ven_sim.fleet.identities import IdRange
from ven_sim.fleet.probe import ack_filters

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
COUNT = 25


class RecordingPacer(ApiPacer):
    """Notes the simulated time of every call it lets through."""

    def __init__(self) -> None:
        super().__init__(SimClock())
        self.calls: list[tuple[str, float]] = []

    def wait(self, api: str) -> None:
        super().wait(api)
        self.calls.append((api, self.clock.monotonic()))


class CtrlC(RecordingPacer):
    """Ctrl-C just before the `nth` call of `api`: what a user's interrupt looks like. From
    then on no call goes out (the process is on its way out)."""

    def __init__(self, api: str, nth: int) -> None:
        super().__init__()
        self.api, self.left = api, nth

    def wait(self, api: str) -> None:
        self.left -= api == self.api
        if self.left <= 0:
            raise KeyboardInterrupt
        super().wait(api)


@pytest.fixture
def iot(moto_server: str) -> Any:
    return boto3.client("iot")


def _prefix() -> str:
    return f"ven-{uuid.uuid4().hex[:6]}"


def _all(iot: Any, operation: str, key: str, **params: Any) -> list[Any]:
    pages = iot.get_paginator(operation).paginate(**params)
    return [item for page in pages for item in page[key]]


def _certificate_count(iot: Any) -> int:
    return len(_all(iot, "list_certificates", "certificates"))


def _check_provisioned(iot: Any, folder: Path, prefix: str, count: int) -> None:
    """Every VEN: one thing, one active certificate attached to it and to the fleet policy,
    its files on disk; the probe: its certificate under its own policy."""
    manifest = Manifest(folder)
    policy = default_policy_name(prefix)
    things = [t["thingName"] for t in _all(iot, "list_things", "things")
              if t["thingName"].startswith(prefix)]
    ids = IdRange(prefix, 0, count).ids()
    assert sorted(things) == ids
    for client_id in [*ids, probe_id(prefix)]:
        identity = manifest.identities[client_id]
        assert identity.stage == "done"
        cert = iot.describe_certificate(certificateId=identity.certificate_id)
        assert cert["certificateDescription"]["status"] == "ACTIVE"
        attached = iot.list_attached_policies(target=identity.certificate_arn)["policies"]
        expected = f"{policy}-probe" if client_id == probe_id(prefix) else policy
        assert [p["policyName"] for p in attached] == [expected]
        assert (folder / identity.cert).read_text() == cert["certificateDescription"][
            "certificatePem"]
        assert stat.S_IMODE((folder / identity.key).stat().st_mode) == 0o600
        assert stat.S_IMODE((folder / client_id).stat().st_mode) == 0o700
        assert "PRIVATE KEY" in (folder / identity.key).read_text()
        if client_id != probe_id(prefix):
            principals = iot.list_thing_principals(thingName=client_id)["principals"]
            assert principals == [identity.certificate_arn]


def test_create_count_makes_every_identity_and_one_shared_policy(
    iot: Any, tmp_path: Path
) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    seen: list[int] = []
    report = create_identities(IdRange(prefix, 0, COUNT), tmp_path, pacer=RecordingPacer(),
                               progress=seen.append)
    assert (report.total, report.done, report.skipped, report.repaired) == (26, 26, 0, 0)
    assert _certificate_count(iot) - before == COUNT + 1
    _check_provisioned(iot, tmp_path, prefix, COUNT)
    policy = default_policy_name(prefix)
    document = json.loads(iot.get_policy(policyName=policy)["policyDocument"])
    assert document == fleet_policy(REGION, ACCOUNT)
    probe_document = json.loads(iot.get_policy(policyName=f"{policy}-probe")["policyDocument"])
    assert probe_document == probe_policy(prefix, REGION, ACCOUNT)
    assert seen[0] == 0 and seen[-1] == COUNT + 1 and seen == sorted(seen)
    assert (tmp_path / "AmazonRootCA1.pem").is_file()
    # The manifest is private too, and names files, never holds keys.
    assert stat.S_IMODE((tmp_path / MANIFEST_FILE).stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in (tmp_path / MANIFEST_FILE).read_text()


def test_the_fleet_policy_lets_each_certificate_be_only_its_own_thing() -> None:
    statements = fleet_policy(REGION, ACCOUNT)["Statement"]
    arn = f"arn:aws:iot:{REGION}:{ACCOUNT}"
    me = "${iot:Connection.Thing.ThingName}"
    assert statements[0] == {
        "Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{me}",
        "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
    }
    for statement in statements[1:]:
        for resource in statement["Resource"]:
            assert me in resource or resource == f"{arn}:topic/volttron/metering", resource
    probe = probe_policy("ven-load", REGION, ACCOUNT)["Statement"]
    assert probe[0]["Resource"] == f"{arn}:client/ven-load-probe-*"
    assert probe[1]["Resource"] == f"{arn}:topic/ven/cmd/ven-load-*"


def test_the_probe_policy_allows_each_of_a_probes_connections_and_its_shared_acks() -> None:
    """What a run's probe does with --vtn-connections 3, matched against its policy's
    resources the way AWS matches them (`*` any characters; fnmatch's `*`)."""
    arn = f"arn:aws:iot:{REGION}:{ACCOUNT}"
    statements = {s["Action"]: s["Resource"] for s in
                  probe_policy("ven-load", REGION, ACCOUNT)["Statement"]}

    def allowed(action: str, resource: str) -> bool:
        patterns = statements[action]
        patterns = [patterns] if isinstance(patterns, str) else patterns
        return any(fnmatch.fnmatchcase(resource, pattern) for pattern in patterns)

    client_id = "ven-load-probe-0123abcd"  # as the fleet runner names it
    for connection in (client_id, f"{client_id}-1", f"{client_id}-2"):
        assert allowed("iot:Connect", f"{arn}:client/{connection}")
    for connections in (1, 3):
        (acks,) = ack_filters(client_id, connections)  # AWS: `ven/ack/+`, or it shared
        assert allowed("iot:Subscribe", f"{arn}:topicfilter/{acks}")
    assert allowed("iot:Receive", f"{arn}:topic/ven/ack/ven-load-000042")
    assert not allowed("iot:Subscribe", f"{arn}:topicfilter/$share/other-probe-1/ven/ack/+")
    assert not allowed("iot:Receive", f"{arn}:topic/ven/ack/other-000042")


def test_calls_are_paced_under_each_apis_rate_on_simulated_time(
    iot: Any, tmp_path: Path
) -> None:
    pacer = RecordingPacer()
    create_identities(IdRange(_prefix(), 0, COUNT), tmp_path, pacer=pacer, threads=1)
    by_api: dict[str, list[float]] = {}
    for api, at in pacer.calls:
        by_api.setdefault(api, []).append(at)
    assert len(by_api["CreateKeysAndCertificate"]) == COUNT + 1
    for api, times in by_api.items():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 1 / IOT_API_RATE_PER_S[api] - 1e-9 for gap in gaps), api
        # No second of the run holds more calls than the API allows (1e-6: float sums).
        assert all(sum(t <= at < t + 1 - 1e-6 for at in times) <= IOT_API_RATE_PER_S[api]
                   for t in times), api
    # Paced, not slowed: the slowest API (10/s) sets the length, not the sum of the waits.
    end = pacer.clock.monotonic()
    assert COUNT / IOT_API_RATE_PER_S["CreateKeysAndCertificate"] <= end < 4.0


@pytest.mark.parametrize("api", ["CreateKeysAndCertificate", "AttachPolicy",
                                 "AttachThingPrincipal"])
def test_a_rerun_after_ctrl_c_finishes_the_half_done_identity_without_duplicates(
    iot: Any, tmp_path: Path, api: str
) -> None:
    prefix, count, before = _prefix(), 6, _certificate_count(iot)
    ids = IdRange(prefix, 0, count)
    with pytest.raises(KeyboardInterrupt):
        create_identities(ids, tmp_path, pacer=CtrlC(api, nth=4), threads=1)
    stages = {i.client_id: i.stage for i in Manifest(tmp_path).identities.values()}
    assert list(stages.values())[:3] == ["done"] * 3
    assert stages[ids.ids()[3]] == {"CreateKeysAndCertificate": "thing",
                                    "AttachPolicy": "keys", "AttachThingPrincipal": "policy"}[api]
    report = create_identities(ids, tmp_path, pacer=RecordingPacer())
    assert (report.skipped, report.repaired, report.done) == (3, 1, count + 1 - 3)
    assert _certificate_count(iot) - before == count + 1
    _check_provisioned(iot, tmp_path, prefix, count)
    again = create_identities(ids, tmp_path, pacer=RecordingPacer())
    assert (again.skipped, again.done) == (count + 1, 0)
    assert _certificate_count(iot) - before == count + 1


def test_a_larger_count_adds_only_the_new_identities(iot: Any, tmp_path: Path) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    create_identities(IdRange(prefix, 0, 3), tmp_path, pacer=RecordingPacer())
    report = create_identities(IdRange(prefix, 0, 5), tmp_path, pacer=RecordingPacer())
    assert (report.skipped, report.done) == (4, 2)
    assert _certificate_count(iot) - before == 6
    _check_provisioned(iot, tmp_path, prefix, 5)


def test_delete_removes_certificates_things_policies_and_files(iot: Any, tmp_path: Path) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    create_identities(IdRange(prefix, 0, 4), tmp_path, pacer=RecordingPacer())
    # A half-done identity is cleaned up too.
    with pytest.raises(KeyboardInterrupt):
        create_identities(IdRange(prefix, 0, 6), tmp_path, pacer=CtrlC("AttachPolicy", 2))
    report = delete_identities(prefix, tmp_path, pacer=RecordingPacer())
    assert report.policy == default_policy_name(prefix)
    assert _certificate_count(iot) == before
    assert not [t for t in _all(iot, "list_things", "things") if t["thingName"].startswith(prefix)]
    names = {p["policyName"] for p in _all(iot, "list_policies", "policies")}
    assert not {report.policy, f"{report.policy}-probe"} & names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["AmazonRootCA1.pem"]


def test_an_interrupted_delete_carries_on(iot: Any, tmp_path: Path) -> None:
    prefix, before = _prefix(), _certificate_count(iot)
    create_identities(IdRange(prefix, 0, 4), tmp_path, pacer=RecordingPacer())
    with pytest.raises(KeyboardInterrupt):
        delete_identities(prefix, tmp_path, pacer=CtrlC("DeleteCertificate", 3), threads=1)
    assert _certificate_count(iot) - before == 3
    report = delete_identities(prefix, tmp_path, pacer=RecordingPacer())
    assert (report.skipped, report.done) == (2, 3)
    assert _certificate_count(iot) == before


def test_a_folder_holds_one_prefix_and_policy(iot: Any, tmp_path: Path) -> None:
    prefix = _prefix()
    create_identities(IdRange(prefix, 0, 1), tmp_path, pacer=RecordingPacer())
    result = CliRunner().invoke(main, ["certs", "create", "--count", "2", "--prefix", prefix,
                                       "--policy-name", "another", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert f"uses policy '{default_policy_name(prefix)}', not 'another'" in result.output
    result = CliRunner().invoke(main, ["certs", "create", "--count", "1", "--prefix", "other",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "holds identities of prefix" in result.output and "use another --out" in result.output
    result = CliRunner().invoke(main, ["certs", "delete", "--prefix", "other", "--out",
                                       str(tmp_path)])
    assert result.exit_code == 1 and "not 'other'" in result.output


def test_cli_create_and_delete_print_paths_never_keys(iot: Any, tmp_path: Path) -> None:
    prefix, out = _prefix(), tmp_path / "certs"
    argv = ["certs", "create", "--count", "3", "--prefix", prefix, "--start", "7",
            "--out", str(out)]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert "identities  4: 3 VENs and the probe (4 new, 0 finished, 0 already done)" in (
        result.output)
    assert f"--vens 3 --id-prefix {prefix} --id-start 7 --broker aws" in result.output
    assert "identities: 4/4" in result.output and "endpoint    mqtts://" in result.output
    keys = [(out / f"{prefix}-{i:06d}" / "private.key").read_text() for i in (7, 8, 9)]
    assert not any(key.splitlines()[1] in result.output for key in keys)
    result = CliRunner().invoke(main, argv)
    assert "(0 new, 0 finished, 4 already done)" in result.output
    result = CliRunner().invoke(main, ["certs", "delete", "--prefix", prefix, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "identities  4 deleted (0 by an earlier run)" in result.output
    result = CliRunner().invoke(main, ["certs", "delete", "--prefix", prefix, "--out", str(out)])
    assert result.exit_code == 1 and "nothing made by `certs create` to delete" in result.output


@pytest.mark.parametrize("argv, message", [
    (["--thing", "t", "--count", "2", "--prefix", "p"], "not both"),
    (["--count", "2"], "--count N with --prefix P"),
    ([], "--count N with --prefix P"),
    (["--count", "2", "--prefix", "has/slash"], "id prefix must be"),
])
def test_cli_create_refuses_unclear_requests(
    moto_server: str, argv: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["certs", "create", *argv])
    assert result.exit_code == 2 and message in result.output


def test_ctrl_c_on_the_command_line_stops_and_a_rerun_finishes(
    iot: Any, tmp_path: Path
) -> None:
    """The real thing: SIGINT to `ven-sim certs create` while it works, on the real clock."""
    prefix, count, before = _prefix(), 40, _certificate_count(iot)
    argv = [sys.executable, "-m", "ven_sim", "certs", "create", "--count", str(count),
            "--prefix", prefix, "--out", str(tmp_path)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    first = proc.stderr.readline()  # "identities: 0/41", then one every 4 (paced at 10/s)
    assert first == f"identities: 0/{count + 1}\n"
    assert proc.stderr.readline().startswith("identities: ")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    manifest = Manifest(tmp_path)
    done = sum(i.usable for i in manifest.identities.values())
    vens_done = sum(manifest.identities[i].usable for i in IdRange(prefix, 0, count).ids()
                    if i in manifest.identities)
    assert 0 < vens_done < count
    assert f"interrupted. {vens_done} of {count} identities are done" in err
    assert "run the same command again to finish the rest" in err
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    # The identities under way were carried to their end: none is left half done.
    assert f"({count + 1 - done} new, 0 finished, {done} already done)" in result.stdout
    assert _certificate_count(iot) - before == count + 1
    _check_provisioned(iot, tmp_path, prefix, count)


def test_a_rerun_brings_an_earlier_versions_probe_policy_up_to_date(
    iot: Any, tmp_path: Path
) -> None:
    """A probe policy made before the probe shared its acks (no `$share/...` filter), and
    already at AWS's five versions: `create` gives it the current document as its default
    version (the oldest other one makes room), and `delete` still removes it."""
    prefix = _prefix()
    name = f"{default_policy_name(prefix)}-probe"
    older = probe_policy(prefix, REGION, ACCOUNT)
    older["Statement"][2]["Resource"] = [r for r in older["Statement"][2]["Resource"]
                                         if "$share" not in r]
    iot.create_policy(policyName=name, policyDocument=json.dumps(older))
    for _ in range(4):
        iot.create_policy_version(policyName=name, policyDocument=json.dumps(older))
    create_identities(IdRange(prefix, 0, 2), tmp_path, pacer=RecordingPacer())
    current = json.loads(iot.get_policy(policyName=name)["policyDocument"])
    assert current == probe_policy(prefix, REGION, ACCOUNT)
    versions = {v["versionId"]: v.get("isDefaultVersion", False)
                for v in iot.list_policy_versions(policyName=name)["policyVersions"]}
    # Version 1 was the default; 2, the oldest of the others, made room for 6.
    assert versions == {"1": False, "3": False, "4": False, "5": False, "6": True}
    delete_identities(prefix, tmp_path, pacer=RecordingPacer())
    assert name not in {p["policyName"] for p in _all(iot, "list_policies", "policies")}
