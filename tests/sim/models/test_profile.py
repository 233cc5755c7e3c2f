import random

import pytest

from sim.models import Dryer, ElectricRange, Lighting, Outlets, Refrigerator
from tests.sim.models.envs import assert_walks_as_steps, constant

H = 3600.0


def series(c, seconds: float, dt: float = 60.0, t: float = 0.0) -> list[float]:
    out = []
    for _ in range(int(seconds / dt)):
        out.append(c.step(constant(t), dt))
        t += dt
    return out


def one_load_dryer(seed: int = 4) -> Dryer:
    return Dryer("dryer1", "Dryer", 30, rng=random.Random(seed), loads_per_day=1.0)


def test_dryer_runs_one_cycle_of_45_to_60_minutes():
    d = one_load_dryer()
    powers = series(d, 24 * H)
    on = [p for p in powers if p > 0]
    assert 44 <= len(on) <= 61
    assert max(powers) == pytest.approx(4.5)
    assert 4.5 * 45 / 60 - 1e-9 <= d.energy_kwh <= 4.5 * 60 / 60 + 1e-9


def test_dryer_pause_defers_the_cycle():
    free = one_load_dryer()
    free_powers = series(free, 2 * 24 * H)
    start = next(i for i, p in enumerate(free_powers) if p > 0)
    paused = one_load_dryer()
    powers = series(paused, (start + 10) * 60.0)  # ten minutes into the cycle
    assert paused.shed_capability_kw() == pytest.approx(4.5)
    paused.curtail(4.5)
    held = series(paused, 2 * H, t=(start + 10) * 60.0)
    assert sum(held) == 0.0
    assert paused.shed_capability_kw() == pytest.approx(4.5)  # still due, just paused
    paused.restore()
    t = (start + 10) * 60.0 + 2 * H
    powers += held + series(paused, 2 * 24 * H - t, t=t)
    assert paused.energy_kwh == pytest.approx(free.energy_kwh, abs=1e-9)
    end_free = next(i for i in range(start, len(free_powers)) if free_powers[i] == 0.0)
    end_paused = next(i for i in range(start + 130, len(powers)) if powers[i] == 0.0)
    assert end_paused == end_free + 120  # the first cycle finished exactly the pause later


@pytest.mark.parametrize("dt", [1.0, 900.0])
def test_dryer_energy_independent_of_step(dt):
    a, b = one_load_dryer(), one_load_dryer()
    series(a, 24 * H, dt=60.0)
    series(b, 24 * H, dt=dt)
    assert b.energy_kwh == pytest.approx(a.energy_kwh, abs=1e-9)


def test_range_cooks_at_meals_and_is_not_sheddable():
    r = ElectricRange("range1", "Electric Range", 40, rng=random.Random(2))
    r.curtail(5.0)
    powers = series(r, 7 * 24 * H)
    assert r.shed_capability_kw() == 0.0
    assert r.priority == 2
    assert r.energy_kwh > 1.0
    for i, p in enumerate(powers):
        if p > 0:
            hour = (i / 60) % 24
            assert 5.0 <= hour <= 21.0


def test_lighting_is_evening_heavy_and_dims_30_percent():
    light = Lighting("lights1", "Lighting Circuits", 15, rng=random.Random(3))
    powers = series(light, 24 * H)
    evening = sum(powers[18 * 60 : 23 * 60]) / (5 * 60)
    midday = sum(powers[10 * 60 : 15 * 60]) / (5 * 60)
    assert evening > 3 * midday
    dimmed = Lighting("lights1", "Lighting Circuits", 15, rng=random.Random(3))
    series(dimmed, 20 * H)
    dimmed.curtail(100.0)  # more than it can give: dims by the 30 % maximum
    assert dimmed.step(constant(20 * H), 60.0) == pytest.approx(0.7 * powers[20 * 60])
    assert dimmed.shed_capability_kw() == pytest.approx(0.3 * powers[20 * 60])
    dimmed.curtail(0.05)
    assert dimmed.step(constant(20 * H + 60), 60.0) == pytest.approx(powers[20 * 60 + 1] - 0.05)


def test_outlets_have_a_base_and_a_small_sheddable_share():
    o = Outlets("outlets1", "General Outlets", 20, rng=random.Random(8))
    free = Outlets("outlets1", "General Outlets", 20, rng=random.Random(8))
    o.curtail(10.0)
    a, b = series(o, 24 * H), series(free, 24 * H)
    # Smart plugs: a request cuts at most 10 % of the natural draw.
    assert all(x == pytest.approx(0.9 * y) for x, y in zip(a, b, strict=True))
    assert min(b) >= 0.1
    assert o.shed_capability_kw() == pytest.approx(0.1 * o._natural)
    # RECS-range plug load: 5-8 kWh/day.
    assert 5.0 <= free.energy_kwh <= 8.0


@pytest.mark.parametrize("dt", [1.0, 60.0, 900.0])
def test_fridge_duty_cycle(dt):
    f = Refrigerator("fridge1", "Refrigerator", 15, rng=random.Random(6))
    powers = series(f, 24 * H, dt=dt)
    # 0.15 kW at 40 % duty: 1.44 kWh/day, inside the 1.2-2 kWh/day of a modern fridge.
    assert f.energy_kwh == pytest.approx(1.44, rel=0.15)
    assert max(powers) <= 0.15 + 1e-9
    assert f.critical and f.shed_capability_kw() == 0.0
    assert f.floor_kw() == f.power_kw
    ref = Refrigerator("fridge1", "Refrigerator", 15, rng=random.Random(6))
    series(ref, 24 * H, dt=60.0)
    assert f.energy_kwh == pytest.approx(ref.energy_kwh, rel=1e-9)  # exact integration


def test_load_scale_scales_energy():
    a = Outlets("o", "General Outlets", 20, rng=random.Random(1))
    b = Outlets("o", "General Outlets", 20, rng=random.Random(1), scale=0.5)
    series(a, 24 * H)
    series(b, 24 * H)
    assert b.energy_kwh == pytest.approx(0.5 * a.energy_kwh)



@pytest.mark.parametrize("kind", [Lighting, Outlets, Dryer, ElectricRange, Refrigerator])
def test_run_steps_walks_a_span_as_step_by_step_would(kind):
    """Shaped and cycling loads walk a span in one loop, appliances skip idle spans: bit for
    bit what stepping one step at a time gives, over two days with sheds and a switch-off."""
    assert_walks_as_steps(kind("c1", "load", 30, rng=random.Random(7)),
                          kind("c1", "load", 30, rng=random.Random(7)), constant, 0.5)
