"""AWS IoT device shadow document rules: request checks, merging, metadata and delta.

Pure functions over JSON-like dicts; `ven_sim.broker.shadow_store` applies them to stored shadows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sim.limits import (
    MAX_PAYLOAD_BYTES,
    SHADOW_MAX_CLIENT_TOKEN_BYTES,
    SHADOW_MAX_DEPTH,
    SHADOW_MAX_STATE_BYTES,
)

SHADOW_CLIENT_ID = "shadow-service"

SECTIONS = ("desired", "reported")
# What empty sections add to the compact state that its document leaves out.
EMPTY_SECTIONS_BYTES = len('{"desired":{},"reported":{}}')
# AWS's own messages (device-shadow-error-messages), kept verbatim for clients that match on them.
BAD_ENCODING = "Unsupported documented encoding; supported encoding is UTF-8"
TOO_DEEP = f"JSON contains too many levels of nesting; maximum is {SHADOW_MAX_DEPTH}"
TOO_LARGE = "The payload exceeds the maximum size allowed"

Json = dict[str, Any]
Reply = tuple[str, Json]

# `json.dumps` with its defaults, less the check for circular references (a dict of the ids
# of the containers being encoded): replies are made of parsed JSON and of documents built
# from it, which cannot refer to themselves. The same text, about a fifth less time on the
# metadata (a dict per leaf).
encode_json = json.JSONEncoder(check_circular=False).encode


class EncodedDocument(dict):  # type: ignore[type-arg]
    """A stored shadow's document (`state`, `metadata`, `version`, in that order) that also
    keeps its JSON text as `json.dumps` writes it, made once: one update's `current` is the
    next one's `previous`, so `reply_json` splices the text in instead of encoding the same
    document twice. A dict like any other to everyone else (`json.dumps`, `contract.encode`);
    like every reply, it is read, never changed."""

    __slots__ = ("_state_text", "_text")

    @property
    def state_text(self) -> str:
        """`json.dumps(self["state"])`: its length bounds the state's size (`Shadow.fits`)."""
        try:
            return self._state_text
        except AttributeError:
            self._state_text: str = encode_json(self["state"])
            return self._state_text

    @property
    def text(self) -> str:
        """`json.dumps(self)`, the same text, from the state's text and the rest's."""
        try:
            return self._text
        except AttributeError:
            self._text: str = (f'{{"state": {self.state_text}, '
                               f'"metadata": {encode_json(self["metadata"])}, '
                               f'"version": {encode_json(self["version"])}}}')
            return self._text


def reply_json(body: Json) -> str:
    """`json.dumps(body)`, the same text, with each `EncodedDocument` value's text spliced in
    (default separators: `{"key": value, ...}`)."""
    if not any(type(value) is EncodedDocument for value in body.values()):
        return encode_json(body)
    members = (
        f"{encode_json(key)}: "
        f"{value.text if type(value) is EncodedDocument else encode_json(value)}"
        for key, value in body.items()
    )
    return "{" + ", ".join(members) + "}"


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): several times faster than
    `copy.deepcopy`, which a busy shadow service otherwise spends most of its time in."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


class ShadowError(Exception):
    """A request the shadow service rejects; `code` is the HTTP-style code AWS uses."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Shadow:
    """One thing's shadow: state sections, per-leaf metadata and version. Once stored it is
    never changed (an update stores a new one), so its document is made once."""

    version: int
    state: dict[str, Json] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    metadata: dict[str, Json] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    _document: EncodedDocument | None = field(default=None, init=False, repr=False, compare=False)

    def document(self) -> EncodedDocument:
        """The stored document as in update/documents: no delta, empty sections left out.
        Shared, with its JSON text: a caller that changes it copies it first."""
        if self._document is None:
            self._document = EncodedDocument(
                state={s: v for s, v in self.state.items() if v},
                metadata={s: v for s, v in self.metadata.items() if v},
                version=self.version,
            )
        return self._document

    def fits(self) -> bool:
        """Whether desired and reported together stay within SHADOW_MAX_STATE_BYTES, compact
        and in UTF-8 as AWS counts them. The document's state text bounds that size from
        above (spaces after separators, `\\u` escapes at least as long as UTF-8, and at most
        EMPTY_SECTIONS_BYTES for sections it leaves out), so only a state near the limit is
        encoded again to be measured exactly."""
        bound = len(self.document().state_text) + EMPTY_SECTIONS_BYTES
        return bound <= SHADOW_MAX_STATE_BYTES or json_size(self.state) <= SHADOW_MAX_STATE_BYTES

    def delta(self) -> tuple[Json, Json]:
        delta = compute_delta(self.state["desired"], self.state["reported"])
        # Copied: replies are serialised after the store lock is released.
        return delta, copy_json(pick_metadata(delta, self.metadata["desired"]))


def metadata_for(value: Any, ts: int) -> Any:
    """Metadata mirroring `value`: objects recurse, arrays per element, leaves get a timestamp.

    Every leaf is the same `{"timestamp": ts}` object: metadata is read and encoded, never
    changed in place (a stored shadow never is), and a report of 70 leaves made 70 of them.
    """
    leaf = {"timestamp": ts}

    def mirror(value: Any) -> Any:
        if type(value) is dict:
            return {k: mirror(v) if type(v) in _CONTAINERS else leaf for k, v in value.items()}
        if type(value) is list:
            return [mirror(v) if type(v) in _CONTAINERS else leaf for v in value]
        return leaf

    return mirror(value)


_CONTAINERS = (dict, list)  # what json.loads makes objects and arrays of


def merge_section(state: Json, meta: Json, patch: Json, patch_meta: Json) -> tuple[Json, Json]:
    """`state` and its metadata with `patch` merged in: null deletes, objects recurse.
    `patch_meta` is `metadata_for(patch, ts)`, made once for this and the accepted reply.

    Copy on write: returns new dicts that share every subtree the patch leaves alone,
    and never changes its inputs, so a stored shadow is never modified in place. The
    patch's own values are stored as they are: a request is parsed for this update alone.
    """
    state, meta = dict(state), dict(meta)
    for key, value in patch.items():
        if value is None:
            state.pop(key, None)
            meta.pop(key, None)
        elif isinstance(value, dict):
            old_state = state.get(key)
            old_meta = meta.get(key)
            if not isinstance(old_state, dict):
                old_state, old_meta = {}, {}
            sub_state, sub_meta = merge_section(
                old_state, old_meta if isinstance(old_meta, dict) else {}, value, patch_meta[key]
            )
            if sub_state:
                state[key], meta[key] = sub_state, sub_meta
            else:  # objects emptied by the update are dropped, as AWS does
                state.pop(key, None)
                meta.pop(key, None)
        else:
            state[key] = value
            meta[key] = patch_meta[key]
    return state, meta


def _same(a: Any, b: Any) -> bool:
    # JSON equality: unlike Python's ==, true is not 1.
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def compute_delta(desired: Json, reported: Json) -> Json:
    """Desired keys whose value differs from (or is missing in) reported; objects go deep."""
    delta: Json = {}
    for key, want in desired.items():
        have = reported.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            sub = compute_delta(want, have)
            if sub:
                delta[key] = sub
        elif key not in reported or not _same(want, have):
            delta[key] = copy_json(want)
    return delta


def pick_metadata(delta: Json, meta: Json) -> Json:
    """The desired-side metadata of the keys present in `delta`."""
    picked: Json = {}
    for key, value in delta.items():
        if key in meta:
            both_objects = isinstance(value, dict) and isinstance(meta[key], dict)
            picked[key] = pick_metadata(value, meta[key]) if both_objects else meta[key]
    return picked


def _depth(value: Any) -> int:
    """How deeply objects nest in `value` (arrays add no level); only containers are visited,
    in a plain loop (no list of children, no `max` over a `map`: a report has about 20)."""
    is_object = type(value) is dict
    if not is_object and type(value) is not list:
        return 0
    deepest = 0
    for child in value.values() if is_object else value:
        if type(child) is dict or type(child) is list:
            depth = _depth(child)
            if depth > deepest:
                deepest = depth
    return deepest + 1 if is_object else deepest


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def parse_request(payload: bytes) -> tuple[Json, str | None]:
    """The request object and its clientToken; an empty payload is an empty request."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ShadowError(413, TOO_LARGE)
    if not payload.strip():
        return {}, None
    try:
        request = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise ShadowError(415, BAD_ENCODING) from None
    except ValueError:
        raise ShadowError(400, "Invalid JSON") from None
    if not isinstance(request, dict):
        raise ShadowError(400, "Invalid JSON")
    token = request.get("clientToken")
    if token is not None and (
        not isinstance(token, str) or len(token.encode()) > SHADOW_MAX_CLIENT_TOKEN_BYTES
    ):
        raise ShadowError(400, "Invalid clientToken")
    return request, token


def validate_update(request: Json) -> Json:
    """The request's state node, checked the way AWS checks it (400s only)."""
    if "state" not in request:
        raise ShadowError(400, "Missing required node: state")
    state = request["state"]
    if not isinstance(state, dict):
        raise ShadowError(400, "State node must be an object")
    if any(key not in SECTIONS for key in state):
        raise ShadowError(400, "State contains an invalid node")
    for section in SECTIONS:
        if section in state and not isinstance(state[section], dict | None):
            raise ShadowError(400, f"{section.capitalize()} node must be an object")
        if _depth(state.get(section)) > SHADOW_MAX_DEPTH:
            raise ShadowError(400, TOO_DEEP)
    version = request.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ShadowError(400, "Invalid version")
    return state
