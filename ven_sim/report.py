"""Terminal output of `ven-sim run`: a progress bar and the summary table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def progress_bar(total_s: float, *, enabled: bool) -> Iterator[Callable[[float], None]]:
    """Yield a callback taking the simulated time reached; draws a tqdm bar if enabled."""
    if not enabled:
        yield lambda _t: None
        return
    from tqdm import tqdm

    with tqdm(total=round(total_s / 3600.0, 2), unit="sim h", leave=False) as bar:

        def advance(t: float) -> None:
            bar.n = round(min(t, total_s) / 3600.0, 2)
            bar.refresh()

        yield advance


@contextmanager
def progress_lines(
    total_s: float,
    echo: Callable[[str], None],
    *,
    every_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Callable[[float], None]]:
    """Like `progress_bar` for a log file: a line every `every_s` wall seconds and at the end."""
    start = last = clock()

    def advance(t: float) -> None:
        nonlocal last
        now = clock()
        done = t >= total_s
        if now - last < every_s and not done:
            return
        last = now
        share = min(t, total_s) / total_s if total_s > 0 else 1.0
        echo(
            f"progress: {min(t, total_s) / 3600:.1f} of {total_s / 3600:g} simulated h "
            f"({share:.0%}) after {now - start:.0f} s"
        )

    yield advance


def summary_table(summary: dict[str, Any]) -> str:
    """A plain-text table of the run and its events, for people."""
    fleet = summary["fleet"]
    lines = [
        f"scenario {summary['scenario']}  seed {summary['seed']}  VENs {summary['vens']}  "
        f"simulated {summary['simulated_seconds'] / 3600:g} h in {summary['wall_seconds']:.1f} s",
        f"fleet peak {fleet['peak_kw']:.1f} kW, energy {fleet['energy_kwh']:.1f} kWh",
    ]
    # Settled (the M&V baseline) beside true (the exact counterfactual, sim.counterfactual);
    # rebound and warm minutes (past setpoint + 1 C) are net of the counterfactual too.
    header = (
        f"{'event':<16}{'start':>22}{'VENs':>6}{'asked kW':>10}{'base kW':>9}{'got kW':>8}"
        f"{'ratio':>7}{'true cf kW':>11}{'true kW':>8}{'ratio':>7}{'VEN est':>8}"
        f"{'rebound':>9}{'+warm min':>10}"
    )
    if summary["events"]:
        lines += ["", f"{'':<54}{' settled ':-^24}{' true ':-^34}", header, "-" * len(header)]
    for e in summary["events"]:
        lines.append(
            f"{e['id']:<16}{e['start']:>22}{e['vens']:>6}{e['requested_kw']:>10.1f}"
            f"{_kw(e['baseline_kw']):>9}{_kw(e['delivered_kw']):>8}{_ratio(e['delivery_ratio']):>7}"
            f"{e['counterfactual_kw']:>11.1f}{e['true_delivered_kw']:>8.1f}"
            f"{_ratio(e['true_delivery_ratio']):>7}{e['ven_estimated_shed_kw']:>8.1f}"
            f"{e['rebound_peak_kw']:>9.1f}{e['net_warm_minutes']:>10.0f}"
        )
    mqtt = summary.get("mqtt")
    if mqtt:
        lines.append(
            f"mqtt: published {mqtt['published']}, acks {mqtt['acks']}, "
            f"ack rtt p50 {mqtt['ack_rtt_ms_p50']} ms p99 {mqtt['ack_rtt_ms_p99']} ms, "
            f"errors {mqtt['errors']}"
        )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _kw(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
