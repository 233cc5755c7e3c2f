"""Payloads as bytes: a part of `sim.contract` (exported from there), kept apart so the
contract's other parts can share one encoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii
from typing import Any

from sim.limits import MAX_PAYLOAD_BYTES


def one_shot_encoder(**options: Any) -> Callable[[Any], str]:
    """`json.JSONEncoder(**options).encode`: the same text and the same errors, with CPython's
    C encoder made once instead of on every call (`JSONEncoder.iterencode` builds one per call:
    about 0.8 µs of a small document's 1.9). The encoder's own method where there is no C
    encoder, with an indent, or with the circular-reference check (a reused encoder would
    share its markers between calls)."""
    encoder = json.JSONEncoder(**options)
    if c_make_encoder is None or encoder.indent is not None or encoder.check_circular:
        return encoder.encode
    chunks = c_make_encoder(
        None, encoder.default,
        encode_basestring_ascii if encoder.ensure_ascii else encode_basestring, None,
        encoder.key_separator, encoder.item_separator, encoder.sort_keys, encoder.skipkeys,
        encoder.allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        return join(chunks(value, 0))

    return encode


# -- encoding ---------------------------------------------------------------------------
# `json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)`, the same
# text, from an encoder made once (`dumps` with these options makes one per call), without the
# circular-reference check: the payloads are built afresh from parsed JSON and our own values,
# never cyclic.
compact = one_shot_encoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                           check_circular=False)


def encode(payload: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ValueError if over 128 KB or not JSON-able (NaN, infinity)."""
    return checked_size(compact(payload).encode("utf-8"))


def checked_size(data: bytes) -> bytes:
    """`data` as it is; ValueError if over the 128 KB AWS IoT limit."""
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(data)} bytes, over the {MAX_PAYLOAD_BYTES}-byte "
                         "AWS IoT limit")
    return data


def _kw(value: Any) -> float:
    """A kW value as the contract rounds it."""
    return round(float(value), 3)


# Below this size a float's 3-decimal text has at most 12 significant digits, so the one
# double nearest it prints as that text, trailing zeros dropped: what repr() gives.
_PLAIN_KW_LIMIT = 1e9


def kw_text(value: float) -> str:
    """`repr(round(float(value), 3))`, the text `encode` writes for a kW value rounded as the
    contract rounds them, at about 60 % of the time: both roundings are the same correctly
    rounded 3-decimal conversion (Python's dtoa), so only the printing differs. "nan" or
    "inf" for a value that is not finite (the caller checks; `encode` refuses those)."""
    number = float(value)
    if number == 0.0:  # half of all readings (idle circuits); round() keeps a -0.0's sign
        return repr(number)
    if -_PLAIN_KW_LIMIT < number < _PLAIN_KW_LIMIT:  # a NaN is not: it goes the long way
        text = f"{number:.3f}".rstrip("0")
        return text + "0" if text[-1] == "." else text
    return repr(round(number, 3))
