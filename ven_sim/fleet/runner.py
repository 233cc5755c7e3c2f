"""One shard of a fleet run: N full VENs on one dispatcher and one network loop, in real time.

`FleetRunner.run()` connects the VENs at the shard's share of the ramp (each slot of 1/rate
seconds gets one VEN at a random instant within it), ticks each VEN every telemetry interval
from the moment it came up (so reports spread over the interval as they do in a real fleet),
pings VENs at the probe rate, dispatches one DR event to every VEN once all are connected, and
stops at the end of the duration or on `stop()`, still returning every figure. The fan-out
time and events can be chosen (`--fanout-at S`, a scenario file's events).
"""

from __future__ import annotations

import gc
import logging
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from actors.messages import Tick
from actors.runtime import Dispatcher
from actors.ven import Ven
from sim.models.house import build_circuits
from sim.streams import SplitMix64
from sim.world import Weather, World
from ven_sim.fleet.metrics import FleetMetrics, MeteredTransport
from ven_sim.fleet.plan import FleetConfig
from ven_sim.fleet.probe import ProbeVtn
from ven_sim.fleet.process_stats import release_free_memory
from ven_sim.fleet.results import (
    BEHIND_SHOWN_MS,
    SATURATED_PERCENT,
    cpu_seconds,
    fleet_results,
    rss_mb,
)
from ven_sim.fleet.timeline import interval_mark, interval_of, timeline_row
from ven_sim.kernel import Kernel
from ven_sim.transports.base import BaseTransport

__all__ = ["FleetRunner", "progress_line"]

log = logging.getLogger(__name__)

TEMPLATES = ("house", "apartment", "solar_home")
CLOCK_STEP_S = 0.25  # VENs are ticked in phase slots of this width
MONITOR_S = 1.0  # progress line
PROBE_UP_S = 30.0  # the probe must connect within this, or the broker is unreachable
FANOUT_WAIT_S = 60.0  # after the ramp, how long the fan-out waits for stragglers
FANOUT_ACKS_WAIT_S = 30.0  # how long ending a fan-out's event, then its restore, waits for acks
RAMP_LATE_WARN_S = 1.0  # a ramp later than this is said in the log
SWITCH_INTERVAL_S = 0.0005  # GIL hand-over between the kernel and network threads
FREEZE_EVERY = 250  # VENs started between two gc.freeze() calls
RAMP_HOLD_S = 0.01  # while the handshake window is full, the ramp looks again this often


class FleetRunner:
    def __init__(
        self,
        config: FleetConfig,
        transport: BaseTransport,
        *,
        progress: Callable[[str], None] | None = None,
        timeline: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config
        self.metrics = FleetMetrics()
        if hasattr(transport, "observer"):  # PahoTransport: handshake, CONNACK, PUBACK times
            transport.observer = self.metrics.observe
        self.loop = getattr(transport, "loop", None)  # a PahoTransport's NetworkLoop
        if self.loop is not None:  # how long each of its rounds kept sockets waiting
            self.loop.round_observer = lambda seconds: self.metrics.add("loop_round",
                                                                        seconds * 1000.0)
        self.transport = transport
        self.metered = MeteredTransport(transport, self.metrics)
        self.dispatcher = Dispatcher("fleet")
        # How late each timed step started (the VENs' ticks, the probe's pings, a fan-out's
        # dispatch): whether this load generator kept to its schedule.
        self.kernel = Kernel(1.0, self.dispatcher, on_lag=lambda seconds: self.metrics.add(
            "schedule_lag", seconds * 1000.0))
        self.world = World(datetime.now(UTC), Weather(min_c=21.0, max_c=34.0))
        self.wall_clock = self._wall_clock  # one bound method for every VEN's gateway
        # One dict for every VEN's gateway too (it replaces its config, never updates it).
        self.gateway_config = {"report_interval_seconds": config.telemetry_interval_s}
        self.rng = random.Random(f"{config.seed}:{config.ids.prefix}:{config.ids.start}")
        self.vens: list[Ven] = []
        self.slots: list[list[Ven]] = [[] for _ in range(self._slot_count())]
        self.progress, self.timeline = progress, timeline
        self.rows: list[dict[str, Any]] = []  # the timeline: one per 10 s of the wall clock
        self.interval = interval_of(time.time())  # the timeline's open interval
        self.interval_mark = interval_mark()  # its CPU clocks when it opened
        self.closed = (0.0, 0)  # the last close: the run's seconds (unrounded), telemetry sent
        self.latest_row: dict[str, Any] | None = None  # the last progress row (workers, Ray)
        self.probe: ProbeVtn | None = None
        self.all_connected_at: float | None = None
        self.steady_from: tuple[float, float] | None = None  # (run time, cpu seconds)
        self.stopped_early = False
        self.end = (0.0, 0.0, 0.0)  # (run time, cpu seconds, RSS MB) when the shutdown began
        self.rss_before_vens = 0.0
        # The ramp as planned against as run: how late (run seconds) the latest VEN was
        # opened, and how long the ramp waited for the handshake window in all.
        self.ramp_behind_s = 0.0
        self.ramp_held_s = 0.0
        self.ramp_done = False
        self.ramp_settled = False  # all up (or given up on) and the pages returned

    def _wall_clock(self) -> float:
        """The run's time as the epoch seconds the VENs stamp their messages with."""
        return self.world.epoch(self.kernel.now)

    def _slot_count(self) -> int:
        return max(1, round(self.config.telemetry_interval_s / CLOCK_STEP_S))

    def stop(self) -> None:
        """Signal-safe: only sets flags (see ven_sim.signals)."""
        self.stopped_early = True
        self.kernel.stop()

    def run(self) -> dict[str, Any]:
        config = self.config
        ids = config.ids.ids()
        traced = self.rng.sample(ids, min(len(ids), 20))
        probe_id = f"{config.ids.prefix}-probe-{uuid.uuid4().hex[:8]}"
        self.probe = ProbeVtn(self.transport, probe_id, self.metrics, traced, config.seed,
                              connections=config.vtn_connections,
                              own_acks=ids if config.own_acks else None)
        if not self.probe.ready.wait(PROBE_UP_S):
            error = self.probe.last_error
            self.probe.close()
            raise ConnectionError(f"the probe could not connect within {PROBE_UP_S:g} s: {error}")
        self.rss_before_vens = rss_mb()  # run_fleet measures it earlier, before prepare()
        env = self.kernel.env
        env.process(self._ramp(ids))
        env.process(self._clock())
        env.process(self._monitor())
        if config.probe_rate > 0:
            env.process(self._pings())
        if config.fanout:
            env.process(self._fanout())
        wall = 0.0
        # With a network loop, the kernel runs on its thread (Kernel.run_hosted): one thread
        # for the actors and the sockets, where two handed the GIL to each other at every
        # socket call. Without one (an in-process transport), two threads share the GIL, and
        # a short switch interval keeps the transport's from waiting long to get it back.
        switch = sys.getswitchinterval()
        if self.loop is None:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        # A full collection scans every object the GC tracks, with the GIL held: at 2,500 VENs
        # a 40 s run spent 5.4 s in 13 of them (707 ms the longest, no socket served). The
        # clients, and each batch of VENs once started, live as long as the run: frozen, the
        # collector leaves them be, and only young objects are scanned.
        gc.collect()
        gc.freeze()
        try:
            wall = (self.kernel.run(config.duration_s) if self.loop is None
                    else self.kernel.run_hosted(config.duration_s, self.loop))
        finally:
            sys.setswitchinterval(switch)
            self._shutdown()
            gc.unfreeze()
        return fleet_results(self, wall)

    # -- simpy processes (the kernel thread) ---------------------------------------------
    def _ramp(self, ids: list[str]):
        """Open VEN k at its planned instant, unless the transport's handshake window is
        full: then wait for a turn (backpressure), and move the rest of the plan back by the
        wait, so the ramp never runs faster than asked to catch up (a catch-up burst fills the
        window again at once, every handshake in it slower). It counts how far behind the plan
        it fell, rather than queue VENs whose connect times would only measure the queue."""
        env, rate, metrics = self.kernel.env, self.config.shard_ramp_per_s, self.metrics
        window_full = getattr(self.transport, "connect_window_full", None)
        began, shift = metrics.now(), 0.0
        for k, ven_id in enumerate(ids):
            planned = (k + self.rng.random()) / rate
            if shift + planned > env.now:
                yield env.timeout(shift + planned - env.now)
            if window_full is not None and window_full():
                held_from = env.now
                while window_full():
                    yield env.timeout(RAMP_HOLD_S)
                shift += env.now - held_from
                self.ramp_held_s += env.now - held_from
            # Wall-clock lateness: the window's waits, and the kernel's own if it fell behind.
            self.ramp_behind_s = max(self.ramp_behind_s, metrics.now() - began - planned)
            self._start_ven(ven_id)
            if k % FREEZE_EVERY == FREEZE_EVERY - 1:
                gc.freeze()
        self.ramp_done = True
        if self.ramp_behind_s > RAMP_LATE_WARN_S:
            log.warning("the ramp fell %.1f s behind its plan of %g connects/s (%.1f s waiting "
                        "for handshake turns): this process or the broker could not keep up",
                        self.ramp_behind_s, rate, self.ramp_held_s)
        # Bursts of short-lived memory (handshakes, a fan-out) leave free pages between live
        # ones: returned once all are up and after the fan-out, not periodically (a trim at a
        # few hundred MB blocks every thread's malloc for 35-140 ms).
        ramp_end = env.now
        while self.metrics.connected < len(ids) and env.now < ramp_end + FANOUT_WAIT_S:
            yield env.timeout(0.5)
        release_free_memory()
        self.ramp_settled = True

    def _start_ven(self, ven_id: str) -> None:
        rng = random.Random(f"{self.config.seed}:{ven_id}")
        template = rng.choice(TEMPLATES)
        world, kernel = self.world, self.kernel
        ven = Ven(
            # SplitMix64 streams: 8 bytes a circuit, not Mersenne Twister's 2.5 KB (14 KB a VEN)
            ven_id, build_circuits(template, {}, rng, SplitMix64), world, self.dispatcher,
            panel_amps=200, seed=self.config.seed, group=template, t0=kernel.now,
            transport=self.metered,
            clock=self.wall_clock,
            config=self.gateway_config,
            counterfactual=False,  # nothing reads M&V here: no twins (about 9 KB per VEN)
        )
        self.vens.append(ven)
        slot = int((kernel.now % self.config.telemetry_interval_s) / CLOCK_STEP_S)
        self.slots[min(slot, len(self.slots) - 1)].append(ven)

    def _clock(self):
        env, slot = self.kernel.env, 0
        while True:
            yield env.timeout(CLOCK_STEP_S)
            slot = (slot + 1) % len(self.slots)
            tick = Tick(env.now)
            for ven in self.slots[slot]:
                ven.tell(tick)

    def _pings(self):
        env, vens = self.kernel.env, self.vens
        while True:
            yield env.timeout(self.rng.expovariate(self.config.probe_rate))
            if self.probe is None or not vens:
                continue
            ven_id = vens[self.rng.randrange(len(vens))].ven_id
            if ven_id in self.metrics.up:
                self.probe.probe(ven_id)

    def _fanout(self):
        """Each fan-out event in turn: at its time, or (`at_s` None) once all are connected."""
        env, config, metrics = self.kernel.env, self.config, self.metrics
        for n, event in enumerate(config.fanout_events):
            if event.at_s is None:  # after the ramp (however late) and its trim: not among acks
                while not self.ramp_settled:
                    yield env.timeout(0.5)
            elif event.at_s > env.now:
                yield env.timeout(event.at_s - env.now)
            if n == 0:
                self.all_connected_at = (metrics.now() if metrics.connected == config.vens
                                         else None)
            assert self.probe is not None
            self.probe.fanout([ven.ven_id for ven in self.vens if ven.ven_id in metrics.up],
                              event)
            env.process(self._end_fanout(event.id, opens_steady=n == 0))

    def _end_fanout(self, event_id: str, *, opens_steady: bool):
        """The backend ends the event once every ack is in (or 30 s later): restore to all.
        The first fan-out's end opens the steady state once the restore's acks are in too (or
        30 s after it was sent: a lost ack must not keep it closed, nor a slow fan-out's
        restores be counted as steady)."""
        env, probe = self.kernel.env, self.probe
        assert probe is not None
        sent_at = env.now
        while probe.pending("fanout", event_id) and env.now - sent_at < FANOUT_ACKS_WAIT_S:
            yield env.timeout(0.5)
        probe.restore_fanout(event_id)
        if not opens_steady:
            return
        restored_at = env.now
        while probe.fanout_pending and env.now - restored_at < FANOUT_ACKS_WAIT_S:
            yield env.timeout(0.5)
        release_free_memory()
        self.metrics.open_steady()  # one instant for the CPU figure and the latencies
        assert self.metrics.steady_since is not None
        self.steady_from = (self.metrics.steady_since - self.metrics.t0, cpu_seconds())

    def _monitor(self):
        env = self.kernel.env
        while True:
            # Just after each whole wall-clock second: every shard, on any machine with a
            # synchronised clock, closes its 10 s intervals at the same instants. (Not
            # `now` plus a delay read off `time.time()`: a row taken late would make the
            # next come early by as much, a row just before the second and one just after.)
            next_second = (time.time() // MONITOR_S + 1) * MONITOR_S + 0.001
            yield env.timeout(max(0.0, self.kernel.sim_time_at(next_second) - env.now))
            now_interval = interval_of(time.time())
            closing = now_interval != self.interval
            row = timeline_row(self, self.interval, close=closing)
            self.latest_row = row
            if self.progress is not None:
                self.progress(progress_line(row, self.config.vens))
            if closing:
                self.interval = now_interval
                self.rows.append(row)
                if self.timeline is not None:
                    self.timeline(row)

    def _shutdown(self) -> None:
        self.metrics.stopping = True
        self.end = (self.metrics.now(), cpu_seconds(), rss_mb())
        self.rows.append(timeline_row(self, self.interval, close=True))
        # In start order: pykka's registry is a list, and unregistering from its front
        # finds each actor at once (from its back: a scan of every actor, per actor).
        for ven in self.vens:
            ven.stop()
        self.dispatcher.run_until_idle()  # the syncers' last "offline" reports go out
        if self.probe is not None:
            self.probe.close()
        self.transport.close()  # every connection at once: DISCONNECT after its PUBACKs


def progress_line(row: dict[str, Any], target: int) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    return (f"{row['t_s']:7.0f} s  connected {row['connected']:,}/{target:,}  "
            f"telemetry {row['telemetry_per_s']:,.0f}/s  p99 connect {ms(row['connect_p99_ms'])} "
            f"ms, rtt {ms(row['command_rtt_p99_ms'])} ms  fan-out acked {row['fanout_acked']:,}  "
            f"down {row['unexpected_disconnects']}  cpu {row['cpu_cores']:.2f}  "
            f"rss {row['rss_mb']:,.0f} MB{machine_busy_text(row)}{behind_text(row)}")


def behind_text(row: dict[str, Any]) -> str:
    """How far behind its schedule the fleet runs, for a progress line, once that shows."""
    lag = row.get("schedule_lag_p99_ms")
    return "" if lag is None or lag < BEHIND_SHOWN_MS else f"  behind {lag / 1000:.1f} s"


def machine_busy_text(row: dict[str, Any]) -> str:
    """How busy the whole machine is, for a progress line; a warning once it is saturated."""
    busy = row.get("machine_busy_percent")
    if busy is None:
        return ""
    return f"  machine {busy:.0f}%" + (" (saturated)" if busy >= SATURATED_PERCENT else "")
