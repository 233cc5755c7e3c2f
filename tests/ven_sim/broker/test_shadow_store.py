"""Shadow document rules without a broker: merge, metadata, delta, versions, limits, persistence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sim.limits import SHADOW_MAX_STATE_BYTES
from ven_sim.broker.shadow_doc import compute_delta, json_size, reply_json
from ven_sim.broker.shadow_store import ShadowStore

NOW = 1_700_000_000


def _store(path: Path | None = None) -> ShadowStore:
    return ShadowStore(path, clock=lambda: NOW + 0.7)


def _update(store: ShadowStore, body: Any, thing: str = "ven-1") -> dict[str, Any]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return dict(store.handle(thing, "update", payload))


def test_merge_nulls_and_metadata() -> None:
    store = _store()
    _update(store, {"state": {"reported": {"mode": "auto", "hvac": {"sp": 21, "fan": "on"}}}})
    replies = _update(store, {"state": {"reported": {"mode": None, "hvac": {"fan": None}}}})
    current = replies["update/documents"]["current"]
    assert current["state"] == {"reported": {"hvac": {"sp": 21}}}
    assert current["metadata"] == {"reported": {"hvac": {"sp": {"timestamp": NOW}}}}
    assert current["version"] == 2
    accepted = replies["update/accepted"]
    assert accepted["metadata"]["reported"]["mode"] == {"timestamp": NOW}
    assert accepted["timestamp"] == NOW


def test_section_null_clears_it_and_arrays_are_replaced() -> None:
    store = _store()
    _update(store, {"state": {"desired": {"slots": [1, 2, 3]}, "reported": {"slots": [1]}}})
    replies = _update(store, {"state": {"desired": None, "reported": {"slots": [4, 5]}}})
    current = replies["update/documents"]["current"]
    assert current["state"] == {"reported": {"slots": [4, 5]}}
    assert current["metadata"]["reported"]["slots"] == [{"timestamp": NOW}] * 2
    assert "update/delta" not in replies


def test_delta_is_deep_and_strict_about_types() -> None:
    desired = {"a": 1, "b": True, "nested": {"x": 1, "y": 2}, "new": "v"}
    reported = {"a": 1, "b": 1, "nested": {"x": 1, "y": 3}}
    assert compute_delta(desired, reported) == {"b": True, "nested": {"y": 2}, "new": "v"}


def test_delta_carries_desired_metadata_and_full_difference() -> None:
    store = _store()
    _update(store, {"state": {"desired": {"a": 1, "b": 2}}})
    replies = _update(store, {"state": {"reported": {"a": 1}}, "clientToken": "t"})
    assert replies["update/delta"] == {
        "state": {"b": 2},
        "metadata": {"b": {"timestamp": NOW}},
        "version": 2,
        "timestamp": NOW,
        "clientToken": "t",
    }


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{not json", 400, "Invalid JSON"),
        (b"[1, 2]", 400, "Invalid JSON"),
        (b"\xff\xfe", 415, "Unsupported documented encoding; supported encoding is UTF-8"),
        ({"stat": {}}, 400, "Missing required node: state"),
        ({"state": 3}, 400, "State node must be an object"),
        ({"state": {"delta": {}}}, 400, "State contains an invalid node"),
        ({"state": {"desired": [1]}}, 400, "Desired node must be an object"),
        ({"state": {"reported": "x"}}, 400, "Reported node must be an object"),
        ({"state": {}, "version": "3"}, 400, "Invalid version"),
        ({"state": {}, "clientToken": "t" * 65}, 400, "Invalid clientToken"),
        ({"state": {"desired": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}, 400,
         "JSON contains too many levels of nesting; maximum is 6"),
        ({"state": {"desired": {"blob": "x" * 8200}}}, 413,
         "The payload exceeds the maximum size allowed"),
    ],
)
def test_update_rejections(body: Any, code: int, message: str) -> None:
    replies = _update(_store(), body)
    assert replies == {
        "update/rejected": {"code": code, "message": message, "timestamp": NOW}
    }


def test_size_limit_counts_the_merged_state() -> None:
    store = _store()
    assert "update/accepted" in _update(store, {"state": {"desired": {"a": "x" * 5000}}})
    replies = _update(store, {"state": {"reported": {"b": "y" * 5000}}})
    assert replies["update/rejected"]["code"] == 413
    assert store.document("ven-1")["version"] == 1  # rejected updates change nothing


def test_version_continues_after_delete() -> None:
    store = _store()
    for _ in range(3):
        _update(store, {"state": {"reported": {"n": 1}}})
    assert dict(store.handle("ven-1", "delete", b""))["delete/accepted"]["version"] == 3
    replies = _update(store, {"state": {"reported": {"n": 2}}})
    assert replies["update/accepted"]["version"] == 4
    assert replies["update/documents"]["previous"] is None


def test_persists_to_json_file(tmp_path: Path) -> None:
    path = tmp_path / "shadows.json"
    store = _store(path)
    _update(store, {"state": {"desired": {"sp": 20}}})
    _update(store, {"state": {"desired": {"sp": 20}}}, thing="gone")
    store.handle("gone", "delete", b"")
    again = _store(path)
    assert again.things() == ["ven-1"]
    assert again.document("ven-1") == store.document("ven-1")
    assert _update(again, {"state": {}}, thing="gone")["update/accepted"]["version"] == 2


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "shadows.json"
    path.write_text("{broken")
    with pytest.raises(ValueError, match="shadows.json"):
        ShadowStore(path)


def test_state_size_is_counted_compact_in_utf8_at_the_exact_limit() -> None:
    """The document's text (spaces, `\\u` escapes) only bounds the size from above: a state
    whose text is far over the limit but whose compact UTF-8 is exactly at it is accepted,
    one byte more is refused, and the shadow stays as it was."""
    empty = json.dumps({"desired": {"s": ""}}, separators=(",", ":"))
    # Compact with empty reported: {"desired":{"s":"..."},"reported":{}}; each é is 2 bytes
    # in UTF-8 and 6 characters escaped in the document's text.
    room = SHADOW_MAX_STATE_BYTES - len(empty) - len(',"reported":{}')
    fits = "é" * (room // 2) + "x" * (room % 2)
    store = _store()
    replies = _update(store, {"state": {"desired": {"s": fits}}})
    current = replies["update/documents"]["current"]
    assert json_size({"desired": current["state"]["desired"], "reported": {}}) == (
        SHADOW_MAX_STATE_BYTES)
    assert len(json.dumps(current["state"])) > 2 * SHADOW_MAX_STATE_BYTES
    rejected = _update(store, {"state": {"desired": {"s": fits + "x"}}})
    assert rejected["update/rejected"]["code"] == 413
    assert store.document("ven-1")["version"] == 1
    assert store.document("ven-1")["state"]["desired"]["s"] == fits


def test_documents_are_shared_and_encode_as_json_dumps() -> None:
    """update/documents' `previous` is the very document the update before sent as `current`
    (made once), and `reply_json` writes every reply as `json.dumps` does."""
    store = _store()
    report = {"a": {"b": [1, {"c": "ü"}]}}
    first = _update(store, {"state": {"reported": report}, "clientToken": "t"})
    second = _update(store, {"state": {"desired": {"a": 2}, "reported": {"d": None}}})
    assert second["update/documents"]["previous"] is first["update/documents"]["current"]
    for replies in (first, second):
        for reply in replies.values():
            assert reply_json(reply) == json.dumps(reply)
    assert reply_json({}) == "{}"
