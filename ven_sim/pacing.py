"""Did a paced run keep up with its speed? summary.json's `pacing` block and its warning.

At `--speed N` one wall second is N simulated seconds, so a wire that takes 0.5 s to
carry an event command delays the event by 0.5 * N simulated seconds: at 3600 that is
half an hour, and the delivery figures measure the lag rather than the VENs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Simulated seconds a paced run may trail by before its figures are called skewed:
# one physics minute, the grain the VENs act on.
LAG_LIMIT_S = 60.0


def _median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def pacing_summary(
    speed: str | float, kernel_lags_s: Iterable[float], mqtt: dict[str, Any] | None
) -> dict[str, Any]:
    """{"pacing": {...}} for a paced run (empty at speed max); a `warning` when it fell behind."""
    if speed == "max":
        return {}
    factor = float(speed)
    lags = list(kernel_lags_s)
    tick_lag = _median(lags) * factor
    rtt_ms = (mqtt or {}).get("ack_rtt_ms_p50")
    ack_lag = (rtt_ms or 0.0) / 1000.0 * factor
    pacing: dict[str, Any] = {
        "speed": factor,
        "tick_lag_sim_s_p50": round(tick_lag, 1),
        "tick_lag_sim_s_max": round(max(lags, default=0.0) * factor, 1),
        "ack_lag_sim_s_p50": None if rtt_ms is None else round(ack_lag, 1),
        "kept_up": max(tick_lag, ack_lag) <= LAG_LIMIT_S,
    }
    if not pacing["kept_up"]:
        what = "acks" if ack_lag >= tick_lag else "ticks"
        lag = max(tick_lag, ack_lag)
        pacing["warning"] = (
            f"the run could not keep up with --speed {factor:g}: {what} trailed by "
            f"{lag:.0f} simulated s (median), more than {LAG_LIMIT_S:g} s, so events started "
            f"late and the delivery figures are skewed; use a lower --speed "
            f"(e.g. {max(1, int(factor * LAG_LIMIT_S / lag))})"
        )
    return {"pacing": pacing}
