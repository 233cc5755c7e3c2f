"""Scenario files a hostile or careless author writes: bounded, with one clear message.

Plus Hypothesis fuzzing of the loader: whatever the text, it returns a Scenario or raises
one ScenarioError line naming the file, never another exception.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sim.limits import MAX_SCENARIO_VALUES, MAX_VENS_PER_RUN
from sim.scenario import ScenarioError
from sim.scenario_loader import load_scenario
from tests.fuzzing import FUZZ
from tests.sim.test_scenario import BASE, write
from ven_sim.cli import main

BOMB = "\n".join(
    ["name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
) + "\n"


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    return str(caught.value)


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    assert len(BOMB) < 1500  # 10^9 values once expanded
    began = time.monotonic()
    message = error(tmp_path, BOMB)
    assert time.monotonic() - began < 5.0
    assert f"expands to over {MAX_SCENARIO_VALUES:,} values" in message
    assert message.startswith(str(tmp_path / "s.yaml"))


def test_an_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    assert "is over 1,000,000 characters" in error(tmp_path, BASE + "#" * 1_000_001 + "\n")


def test_a_fleet_too_big_for_one_process_points_to_the_workers(tmp_path: Path) -> None:
    message = error(tmp_path, BASE.replace("count: 4", "count: 100000000000"))
    assert ":13: fleet[0].count: 100,000,000,000 VENs are more than one run takes" in message
    assert "workers" in message


def test_too_many_telemetry_rows_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("count: 4", "count: 10000").replace("duration: 24h", "duration: 2000d")
    assert "telemetry rows, more than one run keeps" in error(tmp_path, text)


def test_run_checks_the_size_again_after_vens(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    result = CliRunner().invoke(main, ["run", str(path), "--vens", str(MAX_VENS_PER_RUN + 1),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "more than one run takes" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


yaml_scalars = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(),
                         st.text(max_size=20), st.sampled_from(["1e400", ".inf", "+1h", "25:00"]))


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """BASE with a few lines replaced, cut or duplicated: near enough to reach every check."""
    lines = BASE.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        key = lines[i].split(":")[0]
        choice = draw(st.integers(0, 3))
        if choice == 0:
            lines[i] = f"{key}: {draw(yaml_scalars)!s}"
        elif choice == 1:
            del lines[i]
        elif choice == 2:
            lines.insert(i, lines[i])
        else:
            lines[i] = draw(st.text(max_size=30))
    return "\n".join(lines) + "\n"


def test_fuzzed_scenarios_load_or_fail_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"

    @FUZZ
    @given(text=mutated_scenarios() | st.text(max_size=200))
    def load(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_scenario(path)
        except ScenarioError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)

    load()
