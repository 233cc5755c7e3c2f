"""Every package face: a sorted, unique `__all__` whose names resolve to the package's own
objects (in the manner of httpx's tests/test_exported_members.py)."""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

PACKAGES = (
    "actors",
    "sim",
    "sim.models",
    "ven_sim",
    "ven_sim.bench",
    "ven_sim.broker",
    "ven_sim.certs",
    "ven_sim.cli",
    "ven_sim.faults",
    "ven_sim.fleet",
    "ven_sim.live",
    "ven_sim.transports",
    "ven_sim.web",
)


def isort_style(name: str) -> tuple[int, str]:
    """The order of ruff's RUF022: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return 0, name
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.fixture(params=PACKAGES)
def package(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(request.param)


def test_all_is_unique_and_sorted(package: ModuleType) -> None:
    exported = package.__all__
    assert len(set(exported)) == len(exported), "duplicates in __all__"
    assert exported == sorted(exported, key=isort_style)


def test_every_exported_name_resolves(package: ModuleType) -> None:
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert not missing


def test_exported_classes_and_functions_belong_to_the_package(package: ModuleType) -> None:
    prefix = package.__name__
    foreign = {
        name: obj.__module__
        for name in package.__all__
        if inspect.isclass(obj := getattr(package, name)) or inspect.isfunction(obj)
        if obj.__module__ != prefix and not obj.__module__.startswith(prefix + ".")
    }
    assert not foreign, f"re-exported from outside {prefix}: {foreign}"
