"""`ven-sim bench sim`: how many VEN-days of simulation a wall minute buys.

Two phases over the same fleet, each split across `workers` processes:

1. plain loop: every circuit model stepped directly, no actors, no controller, over the
   same step plans per report interval (`Circuit.run_steps`) as the circuit actors walk:
   the ratio then measures the runtime, not a slower way of stepping the same physics;
2. actors: the full runtime as `ven-sim run` uses it (circuit and controller
   actors, kernel, telemetry every report interval, one DR event in the
   afternoon with M&V, the counterfactual twins included).

The two phases run `repeat` times, alternating (plain, actors, plain, actors, ...; with
`--workers` on the same pool), so a hiccup in one short phase cannot set the ratio: the
headline `plain_loop_wall_s` and `actors_wall_s` are each phase's median over the repeats
(the same statistic for both), and the VEN-days per wall minute and `overhead_vs_plain_loop`
(the actors' median wall time over the plain loop's) come from those medians. Every repeat's
own pair is reported under `repeats`. With `--workers`, each worker's own actor-phase wall
time in the repeat whose actor phase is the median (the nearest, for an even count) is
reported too (`actors_worker_wall_s`): the phase lasts as long as its slowest worker.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sim.models.house import build_circuits
from sim.scenario import EventSpec, FleetGroup, Scenario, sample_params, ven_ids
from sim.world import Weather, World

BENCH_START = datetime(2026, 7, 15, tzinfo=UTC)
BENCH_PARAMS = {"panel_amps": {"choice": [150, 200]}, "hvac_setpoint_c": {"min": 22.5, "max": 24.5}}


def bench_scenario(
    vens: int, hours: float, report_interval_s: float, seed: int, part: int
) -> Scenario:
    """A hot day of `house` VENs with one 2 h event at 16:00 when the window allows."""
    duration = hours * 3600.0
    events: tuple[EventSpec, ...] = ()
    if duration >= 18 * 3600:
        events = (EventSpec("bench-peak", 16 * 3600.0, 7200.0, None, 1.5, "all"),)
    return Scenario(
        name="bench",
        seed=seed,
        start=BENCH_START,
        duration_s=duration,
        speed="max",
        report_interval_s=report_interval_s,
        physics_step_s=60.0,
        baseline_window_s=7200.0,
        weather=Weather(min_c=22.0, max_c=36.0, peak_hour=15.0, cloud_cover=0.1),
        fleet=(FleetGroup("homes", "house", vens, BENCH_PARAMS, f"bench{part}"),),
        events=events,
        source="<bench>",
    )


def _plain_loop(args: tuple[int, float, float, int, int]) -> float:
    vens, hours, report_interval_s, seed, part = args
    scenario = bench_scenario(vens, hours, report_interval_s, seed, part)
    world = World(scenario.start, scenario.weather)
    fleet = []
    for ven_id, group in ven_ids(scenario):
        rng = random.Random(f"{seed}:{ven_id}")
        fleet.append(build_circuits(group.template, sample_params(group.params, rng), rng))
    start = time.perf_counter()
    step = scenario.physics_step_s
    interval = scenario.report_interval_s
    plans = world.step_plans
    t = 0.0
    while t < scenario.duration_s:
        t_end = min(t + interval, scenario.duration_s)
        steps = plans[(t, t_end, step)]
        for circuits in fleet:
            for circuit in circuits:
                circuit.run_steps(steps)
        t = t_end
    return time.perf_counter() - start


def _actor_run(args: tuple[int, float, float, int, int]) -> float:
    from ven_sim.runner import run_scenario

    vens, hours, report_interval_s, seed, part = args
    scenario = bench_scenario(vens, hours, report_interval_s, seed, part)
    start = time.perf_counter()
    run_scenario(scenario)
    return time.perf_counter() - start


def _shares(vens: int, workers: int) -> list[int]:
    base, extra = divmod(vens, workers)
    return [base + (1 if i < extra else 0) for i in range(workers) if base or i < extra]


def bench_sim(
    *,
    vens: int,
    hours: float,
    workers: int = 1,
    report_interval_s: float = 300.0,
    seed: int = 1,
    repeat: int = 3,
) -> dict[str, Any]:
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    shares = _shares(vens, workers)
    jobs = [(n, hours, report_interval_s, seed, i) for i, n in enumerate(shares)]
    if len(jobs) == 1:
        # One process: each phase times itself, its set-up (the fleet built) left out.
        repeats = _alternate(repeat, lambda: _plain_loop(jobs[0]), lambda: _alone(jobs[0]))
    else:
        # Every worker imports the runtime as it starts, before any timing: a map of a
        # warm-up job could leave one worker cold (another may take both jobs), and its
        # imports would then count in the actor phase.
        with multiprocessing.get_context("spawn").Pool(len(jobs), initializer=_warm) as pool:
            pool.map(_warm, range(len(jobs)))  # and every worker up before the clock starts
            repeats = _alternate(
                repeat, lambda: _timed_map(pool, _plain_loop, jobs)[0],
                lambda: _timed_map(pool, _actor_run, jobs),
            )
    plain_wall = statistics.median(plain for plain, _, _ in repeats)
    actor_wall = statistics.median(actors for _, actors, _ in repeats)
    # The workers' own walls of the repeat whose actor phase is nearest the median (the
    # median itself, for an odd count).
    _, _, worker_walls = min(repeats, key=lambda run: abs(run[1] - actor_wall))
    ven_days = vens * hours / 24.0
    return {
        "vens": vens,
        "hours": hours,
        "workers": len(jobs),
        "cpus": os.cpu_count(),
        "physics_step_s": 60.0,
        "report_interval_s": report_interval_s,
        "circuits_per_ven": 8,
        "repeat": repeat,
        "plain_loop_wall_s": round(plain_wall, 3),
        "actors_wall_s": round(actor_wall, 3),
        "actors_worker_wall_s": [round(wall, 3) for wall in worker_walls],
        "ven_days_per_wall_minute": round(ven_days / actor_wall * 60.0, 1),
        "plain_loop_ven_days_per_wall_minute": round(ven_days / plain_wall * 60.0, 1),
        "overhead_vs_plain_loop": round(actor_wall / plain_wall, 2),
        "repeats": [
            {"plain_loop_wall_s": round(plain, 3), "actors_wall_s": round(actors, 3)}
            for plain, actors, _ in repeats
        ],
    }


def _alternate(
    repeat: int,
    plain_phase: Callable[[], float],
    actor_phase: Callable[[], tuple[float, list[float]]],
) -> list[tuple[float, float, list[float]]]:
    """(plain wall, actors wall, each worker's actor wall) per repeat, the phases alternating.

    `plain_phase` returns its wall time, `actor_phase` its wall time and each worker's."""
    repeats = []
    for _ in range(repeat):
        plain_wall = plain_phase()
        actor_wall, worker_walls = actor_phase()
        repeats.append((plain_wall, actor_wall, worker_walls))
    return repeats


def _alone(job: tuple[int, float, float, int, int]) -> tuple[float, list[float]]:
    """The actor phase in this process: its wall time is its one worker's."""
    wall = _actor_run(job)
    return wall, [wall]


def _timed_map(
    pool: Any, phase: Callable[[Any], float], jobs: list[tuple[int, float, float, int, int]]
) -> tuple[float, list[float]]:
    """A phase on every worker: the wall clock around the whole map, and each worker's own."""
    start = time.perf_counter()
    walls = pool.map(phase, jobs)
    return time.perf_counter() - start, walls


def _warm(_: int = 0) -> None:
    import ven_sim.runner  # noqa: F401
