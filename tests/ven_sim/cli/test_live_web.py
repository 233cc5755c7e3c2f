"""`ven-sim live` web options: the token from a file, and the web UI off loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from tests.ven_sim.test_signals import TIMEOUT_S
from ven_sim.broker.mosquitto import free_port
from ven_sim.cli import main


def status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_token_from_a_file_guards_every_api_request_off_loopback(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-123\n")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ven_sim", "live", "--thing-name", "tok", "--broker", "inprocess",
         "--web-host", "0.0.0.0", "--web-port", str(port), "--web-token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "WEB_TOKEN"},
             "PYTHONUNBUFFERED": "1"},
    )
    seen: list[str] = []
    web_up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("web UI on"):
                web_up.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert web_up.wait(TIMEOUT_S), "".join(seen)
        url = f"http://127.0.0.1:{port}/api/state"
        assert status(url) == 401
        assert status(url, "wrong") == 401
        assert status(url, "file-token-123") == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "file-token-123" not in "".join(seen)  # never printed


def test_an_empty_or_missing_token_file_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    for path, message in ((empty, "is empty"), (tmp_path / "none", "No such file")):
        result = CliRunner().invoke(main, ["live", "--thing-name", "t", "--broker", "inprocess",
                                           "--web-token-file", str(path), "--seconds", "1"])
        assert result.exit_code == 1 and message in result.output, result.output
