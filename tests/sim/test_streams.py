"""SplitMix64, the fleet VENs' light random stream: the reference numbers, the distributions
the circuit models draw, and a house's day alike in kind to one on Mersenne Twister."""

from __future__ import annotations

import pickle
import random
import statistics
import sys

import pytest

from sim.models.house import build_circuits
from sim.streams import SplitMix64
from tests.sim.models.test_house import day_series


def test_the_published_reference_sequence() -> None:
    # The first outputs for seed 1234567 of the reference C code (Vigna's splitmix64.c).
    stream = SplitMix64(1234567)
    assert [stream.getrandbits(64) for _ in range(3)] == [
        6457827717110365317, 3203168211198807973, 9817491932198370423,
    ]


def test_uniform_floats_bits_and_distributions() -> None:
    stream = SplitMix64(7)
    floats = [stream.random() for _ in range(100_000)]
    assert min(floats) >= 0.0 and max(floats) < 1.0
    assert statistics.fmean(floats) == pytest.approx(0.5, abs=0.005)
    assert statistics.pvariance(floats) == pytest.approx(1 / 12, abs=0.002)
    assert {stream.getrandbits(3) for _ in range(1_000)} == set(range(8))
    assert stream.getrandbits(130).bit_length() <= 130 and stream.getrandbits(0) == 0
    normals = [stream.gauss(10.0, 2.0) for _ in range(50_000)]
    assert statistics.fmean(normals) == pytest.approx(10.0, abs=0.05)
    assert statistics.stdev(normals) == pytest.approx(2.0, abs=0.05)
    picks = [stream.choice("abc") for _ in range(30_000)]
    assert all(picks.count(c) == pytest.approx(10_000, rel=0.05) for c in "abc")
    weighted = stream.choices([0, 1], weights=[1, 3], k=40_000)
    assert sum(weighted) == pytest.approx(30_000, rel=0.02)
    assert all(1.0 <= stream.triangular(1.0, 3.0, 2.0) <= 3.0 for _ in range(1_000))
    with pytest.raises(TypeError, match="int seed"):
        SplitMix64("ven-1")  # type: ignore[arg-type]


def test_same_seed_same_numbers_and_a_copy_draws_alike() -> None:
    a, b, c = SplitMix64(42), SplitMix64(42), SplitMix64(43)
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]
    assert a == b and a != c
    a.gauss(0.0, 1.0)  # keeps a spare normal: the copy must carry it
    twin = pickle.loads(pickle.dumps(a, pickle.HIGHEST_PROTOCOL))
    assert twin == a and [twin.gauss(0.0, 1.0) for _ in range(3)] == [
        a.gauss(0.0, 1.0) for _ in range(3)
    ]


def test_a_house_on_splitmix_is_small_reproducible_and_alike_in_kind() -> None:
    def houses(stream) -> list[list]:
        return [build_circuits("house", {"has_ev": True}, random.Random(seed), stream)
                for seed in range(12)]

    light, mersenne = houses(SplitMix64), houses(random.Random)
    drawn = [c._rng for c in light[0] if hasattr(c, "_rng")]  # noqa: SLF001
    assert drawn and all(isinstance(r, SplitMix64) for r in drawn)
    assert sum(sys.getsizeof(r) for r in drawn) < 100 * len(drawn)  # Mersenne: 2.5 KB each
    again = build_circuits("house", {"has_ev": True}, random.Random(0), SplitMix64)
    assert day_series(again) == day_series(light[0])

    def kwh(house: list) -> float:
        return sum(sum(step) for step in day_series(house)) / 60.0

    # Other numbers, the same kind of day: 12 houses' energy within 15 % of each other.
    assert sum(map(kwh, light)) == pytest.approx(sum(map(kwh, mersenne)), rel=0.15)
