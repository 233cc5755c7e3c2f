"""report.png: the fleet over the run, then one zoomed panel per event.

Each event panel shows, on the clock of day (UTC, as the scenario's times), what the targeted
VENs drew, what they would have drawn without the event (the exact counterfactual), the
settlement baseline, and the request (counterfactual minus the kW asked for). matplotlib is
imported only here, inside the call.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sim.fleetlog import Row
from sim.mv import fleet_series

ZOOM_S = 2 * 3600.0  # shown before and after each event


def _counterfactual_series(rows: list[Row], vens: set[str] | None) -> dict[float, float]:
    """Per t1, the fleet's counterfactual: a VEN's twin where it has one, else what it drew."""
    sums: dict[float, float] = defaultdict(float)
    for r in rows:
        if vens is None or r.ven_id in vens:
            sums[r.t1] += r.power_kw if r.counterfactual_kw is None else r.counterfactual_kw
    return sums


def _clock(seconds: float, _pos: object = None) -> str:
    minutes = int(round(seconds / 60.0)) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def write_report(path: Path, summary: dict[str, Any], rows: list[Row], start_epoch: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    events = summary.get("events", [])
    fig, axes = plt.subplots(
        1 + len(events), 1, figsize=(10, 4.0 + 3.2 * len(events)), dpi=100, squeeze=False
    )
    ax = axes[0][0]
    series = fleet_series(rows)
    counterfactual = _counterfactual_series(rows, None)
    hours = [t1 / 3600.0 for _, t1, _ in series]
    ax.plot(hours, [kw for _, _, kw in series], label="fleet power", color="tab:blue", lw=1.4)
    ax.plot(hours, [counterfactual[t1] for _, t1, _ in series], color="tab:green", lw=1.0,
            ls="--", label="without the latest event (exact)")
    for event in events:
        ax.axvspan(event["start_s"] / 3600.0, event["end_s"] / 3600.0, color="tab:orange",
                   alpha=0.2)
    ax.set_xlabel("hours since scenario start")
    ax.set_ylabel("kW")
    ax.set_title(f"{summary['scenario']}: {summary['vens']} VENs (seed {summary['seed']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    # Clock of day: the scenario's start may be any instant.
    offset = start_epoch % 86400.0
    for event, (panel,) in zip(events, axes[1:], strict=True):
        _event_panel(panel, event, rows, offset)
        panel.xaxis.set_major_locator(MultipleLocator(3600.0))  # whole hours of the clock
        panel.xaxis.set_major_formatter(FuncFormatter(_clock))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _event_panel(ax: Any, event: dict[str, Any], rows: list[Row], offset: float) -> None:
    lo, hi = event["start_s"] - ZOOM_S, event["end_s"] + ZOOM_S
    window = [r for r in rows if lo <= r.t1 <= hi]
    vens = {r.ven_id for r in window if r.event_id == event["id"]} or None
    actual = fleet_series(window, vens)
    counterfactual = _counterfactual_series(window, vens)
    x = [t1 + offset for _, t1, _ in actual]
    ax.plot(x, [kw for _, _, kw in actual], label="actual", color="tab:blue", lw=1.4)
    start, end = event["start_s"] + offset, event["end_s"] + offset
    # From the event's start: before it the twins, if any, are an earlier event's.
    after = [(t1 + offset, counterfactual[t1]) for _, t1, _ in actual if t1 > event["start_s"]]
    ax.plot([t for t, _ in after], [kw for _, kw in after], label="counterfactual (exact)",
            color="tab:green", lw=1.2, ls="--")
    inside = [(t, kw) for t, kw in after if t <= end]
    ax.plot([t for t, _ in inside], [kw - event["requested_kw"] for _, kw in inside],
            label=f"request ({event['requested_kw']:g} kW below it)", color="tab:red", lw=1.0,
            ls=":")
    if event.get("baseline_kw") is not None:
        ax.hlines(event["baseline_kw"], start, end, color="tab:gray", lw=1.4,
                  label=f"baseline: {event['settlement']}")
    ax.axvspan(start, end, color="tab:orange", alpha=0.15)
    settled = event.get("delivery_ratio")
    ax.set_title(
        f"{event['id']}: asked {event['requested_kw']:g} kW, truly delivered "
        f"{event['true_delivered_kw']:.1f} kW ({event['true_delivery_ratio']:.0%}); settled "
        + ("-" if settled is None else f"{event['delivered_kw']:.1f} kW ({settled:.0%})"),
        fontsize=9,
    )
    ax.set_ylabel("kW")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)
