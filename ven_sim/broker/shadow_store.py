"""AWS IoT classic (unnamed) device shadows in memory, optionally saved to a JSON file.

`ShadowStore.handle(thing, operation, payload)` takes the raw request published on
`$aws/things/<thing>/shadow/<operation>` and returns the replies to publish, as
`(topic suffix, payload)` pairs such as `("update/accepted", {...})`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sim import bounded
from sim.contract import PRESENCE_TOPIC, SHADOW_OPERATIONS
from ven_sim.broker.shadow_doc import (
    SECTIONS,
    TOO_LARGE,
    Json,
    Reply,
    Shadow,
    ShadowError,
    copy_json,
    merge_section,
    metadata_for,
    parse_request,
    validate_update,
)

log = logging.getLogger(__name__)


class ShadowStore:
    """Thread-safe shadows by thing name, optionally saved to a JSON file after each change."""

    def __init__(self, path: str | Path | None = None, clock: Callable[[], float] = time.time):
        self.path = Path(path) if path is not None else None
        self._clock = clock
        self._lock = threading.Lock()
        self._shadows: dict[str, Shadow] = {}
        # Versions of deleted shadows: a re-created shadow continues from there, as on AWS.
        self._deleted: dict[str, int] = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self._load(self.path)

    def presence(self, topic: str, payload: bytes) -> list[tuple[str, str, Json]]:
        """A VEN's presence message on `ven/status/{thing}` (its Last Will, say) applied as
        the shadow update an AWS IoT rule would make: `reported.ven.status`. Returns
        (thing, suffix, reply) to publish; nothing for a thing without a shadow or a
        message that is not a presence object."""
        prefix = PRESENCE_TOPIC.format(ven_id="")
        thing = topic[len(prefix):] if topic.startswith(prefix) else ""
        try:
            doc = bounded.loads(payload)
        except bounded.BadJson:
            return []
        status = doc.get("status") if isinstance(doc, dict) else None
        if not thing or status not in ("online", "offline") or not self.exists(thing):
            return []
        request = json.dumps({"state": {"reported": {"ven": {"status": status}}}}).encode()
        return [(thing, suffix, body) for suffix, body in self.handle(thing, "update", request)]

    def things(self) -> list[str]:
        with self._lock:
            return sorted(self._shadows)

    def exists(self, thing: str) -> bool:
        with self._lock:
            return thing in self._shadows

    def document(self, thing: str) -> Json | None:
        """A copy of the stored document (state, metadata, version), or None."""
        with self._lock:
            shadow = self._shadows.get(thing)
            return copy_json(shadow.document()) if shadow else None

    def handle(self, thing: str, operation: str, payload: bytes) -> list[Reply]:
        """Apply one request; the replies to publish under `$aws/things/<thing>/shadow/`."""
        if operation not in SHADOW_OPERATIONS:
            raise ValueError(f"unknown shadow operation {operation!r}")
        token: str | None = None
        with self._lock:
            now = int(self._clock())
            try:
                request, token = parse_request(payload)
                replies = getattr(self, f"_{operation}")(thing, request, now)
            except ShadowError as exc:
                error: Json = {"code": exc.code, "message": exc.message, "timestamp": now}
                if token is not None:
                    error["clientToken"] = token
                return [(f"{operation}/rejected", error)]
            if operation != "get":
                self._save()  # best effort: a full disk must not silence the replies
        for _, reply in replies:
            reply["timestamp"] = now
            if token is not None:
                reply["clientToken"] = token
        return replies

    def _missing(self, thing: str) -> ShadowError:
        return ShadowError(404, f"No shadow exists with name: '{thing}'")

    def _get(self, thing: str, request: Json, now: int) -> list[Reply]:
        shadow = self._shadows.get(thing)
        if shadow is None:
            raise self._missing(thing)
        # The stored document is shared and never changed: the reply's own top level (it gets
        # `timestamp` and `clientToken`), and its own `state` when a delta joins it.
        document = dict(shadow.document())
        delta, _ = shadow.delta()
        if delta:
            document["state"] = {**document["state"], "delta": delta}
        return [("get/accepted", document)]

    def _delete(self, thing: str, request: Json, now: int) -> list[Reply]:
        shadow = self._shadows.pop(thing, None)
        if shadow is None:
            raise self._missing(thing)
        self._deleted[thing] = shadow.version
        return [("delete/accepted", {"version": shadow.version})]

    def _update(self, thing: str, request: Json, now: int) -> list[Reply]:
        state = validate_update(request)
        old = self._shadows.get(thing)
        version = request.get("version")
        if old is not None and version is not None and version != old.version:
            raise ShadowError(409, "Version conflict")
        # The old shadow is never changed: merging builds new sections that share what
        # the update leaves alone (cheap for the frequent reported-only updates).
        new = (
            Shadow(old.version, dict(old.state), dict(old.metadata))
            if old
            else Shadow(version=self._deleted.get(thing, 0))
        )
        # The patch's metadata, once: merged into the shadow's and sent in update/accepted.
        patch_meta = {section: metadata_for(patch, now) for section, patch in state.items()}
        for section, patch in state.items():
            if patch is None:
                new.state[section], new.metadata[section] = {}, {}
            else:
                new.state[section], new.metadata[section] = merge_section(
                    new.state[section], new.metadata[section], patch, patch_meta[section]
                )
        new.version += 1  # before its document is made; a rejected one is not stored
        if not new.fits():
            raise ShadowError(413, TOO_LARGE)
        self._shadows[thing] = new
        self._deleted.pop(thing, None)
        # Replies may share structure with stored shadows: a stored shadow is never
        # changed in place (the next update works on a copy), and replies are encoded
        # straight away.
        accepted = {"state": state, "metadata": patch_meta, "version": new.version}
        replies: list[Reply] = [("update/accepted", accepted)]
        delta, delta_meta = new.delta()
        if delta:
            replies.append(
                ("update/delta", {"state": delta, "metadata": delta_meta, "version": new.version})
            )
        documents = {
            "previous": old.document() if old else None,
            "current": new.document(),
        }
        replies.append(("update/documents", documents))
        return replies

    # -- persistence ---------------------------------------------------------------------------

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "shadows": {
                thing: {"version": s.version, "state": s.state, "metadata": s.metadata}
                for thing, s in self._shadows.items()
            },
            "deleted_versions": self._deleted,
        }
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot save shadows to %s: %s", self.path, exc)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            self._shadows = {
                thing: Shadow(
                    int(doc["version"]),
                    {s: dict(doc["state"].get(s, {})) for s in SECTIONS},
                    {s: dict(doc["metadata"].get(s, {})) for s in SECTIONS},
                )
                for thing, doc in data["shadows"].items()
            }
            self._deleted = {k: int(v) for k, v in data.get("deleted_versions", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"cannot read shadow file {path}: {exc}") from exc
