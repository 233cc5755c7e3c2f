"""Shared weather for the model tests: a hot, clear summer day."""

from __future__ import annotations

import math

from sim.models.base import StepEnv


def hot_day(t: float) -> StepEnv:
    """Outdoor 24 degC at 03:00 up to 35 degC at 15:00; clear sky 06:00-19:00."""
    hour = (t / 3600.0) % 24.0
    outdoor = 29.5 + 5.5 * math.cos((hour - 15.0) / 24.0 * 2.0 * math.pi)
    irradiance = math.sin(math.pi * (hour - 6.0) / 13.0) if 6.0 < hour < 19.0 else 0.0
    return StepEnv(t=t, epoch=1_750_000_000.0 + t, hour=hour, outdoor_c=outdoor,
                   irradiance=irradiance)


def constant(t: float, outdoor_c: float = 35.0, irradiance: float = 0.0,
             window_sun: float = 0.0) -> StepEnv:
    return StepEnv(t=t, epoch=1_750_000_000.0 + t, hour=(t / 3600.0) % 24.0,
                   outdoor_c=outdoor_c, irradiance=irradiance, window_sun=window_sun)


def runs(series: list[float]) -> list[tuple[bool, int]]:
    """Run-length encode on/off (power > 0) into (on, steps) pairs."""
    out: list[tuple[bool, int]] = []
    for p in series:
        on = p > 0.0
        if out and out[-1][0] == on:
            out[-1] = (on, out[-1][1] + 1)
        else:
            out.append((on, 1))
    return out


def assert_walks_as_steps(walked, stepped, env_at, shed_kw: float, days: int = 2) -> None:
    """Drive `walked` by `run_steps` over 5-minute spans and its copy `stepped` by `step()`,
    with a shed now and then and a switch-off of one span; after every span the energy, the
    seconds out of comfort, the end-of-span comfort and the power must agree bit for bit."""
    from sim.models.base import step_plan

    _, _, low, high = (stepped.comfort_limits() if stepped.tracks_comfort
                       else (None, None, -math.inf, math.inf))
    t = 0.0
    for span in range(days * 288):
        if span % 60 == 20:
            walked.curtail(shed_kw)
            stepped.curtail(shed_kw)
        elif span % 60 == 40:
            walked.restore()
            stepped.restore()
        walked.enabled = stepped.enabled = span % 101 != 70
        plan = step_plan(env_at, t, t + 300.0, 60.0)
        energy, comfort_s, violated = walked.run_steps(plan)
        kws = out_s = 0.0
        out = False
        for env, dt in plan:
            kws += stepped.step(env, dt) * dt
            if stepped.tracks_comfort:
                holder, name, _, _ = stepped.comfort_limits()
                out = not low <= getattr(holder, name) <= high
                out_s += dt if out else 0.0
        assert (energy, comfort_s, violated) == (kws / 3600.0, out_s, out)
        assert walked.power_kw == stepped.power_kw
        t += 300.0
    assert walked.same_state(stepped)
    assert walked.energy_kwh > 0.0
