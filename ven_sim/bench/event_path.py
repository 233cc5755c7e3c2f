"""`ven-sim bench event-path`: the CPU a VEN spends on a DR event and its restore, per VEN.

No broker: N VENs built as a fleet builds them (`Ven(..., counterfactual=False)`, the fleet's
house templates), their connections a stand-in that keeps what they publish, and the shadow
service's store (`ShadowStore`) answering their shadow requests, outside the timing. After a
minute of steady state (telemetry every 5 s, the shadow answered), every VEN is handed an
`event` command as raw bytes, as the network loop hands one in, then the shadow's replies to
what that made it report, then (an interval later) a `restore` and the replies to that. Each
of the four phases is timed with `time.process_time()`: µs of CPU per VEN. Before the event,
`steady_tick_us` is the steady work of one 5 s telemetry tick per VEN (the circuits' step, their
readings' round, the controller's and the gateway's telemetry, the periodic shadow reports due),
averaged over 30 s of ticks; it is not part of `total_us`.

Each repeat is a fresh process. With `against`, a second source tree (a `git archive` of
main, say) is run the same way, alternating with this one, so both sides share the machine's
state; `published_sha256` (every topic and payload the VENs published, in order) shows whether
the two trees put the same bytes on the wire.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PHASES = ("event_us", "event_replies_us", "restore_us", "restore_replies_us")
# Steady state: ticks timed one after another, 30 s (each VEN's periodic shadow report is due
# once in them, on its own grid, as in a fleet).
STEADY_TICKS = 6
TEMPLATES = ("house", "apartment", "solar_home")  # as ven_sim/fleet/runner.py picks them
REPLY_SUFFIXES = frozenset({"get/accepted", "get/rejected", "update/accepted",
                            "update/rejected", "update/delta"})  # what a VEN subscribes to
START = datetime(2026, 7, 15, 18, tzinfo=UTC)
THIS_TREE = Path(__file__).resolve().parents[2]


class _Connection:
    """A VEN's connection: keeps what is published, hands in what the test sends."""

    def __init__(self, client_id: str, on_message: Callable[[str, bytes], None],
                 published: list[tuple[str, bytes]]) -> None:
        self.client_id = client_id
        self.on_message = on_message
        self.published = published
        self.connected = True

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.published.append((topic, payload))

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _Transport:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.connections: dict[str, _Connection] = {}

    def open(self, client_id: str, on_message: Callable[[str, bytes], None],
             on_state: Callable[[bool, str | None], None] | None = None, *,
             will: tuple[str, bytes] | None = None) -> _Connection:
        connection = self.connections[client_id] = _Connection(client_id, on_message,
                                                                self.published)
        if on_state is not None:
            on_state(True, None)
        return connection

    def close(self) -> None:
        pass


def measure(vens: int, seed: int = 7) -> dict[str, Any]:
    """One run in this process, with whatever `actors` and `sim` it imports."""
    import gc

    from actors.messages import Tick
    from actors.runtime import Dispatcher
    from actors.ven import Ven
    from sim import contract
    from sim.models.house import build_circuits
    from sim.streams import SplitMix64
    from sim.world import Weather, World
    from ven_sim.broker.shadow_doc import reply_json
    from ven_sim.broker.shadow_store import ShadowStore

    dispatcher = Dispatcher("bench-event-path")
    world = World(START, Weather(min_c=21.0, max_c=34.0))
    transport = _Transport()
    store = ShadowStore(clock=lambda: world.epoch(0.0))
    now = [0.0]
    fleet = []
    for k in range(vens):
        ven_id = f"ven-{k:06d}"
        rng = random.Random(f"{seed}:{ven_id}")
        template = rng.choice(TEMPLATES)
        fleet.append(Ven(ven_id, build_circuits(template, {}, rng, SplitMix64), world,
                         dispatcher, panel_amps=200, seed=seed, group=template,
                         transport=transport, clock=lambda: world.epoch(now[0]),
                         config={"report_interval_seconds": 5.0}, counterfactual=False))
    digest = hashlib.sha256()

    def shadow_replies() -> list[tuple[str, str, bytes]]:
        """The shadow service's part, untimed: its answers to every request so far."""
        replies = []
        for topic, payload in transport.published:
            digest.update(topic.encode() + b"\0" + payload + b"\0")
            request = contract.shadow_request(topic)
            if request is not None:
                thing, operation = request
                replies += [(thing, contract.shadow_topic(thing, suffix),
                             reply_json(body).encode())
                            for suffix, body in store.handle(thing, operation, payload)
                            if suffix in REPLY_SUFFIXES]
        transport.published.clear()
        return replies

    def hand_in(messages: list[tuple[str, str, bytes]]) -> None:
        for ven_id, topic, payload in messages:
            transport.connections[ven_id].on_message(topic, payload)
        dispatcher.run_until_idle()

    def commands(op: str, data: dict[str, Any]) -> list[tuple[str, str, bytes]]:
        return [(ven.ven_id, contract.topics(ven.ven_id).command, contract.encode(
                    contract.command_payload(op, f"{op}-{ven.ven_id}", ven.ven_id, data)))
                for ven in fleet]

    def tick(t: float) -> float:
        """Advance every VEN to `t`; the CPU seconds that took, with the VENs' handling of
        their reports' replies (the shadow service's part apart)."""
        now[0] = t
        start = time.process_time()
        for ven in fleet:
            ven.tell(Tick(t))
        dispatcher.run_until_idle()
        spent = time.process_time() - start
        replies = shadow_replies()
        start = time.process_time()
        hand_in(replies)
        return spent + time.process_time() - start

    dispatcher.run_until_idle()
    for _ in range(3):  # the first get, its 404, the first report
        hand_in(shadow_replies())
    for step in range(1, 13):  # a minute of steady state
        tick(5.0 * step)
    hand_in(shadow_replies())
    shadow_replies()
    gc.collect()
    gc.freeze()  # as the fleet does: the VENs live as long as the run

    figures: dict[str, Any] = {}
    handled = dispatcher.handled
    spent = sum(tick(5.0 * step) for step in range(13, 13 + STEADY_TICKS))
    figures["steady_tick_us"] = round(spent / STEADY_TICKS / vens * 1e6, 1)
    figures["steady_tick_messages"] = round(
        (dispatcher.handled - handled) / STEADY_TICKS / vens, 2)

    def timed(phase: str, messages: list[tuple[str, str, bytes]]) -> None:
        handled, start = dispatcher.handled, time.process_time()
        hand_in(messages)
        figures[phase] = round((time.process_time() - start) / vens * 1e6, 1)
        # Actor messages handled per VEN (the circuits' Curtails among them).
        figures[phase.replace("_us", "_messages")] = round(
            (dispatcher.handled - handled) / vens, 2)

    timed("event_us", commands("event", {"event_id": "fleet-fanout", "requestedReductionKw": 0.5,
                                         "duration_s": 300.0}))
    acks = acked(transport.published)
    timed("event_replies_us", shadow_replies())
    tick(5.0 * (13 + STEADY_TICKS))  # one interval of the event
    shadow_replies()
    timed("restore_us", commands("restore", {"event_id": "fleet-fanout"}))
    acks += acked(transport.published)
    timed("restore_replies_us", shadow_replies())
    shadow_replies()
    figures["acks"] = acks  # successful ones: each VEN's event and restore
    figures["published_sha256"] = digest.hexdigest()[:16]
    return figures


def acked(published: list[tuple[str, bytes]]) -> int:
    """How many of these messages are acks that say the command succeeded."""
    return sum(topic.startswith("ven/ack/") and json.loads(payload)["ok"] is True
               for topic, payload in published)


def bench_event_path(vens: int = 1000, repeat: int = 5,
                     against: str | None = None) -> dict[str, Any]:
    """`repeat` runs of `measure`, each in a fresh process; with `against`, alternating with
    the same runs on that source tree. Headline figures are medians over the repeats."""
    trees = {"this": THIS_TREE} | ({"against": Path(against).resolve()} if against else {})
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in trees}
    for _ in range(repeat):
        for side, tree in trees.items():
            runs[side].append(_run_in(tree, vens))
    result: dict[str, Any] = {"vens": vens, "repeat": repeat}
    for side, side_runs in runs.items():
        result[side] = {"tree": str(trees[side]), **_medians(side_runs),
                        "published_sha256": sorted({r["published_sha256"] for r in side_runs}),
                        "acks": side_runs[0]["acks"], "repeats": side_runs}
    if against:
        for ratio, key in (("ratio_total", "total_us"), ("ratio_steady", "steady_tick_us")):
            result[ratio] = round(result["this"][key] / result["against"][key], 3)
    return result


def _run_in(tree: Path, vens: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # -P: not this file's folder first on sys.path (its sim.py would shadow the package).
    done = subprocess.run([sys.executable, "-P", __file__, str(vens)], env=env, cwd=tree,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the run on {tree} failed:\n{done.stderr[-2000:]}")
    run = json.loads(done.stdout)
    # A folder without the packages would quietly run the installed ones: a tree against itself.
    if Path(run.pop("tree")) != tree:
        raise RuntimeError(f"{tree} is not a ven-sim source tree (actors, sim, ven_sim): "
                           "its run imported the installed packages")
    return run


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    medians = {key: statistics.median(run[key] for run in runs)
               for key in runs[0] if key.endswith(("_us", "_messages"))}
    medians["total_us"] = round(sum(medians[phase] for phase in PHASES), 1)
    return medians


if __name__ == "__main__":  # one run, on whichever tree PYTHONPATH puts first
    import actors

    tree = str(Path(actors.__file__).resolve().parents[1])  # the tree it really ran
    print(json.dumps({**measure(int(sys.argv[1])), "tree": tree}))
