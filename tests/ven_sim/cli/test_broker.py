"""`broker` and `shadow-service` commands: real runs in a subprocess, clear errors in-process."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.ven_sim.helpers import TIMEOUT_S, Probe
from ven_sim.broker.embedded import EmbeddedBroker
from ven_sim.broker.shadow_service import shadow_topic
from ven_sim.certs.local_ca import CertPaths, LocalCA
from ven_sim.cli import main
from ven_sim.cli.broker import shadow_service_command

ROOT = Path(__file__).resolve().parents[3]


class Command:
    """`python -m ven_sim.cli.broker ...` in the background, its output lines in a queue."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ven_sim", *args], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} in {self.output}") from None
            self.output.append(line)
            if found := re.search(pattern, line):
                return found

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=TIMEOUT_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def command() -> Iterator[Callable[..., Command]]:
    """Starts commands; kills whatever a failing test left running."""
    started: list[Command] = []

    def start(*args: str) -> Command:
        started.append(Command(*args))
        return started[-1]

    yield start
    for cmd in started:
        cmd.kill()


@dataclass(frozen=True)
class Running:
    url: str
    ca: LocalCA

    def client_cert(self, client_id: str) -> CertPaths:
        return self.ca.client_cert(client_id)


def _assert_shadow_answers(broker: Running, thing: str) -> None:
    probe = Probe(broker, thing)
    try:
        probe.subscribe(shadow_topic(thing, "get/rejected"))
        probe.publish(shadow_topic(thing, "get"), b"")
        assert probe.receive_json(shadow_topic(thing, "get/rejected"))["code"] == 404
    finally:
        probe.close()


def test_broker_command_serves_shadows_until_sigterm(
    tmp_path: Path, command: Callable[..., Command]
) -> None:
    certs = tmp_path / "local"
    broker = command("broker", "--port", "0", "--certs", str(certs), "--client-cert", "ven-cli")
    assert broker.wait_for(r"client ven-cli: --cert (\S+)")[1] == str(
        certs / "clients" / "ven-cli" / "cert.pem"
    )
    url = broker.wait_for(r"broker: (mqtts://127\.0\.0\.1:\d+)")[1]
    assert broker.wait_for(r"CA: +(\S+)")[1] == str(certs / "ca.pem")
    _assert_shadow_answers(Running(url, LocalCA(certs)), "ven-cli")
    assert broker.terminate() == 0
    broker.wait_for("broker stopped")


def test_shadow_service_command_on_a_plain_broker(
    tmp_path: Path, command: Callable[..., Command]
) -> None:
    with EmbeddedBroker(LocalCA(tmp_path), plain_port=0) as broker:
        service = command("shadow-service", "--broker", str(broker.plain_url))
        service.wait_for("shadow service on")
        _assert_shadow_answers(Running(broker.url, broker.ca), "ven-plain")
        assert service.terminate() == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_broker_is_one_clear_error() -> None:
    url = f"mqtt://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(shadow_service_command, ["--broker", url])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {url}: cannot connect")
    assert result.output.count("\n") == 1


def test_foreign_certificate_is_one_clear_error(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    foreign = LocalCA(tmp_path).client_cert("shadow-service")
    args = ["--broker", embedded_broker.url, "--ca", str(embedded_broker.ca_path),
            "--cert", str(foreign.cert), "--key", str(foreign.key)]
    result = CliRunner().invoke(shadow_service_command, args)
    assert result.exit_code == 1
    assert "client certificate" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--broker", "http://x:1"], "mqtts://HOST:PORT"),
     (["--broker", "mqtts://127.0.0.1:8883"], "--ca is required")],
)
def test_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(shadow_service_command, args)
    assert result.exit_code == 2
    assert message in result.output


def test_broker_follows_ven_sim_certs_and_says_how_tools_find_it(
    tmp_path: Path, command: Callable[..., Command], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started from one folder with VEN_SIM_CERTS; `listen` from another finds it by --certs-dir.
    shared = tmp_path / "shared-certs"
    monkeypatch.setenv("VEN_SIM_CERTS", str(shared))
    broker = command("broker", "--port", "0", "--no-shadow")
    assert broker.wait_for(r"CA: +(\S+)")[1] == str(shared / "local" / "ca.pem")
    port = broker.wait_for(r"tools: +ven-sim listen --broker embedded:(\d+) --certs-dir (\S+)")
    assert port[2] == str(shared)
    monkeypatch.delenv("VEN_SIM_CERTS")
    monkeypatch.chdir(tmp_path)
    args = ["listen", "--broker", f"embedded:{port[1]}", "--certs-dir", port[2], "--seconds", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"listening on embedded broker mqtts://127.0.0.1:{port[1]}" in result.stderr
    assert broker.terminate() == 0


def test_a_niceness_out_of_range_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(shadow_service_command,
                                ["--broker", "mqtt://127.0.0.1:1", "--nice", "20"])
    assert result.exit_code == 2
    assert "Invalid value for '--nice': 20 is not in the range 0<=x<=19." in result.output
