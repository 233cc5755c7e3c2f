"""Log-bucketed histograms: exact merges, percentiles within one bucket of the truth."""

from __future__ import annotations

import json
import random

import pytest

from ven_sim.fleet.histogram import GROWTH, Histogram


def _filled(values: list[float]) -> Histogram:
    hist = Histogram()
    for value in values:
        hist.add(value)
    return hist


def test_percentiles_are_within_one_bucket_of_the_exact_value() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3.0, 1.2) for _ in range(20_000)]
    hist = _filled(values)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        got = hist.percentile(q)
        assert got is not None
        assert exact / GROWTH <= got <= exact * GROWTH, (q, exact, got)
    assert hist.summary("max")["max"] == round(max(values), 2)
    assert hist.count == len(values)


def test_merging_shards_equals_one_histogram_of_every_sample() -> None:
    rng = random.Random(3)
    shard_a = [rng.uniform(0.01, 50.0) for _ in range(5_000)]
    shard_b = [rng.expovariate(0.01) for _ in range(3_000)]  # a slower shard
    merged = _filled(shard_a).merge(_filled(shard_b))
    whole = _filled(shard_a + shard_b)
    assert merged.buckets == whole.buckets
    assert merged.count == whole.count
    for q in (0.5, 0.9, 0.99, 0.999):
        assert merged.percentile(q) == whole.percentile(q)
    # Averaging the shards' p99s would be wrong: the slow shard dominates the tail.
    averaged = (_filled(shard_a).percentile(0.99) + _filled(shard_b).percentile(0.99)) / 2
    assert merged.percentile(0.99) != pytest.approx(averaged, rel=0.05)


def test_round_trip_through_json_keeps_every_bucket() -> None:
    hist = _filled([0.0005, 0.3, 2.0, 2.0, 950.0])
    again = Histogram.from_dict(json.loads(json.dumps(hist.to_dict())))
    assert again.buckets == hist.buckets
    assert (again.count, again.min, again.max) == (5, 0.0005, 950.0)
    assert again.summary("p50", "max") == hist.summary("p50", "max")


def test_an_empty_histogram_has_no_percentiles() -> None:
    hist = Histogram()
    assert hist.summary("p50", "p99", "max") == {"p50": None, "p99": None, "max": None}
    assert Histogram.from_dict(hist.to_dict()).count == 0


def test_buckets_of_another_growth_are_refused() -> None:
    data = Histogram().to_dict()
    data["growth"] = 1.1
    with pytest.raises(ValueError, match="differ"):
        Histogram.from_dict(data)
