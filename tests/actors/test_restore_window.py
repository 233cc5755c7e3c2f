"""Restores spread over a window: each VEN draws its span, each circuit its own delay in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from actors.messages import StartEvent, Telemetry, Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.world import World
from tests.actors.fakes import ConstantWeather, Flat, Sink

WINDOW = (900.0, 1800.0)
STEP = 60.0  # a report per minute: restore ticks to the minute
KW = {"ev": 1.0, "heater": 2.0, "dryer": 4.0}  # powers of two: the draw says who is back


def restore_ticks(ven_ids: list[str], events: list[tuple[str, float, float]],
                  until: float) -> dict[str, dict[str, float]]:
    """Run VENs of three flat circuits through `events` (id, start, duration), each asking all
    7 kW; per VEN, the tick at which each circuit came back after the last event."""
    dispatcher = Dispatcher("restore-window")
    world = World(datetime(2026, 7, 15, tzinfo=UTC), ConstantWeather())
    seen: list[Any] = []
    sink = Sink.start(dispatcher, seen)
    vens = []
    for ven_id in ven_ids:
        circuits = [Flat(f"{name}1", kw, priority=5 + i) for i, (name, kw) in enumerate(KW.items())]
        ven = Ven(ven_id, circuits, world, dispatcher, panel_amps=200, restore_window=WINDOW,
                  seed=3)
        ven.subscribe(sink)
        vens.append(ven)
    pending = sorted(events, key=lambda e: e[1])
    t = 0.0
    while t < until:
        while pending and pending[0][1] <= t:
            event_id, start, duration = pending.pop(0)
            for ven in vens:
                ven.tell(StartEvent.scheduled(event_id, 7.0, start, start + duration))
        t += STEP
        for ven in vens:
            ven.tell(Tick(t))
        dispatcher.run_until_idle()
    last_end = max(start + duration for _, start, duration in events)
    back: dict[str, dict[str, float]] = {v: {} for v in ven_ids}
    for report in (m for m in seen if isinstance(m, Telemetry) and m.t0 >= last_end):
        for name, kw in KW.items():
            if int(round(report.used_kw)) & int(kw):  # drawing again over (t0, t1]
                back[report.ven_id].setdefault(name, report.t0)
    for ven in vens:
        ven.stop()
    sink.stop(block=False)
    dispatcher.run_until_idle()
    return back


def test_each_circuit_comes_back_within_the_window_and_vens_differ() -> None:
    end = 7200.0 + 3600.0
    back = restore_ticks([f"ven-{i}" for i in range(6)], [("peak", 7200.0, 3600.0)], end + 3000.0)
    for ven_id, ticks in back.items():
        assert set(ticks) == set(KW), ven_id  # every held circuit came back
        # On the first tick at or after its delay: within the longest span, to the tick.
        assert all(end <= at <= end + WINDOW[1] + STEP for at in ticks.values()), (ven_id, ticks)
        # Last-resort loads first: the dryer (highest priority number) is never after the EV.
        assert ticks["dryer"] <= ticks["heater"] <= ticks["ev"]
    assert len({tuple(sorted(t.values())) for t in back.values()}) == len(back)  # VENs differ
    # Spread, not in one step: over the fleet the restores cover most of the window.
    every = sorted(at for ticks in back.values() for at in ticks.values())
    assert every[-1] - every[0] >= WINDOW[0]


def test_restore_times_do_not_move_when_another_event_is_removed() -> None:
    second = ("second", 5 * 3600.0, 3600.0)
    until = 6 * 3600.0 + 3000.0
    with_first = restore_ticks(["ven-a", "ven-b"], [("first", 3600.0, 1800.0), second], until)
    without = restore_ticks(["ven-a", "ven-b"], [second], until)
    assert with_first == without
    assert with_first["ven-a"] != with_first["ven-b"]
