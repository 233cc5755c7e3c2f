"""`ven-sim fleet --metrics-port`: Prometheus scraped over loopback while a fleet runs."""

from __future__ import annotations

import json
import signal
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.ven_sim.fleet.live_run import run_until
from ven_sim.broker.mosquitto import Mosquitto, free_port
from ven_sim.fleet.histogram import Histogram
from ven_sim.fleet.prometheus import LATENCY_BUCKETS_S, prometheus_buckets

VENS = 30


def scrape(port: int) -> dict[str, float]:
    """Every sample as name{labels} -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def test_the_endpoint_shows_the_run_as_it_goes(mosquitto: Mosquitto, tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "ven_sim", "fleet", "--vens", str(VENS), "--ramp", "30",
        "--duration", "600", "--telemetry-interval", "1", "--probe-rate", "5",
        "--broker", mosquitto.url, "--local-ca", str(mosquitto.folder / "certs"),
        "--id-prefix", "ven-prom", "--metrics-port", str(port), "--out", str(out),
    ]
    scraped: dict[str, float] = {}
    code, _, stdout, stderr = run_until(
        command, f"connected {VENS}/{VENS}", f"fan-out acked {VENS}",
        then=lambda: scraped.update(scrape(port)), stop=signal.SIGTERM)  # a clean stop too
    assert code == 0, stdout + stderr
    during = scraped
    results = json.loads((out / "fleet.json").read_text())
    assert during["ven_fleet_vens"] == VENS
    assert during["ven_fleet_connected"] == VENS == during["ven_fleet_connects_total"]
    assert during["ven_fleet_opened_total"] == VENS
    assert during["ven_fleet_unexpected_disconnects_total"] == 0
    assert during["ven_fleet_fanout_acked_total"] == VENS
    assert during["ven_fleet_fanout_ack_seconds_count"] == VENS
    assert during["ven_fleet_fanout_ack_seconds_bucket{le=+Inf}"] == VENS
    assert during["ven_fleet_connect_seconds_count"] == VENS
    assert during["ven_fleet_schedule_lag_seconds_count"] > 0
    assert during["ven_fleet_actor_restarts_total"] == 0
    # Counters only grow: the scrape came before the stop, fleet.json after it.
    assert 0 < during["ven_fleet_telemetry_published_total"] <= results["telemetry_published"]
    assert during["ven_fleet_messages_published_total"] > during[
        "ven_fleet_telemetry_published_total"]  # shadow reports and acks as well
    assert 0 < during["ven_fleet_command_rtt_seconds_count"] <= results["commands_answered"]
    assert during["ven_fleet_reconnects_total"] == 0
    assert during["process_resident_memory_bytes"] > 50e6
    assert during["process_cpu_seconds_total"] > 0


def test_prometheus_buckets_count_from_the_log_buckets() -> None:
    hist = Histogram()
    values_ms = [1.0, 4.0, 9.0, 40.0, 90.0, 400.0, 2000.0, 60_000.0]
    for value in values_ms:
        hist.add(value)
    pairs = dict(prometheus_buckets(hist.buckets))
    for bound_s in LATENCY_BUCKETS_S:
        # Exact here: no value sits within 2 % of a bound.
        assert pairs[repr(bound_s)] == sum(v <= bound_s * 1000 for v in values_ms), bound_s
    assert pairs["+Inf"] == len(values_ms)


def test_metrics_port_without_prometheus_client_is_one_clear_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The endpoint is an optional extra: without it, one line naming it, before any VEN."""
    from click.testing import CliRunner

    from ven_sim.cli import main

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    result = CliRunner().invoke(main, ["fleet", "--vens", "2", "--metrics-port", "9999",
                                       "--duration", "5"])
    assert result.exit_code == 1
    assert "--metrics-port needs prometheus_client: pip install -e .[fleet]" in result.output
    assert "Traceback" not in result.output and result.exception is not None
