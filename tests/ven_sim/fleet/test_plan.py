"""The plan printed before a run, and the AWS IoT Core guardrails."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.limits import MAX_CONNECTS_PER_S_PER_ACCOUNT
from ven_sim.fleet.identities import IdRange, shard_range
from ven_sim.fleet.plan import FleetConfig, estimated_cost_usd, guardrails, plan_lines
from ven_sim.fleet.session import FleetError, WireOptions, run_fleet


def _config(**changes: object) -> FleetConfig:
    values: dict[str, object] = {"ids": IdRange("ven-load", 0, 10_000), "fleet_vens": 10_000,
                                 "ramp_per_s": 250.0, "duration_s": 600.0}
    values.update(changes)
    return FleetConfig(**values)  # type: ignore[arg-type]


def test_messages_per_minute_and_time_to_connect() -> None:
    config = _config()
    rates = config.messages_per_minute()
    assert rates["telemetry"] == 10_000 * 2 * 12  # two topics, every 5 s
    assert rates["shadow"] == 10_000 * 2  # a report every 30 s
    assert config.connect_all_s == 40.0
    text = "\n".join(plan_lines(config, "aws"))
    assert "all connected after 40.0 s" in text and "ven-load-000000 .. ven-load-009999" in text


def test_a_shard_takes_its_share_of_the_ramp() -> None:
    config = _config(ids=shard_range("ven-load", 10_000, 0, (1, 4)), shards=4)
    assert config.vens == 2_500
    assert config.shard_ramp_per_s == 62.5


def test_cost_grows_with_fleet_and_time() -> None:
    small = estimated_cost_usd(_config(fleet_vens=1_000, ids=IdRange("v", 0, 1_000)))
    large = estimated_cost_usd(_config())
    assert 0 < small["total"] < large["total"]
    assert large["total"] == pytest.approx(sum(v for k, v in large.items() if k != "total"),
                                           abs=1e-3)


def test_quotas_within_limits_pass() -> None:
    assert guardrails(_config()) == []


def test_a_ramp_over_the_account_quota_is_refused_against_aws(tmp_path: Path) -> None:
    config = _config(ramp_per_s=MAX_CONNECTS_PER_S_PER_ACCOUNT + 1)
    assert any("account quota" in problem for problem in guardrails(config))
    said: list[str] = []
    with pytest.raises(FleetError, match="--force"):
        run_fleet(config, WireOptions("aws"), tmp_path / "run", say=said.append)
    assert said and not (tmp_path / "run").exists()  # the plan, then nothing started


def test_probe_rate_over_the_per_connection_quota() -> None:
    assert guardrails(_config(probe_rate=60.0))
