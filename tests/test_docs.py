"""The docs, run: every command in README.md, docs/scenarios.md and docs/live_ven.md, and
every sample output in them, so the docs and the CLI cannot drift apart.

A command is run for real when it can be on this machine (a scenario run, the embedded
broker with `listen` and `send` against it); one that needs an AWS account is parsed with
the real option definitions. A command no test here knows makes the test fail.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.scenario_loader import load_scenario
from ven_sim.broker.mosquitto import free_port
from ven_sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
RUN_DOCS = ("README.md", "docs/scenarios.md", "docs/live_ven.md")
NOT_VEN_SIM = {  # shell commands in the docs that are not ven-sim, and why no test runs them
    "python3 -m pip install -e .": "installs ven-sim; the suite runs on that install",
    "bash tests/run.sh": "the test suite itself",
}
START_S = 60.0  # a generous wait for a broker run or live VEN to come up on a busy machine


def blocks(doc: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (ROOT / doc).read_text(), re.S)


def commands(block: str) -> list[list[str]]:
    """Each command of a ```sh block as argv: continuations joined, comments and `&&` split."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        while argv:
            cut = argv.index("&&") if "&&" in argv else len(argv)
            out.append(argv[:cut])
            argv = argv[cut + 1:]
    return out


def sh_blocks() -> list[tuple[str, int, list[list[str]]]]:
    return [(doc, i, commands(b)) for doc in RUN_DOCS for i, b in enumerate(blocks(doc, "sh"))]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder with the shipped scenarios, as a newcomer's clone has them."""
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VEN_SIM_CERTS", raising=False)
    monkeypatch.delenv("IOT_ENDPOINT", raising=False)
    return tmp_path


def needs_aws(argv: list[str]) -> bool:
    return "aws" in argv or argv[1:3] in (["certs", "create"], ["certs", "fetch"])


def in_process(argv: list[str]) -> bool:
    """`--broker inprocess`: no network, so the command runs like any other run."""
    return "--broker" in argv and argv[argv.index("--broker") + 1 :][:1] == ["inprocess"]


def is_local_server(argv: list[str]) -> bool:
    """`run --broker embedded` or `live` on the embedded broker: the others talk to it."""
    if argv[:1] != ["ven-sim"] or needs_aws(argv) or in_process(argv):
        return False
    return argv[1] == "live" or (argv[1] == "run" and "--broker" in argv)


def on_port(argv: list[str], port: int) -> list[str]:
    """The same command on the test's port instead of the default 8883."""
    argv = list(argv)
    if "--broker" in argv:
        at = argv.index("--broker") + 1
        assert argv[at] == "embedded", argv
        argv[at] = f"embedded:{port}"
    else:
        argv += ["--broker", f"embedded:{port}"]
    return argv


@pytest.mark.parametrize(
    "doc, index, cmds", sh_blocks(), ids=[f"{d}#{i}" for d, i, _ in sh_blocks()]
)
def test_every_shell_command_in_the_docs_works(
    doc: str, index: int, cmds: list[list[str]], workdir: Path
) -> None:
    if is_local_server(cmds[0]):
        run_session(cmds, workdir)
        return
    for argv in cmds:
        line = shlex.join(argv)
        if line in NOT_VEN_SIM:
            continue
        assert argv[0] == "ven-sim", f"{doc}: no test knows `{line}`: add one in {__file__}"
        # Every ven-sim command at least parses with today's options.
        main.make_context("ven-sim", argv[1:])
        if needs_aws(argv):
            continue
        assert argv[1] in ("run", "validate") and ("--broker" not in argv or in_process(argv)), (
            f"{doc}: no test knows `{line}`: add one in {__file__}"
        )
        result = CliRunner().invoke(main, argv[1:])
        assert result.exit_code == 0, f"{line}\n{result.output}"
        if argv[1] == "run":
            assert "results in runs/" in result.output


def run_session(cmds: list[list[str]], workdir: Path) -> None:
    """Start the server command as its own process, then run the others against it."""
    port = free_port()
    server = on_port(cmds[0], port)
    env = {**os.environ, "WEB_PORT": "0", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ven_sim", *server[1:]],
        cwd=workdir, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stderr is not None
        seen = []  # any warning a library prints first, then the line that says it is up
        while not any(word in "".join(seen[-1:]) for word in ("live on", "on the wire")):
            seen.append(proc.stderr.readline())
            assert seen[-1], f"{shlex.join(server)} ended before it was up: {seen}"
        for argv in cmds[1:]:
            argv = on_port(argv, port)
            if argv[1] == "listen":
                argv += ["--count", "1", "--seconds", str(START_S)]
            result = CliRunner().invoke(main, argv[1:])
            assert result.exit_code == 0, f"{shlex.join(argv)}\n{result.output}"
            if argv[1] == "send":
                assert '"ok": true' in result.output and "rtt" in result.output
            else:
                assert result.stdout.count("\n") == 1, result.output
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=START_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- docs/scenarios.md: the complete example and its error messages ---------------------------
def complete_example() -> str:
    text = (ROOT / "docs/scenarios.md").read_text()
    return re.search(r"## A complete example.*?```yaml\n(.*?)```", text, re.S).group(1)


def test_the_complete_example_is_the_shipped_peak_event(tmp_path: Path) -> None:
    example = tmp_path / "peak_event.yaml"
    example.write_text(complete_example())
    shipped = load_scenario(ROOT / "scenarios" / "peak_event.yaml")
    assert replace(load_scenario(example), source=shipped.source) == shipped


# Each sample error in docs/scenarios.md, made from the complete example by one edit.
MUTATIONS = {
    "fleet[0].parms": ("    params:                     #", "    parms:                      #"),
    "events[0].duration": ("    duration: 2h\n", "    duration: -3600\n"),
    "events[0].target": ("target: all", "target: home"),
    "events[0].per_ven_kw": ("    target: all", "    per_ven_kw: 1\n    target: all"),
    "events[0].start": ('"15:00"', '"00:00"'),
    "invalid YAML": ("{choice: [150, 200]}", "{choice: [150, 200}"),
}


def bad_copy(field: str) -> str:
    old, new = MUTATIONS[field]
    example = complete_example()
    assert old in example, f"the complete example changed: update MUTATIONS[{field!r}]"
    return example.replace(old, new, 1)


def documented_errors() -> Iterator[str]:
    for block in blocks("docs/scenarios.md", "text") + blocks("docs/scenarios.md", "console"):
        yield from (ln for ln in block.splitlines() if ln.startswith("Error: "))


@pytest.mark.parametrize("line", list(documented_errors()))
def test_every_sample_error_is_what_validate_prints(line: str, workdir: Path) -> None:
    if line.startswith("Error: missing.yaml:"):
        path = "missing.yaml"
    else:
        field = next((f for f in MUTATIONS if f in line), None)
        assert field is not None, f"no test makes `{line}`: add a MUTATIONS entry"
        path = "bad.yaml"
        Path(path).write_text(bad_copy(field))
    result = CliRunner().invoke(main, ["validate", path])
    assert result.exit_code == 1
    assert result.stderr.strip() == line


def test_every_console_example_prints_what_the_docs_say(workdir: Path) -> None:
    # The files the examples read: scenarios.md's bad.yaml and live_ven.md's house.yaml.
    Path("bad.yaml").write_text(bad_copy("fleet[0].parms"))
    (config,) = blocks("docs/live_ven.md", "yaml")
    Path("house.yaml").write_text(config.replace("params:", "parms:", 1))
    examples = [b for doc in RUN_DOCS for b in blocks(doc, "console")]
    assert len(examples) >= 2
    for example in examples:
        command, *expected = example.strip().splitlines()
        assert command.startswith("$ ven-sim "), command
        result = CliRunner().invoke(main, shlex.split(command)[2:])
        assert result.output.strip().splitlines() == expected, command
