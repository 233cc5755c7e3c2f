"""Two-node (air + mass) thermal model of a house envelope, solved exactly per step.

    C_air  dT_air/dt  = g_air  (T_out - T_air)  + H (T_mass - T_air) + Q_air
    C_mass dT_mass/dt = g_mass (T_out - T_mass) + H (T_air - T_mass) + Q_mass

The envelope's conductance 1/R (kW/degC) is split: windows and infiltration (g_air) reach
the room air at once, walls and roof (g_mass, the share `wall_share`) reach it through
the building's mass, which is what delays the afternoon heat into the evening. H (kW/degC)
couples the air to the mass (interior surfaces, furniture, slab); Q in kW. With
the inputs held for a step the solution is exact: the state relaxes to its equilibrium
through exp(A dt), whose four entries are computed once per distinct dt.
"""

from __future__ import annotations

import math


class Envelope:
    """Indoor air and mass temperatures of one house."""

    __slots__ = ("r_c_per_kw", "c_air", "c_mass", "h_kw_per_c", "g_air", "g_mass", "air_c",
                 "mass_c", "_dt", "_phi", "_gah", "_gmh", "_det")

    def __init__(self, r_c_per_kw: float, c_kwh_per_c: float, *, air_share: float = 0.1,
                 h_kw_per_c: float = 5.0, wall_share: float = 0.5, air_c: float = 22.0,
                 mass_c: float | None = None) -> None:
        if r_c_per_kw <= 0 or c_kwh_per_c <= 0 or h_kw_per_c <= 0:
            raise ValueError("envelope R, C and H must be positive")
        if not 0.0 < air_share < 1.0:
            raise ValueError("envelope air_share must be within 0..1 (exclusive)")
        if not 0.0 <= wall_share < 1.0:
            raise ValueError("envelope wall_share must be within 0..1 (1 excluded)")
        self.r_c_per_kw = r_c_per_kw
        self.c_air = c_kwh_per_c * air_share  # kWh/degC
        self.c_mass = c_kwh_per_c - self.c_air
        self.h_kw_per_c = h_kw_per_c
        self.g_air = (1.0 - wall_share) / r_c_per_kw
        self.g_mass = wall_share / r_c_per_kw
        self.air_c = air_c
        self.mass_c = air_c if mass_c is None else mass_c
        self._dt = -1.0
        self._phi = (1.0, 0.0, 0.0, 1.0)
        # Constants of the equilibrium solve, computed once (the same operations as per step).
        h = h_kw_per_c
        self._gah = self.g_air + h
        self._gmh = self.g_mass + h
        self._det = self.g_air * self.g_mass + h * (self.g_air + self.g_mass)

    @property
    def capacity_kwh_per_c(self) -> float:
        return self.c_air + self.c_mass

    def equilibrium(self, outdoor_c: float, q_air: float, q_mass: float) -> tuple[float, float]:
        """Where air and mass settle with these inputs held (a 2x2 linear solve)."""
        h, det = self.h_kw_per_c, self._det
        to_air = self.g_air * outdoor_c + q_air
        to_mass = self.g_mass * outdoor_c + q_mass
        return (self._gmh * to_air + h * to_mass) / det, (h * to_air + self._gah * to_mass) / det

    def _matrix(self, dt: float) -> tuple[float, float, float, float]:
        if dt != self._dt:
            h = self.h_kw_per_c
            # A in 1/h; exp(A t) for a 2x2 with real distinct eigenvalues l1 > l2.
            a00 = -(self.g_air + h) / self.c_air
            a01 = h / self.c_air
            a10 = h / self.c_mass
            a11 = -(self.g_mass + h) / self.c_mass
            half_tr = (a00 + a11) / 2.0
            root = math.sqrt(half_tr * half_tr - (a00 * a11 - a01 * a10))
            l1, l2 = half_tr + root, half_tr - root
            t = dt / 3600.0
            e1, e2 = math.exp(l1 * t), math.exp(l2 * t)
            span = l1 - l2
            self._phi = (
                (e1 * (a00 - l2) - e2 * (a00 - l1)) / span,
                (e1 - e2) * a01 / span,
                (e1 - e2) * a10 / span,
                (e1 * (a11 - l2) - e2 * (a11 - l1)) / span,
            )
            self._dt = dt
        return self._phi

    def air_after(self, dt: float, eq: tuple[float, float]) -> float:
        """Air temperature after `dt` seconds towards `eq`, without moving the state."""
        p00, p01, _, _ = self._matrix(dt)
        return eq[0] + p00 * (self.air_c - eq[0]) + p01 * (self.mass_c - eq[1])

    def advance(self, dt: float, eq: tuple[float, float]) -> None:
        """Move air and mass `dt` seconds towards the equilibrium `eq`."""
        p00, p01, p10, p11 = self._matrix(dt)
        da, dm = self.air_c - eq[0], self.mass_c - eq[1]
        self.air_c = eq[0] + p00 * da + p01 * dm
        self.mass_c = eq[1] + p10 * da + p11 * dm
