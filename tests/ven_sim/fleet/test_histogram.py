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


def test_the_difference_since_a_copy_holds_exactly_the_later_samples() -> None:
    rng = random.Random(3)
    before = [rng.uniform(1, 10) for _ in range(5_000)]
    after = [rng.uniform(200, 400) for _ in range(1_000)]
    running = _filled(before)
    snapshot = running.copy()
    for value in after:
        running.add(value)
    delta = running.since(snapshot)
    alone = _filled(after)
    assert delta.buckets == alone.buckets and delta.count == len(after)
    assert delta.total == pytest.approx(sum(after))
    ordered = sorted(after)
    for q in (0.5, 0.99):
        exact = ordered[int(q * len(ordered)) - 1]
        got = delta.percentile(q)
        assert got is not None and exact / GROWTH <= got <= exact * GROWTH, (q, exact, got)
    assert max(after) <= delta.max <= max(after) * GROWTH
    assert min(after) / GROWTH <= delta.min <= min(after)
    assert running.since(running.copy()).count == 0  # nothing new: empty, no percentile
    assert running.since(running.copy()).percentile(0.99) is None
