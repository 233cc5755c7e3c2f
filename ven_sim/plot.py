"""report.png: the fleet over the run, then one zoomed panel per event.

Every x axis is the clock: local time in the scenario's `timezone` (daylight saving included,
the zone named on the axis), else UTC. Each event panel shows what the targeted VENs drew,
what they would have drawn without the event (the exact counterfactual), the settlement
baseline, and the request (counterfactual minus the kW asked for). matplotlib is imported only
here, inside the call.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, tzinfo
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


def clock_label(epoch: float, zone: tzinfo | None = None, fmt: str = "%H:%M") -> str:
    """HH:MM (or `fmt`) of `epoch` on the local clock of `zone` (UTC without one)."""
    return datetime.fromtimestamp(round(epoch), zone or UTC).strftime(fmt)


def clock_ticks(lo_epoch: float, hi_epoch: float, zone: tzinfo | None = None,
                every_h: int = 1) -> list[float]:
    """The instants in [lo, hi] where the local clock shows a whole hour divisible by `every_h`.

    Steps in real hours from the first local whole hour, so a daylight-saving change gives
    the clock's real readings (01:00 twice in the autumn, no 02:00 in spring).
    """
    first = datetime.fromtimestamp(lo_epoch, zone or UTC).replace(minute=0, second=0,
                                                                  microsecond=0)
    ticks, epoch = [], first.timestamp()
    while epoch <= hi_epoch:
        if epoch >= lo_epoch and datetime.fromtimestamp(epoch, zone or UTC).hour % every_h == 0:
            ticks.append(epoch)
        epoch += 3600.0
    return ticks


def clock_axis_label(zone: tzinfo | None) -> str:
    return "time (UTC)" if zone is None else f"local time ({zone})"


def _clock_axis(ax: Any, lo_epoch: float, hi_epoch: float, zone: tzinfo | None) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter

    span_h = (hi_epoch - lo_epoch) / 3600.0
    every_h = next((h for h in (1, 2, 3, 6, 12) if span_h / h <= 12), 24)
    fmt = "%b %d" if every_h == 24 else "%H:%M"  # a run of days: one tick a local midnight
    ax.xaxis.set_major_locator(FixedLocator(clock_ticks(lo_epoch, hi_epoch, zone, every_h)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: clock_label(x, zone, fmt)))
    ax.set_xlabel(clock_axis_label(zone))


def write_report(path: Path, summary: dict[str, Any], rows: list[Row], start_epoch: float,
                 zone: tzinfo | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = summary.get("events", [])
    fig, axes = plt.subplots(
        1 + len(events), 1, figsize=(10, 4.0 + 3.2 * len(events)), dpi=100, squeeze=False
    )
    ax = axes[0][0]
    series = fleet_series(rows)
    counterfactual = _counterfactual_series(rows, None)
    instants = [start_epoch + t1 for _, t1, _ in series]
    ax.plot(instants, [kw for _, _, kw in series], label="fleet power", color="tab:blue", lw=1.4)
    ax.plot(instants, [counterfactual[t1] for _, t1, _ in series], color="tab:green", lw=1.0,
            ls="--", label="without the latest event (exact)")
    for event in events:
        ax.axvspan(start_epoch + event["start_s"], start_epoch + event["end_s"],
                   color="tab:orange", alpha=0.2)
    if instants:
        _clock_axis(ax, instants[0], instants[-1], zone)
    ax.set_ylabel("kW")
    ax.set_title(f"{summary['scenario']}: {summary['vens']} VENs (seed {summary['seed']})")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    for event, (panel,) in zip(events, axes[1:], strict=True):
        _event_panel(panel, event, rows, start_epoch)
        lo, hi = panel.get_xlim()
        _clock_axis(panel, lo, hi, zone)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _event_panel(ax: Any, event: dict[str, Any], rows: list[Row], offset: float) -> None:
    """The event zoomed; x is epoch seconds (`offset` is the scenario's start epoch)."""
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
