"""Payloads as bytes: a part of `sim.contract` (exported from there), kept apart so the
contract's other parts can share one encoder."""

from __future__ import annotations

import json
from typing import Any

from sim.limits import MAX_PAYLOAD_BYTES

# -- encoding ---------------------------------------------------------------------------
# `json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)`, the same
# text, from an encoder made once (`dumps` makes one per call, a fifth of the time it takes to
# encode an event ack), without the circular-reference check: the payloads are built afresh
# from parsed JSON and our own values, never cyclic.
compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            check_circular=False).encode


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError if over 128 KB or not JSON-able (NaN, infinity)."""
    return checked_size(compact(payload).encode("utf-8"))


def checked_size(data: bytes) -> bytes:
    """`data` as it is; ValueError if over the 128 KB AWS IoT limit."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
                         "AWS IoT limit")
    return data
