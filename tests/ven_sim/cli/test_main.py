"""The `ven-sim` group itself."""

from __future__ import annotations

from importlib.metadata import version

from click.testing import CliRunner

from ven_sim.cli import main


def test_version_names_the_installed_package() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"ven-sim {version('ven-sim')}\n"
