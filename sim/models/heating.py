"""Heat sources for the HVAC model: heat pump with resistance backup, resistance, gas.

Each gives, while it runs at an outdoor temperature, the heat it puts into the house
(thermal kW) and what it draws from the panel (electric kW).
"""

from __future__ import annotations

HEAT_SOURCES = ("gas", "heat_pump", "resistance")

# Heat-pump COP rating points (AHRI 210/240): 47 F = 8.3 C and 17 F = -8.3 C.
RATING_WARM_C = 8.3
RATING_COLD_C = -8.3
_COP_MIN = 1.0  # below this a heat pump is no better than its own strips
_COP_MAX = 5.0


class HeatSource:
    """Steady output while running; `output` is called once per running step."""

    kind = ""

    def output(self, outdoor_c: float) -> tuple[float, float]:
        """(thermal kW into the house, electric kW from the panel) at `outdoor_c`."""
        raise NotImplementedError

    @property
    def max_electric_kw(self) -> float:
        raise NotImplementedError


class HeatPump(HeatSource):
    """Air-source heat pump whose COP falls linearly with outdoor temperature.

    The compressor draws `compressor_kw`; below `backup_below_c` (the balance point, where
    the compressor alone no longer carries the house) the resistance strips add
    `backup_kw` at COP 1; below `cutoff_c` the compressor stops and the strips carry alone.
    """

    kind = "heat_pump"
    __slots__ = ("compressor_kw", "cop_warm", "cop_cold", "backup_kw", "backup_below_c",
                 "cutoff_c")

    def __init__(self, compressor_kw: float, *, cop_warm: float = 3.5, cop_cold: float = 2.3,
                 backup_kw: float = 5.0, backup_below_c: float = -5.0,
                 cutoff_c: float = -20.0) -> None:
        if compressor_kw <= 0 or backup_kw < 0 or not 0 < cop_cold <= cop_warm:
            raise ValueError("heat pump needs compressor_kw > 0, backup_kw >= 0 and "
                             "0 < cop_cold <= cop_warm")
        self.compressor_kw = compressor_kw
        self.cop_warm = cop_warm
        self.cop_cold = cop_cold
        self.backup_kw = backup_kw
        self.backup_below_c = backup_below_c
        self.cutoff_c = cutoff_c

    def cop(self, outdoor_c: float) -> float:
        slope = (self.cop_warm - self.cop_cold) / (RATING_WARM_C - RATING_COLD_C)
        cop = self.cop_cold + slope * (outdoor_c - RATING_COLD_C)
        return _COP_MIN if cop < _COP_MIN else _COP_MAX if cop > _COP_MAX else cop

    def output(self, outdoor_c: float) -> tuple[float, float]:
        if outdoor_c < self.cutoff_c:
            return self.backup_kw, self.backup_kw
        heat = self.cop(outdoor_c) * self.compressor_kw
        if outdoor_c < self.backup_below_c:
            return heat + self.backup_kw, self.compressor_kw + self.backup_kw
        return heat, self.compressor_kw

    @property
    def max_electric_kw(self) -> float:
        return self.compressor_kw + self.backup_kw

    def balance_point_c(self, ua_kw_per_c: float, indoor_c: float, gain_kw: float) -> float:
        """Outdoor temperature where the compressor's heat equals the house's heat loss."""
        low, high = -40.0, indoor_c
        for _ in range(60):  # bisection: compressor surplus rises with outdoor temperature
            mid = (low + high) / 2.0
            surplus = self.cop(mid) * self.compressor_kw - (ua_kw_per_c * (indoor_c - mid)
                                                            - gain_kw)
            low, high = (low, mid) if surplus > 0 else (mid, high)
        return (low + high) / 2.0


class ResistanceHeat(HeatSource):
    """Electric furnace or baseboards: every kW drawn is a kW of heat."""

    kind = "resistance"
    __slots__ = ("kw",)

    def __init__(self, kw: float) -> None:
        if kw <= 0:
            raise ValueError("resistance heat kw must be positive")
        self.kw = kw

    def output(self, outdoor_c: float) -> tuple[float, float]:
        return self.kw, self.kw

    @property
    def max_electric_kw(self) -> float:
        return self.kw


class GasFurnace(HeatSource):
    """Gas furnace: the heat comes from gas; only the blower is on the panel."""

    kind = "gas"
    __slots__ = ("furnace_kw", "blower_kw")

    def __init__(self, furnace_kw: float, blower_kw: float = 0.5) -> None:
        if furnace_kw <= 0 or blower_kw < 0:
            raise ValueError("gas furnace needs furnace_kw > 0 and blower_kw >= 0")
        self.furnace_kw = furnace_kw
        self.blower_kw = blower_kw

    def output(self, outdoor_c: float) -> tuple[float, float]:
        return self.furnace_kw, self.blower_kw

    @property
    def max_electric_kw(self) -> float:
        return self.blower_kw
