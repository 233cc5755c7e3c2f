"""Did a paced run keep up with its speed? summary.json's `pacing` block and its warning.

At `--speed N` one wall second is N simulated seconds, so a wire that takes 0.25 s to
carry an event command (half a 0.5 s round trip) delays it by 0.25 * N simulated seconds:
at 3600 that is a quarter of an hour. A VEN starts an event at its latest tick, so a delay
within one report interval changes nothing; beyond it the event starts intervals late and
the delivery figures measure the lag rather than the VENs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def pacing_summary(
    speed: str | float,
    kernel_lags_s: Iterable[float],
    mqtt: dict[str, Any] | None,
    report_interval_s: float,
) -> dict[str, Any]:
    """{"pacing": {...}} for a paced run (empty at speed max); a `warning` when it trailed by
    more than `report_interval_s`, the grain on which VENs act on commands."""
    if speed == "max":
        return {}
    factor = float(speed)
    lags = list(kernel_lags_s)
    tick_lag = _median(lags) * factor
    rtt_ms = (mqtt or {}).get("ack_rtt_ms_p50")
    ack_lag = (rtt_ms or 0.0) / 2000.0 * factor  # one way: the command's trip to the VEN
    pacing: dict[str, Any] = {
        "speed": factor,
        "tick_lag_sim_s_p50": round(tick_lag, 1),
        "tick_lag_sim_s_max": round(max(lags, default=0.0) * factor, 1),
        "ack_lag_sim_s_p50": None if rtt_ms is None else round(ack_lag, 1),
        "lag_limit_sim_s": report_interval_s,
        "kept_up": max(tick_lag, ack_lag) <= report_interval_s,
    }
    if not pacing["kept_up"]:
        what = "acks" if ack_lag >= tick_lag else "ticks"
        lag = max(tick_lag, ack_lag)
        pacing["warning"] = (
            f"the run could not keep up with --speed {factor:g}: {what} trailed by "
            f"{lag:.0f} simulated s (median), more than a report interval "
            f"({report_interval_s:g} s), so events started late and the delivery figures are "
            f"skewed; use a lower --speed (e.g. {max(1, int(factor * report_interval_s / lag))})"
        )
    return {"pacing": pacing}
