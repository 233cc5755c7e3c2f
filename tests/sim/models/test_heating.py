import pytest

from sim.models.heating import GasFurnace, HeatPump, ResistanceHeat


def test_heat_pump_cop_falls_with_outdoor_temperature_through_the_rating_points():
    hp = HeatPump(3.5, cop_warm=3.5, cop_cold=2.3, backup_kw=0.0)
    assert hp.cop(8.3) == pytest.approx(3.5)  # AHRI 47 F
    assert hp.cop(-8.3) == pytest.approx(2.3)  # AHRI 17 F
    assert hp.cop(0.0) == pytest.approx(2.9)
    cops = [hp.cop(t) for t in range(-30, 40, 5)]
    assert cops == sorted(cops)
    assert min(cops) == 1.0 and max(cops) == 5.0  # clamped at both ends


def test_backup_strips_switch_on_below_the_balance_point():
    hp = HeatPump(3.5, backup_kw=5.0, backup_below_c=-6.0, cutoff_c=-20.0)
    heat, electric = hp.output(-5.0)
    assert electric == 3.5 and heat == pytest.approx(3.5 * hp.cop(-5.0))
    heat, electric = hp.output(-7.0)
    assert electric == 8.5 and heat == pytest.approx(3.5 * hp.cop(-7.0) + 5.0)
    assert hp.output(-25.0) == (5.0, 5.0)  # compressor cut out: strips alone


def test_balance_point_is_where_the_compressor_just_carries_the_house():
    hp = HeatPump(3.5)
    ua, indoor, gain = 1.0 / 3.0, 20.0, 0.5
    bp = hp.balance_point_c(ua, indoor, gain)
    assert hp.cop(bp) * 3.5 == pytest.approx(ua * (indoor - bp) - gain, abs=1e-6)
    assert -10.0 < bp < 0.0  # a typical switch-over for a 3-ton unit
    # A leakier house needs the strips sooner.
    assert hp.balance_point_c(0.5, indoor, gain) > bp


def test_resistance_and_gas():
    assert ResistanceHeat(10.0).output(-10.0) == (10.0, 10.0)
    gas = GasFurnace(18.0, blower_kw=0.5)
    assert gas.output(-10.0) == (18.0, 0.5)  # the heat is gas, the panel sees the blower
    assert gas.max_electric_kw == 0.5
    with pytest.raises(ValueError):
        HeatPump(3.5, cop_warm=2.0, cop_cold=3.0)
