"""The three layers import one way only: sim <- actors <- ven_sim (issue 7).

Every import statement counts, wherever it is: at module level, inside a function, or
under `if TYPE_CHECKING:`, because a lazy import is still a dependency of the layer.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("sim", "actors", "ven_sim")
MAX_MODULE_LINES = 420

# sim is the pure domain: nothing of ours above it, no actor, MQTT, CLI or AWS libraries
SIM_FORBIDDEN = frozenset(
    {"actors", "ven_sim", "pykka", "paho", "click", "amqtt", "boto3", "botocore"}
)
# actors import sim and pykka only (and the standard library)
ACTORS_ALLOWED = frozenset({"actors", "sim", "pykka"})


def modules(layer: str) -> list[Path]:
    return sorted(path for path in (ROOT / layer).rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in `source`, relative ones resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.lineno, node.module or ""
                continue
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            yield node.lineno, ".".join([*parts, node.module] if node.module else parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    return imports_in(path.read_text(encoding="utf-8"), package_of(path))


def top_level(module: str) -> str:
    return module.partition(".")[0]


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_sim_imports_nothing_above_it() -> None:
    offences = [
        f"{where(path, line)}: imports {module}"
        for path in modules("sim")
        for line, module in imports(path)
        if top_level(module) in SIM_FORBIDDEN
    ]
    assert not offences, "sim must not import these:\n" + "\n".join(offences)


def test_actors_import_only_sim_pykka_and_the_standard_library() -> None:
    offences = [
        f"{where(path, line)}: imports {module}"
        for path in modules("actors")
        for line, module in imports(path)
        if top_level(module) not in ACTORS_ALLOWED | sys.stdlib_module_names
    ]
    assert not offences, "actors may import only sim and pykka:\n" + "\n".join(offences)


def test_no_iot_package_comes_back() -> None:
    assert not list((ROOT / "iot").glob("**/*.py")), "the old top-level iot/ package is back"
    offences = [
        f"{where(path, line)}: imports {module}"
        for layer in LAYERS
        for path in modules(layer)
        for line, module in imports(path)
        if top_level(module) == "iot"
    ]
    assert not offences, "iot is gone; import from sim, actors or ven_sim:\n" + "\n".join(offences)


def test_modules_stay_short() -> None:
    too_long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for layer in LAYERS
        for path in modules(layer)
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(too_long)


def test_the_guard_sees_lazy_type_only_and_relative_imports() -> None:
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from ven_sim.wire import Wire
def later():
    import paho.mqtt.client
from . import base
from ..world import Weather
"""
    assert sorted(imports_in(source, "sim.models")) == [
        (2, "typing"),
        (4, "ven_sim.wire"),
        (6, "paho.mqtt.client"),
        (7, "sim.models"),
        (8, "sim.world"),
    ]
    assert package_of(ROOT / "sim" / "models" / "base.py") == "sim.models"
    assert package_of(ROOT / "sim" / "models" / "__init__.py") == "sim.models"
