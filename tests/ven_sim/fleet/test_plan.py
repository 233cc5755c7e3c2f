"""The plan printed before a run, and the AWS IoT Core guardrails."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.limits import MAX_CONNECTS_PER_S_PER_ACCOUNT
from ven_sim.fleet.identities import IdRange, shard_range
from ven_sim.fleet.plan import (
    MAX_AUTO_VTN_CONNECTIONS,
    FleetConfig,
    auto_vtn_connections,
    estimated_cost_usd,
    guardrails,
    plan_lines,
    reads_own_acks,
)
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


def test_against_aws_the_probe_takes_enough_connections_to_send_a_fanout_in_a_second() -> None:
    # AWS IoT: 100 publishes/s a connection, out (the commands) and in (their acks).
    # Every shard's probe reads the whole fleet's acks: the fleet's size sets it.
    assert auto_vtn_connections(10_000, "aws") == MAX_AUTO_VTN_CONNECTIONS == 50
    assert auto_vtn_connections(2_500, "aws") == 25
    assert auto_vtn_connections(250, "aws") == 3
    assert auto_vtn_connections(100, "aws") == auto_vtn_connections(1, "aws") == 1
    # Elsewhere one, as a backend's VTN often is (mosquitto has no such quota).
    assert auto_vtn_connections(10_000, "mqtts://127.0.0.1:8883") == 1
    assert auto_vtn_connections(10_000, "embedded") == 1


def test_the_plan_says_how_long_aws_takes_to_send_the_fanout_and_take_in_its_acks() -> None:
    shard = {"ids": IdRange("ven-load", 0, 2_500), "shards": 4}  # one of four, 10,000 in all
    one = "\n".join(plan_lines(_config(**shard), "aws"))
    assert ("over 1 connection: at AWS IoT's 100 publishes/s a connection, at least 25.0 s to "
            "send them and 100.0 s to take in the fleet's acks") in one
    many = "\n".join(plan_lines(_config(**shard, vtn_connections=50), "aws"))
    assert "over 50 connections: at AWS IoT's 100 publishes/s a connection, at least 0.5 s" in many
    local = [line for line in plan_lines(_config(vtn_connections=4), "mqtts://127.0.0.1:8883")
             if line.startswith("fan-out:")]
    assert local == ["fan-out: 10,000 commands an event from this shard's probe VTN over 4 "
                     "connections"]  # no quota to wait on
    assert "fan-out:" not in "\n".join(plan_lines(_config(fanout=False), "aws"))


def test_every_shards_vtn_connections_together_within_the_connect_quota() -> None:
    assert guardrails(_config(shards=10, vtn_connections=50)) == []
    over = guardrails(_config(shards=11, vtn_connections=50))
    assert len(over) == 1 and "550 VTN connections" in over[0] and "CONNECT/s" in over[0]


def test_shards_probes_read_their_own_acks_on_a_broker_given_by_url_alone() -> None:
    # On `ven/ack/+` K shards' probes make the broker deliver every ack K times.
    assert reads_own_acks("mqtts://broker.example:8883", 2)
    assert reads_own_acks("mqtt://127.0.0.1:1883", 8)
    assert not reads_own_acks("mqtts://broker.example:8883", 1)  # the same acks either way
    assert not reads_own_acks("aws", 8)  # 50 subscriptions a connection
    assert not reads_own_acks("embedded", 2)  # it matches each publish against every filter
    assert not reads_own_acks("embedded:8884", 2)
