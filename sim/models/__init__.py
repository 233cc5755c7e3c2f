"""Circuit physics: plain Python models stepped by circuit actors or by a plain loop."""

from sim.models.base import KW_PER_BREAKER_AMP, PANEL_VOLTAGE, Circuit, StepEnv

__all__ = ["KW_PER_BREAKER_AMP", "PANEL_VOLTAGE", "Circuit", "StepEnv"]
