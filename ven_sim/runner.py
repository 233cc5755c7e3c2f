"""Running a scenario: build the fleet of VEN actors, drive time and events, measure.

`run_scenario` is the library call behind `ven-sim run`; the CLI only adds
the progress bar, the table and the files.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from actors.messages import Tick
from actors.recorder import RecorderActor
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.fleetlog import FleetLog
from sim.models.house import build_circuits
from sim.mv import EventWindow, Settlement, evaluate_event, fleet_totals
from sim.occupants import Occupants, opt_out_summary
from sim.scenario import FleetGroup, Scenario, sample_params, ven_ids
from sim.world import World, iso_time
from ven_sim.faults import FaultPlayer
from ven_sim.kernel import Kernel
from ven_sim.mqtt_vtn import MqttVtn
from ven_sim.pacing import pacing_summary
from ven_sim.signals import StopSignals
from ven_sim.transports.base import BaseTransport as Transport
from ven_sim.vtn import Vtn
from ven_sim.wire import Wire

DAY_S = 86400.0
BATCH_INTERVALS = 12  # report intervals one quiet tick may cover at speed max
ACK_GRACE_S = 10.0  # how long a run waits at its end for event acks still in flight
LINK_GRACE_S = 30.0  # ... and, faults on a real broker, for VENs still reconnecting


@dataclass
class RunResult:
    scenario: Scenario
    summary: dict[str, Any]
    log: FleetLog
    vens: list[Ven] = field(default_factory=list)
    windows: list[EventWindow] = field(default_factory=list)


def build_fleet(
    scenario: Scenario,
    world: World,
    dispatcher: Dispatcher,
    recorder: Any,
    *,
    transport: Transport | None = None,
    clock: Callable[[], float] | None = None,
    loads: bool = False,
) -> list[Ven]:
    """One Ven per scenario entry, each with its own seeded parameters.

    With a transport every VEN also gets its gateway and shadow syncer on the wire.
    """
    vens = []
    for ven_id, group in ven_ids(scenario):
        ven = build_ven(scenario, ven_id, group, world, dispatcher, transport, clock)
        ven.subscribe(recorder, loads=loads, batches=True)
        vens.append(ven)
    return vens


def build_ven(
    scenario: Scenario, ven_id: str, group: FleetGroup, world: World, dispatcher: Dispatcher,
    transport: Transport | None, clock: Callable[[], float] | None, t0: float = 0.0,
) -> Ven:
    """The VEN `ven_id` as the scenario makes it: the same seeded parameters every time."""
    rng = random.Random(f"{scenario.seed}:{ven_id}")
    params = sample_params(group.params, rng)
    return Ven(
        ven_id,
        build_circuits(group.template, params, rng),
        world,
        dispatcher,
        panel_amps=int(params.get("panel_amps", 200)),
        physics_step_s=scenario.physics_step_s,
        restore_window=scenario.mv.restore_window,
        seed=scenario.seed,
        group=group.name,
        t0=t0,
        transport=transport,
        clock=clock,
        occupants=_occupants(scenario, ven_id),
    )


def _occupants(scenario: Scenario, ven_id: str) -> Occupants | None:
    spec = scenario.opt_out
    return None if spec is None else Occupants(spec, scenario.seed, ven_id)


def tick_times(scenario: Scenario) -> list[tuple[float, bool]]:
    """Report-interval ticks plus event boundaries, as (t, is_report)."""
    interval = scenario.report_interval_s
    times: dict[float, bool] = {}
    n = int(scenario.duration_s // interval)
    for i in range(1, n + 1):
        times[round(i * interval, 6)] = True
    for event in scenario.events:
        for t in (event.start_s, event.start_s + event.duration_s):
            if 0 < t <= scenario.duration_s:
                times.setdefault(round(t, 6), False)
    return sorted(times.items())


def tick_plan(scenario: Scenario, batch: int = 1) -> list[Tick]:
    """The clock's ticks; with `batch` > 1, up to that many report intervals per tick.

    A batch never crosses an event boundary, so events still start and end on a tick
    (and VENs with something under way take a batch one interval at a time anyway).
    """
    boundaries = {
        round(t, 6) for e in scenario.events for t in (e.start_s, e.start_s + e.duration_s)
    }
    ticks: list[Tick] = []
    earlier: list[float] = []
    for t, report in tick_times(scenario):
        if report and t not in boundaries and len(earlier) + 1 < batch:
            earlier.append(t)
            continue
        if earlier and report:
            ticks.append(Tick(t, True, tuple(earlier)))
        else:
            ticks.extend(Tick(x) for x in earlier)
            ticks.append(Tick(t, report))
        earlier = []
    ticks.extend(Tick(x) for x in earlier)
    return ticks


def _clock(kernel: Kernel, vens: list[Ven], ticks: list[Tick]):
    env = kernel.env
    for tick in ticks:
        yield env.timeout(tick.t - env.now)
        for ven in vens:
            ven.tell(tick)


def run_scenario(
    scenario: Scenario,
    *,
    progress: Callable[[float], None] | None = None,
    wire: Wire | None = None,
    circuits: bool = False,
    stop: StopSignals | None = None,
) -> RunResult:
    """Run `scenario` to its end and return its summary and telemetry.

    With a `wire`, VENs speak MQTT through it and the VTN sends events as backend
    commands; a networked wire needs a numeric speed so the network can keep up. With
    `circuits` the log also keeps a row per circuit per interval (`FleetLog.circuit_rows`).
    A signal caught by `stop` ends the run early: what was simulated so far is
    measured, and the summary says when in `interrupted_at`.
    """
    if wire is not None and wire.networked and scenario.speed == "max":
        raise ValueError("a network broker needs a paced run: give --speed (e.g. 600), not max")
    with _collector_paused(scenario.speed == "max"):
        return _run(scenario, progress, wire, circuits, stop)


@contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """No cyclic garbage collection while a run at speed max computes.

    Such a run ends on its own, and what it allocates (actors, models, readings, the log)
    lives until its end: a 500-VEN day makes about 500 cyclic garbage objects, but the
    collector spent about 10 % of the run's CPU tracing the live ones to find them. Reference
    counting still frees everything else at once; the next collection after the run takes
    the few cycles. A paced run (a live VEN, a wire) may run for days: it keeps collecting.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _run(
    scenario: Scenario,
    progress: Callable[[float], None] | None,
    wire: Wire | None,
    circuits: bool,
    stop: StopSignals | None,
) -> RunResult:
    asked, scenario, warmup_s = scenario, *_with_warmup(scenario)
    wall_start = time.monotonic()
    dispatcher = Dispatcher("scenario", depth_first=True)
    kernel = Kernel(scenario.speed, dispatcher)
    if stop is not None:
        stop.call_on_signal(kernel.stop)
    # Before any actor starts: a scenario with faults needs a broker the run controls.
    faults = FaultPlayer(kernel, scenario, wire)
    world = World(scenario.start, scenario.weather)
    log = FleetLog()
    recorder = RecorderActor.start(log, dispatcher=dispatcher)
    transport = faults.transport  # the wire's, or through the fault proxy to a real broker
    vens = build_fleet(
        scenario,
        world,
        dispatcher,
        recorder,
        transport=transport,
        clock=lambda: world.epoch(kernel.now),
        loads=circuits,
    )

    def rebuild(ven_id: str, group: FleetGroup) -> Ven:  # a crashed VEN, restarted fresh
        ven = build_ven(scenario, ven_id, group, world, dispatcher, transport,
                        lambda: world.epoch(kernel.now), t0=kernel.now)
        ven.subscribe(recorder, loads=circuits, batches=True)
        return ven

    faults.attach(vens, rebuild)
    if transport is not None:
        vtn: Vtn = MqttVtn(kernel, vens, log, transport, seed=scenario.seed)
    else:
        vtn = Vtn(kernel, vens, log)
    # Batching quiet intervals needs a run nothing else talks into: speed max, no wire.
    batch = BATCH_INTERVALS if scenario.speed == "max" and transport is None else 1
    kernel.env.process(_clock(kernel, vens, tick_plan(scenario, batch)))
    vtn.holdout = control_group(scenario, [ven.ven_id for ven in vens])
    windows = [vtn.schedule(event) for event in scenario.events]
    try:
        kernel.run(scenario.duration_s, progress)
        if stop is None or not stop.requested:
            _await_acks(vtn, dispatcher, ACK_GRACE_S)
            faults.await_links(LINK_GRACE_S)
    finally:
        vtn.close()
        for ven in reversed(vens):
            ven.stop()
        recorder.stop(block=False)
        dispatcher.run_until_idle()
        for ven in vens:
            ven.close()
        faults.finish(log, count=stop is None or not stop.requested)
    rows = log.sorted_rows()
    settlement = Settlement(
        asked.mv.settlement,
        scenario.baseline_window_s,
        scenario.start.timestamp(),
        0.0,
        frozenset(asked.mv.holidays),
        asked.mv.caiso_cap,
    )
    events = [
        _event_summary(w, rows, scenario, windows, settlement, warmup_s, log.opt_outs,
                       faults.gaps)
        for w in windows
    ]
    if warmup_s:  # simulated for the prior-day baselines' history, left out of the outputs
        log = _trimmed(log, warmup_s)
        rows = log.sorted_rows()
    summary = {
        "scenario": asked.name,
        "seed": asked.seed,
        "vens": len(vens),
        "start": iso_time(asked.start.timestamp(), asked.zone),
        "simulated_seconds": asked.duration_s,
        "wall_seconds": round(time.monotonic() - wall_start, 3),
        "speed": asked.speed,
        "report_interval_seconds": asked.report_interval_s,
        "fleet": fleet_totals(rows),
        "events": events,
    }
    if asked.zone is not None:
        summary["timezone"] = str(asked.zone)  # the offset of every time in the outputs
    if warmup_s:
        summary["warmup_days"] = asked.mv.warmup_days
    summary.update(vtn.summary())
    summary.update(pacing_summary(
        scenario.speed, kernel.lags_s, summary.get("mqtt"), scenario.report_interval_s
    ))
    summary.update(dispatcher.supervisor.summary())  # actor_restarts, failed_vens
    summary.update(faults.summary(warmup_s))
    if stop is not None and stop.requested:
        summary["interrupted_at"] = iso_time(scenario.start.timestamp() + kernel.now,
                                             scenario.zone)
        for event in summary["events"]:
            if event["end_s"] > kernel.now - warmup_s:
                event["interrupted"] = True  # its figures cover only what was simulated
    return RunResult(scenario=asked, summary=summary, log=log, vens=vens, windows=windows)


def _await_acks(vtn: Vtn, dispatcher: Dispatcher, grace_s: float) -> None:
    """Let acks still crossing the network arrive (the VENs keep running meanwhile)."""
    deadline = time.monotonic() + grace_s
    while vtn.awaiting_acks() and time.monotonic() < deadline:
        dispatcher.wait(0.05)
        dispatcher.run_until_idle()


def control_group(scenario: Scenario, ven_ids: list[str]) -> frozenset[str]:
    """The VENs held out of every event: each with chance `mv.control_share`, by its own stream.

    Drawn per VEN id, so a VEN is in or out whatever the fleet size, and events never move it.
    """
    share = scenario.mv.control_share
    if share <= 0:
        return frozenset()
    return frozenset(
        v for v in ven_ids if random.Random(f"{scenario.seed}:{v}:control").random() < share
    )


def _with_warmup(scenario: Scenario) -> tuple[Scenario, float]:
    """The scenario to simulate: `mv.warmup_days` earlier, events and faults at the same
    instants."""
    warmup_s = scenario.mv.warmup_days * DAY_S
    if not warmup_s:
        return scenario, 0.0
    events = tuple(dataclasses.replace(e, start_s=e.start_s + warmup_s) for e in scenario.events)
    faults = tuple(dataclasses.replace(f, start_s=f.start_s + warmup_s) for f in scenario.faults)
    return dataclasses.replace(
        scenario,
        start=scenario.start - timedelta(seconds=warmup_s),
        duration_s=scenario.duration_s + warmup_s,
        events=events,
        faults=faults,
    ), warmup_s


def _trimmed(log: FleetLog, warmup_s: float) -> FleetLog:
    """The log without the warm-up, on the scenario's own clock."""
    out = FleetLog()
    out.rows = [
        r._replace(t0=r.t0 - warmup_s, t1=r.t1 - warmup_s)
        for r in log.rows
        if r.t0 >= warmup_s - 1e-9
    ]
    return out


def _event_summary(
    window: EventWindow,
    rows: list,
    scenario: Scenario,
    windows: list[EventWindow],
    settlement: Settlement,
    warmup_s: float,
    opt_outs: list[tuple[str, str, float]],
    gaps: list[tuple[str, float, float]],
) -> dict[str, Any]:
    result = evaluate_event(window, rows, settlement, windows, gaps)
    epoch = scenario.start.timestamp()
    result["start"] = iso_time(epoch + window.start, scenario.zone)
    result["end"] = iso_time(epoch + window.end, scenario.zone)
    result["start_s"] = window.start - warmup_s
    result["end_s"] = window.end - warmup_s
    if scenario.opt_out is not None:
        result["opt_outs"] = opt_out_summary(opt_outs, window.id, len(window.vens))
    return result
