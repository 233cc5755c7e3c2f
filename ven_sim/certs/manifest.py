"""The manifest of a bulk `certs create`: client ID to certificate, key and ARNs.

`DIR/manifest.jsonl` is a journal, one JSON object a line, appended and fsynced as each step
of each identity succeeds, so an interrupted run (Ctrl-C, an error, a crash) loses nothing
it did. Its first line says what the folder holds (prefix, policy, account, region); every
other line is one identity's state after a step; the last line of a client ID wins:

    {"prefix": "ven-load", "policy": "ven-sim-fleet-ven-load", "account": "...", "region": "..."}
    {"client_id": "ven-load-000000", "stage": "done", "policy": "...", "thing_arn": "...",
     "certificate_id": "...", "certificate_arn": "...", "cert": "ven-load-000000/cert.pem",
     "key": "ven-load-000000/private.key"}

Stages, in order: `thing` (thing made), `keys` (certificate made, files written), `policy`
(policy attached), `done` (attached to its thing), and `deleted` (by `certs delete`). With
`--vens-per-cert G` the other VENs of a group name its first VEN's certificate and files,
and go from `thing` to `policy` (that certificate's) to `done` (attached to their thing). The
fleet's probe VTN has one more identity, `{prefix}-probe`, a certificate with its own policy
and no thing (`probe_of`). Each
line is written by one `write()` on an append-only file; a line cut short by a crash is
dropped when read and cut off before the next append. This module needs no boto3: the fleet
reads manifests too.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST_FILE",
    "STAGES",
    "Identity",
    "Manifest",
    "ManifestError",
    "ManifestHeader",
    "missing_identities",
    "probe_id",
    "probe_of",
]

MANIFEST_FILE = "manifest.jsonl"
STAGES = ("thing", "keys", "policy", "done", "deleted")


class ManifestError(ValueError):
    """An unreadable manifest, or one made for another prefix, account or region."""


@dataclass(frozen=True)
class ManifestHeader:
    prefix: str
    policy: str
    account: str
    region: str


@dataclass(frozen=True)
class Identity:
    """One client ID's thing, certificate and files (paths relative to the manifest)."""

    client_id: str
    stage: str
    policy: str = ""
    thing_arn: str = ""
    certificate_id: str = ""
    certificate_arn: str = ""
    cert: str = ""
    key: str = ""

    def at(self, stage: str, **changes: str) -> Identity:
        return replace(self, stage=stage, **changes)

    @property
    def usable(self) -> bool:
        return self.stage == "done"

    @property
    def shares_certificate(self) -> bool:
        """True for a VEN using its group's certificate (`certs create --vens-per-cert`):
        the files are in the folder of the group's first VEN, not its own."""
        return bool(self.cert) and not self.cert.startswith(f"{self.client_id}/")


class Manifest:
    """A folder's journal: read once, then appended to (by any number of threads)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / MANIFEST_FILE
        self.header: ManifestHeader | None = None
        self.identities: dict[str, Identity] = {}
        self._lock = threading.Lock()
        self._tail_checked = False
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        lines = self.path.read_text(encoding="utf-8").split("\n")
        # A last line without its newline was cut short by a crash: it never happened.
        for number, line in enumerate(lines[:-1], 1):
            try:
                data = json.loads(line)
            except ValueError:
                raise ManifestError(f"{self.path}, line {number}: not JSON") from None
            self._apply(data, number)

    def _apply(self, data: dict[str, Any], number: int) -> None:
        try:
            if number == 1:
                self.header = ManifestHeader(**data)
            else:
                identity = Identity(**data)
                if identity.stage not in STAGES:
                    raise ValueError(identity.stage)
                self.identities[identity.client_id] = identity
        except (TypeError, ValueError):
            raise ManifestError(f"{self.path}, line {number}: not a manifest record") from None

    def begin(self, header: ManifestHeader) -> None:
        """Start a new manifest, or check that this one was made for the same things."""
        if self.header is None:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._append(asdict(header))
            self.header = header
            return
        for field in ("prefix", "account", "region"):
            mine, theirs = getattr(self.header, field), getattr(header, field)
            if mine != theirs:
                raise ManifestError(
                    f"{self.path} holds identities of {field} {mine!r}, not {theirs!r}: "
                    "use another --out folder"
                )

    def record(self, identity: Identity) -> Identity:
        with self._lock:
            self._append(asdict(identity))
            self.identities[identity.client_id] = identity
        return identity

    def _append(self, data: dict[str, Any]) -> None:
        if not self._tail_checked:
            self._cut_torn_tail()
            self._tail_checked = True
        line = (json.dumps(data, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _cut_torn_tail(self) -> None:
        if not self.path.is_file():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.truncate(self.path, data.rfind(b"\n") + 1)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.header, self.identities = None, {}


def probe_of(manifest: Manifest) -> Identity | None:
    """The probe's finished identity, if the manifest has one."""
    if manifest.header is None:
        return None
    probe = manifest.identities.get(probe_id(manifest.header.prefix))
    return probe if probe is not None and probe.usable else None


def probe_id(prefix: str) -> str:
    return f"{prefix}-probe"


def missing_identities(folder: Path, client_ids: list[str]) -> list[str] | None:
    """The client IDs with no usable identity in `folder`'s manifest, in order; None when
    the folder has no manifest."""
    manifest = Manifest(folder)
    if manifest.header is None:
        return None
    missing = []
    for client_id in client_ids:
        identity = manifest.identities.get(client_id)
        if identity is None or not identity.usable or not all(
            (folder / name).is_file() for name in (identity.cert, identity.key)
        ):
            missing.append(client_id)
    return missing
