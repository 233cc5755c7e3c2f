"""Fixtures shared by the tests under tests/ven_sim/."""

from __future__ import annotations

from typing import Any

import pytest

from .fault_runs import Run, calm_scenario, ending_after_the_event, run


@pytest.fixture(scope="session")
def calm_acks() -> list[dict[str, Any]]:
    """Every event ack of the `calm` run, filled by that fixture."""
    return []


@pytest.fixture(scope="session")
def calm(tmp_path_factory: pytest.TempPathFactory, calm_acks: list[dict[str, Any]]) -> Run:
    """One calm day of the shipped outage scenario until 17:00, every VEN's telemetry and
    event acks watched. Deterministic, so one run serves every test that compares a faulty
    run (cut at 17:00 too: the faults and the event are over by then) with it."""
    path = ending_after_the_event(calm_scenario(tmp_path_factory.mktemp("calm")))
    return run(path, watch="+", acks=calm_acks)
