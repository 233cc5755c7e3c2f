"""Telemetry: a part of `sim.contract` (exported from there), kept apart to keep that module
short. See `sim.contract` for the rules every field follows."""

from __future__ import annotations

import functools
import json
import math
import re
from json.encoder import encode_basestring as _string  # a str as the encoder writes it
from typing import Any

from sim._contract_encode import _kw, checked_size, compact, encode, kw_text
from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE
from sim.models.house import panel_facts
from sim.records import Telemetry

SCHEMA_VERSION = "1.0"

# -- telemetry --------------------------------------------------------------------------
# Circuit model `type`s (sim/models/*.py), found by keyword in a load's name.
_TYPES_BY_KEYWORD: tuple[tuple[str, str], ...] = (
    ("water heater", "Water Heater"),
    ("hvac", "HVAC"),
    ("heat pump", "HVAC"),
    ("air condition", "HVAC"),
    ("ev charger", "EV Charger"),
    ("ev", "EV Charger"),
    ("dryer", "Dryer"),
    ("range", "Electric Range"),
    ("oven", "Electric Range"),
    ("stove", "Electric Range"),
    ("light", "Lighting Circuits"),
    ("outlet", "General Outlets"),
    ("plug", "General Outlets"),
    ("refrigerator", "Refrigerator"),
    ("fridge", "Refrigerator"),
    ("freezer", "Refrigerator"),
    ("solar", "Solar PV"),
    ("pv", "Solar PV"),
    ("battery", "Battery"),
)
GENERIC_TYPE = "Generic"


@functools.lru_cache(maxsize=1024)  # a handful of names, asked for in every report
def load_type(name: str) -> str:
    """The circuit type a load name suggests, e.g. "Upstairs HVAC" -> "HVAC"."""
    text = " " + re.sub(r"[^a-z0-9]+", " ", str(name).lower()).strip() + " "
    for keyword, kind in _TYPES_BY_KEYWORD:
        # Whole words at the start, so "ev" is not "elevator" and "light" is "lights".
        if (len(keyword) > 2 and f" {keyword}" in text) or f" {keyword} " in text:
            return kind
    return GENERIC_TYPE


# Facts of a panel size, and a breaker's capacity: the same few values in every report.
_panel_facts = functools.lru_cache(maxsize=16)(panel_facts)


@functools.lru_cache(maxsize=64)
def _capacity_kw(breaker_amps: int) -> float:
    return _kw(breaker_amps * KW_PER_BREAKER_AMP)


def _load_row(row: dict[str, Any]) -> dict[str, Any]:
    # Rounded inline, not through _kw: a row per circuit per report.
    kind = row.get("type")
    return {
        "id": str(row["id"]),
        "name": str(row["name"]),
        "type": str(kind) if kind is not None else load_type(row["name"]),
        "capacityKw": _capacity_kw(row["breaker_amps"]),
        "currentPowerKw": round(float(row["power_kw"]), 3),
        "shedCapabilityKw": round(float(row["shed_capability_kw"]), 3),
        "enabled": bool(row["enabled"]),
        "priority": int(row["priority"]),
    }


def telemetry_facts(t: Telemetry) -> dict[str, Any]:
    """The telemetry object without its `loads` and the legacy fields that follow them."""
    panel = _panel_facts(int(t.panel_amps))
    rating = int(panel["panelAmperageRating"])
    amps = max(0.0, float(t.used_kw)) * 1000.0 / PANEL_VOLTAGE
    soc = None if t.battery_soc is None else min(1.0, max(0.0, float(t.battery_soc)))
    return {
        "schemaVersion": SCHEMA_VERSION,
        "venId": str(t.ven_id),
        "timestamp": int(round(t.epoch)),
        "usedPowerKw": _kw(t.used_kw),
        "shedPowerKw": _kw(t.shed_kw),
        "requestedReductionKw": _kw(t.requested_kw),
        "baselinePowerKw": _kw(t.baseline_kw),
        "eventId": None if t.event_id is None else str(t.event_id),
        "batterySoc": soc,
        "panelAmperageRating": rating,
        "panelVoltage": int(panel["panelVoltage"]),
        "panelMaxKw": float(panel["panelMaxKw"]),
        "currentAmps": round(amps, 2),
        "panelUtilizationPercent": round(amps / rating * 100.0, 2),
    }


def telemetry_payload(t: Telemetry) -> dict[str, Any]:
    """The telemetry object published on `volttron/metering` and `ven/telemetry/{venId}`."""
    document = telemetry_facts(t)
    document["loads"] = [_load_row(row) for row in t.loads]
    document["power_kw"] = document["usedPowerKw"]  # legacy
    document["shed_kw"] = document["shedPowerKw"]  # legacy
    return document


# -- telemetry in wire form ---------------------------------------------------------------
# A load row's text around its two readings, by its facts: a fleet's circuits share a few
# dozen sets of facts, and a row's facts change only when the backend sets them.
_ROW_READINGS = ',"shedCapabilityKw":'


# typed: a key of True and one of 1 are apart (their rows say "True" and "1").
@functools.lru_cache(maxsize=4096, typed=True)
def _row_text(cid: Any, name: Any, kind: Any, breaker_amps: Any, enabled: Any,
              priority: Any) -> tuple[str, str]:
    """(the row's text up to its currentPowerKw value, the text after shedCapabilityKw's),
    as `_load_row` makes them."""
    facts = compact({"id": str(cid), "name": str(name),
                     "type": str(kind) if kind is not None else load_type(name),
                     "capacityKw": _capacity_kw(breaker_amps)})
    rest = compact({"enabled": bool(enabled), "priority": int(priority)})
    return facts[:-1] + ',"currentPowerKw":', "," + rest[1:]


def loads_json(loads: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> str | None:
    """The telemetry's `loads` array as `encode` writes it (the same text), from each row's
    facts encoded once and its two readings; None if a reading is not a finite number (the
    encoder then says why)."""
    parts = []
    append, row_text, kw, readings = parts.append, _row_text, kw_text, _ROW_READINGS
    total = 0.0
    for row in loads:
        before, after = row_text(row["id"], row["name"], row.get("type"), row["breaker_amps"],
                                 row["enabled"], row["priority"])
        power, shed = float(row["power_kw"]), float(row["shed_capability_kw"])
        total += power + shed
        # A zero (about half of all readings: idle circuits, nothing to shed) is its repr, as
        # kw_text writes it, without the call.
        append(f"{before}{kw(power) if power else repr(power)}{readings}"
               f"{kw(shed) if shed else repr(shed)}{after}")
    # One check for all: the sum is finite only if every reading is. A sum that overflowed
    # (readings near the largest double) is no proof, so those are looked at one by one.
    if not math.isfinite(total) and not all(
            math.isfinite(float(row[key])) for row in loads
            for key in ("power_kw", "shed_capability_kw")):
        return None
    return f"[{','.join(parts)}]"


def loads_rows(text: bytes) -> list[dict[str, Any]]:
    """The rows of a `loads` text as a telemetry published it (`telemetry_loads`): the rows
    `telemetry_payload` gives, read back where a VEN keeps only the text."""
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


@functools.lru_cache(maxsize=16)
def _panel_text(panel_amps: int) -> tuple[int, str] | None:
    """(the rating, the panel's members' text from panelAmperageRating to currentAmps' key) of
    a panel size, as `telemetry_facts` makes them; None if its kW is not a finite number."""
    panel = _panel_facts(panel_amps)
    rating, max_kw = int(panel["panelAmperageRating"]), float(panel["panelMaxKw"])
    if not math.isfinite(max_kw):
        return None
    return rating, (f',"panelAmperageRating":{rating!r},"panelVoltage":'
                    f'{int(panel["panelVoltage"])!r},"panelMaxKw":{max_kw!r},"currentAmps":')


def telemetry_json(t: Telemetry, timestamp: int | None = None) -> bytes:
    """`encode(telemetry_payload(t))`, the same bytes, with each load row's facts encoded once;
    `timestamp` in place of the telemetry's own (a VEN whose clock is off). The values are
    made as `telemetry_facts` makes them, in its order, and written straight into the text
    (one per VEN per interval: no document to build and read back)."""
    ts = int(round(t.epoch))  # made (and refused) even when replaced, as telemetry_facts does
    if timestamp is not None:
        ts = timestamp
    panel = _panel_text(int(t.panel_amps))
    used, shed = float(t.used_kw), float(t.shed_kw)
    requested, baseline = float(t.requested_kw), float(t.baseline_kw)
    event, soc = t.event_id, t.battery_soc
    soc = None if soc is None else min(1.0, max(0.0, float(soc)))
    loads = loads_json(t.loads)
    if panel is not None:
        rating, panel_members = panel
        amps = max(0.0, used) * 1000.0 / PANEL_VOLTAGE
        percent = round(amps / rating * 100.0, 2)
        amps = round(amps, 2)
    # Only the timestamp may come from the caller (a VEN with a wrong clock); any other type,
    # or a number that is not finite, is written (or refused) the long way, by the encoder.
    if (loads is None or panel is None or type(ts) is not int
            or not math.isfinite(used + shed + requested + baseline + amps + percent
                                 + (soc or 0.0))):
        document = telemetry_payload(t)
        document["timestamp"] = ts
        return encode(document)  # raises, as a payload with a NaN does
    # A kW value as the contract rounds it and the encoder writes it (kw_text: one conversion,
    # not round() and repr()), used and shed once for both of their members; the rest by
    # repr: the encoder writes a float as float.__repr__ does, and an int as int.__repr__.
    used_text, shed_text = kw_text(used), kw_text(shed)
    text = (f'{{"schemaVersion":"{SCHEMA_VERSION}","venId":{_string(str(t.ven_id))},'
            f'"timestamp":{ts!r},"usedPowerKw":{used_text},"shedPowerKw":{shed_text},'
            f'"requestedReductionKw":{kw_text(requested)},'
            f'"baselinePowerKw":{kw_text(baseline)},'
            f'"eventId":{"null" if event is None else _string(str(event))},'
            f'"batterySoc":{"null" if soc is None else repr(soc)}{panel_members}{amps!r},'
            f'"panelUtilizationPercent":{percent!r},"loads":{loads},"power_kw":{used_text},'
            f'"shed_kw":{shed_text}}}')
    return checked_size(text.encode("utf-8"))


def shadow_report_json(reported: dict[str, Any], loads: tuple[dict[str, Any], ...] | None,
                       after: dict[str, Any], *, client_token: str,
                       desired: dict[str, Any] | None = None, version: int | None = None,
                       loads_text: bytes | None = None) -> bytes:
    """A shadow `update` reporting `{**reported, "loads": ..., **after}` (members apart: none
    is `loads`, none both before and after it): the same bytes as
    `encode` writes for `{"state": {"reported": ..., "desired": desired}, "clientToken":
    client_token, "version": version}` (desired and version only when given), with `loads`
    (telemetry load rows, the telemetry's `loads` array; None for none) from `loads_json`, or
    `loads_text` in their place: that array's text as a telemetry published it."""
    if loads_text is not None:
        rows: str | None = loads_text.decode("utf-8")
    else:
        rows = loads_json(loads) if loads else "[]"
    if rows is None or not reported or not after:  # refused as encode refuses it; or no text
        listed = (loads_rows(loads_text) if loads_text is not None
                  else [_load_row(row) for row in loads or ()])
        state = {"reported": {**reported, "loads": listed,
                              **after}}  # around the loads to splice them into
        return encode({"state": state | ({"desired": desired} if desired else {}),
                       "clientToken": client_token}
                      | ({"version": version} if version is not None else {}))
    parts = ['{"state":{"reported":', compact(reported)[:-1], ',"loads":', rows, ",",
             compact(after)[1:]]
    if desired:
        parts += [',"desired":', compact(desired)]
    parts += ['},"clientToken":', compact(client_token)]
    if version is not None:
        parts += [',"version":', compact(version)]
    parts.append("}")
    return checked_size("".join(parts).encode("utf-8"))
