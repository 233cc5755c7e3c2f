"""The machine-speed reference printed beside `ven-sim bench fleet`'s figures."""

from __future__ import annotations

from ven_sim.bench.machine_speed import python_speed


def test_the_speed_is_a_rate_whatever_the_loop_length() -> None:
    # Iterations per second, not seconds: a loop five times longer gives about the same
    # figure (generous bounds: a shared machine's neighbours slow either one down).
    short, long = python_speed(repeat=3, loops=200_000), python_speed(repeat=3)
    assert short > 0 and long > 0
    assert 1 / 3 < short / long < 3
