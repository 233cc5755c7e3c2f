"""Hostile JSON made safe: bounded parsing, and bad values quoted back at a bounded size.

Everything a backend, a broker or another client sends is read through `loads`: depth is
checked before parsing (a 990-deep document once raised RecursionError far from the parser),
and numbers JSON cannot carry back out (1e400 parses as infinity) are refused, so whatever
was accepted can always be encoded again. `show` quotes a value for an error message at
most `MAX_ECHO_CHARS` long, so an error ack never grows with the input it rejects.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sim.limits import MAX_ECHO_CHARS, MAX_ID_CHARS, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES

__all__ = ["BadJson", "clip", "depth", "loads", "short_id", "show", "top_level_int"]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_SQUARE = bytes.maketrans(b"{}", b"[]")  # with _NOT_BRACKET deleted: brackets only, all square
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"\\')))  # and quotes, escapes


class BadJson(ValueError):
    """A payload that is not JSON, too deep, or holds a number JSON cannot carry."""


def depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in `raw` (strings skipped); 0 for a scalar."""
    deepest = level = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", raw)):
        if match.group() in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def _nests_within(raw: bytes, limit: int) -> bool:
    """True if `raw`'s brackets pair up, nested at most `limit` deep (strings skipped).

    `depth` walks every bracket in Python, a fifth of a fleet's dispatcher time on shadow
    documents; here each pass deletes the innermost pairs in C, one pass per level. Only the
    brackets and quotes are kept first (a shadow reply of 6 KB shrinks to a few hundred
    bytes), then the strings between the quotes are dropped, unless escapes make that
    ambiguous.
    """
    kept = raw.translate(_SQUARE, _NOT_STRUCTURE)
    if b"\\" not in kept:
        # `""` is an empty string or two strings with nothing between: neither hides a bracket.
        # When every quote stands in such a pair (a shadow document's strings hold no bracket),
        # deleting the quotes leaves what deleting the pairs would, counted rather than
        # replaced one pair at a time (a 4.8 KB update/accepted has 263 of them).
        if kept.count(b'"') == 2 * kept.count(b'""'):
            return _pairs_within(kept.translate(None, b'"'), limit)
        kept = kept.replace(b'""', b"")
        if kept.count(b'"') % 2 == 0:  # no escapes: strings are every other piece
            return _pairs_within(b"".join(kept.split(b'"')[::2]), limit)
    outside = _STRING.sub(b"", raw)
    return _pairs_within(outside.translate(_SQUARE, _NOT_BRACKET), limit)


def _pairs_within(brackets: bytes, limit: int) -> bool:
    """True if `brackets` (square ones only) pair up, nested at most `limit` deep."""
    for _ in range(limit):
        if not brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
    return not brackets


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {clip(text)} is out of range")
    return value


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_constant)


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON; BadJson if invalid, nested over `max_depth` or holding a non-finite number."""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if (data.count(b"{") + data.count(b"[") > max_depth  # fewer cannot nest deeper
            and not _nests_within(data, max_depth) and (nested := depth(data)) > max_depth):
        raise BadJson(f"nested {nested} deep, over the limit of {max_depth}")
    # An object's `{` first: no BOM, and not UTF-16 or -32 (a NUL second), so UTF-8.
    plain = data[:1] == b"{" and data[1:2] != b"\0"
    try:
        # What json.loads(data, parse_float=..., parse_constant=...) does, with one decoder
        # made once (loads makes one per call with these hooks: a quarter of parsing a command).
        return _DECODER.decode(
            data.decode("utf-8" if plain else json.detect_encoding(data), "surrogatepass"))
    except BadJson:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadJson(str(exc)) from None


_JSON_SPACE = rb"[ \t\n\r]*"
_INTEGER = rb"(-?(?:0|[1-9][0-9]{0,17}))"  # JSON's integer syntax, at most 18 digits


def top_level_int(raw: bytes, key: str, max_depth: int = MAX_JSON_DEPTH,
                  max_bytes: int = MAX_PAYLOAD_BYTES) -> int | None:
    """The integer member `key` of a JSON object's top level, read without parsing the rest;
    None when it cannot be read so cheaply (then parse the whole payload with `loads`).

    For a large document of which one number is wanted, such as a shadow's `update/accepted`
    (4.8 KB, of which a VEN needs only the `version` at its end). The payload must be within
    `max_bytes`, open with `{`, end with `}` and have its brackets pair up within `max_depth`
    (strings skipped), as `loads` asks; its last `"key": <integer>` must be followed by brackets
    and strings that close the top level only, with no escapes. Only brackets and quotes are
    checked, before or after the member: a payload that is not JSON elsewhere (`{"version": 1,}`)
    is not noticed.
    """
    data = bytes(raw)
    at = data.rfind(b'"' + key.encode() + b'"')
    # The ends looked at as they are first: stripping copies the whole payload.
    if at < 0 or len(data) > max_bytes or (data[:1] != b"{" and data.lstrip()[:1] != b"{"):
        return None
    member = _member_pattern(key).match(data, at)
    if member is None:
        return None
    # After the member: only strings, scalars and whole containers, then the top level's `}`.
    rest = data[member.end():].translate(_SQUARE, _NOT_STRUCTURE)
    if b"\\" in rest or rest.count(b'"') % 2:
        return None
    closing = b"".join(rest.split(b'"')[::2])
    if not closing.endswith(b"]") or (data[-1:] != b"}" and data.rstrip()[-1:] != b"}"):
        return None
    if not _pairs_within(closing[:-1], max_depth) or not _nests_within(data, max_depth):
        return None
    return int(member.group(1))


_MEMBER_PATTERNS: dict[str, re.Pattern[bytes]] = {}


def _member_pattern(key: str) -> re.Pattern[bytes]:
    pattern = _MEMBER_PATTERNS.get(key)
    if pattern is None:
        pattern = _MEMBER_PATTERNS[key] = re.compile(
            b'"' + re.escape(key.encode()) + b'"' + _JSON_SPACE + b":" + _JSON_SPACE + _INTEGER
            + _JSON_SPACE + b"(?=[,}])")
    return pattern


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters with a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} chars)"


def show(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """repr(value) for an error message, at most about `limit` characters."""
    if isinstance(value, str) and len(value) > limit:
        return clip(repr(value[:limit]), limit + 2) + f"...({len(value)} chars)"
    if isinstance(value, dict | list):  # repr of a deep container recurses without bound
        return f"{type(value).__name__} of {len(value)} items"
    return clip(repr(value), limit)


def short_id(value: str) -> str:
    """An identifier cut to `MAX_ID_CHARS`, for echoing one that was refused as too long."""
    return clip(value, MAX_ID_CHARS)
