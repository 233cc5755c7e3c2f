"""What a fleet run will do, checked against AWS IoT Core's quotas before it starts.

`FleetConfig` is one shard's run; `plan_lines` is what `ven-sim fleet` prints first (time to
connect all, messages per minute, the estimated AWS bill); `guardrails` lists every quota the
run would break (sim.limits), which `ven-sim fleet` refuses against AWS unless --force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from actors.shadow import REPORT_EVERY_S, SUBSCRIPTIONS
from sim.fleet_scenario import FleetEvent
from sim.limits import (
    MAX_CONNECTS_PER_S_PER_ACCOUNT,
    MAX_PUBLISHES_PER_S,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    SHADOW_MAX_REQUESTS_PER_S_PER_THING,
)
from ven_sim.fleet.identities import IdRange, certificate_count

__all__ = [
    "DEFAULT_FANOUT", "MAX_AUTO_VTN_CONNECTIONS", "PRICES_DATE", "PRICES_USD", "FleetConfig",
    "auto_vtn_connections", "estimated_cost_usd", "guardrails", "plan_lines", "reads_own_acks",
]

# AWS IoT Core list prices (us-east-1, first tier; docs/fleet.md has the table and its source).
PRICES_DATE = "2026-11-30"
PRICES_USD = {
    "connectivity_per_million_minutes": 0.08,
    "messages_per_million": 1.00,  # each 5 KB of payload is one message
    "shadow_ops_per_million": 1.25,
}
TELEMETRY_TOPICS = 2  # volttron/metering and ven/telemetry/{venId} (sim.contract)
PROBE_TELEMETRY_TOPICS = 20  # per-VEN telemetry topics the probe follows for latency
# Per probe, on average: a ping and its ack, or an event, its restore and their two acks, in turn.
MESSAGES_PER_PROBE = 3.0
MESSAGES_PER_FANOUT_VEN = 4  # the event, its restore and their acks
# The most VTN connections a shard opens when `--vtn-connections` is left to it (against AWS).
MAX_AUTO_VTN_CONNECTIONS = 50
# The fan-out of a run: once every VEN is connected, 0.5 kW for 300 s (long enough that no
# VEN ends the event before every ack is in). `--fanout-at S` moves it; a scenario file
# replaces it with its own events.
DEFAULT_FANOUT = FleetEvent("fleet-fanout", None, 0.5, 300.0)


@dataclass(frozen=True)
class FleetConfig:
    """One shard's run. `ramp_per_s` is the whole fleet's rate; a shard takes its share."""

    ids: IdRange
    fleet_vens: int  # every shard together
    shards: int = 1
    ramp_per_s: float = 100.0
    duration_s: float = 300.0
    telemetry_interval_s: float = 5.0
    probe_rate: float = 2.0  # probes per second: a ping or an event (then its restore), in turn
    fanout: bool = True
    seed: int = 0
    fanout_events: tuple[FleetEvent, ...] = field(default=(DEFAULT_FANOUT,))
    vens_per_cert: int = 1  # VENs sharing one certificate (--vens-per-cert)
    vtn_connections: int = 1  # the probe VTN's MQTT connections (--vtn-connections)
    # The probe subscribes to each of its shard's VENs' ack topics, not to `ven/ack/+`
    # (see reads_own_acks).
    own_acks: bool = False

    @property
    def certificates(self) -> int:
        """The fleet's certificates: one per group of `vens_per_cert` VENs (the probe's apart)."""
        return certificate_count(self.fleet_vens, self.vens_per_cert)

    @property
    def vens(self) -> int:
        return len(self.ids)

    @property
    def shard_ramp_per_s(self) -> float:
        return self.ramp_per_s * self.vens / max(1, self.fleet_vens)

    @property
    def connect_all_s(self) -> float:
        return self.fleet_vens / self.ramp_per_s

    def messages_per_minute(self) -> dict[str, float]:
        """Publishes by the VENs and the probe once all are connected (the fleet's total)."""
        n = self.fleet_vens
        telemetry = n * TELEMETRY_TOPICS * 60.0 / self.telemetry_interval_s
        shadow = n * 60.0 / REPORT_EVERY_S
        probe = self.probe_rate * self.shards * MESSAGES_PER_PROBE * 60.0
        return {"telemetry": telemetry, "shadow": shadow, "commands": probe,
                "total": telemetry + shadow + probe}


def estimated_cost_usd(config: FleetConfig) -> dict[str, float]:
    """An upper-side estimate: every VEN connected the whole run, each message <= 5 KB."""
    minutes = config.duration_s / 60.0
    rates = config.messages_per_minute()
    connectivity = config.fleet_vens * minutes * PRICES_USD["connectivity_per_million_minutes"]
    # Shadow updates are also answered (accepted, documents): messages out, counted once here.
    messages = (rates["telemetry"] + 2 * rates["shadow"] + rates["commands"]) * minutes
    fanout = (MESSAGES_PER_FANOUT_VEN * config.fleet_vens * len(config.fanout_events)
              if config.fanout else 0)
    shadow_ops = rates["shadow"] * minutes
    cost = {
        "connectivity": connectivity / 1e6,
        "messages": (messages + fanout) * PRICES_USD["messages_per_million"] / 1e6,
        "shadow": shadow_ops * PRICES_USD["shadow_ops_per_million"] / 1e6,
    }
    cost["total"] = sum(cost.values())
    return {key: round(value, 4) for key, value in cost.items()}


def auto_vtn_connections(fleet_vens: int, broker: str) -> int:
    """The probe VTN's connections when `--vtn-connections` is not given: one, except against
    AWS IoT Core, whose 100 publishes/s per connection, out and in, would make a fan-out take
    seconds per hundred VENs whatever the backend and the VENs do. Every shard's probe reads
    the acks of the whole fleet (`ven/ack/+`), so there each probe gets enough connections to
    take in `fleet_vens` acks in about a second, at most MAX_AUTO_VTN_CONNECTIONS."""
    if broker != "aws":
        return 1
    return max(1, min(MAX_AUTO_VTN_CONNECTIONS, math.ceil(fleet_vens / MAX_PUBLISHES_PER_S)))


def reads_own_acks(broker: str, shards: int, choice: str | None = None) -> bool:
    """Whether each shard's probe subscribes to its own VENs' ack topics, one filter a VEN,
    rather than to every VEN's (`ven/ack/+`). With several shards on `ven/ack/+` the broker
    delivers every ack to every shard's probe: K shards make it deliver K times the acks a
    backend's VTN would take, a load the test adds to the broker it measures. So on a broker
    given by URL; not on AWS IoT Core, which allows 50 subscriptions a connection, nor on the
    embedded broker, which matches every publish against every filter; nor with one shard,
    where both are the same acks. `choice` (`--probe-acks`: "own" or "every") overrides
    that; "own" where a probe cannot hold a filter a VEN is a ValueError."""
    by_url = broker.startswith(("mqtt://", "mqtts://"))
    if choice is None:
        return shards > 1 and by_url
    if choice == "own" and not by_url:
        raise ValueError("--probe-acks own needs a broker given by URL: AWS allows 50 "
                         "subscriptions a connection, the embedded broker matches every "
                         "publish against every filter")
    return choice == "own"


def guardrails(config: FleetConfig) -> list[str]:
    """Each AWS IoT Core quota this run would exceed (empty when it fits)."""
    problems = []
    if config.ramp_per_s > MAX_CONNECTS_PER_S_PER_ACCOUNT:
        problems.append(f"--ramp {config.ramp_per_s:g} CONNECT/s is over the account quota of "
                        f"{MAX_CONNECTS_PER_S_PER_ACCOUNT}/s (all shards together)")
    per_connection = TELEMETRY_TOPICS / config.telemetry_interval_s + 1.0 / REPORT_EVERY_S
    if per_connection > MAX_PUBLISHES_PER_S:
        problems.append(f"{per_connection:.0f} publishes/s per VEN is over AWS IoT's "
                        f"{MAX_PUBLISHES_PER_S:g}/s per connection")
    if 1.0 / REPORT_EVERY_S > SHADOW_MAX_REQUESTS_PER_S_PER_THING:
        problems.append("shadow reports exceed the per-thing request quota")
    if len(SUBSCRIPTIONS) + 1 > MAX_SUBSCRIPTIONS_PER_CONNECTION:
        problems.append("a VEN would hold more subscriptions than one connection may")
    if config.probe_rate * MESSAGES_PER_PROBE > MAX_PUBLISHES_PER_S:  # out and in
        problems.append(f"--probe-rate {config.probe_rate:g} is over the probe connection's "
                        f"{MAX_PUBLISHES_PER_S:g} publishes/s")
    probes = config.shards * config.vtn_connections  # each shard's connect at its start
    if probes > MAX_CONNECTS_PER_S_PER_ACCOUNT:
        problems.append(f"{probes:,} VTN connections ({config.shards} shard(s) of "
                        f"--vtn-connections {config.vtn_connections}) connect at once: over the "
                        f"account quota of {MAX_CONNECTS_PER_S_PER_ACCOUNT} CONNECT/s")
    return problems


def plan_lines(config: FleetConfig, broker: str) -> list[str]:
    rates = config.messages_per_minute()
    cost = estimated_cost_usd(config)
    lines = [
        f"fleet: {config.fleet_vens:,} VENs in {config.shards} shard(s); this shard "
        f"{config.vens:,}: {config.ids.describe()}",
        f"broker: {broker}",
        f"ramp: {config.ramp_per_s:g} connects/s (this shard {config.shard_ramp_per_s:.1f}/s): "
        f"all connected after {config.connect_all_s:,.1f} s; run {config.duration_s:,.0f} s",
        f"messages/min once connected: {rates['total']:,.0f} (telemetry {rates['telemetry']:,.0f}"
        f", shadow {rates['shadow']:,.0f}, probe {rates['commands']:,.0f})"
        + (f"; fan-out {config.fleet_vens * len(config.fanout_events):,} events + acks"
           if config.fanout else ""),
        f"AWS IoT Core cost if run there: about ${cost['total']:.2f} (connectivity "
        f"${cost['connectivity']:.2f}, messages ${cost['messages']:.2f}, shadow "
        f"${cost['shadow']:.2f}; list prices of {PRICES_DATE}, see docs/fleet.md)",
    ]
    if config.fanout:
        lines.append(_fanout_line(config, broker))
    if config.vens_per_cert > 1:
        lines.append(
            f"certificates: {config.certificates:,} for {config.fleet_vens:,} VENs, "
            f"{config.vens_per_cert:,} VENs share each; a leaked key acts as "
            f"all {config.vens_per_cert:,} VENs of its group (docs/fleet.md)")
    return lines


def _fanout_line(config: FleetConfig, broker: str) -> str:
    connections = config.vtn_connections
    line = (f"fan-out: {config.vens:,} commands an event from this shard's probe VTN over "
            f"{connections} connection{'s' if connections > 1 else ''}")
    if broker == "aws":
        per_second = connections * MAX_PUBLISHES_PER_S
        line += (f": at AWS IoT's {MAX_PUBLISHES_PER_S:g} publishes/s a connection, at least "
                 f"{config.vens / per_second:,.1f} s to send them and "
                 f"{config.fleet_vens / per_second:,.1f} s to take in the fleet's acks")
    return line
