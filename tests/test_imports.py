"""Importing a package, or asking `ven-sim` for help, loads none of the heavy libraries.

Each case runs in a fresh interpreter (this one has imported everything already) and
lists the top-level modules it ended up with; the heavy ones are loaded only by the
code that uses them (in the manner of click's tests/test_imports.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = frozenset({"amqtt", "boto3", "botocore", "cryptography", "paho", "matplotlib", "ray",
                   "prometheus_client"})
SCENARIO_FILE_LIBRARIES = frozenset({"jsonschema", "ruamel"})

LIST_MODULES = "\nimport json, sys; print(json.dumps(sorted(sys.modules)))"

HELP = """
import contextlib, io
from ven_sim.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    assert main({args!r}, standalone_mode=False) == 0
"""

EVERY_EXPORT = """
import {package}
for name in {package}.__all__:
    getattr({package}, name)
"""

CASES = {
    "ven-sim --help": (HELP.format(args=["--help"]), HEAVY | SCENARIO_FILE_LIBRARIES),
    "ven-sim run --help": (HELP.format(args=["run", "--help"]), HEAVY | SCENARIO_FILE_LIBRARIES),
    "ven-sim broker --help": (HELP.format(args=["broker", "--help"]), HEAVY),
    "ven-sim certs create --help": (HELP.format(args=["certs", "create", "--help"]), HEAVY),
    "ven-sim fleet --help": (HELP.format(args=["fleet", "--help"]), HEAVY),
    "import sim": (
        "import sim",
        HEAVY | SCENARIO_FILE_LIBRARIES | {"actors", "ven_sim", "pykka", "click", "simpy"},
    ),
    "every export of sim": (
        EVERY_EXPORT.format(package="sim"),
        HEAVY | {"actors", "ven_sim", "pykka", "click"},
    ),
    "import actors": ("import actors", HEAVY | {"ven_sim", "click", "simpy"}),
    "import ven_sim": ("import ven_sim", HEAVY | {"sim", "actors", "click"}),
    "import ven_sim.transports": ("import ven_sim.transports", HEAVY),
    "import ven_sim.broker": ("import ven_sim.broker", HEAVY),
    "import ven_sim.certs": ("import ven_sim.certs", HEAVY),
    "import ven_sim.bench": ("import ven_sim.bench", HEAVY),
    "import ven_sim.live": ("import ven_sim.live", HEAVY),
    "import ven_sim.web": ("import ven_sim.web", HEAVY),
}


def loaded_top_level_modules(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code + LIST_MODULES],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {name.partition(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loads_no_heavy_modules(case: str) -> None:
    code, denied = CASES[case]
    assert loaded_top_level_modules(code) & denied == set()


def test_the_check_would_notice_a_heavy_import() -> None:
    # guards the guard: a deny-listed module that is imported must show up
    assert "paho" in loaded_top_level_modules("import paho.mqtt.client")
