"""The plain progress lines `ven-sim run` prints when stderr is not a terminal."""

from __future__ import annotations

from ven_sim.report import progress_lines


def test_a_line_every_few_wall_seconds_and_one_at_the_end() -> None:
    now = [0.0]
    lines: list[str] = []
    with progress_lines(86400.0, lines.append, every_s=5.0, clock=lambda: now[0]) as advance:
        for t, wall in ((3600, 1.0), (7200, 5.5), (10800, 6.0), (43200, 11.0), (86400, 12.0)):
            now[0] = wall
            advance(float(t))
    assert lines == [
        "progress: 2.0 of 24 simulated h (8%) after 6 s",
        "progress: 12.0 of 24 simulated h (50%) after 11 s",
        "progress: 24.0 of 24 simulated h (100%) after 12 s",
    ]
