"""The world outside the VENs: clock-to-calendar mapping and weather, shared read-only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sim.models.base import StepEnv


class WeatherLike(Protocol):
    def outdoor_c(self, t_s: float, hour_of_day: float) -> float: ...

    def irradiance(self, hour_of_day: float) -> float: ...


# Instants kept: a batch of quiet intervals spans hundreds of physics steps, and every
# circuit of every VEN walks the same ones.
CACHE_SIZE = 4096


class World:
    """Turns simulated seconds into the `StepEnv` every circuit sees.

    Every circuit of every VEN asks for the same few instants, so the last
    ones are cached; only the thread that steps circuits calls this.
    """

    def __init__(self, start: datetime, weather: WeatherLike) -> None:
        self.start = start
        self.start_epoch = start.timestamp()
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self._start_hour = (start - midnight).total_seconds() / 3600.0
        self.weather = weather
        self._cache: dict[float, StepEnv] = {}

    def epoch(self, t: float) -> float:
        return self.start_epoch + t

    def env_at(self, t: float) -> StepEnv:
        env = self._cache.get(t)
        if env is None:
            if len(self._cache) > CACHE_SIZE:
                self._cache.clear()
            hour = (self._start_hour + t / 3600.0) % 24.0
            env = StepEnv(
                t=t,
                epoch=self.start_epoch + t,
                hour=hour,
                outdoor_c=self.weather.outdoor_c(t, hour),
                irradiance=self.weather.irradiance(hour),
            )
            self._cache[t] = env
        return env


def iso_utc(epoch: float) -> str:
    """ISO 8601 in UTC with a Z, the one timestamp format of every output file."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
