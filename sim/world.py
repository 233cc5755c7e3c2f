"""The world outside the VENs: clock-to-calendar mapping and weather, shared read-only."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from sim.models.base import StepEnv, StepPlan, step_plan
from sim.sun import lagged_envelope_irradiance, window_irradiance


class WeatherLike(Protocol):
    def outdoor_c(self, t_s: float, hour_of_day: float) -> float: ...

    def irradiance(self, hour_of_day: float) -> float: ...

    def mains_c(self) -> float: ...

    def window_sun(self, day_of_year: int, hour_of_day: float) -> float: ...

    def envelope_sun(self, day_of_year: int, hour_of_day: float) -> float: ...


K = TypeVar("K")
V = TypeVar("V")
_MAINS_MIN_C, _MAINS_MAX_C = 4.0, 28.0  # mains water neither freezes nor runs hot
_RISE_H = 10.0  # hours from the daily minimum (just before dawn) up to the peak

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
        self._start_day = start.timetuple().tm_yday  # the local calendar day of the start
        # In a named zone the homes' clock follows daylight saving changes; a fixed offset
        # (or UTC) never changes, so the hour is then plain arithmetic on t.
        self._zone = start.tzinfo if isinstance(start.tzinfo, ZoneInfo) else None
        self._start_offset_s = _offset_s(self.start_epoch, self._zone)
        self.weather = weather
        self._mains_c = weather.mains_c()
        self._cache: _Cache[float, StepEnv] = _Cache(self._make_env)
        # env_at(t) -> StepEnv is the cache's own lookup (a hit never enters Python code):
        # step plans are built from it, and `Circuit.run` steps through it.
        self.env_at: Callable[[float], StepEnv] = self._cache.__getitem__
        # step_plans[(t, t_end, step)]: the physics steps of a span (sim.models.base.step_plan),
        # built once for the whole fleet: every circuit of every VEN advances over the same
        # report intervals. A hit is again the dict's own lookup.
        self.step_plans: Mapping[tuple[float, float, float], StepPlan] = _Cache(self._make_plan)
        # batch_plans[(t, times, step)]: the step plans from t to each of `times` in turn, for a
        # circuit that steps a batch of intervals: one lookup a batch, not one an interval.
        self.batch_plans: Mapping[tuple[float, tuple[float, ...], float], tuple[StepPlan, ...]] = (
            _Cache(self._make_batch_plans))

    def epoch(self, t: float) -> float:
        return self.start_epoch + t

    def _make_plan(self, span: tuple[float, float, float]) -> StepPlan:
        return step_plan(self.env_at, *span)

    def _make_batch_plans(
        self, batch: tuple[float, tuple[float, ...], float]
    ) -> tuple[StepPlan, ...]:
        t, times, step = batch
        plans = []
        for t_end in times:
            plans.append(self.step_plans[(t, t_end, step)])
            t = t_end
        return tuple(plans)

    def _make_env(self, t: float) -> StepEnv:
        if self._zone is not None:  # + the hour gained or lost since the start, if any
            t_clock = t + (_offset_s(self.start_epoch + t, self._zone) - self._start_offset_s)
        else:
            t_clock = t
        days, hour = divmod(self._start_hour + t_clock / 3600.0, 24.0)
        day = (self._start_day + int(days) - 1) % 365 + 1  # of the year, on the local calendar
        return StepEnv(
            t=t,
            epoch=self.start_epoch + t,
            hour=hour,
            outdoor_c=self.weather.outdoor_c(t, hour),
            irradiance=self.weather.irradiance(hour),
            mains_c=self._mains_c,
            window_sun=self.weather.window_sun(day, hour),
            envelope_sun=self.weather.envelope_sun(day, hour),
        )


class _Cache(dict[K, V]):
    """key -> value, built on a miss; emptied when it outgrows CACHE_SIZE."""

    __slots__ = ("_build",)

    def __init__(self, build: Callable[[K], V]) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, key: K) -> V:
        if len(self) > CACHE_SIZE:
            self.clear()
        value = self[key] = self._build(key)
        return value


def _offset_s(epoch: float, zone: tzinfo | None) -> float:
    if zone is None:
        return 0.0
    offset = datetime.fromtimestamp(epoch, zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def iso_utc(epoch: float) -> str:
    """ISO 8601 in UTC with a Z: output times of a scenario without a `timezone`."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def iso_time(epoch: float, zone: tzinfo | None = None) -> str:
    """The one timestamp format of every output file: ISO 8601 with the UTC offset.

    In `zone` (a scenario's `timezone`) it is the local time with that instant's offset,
    daylight saving included (`2026-11-01T17:00:00-06:00`); without one, UTC with a Z.
    """
    if zone is None:
        return iso_utc(epoch)
    return datetime.fromtimestamp(epoch, zone).isoformat()


@dataclass(frozen=True)
class Weather:
    min_c: float
    max_c: float
    peak_hour: float = 15.0
    cloud_cover: float = 0.0
    points: tuple[tuple[float, float], ...] = ()  # (hour_since_start, temp_c); overrides the curve

    def outdoor_c(self, t_s: float, hour_of_day: float) -> float:
        if self.points:
            return _interpolate(self.points, t_s / 3600.0)
        # Cosine rise from the minimum _RISE_H before the peak, slower cosine fall overnight.
        since_min = (hour_of_day - (self.peak_hour - _RISE_H)) % 24.0
        if since_min <= _RISE_H:
            frac = (1.0 - math.cos(math.pi * since_min / _RISE_H)) / 2.0
        else:
            frac = (1.0 + math.cos(math.pi * (since_min - _RISE_H) / (24.0 - _RISE_H))) / 2.0
        return self.min_c + (self.max_c - self.min_c) * frac

    def mains_c(self) -> float:
        """Cold-water mains temperature: 8 C plus half the mean air temperature, in 4..28 C.

        A linear fit to the seasonal mains curves of Burch & Christensen (NREL, 2007): the
        ground lags and damps the air, so mains water is about 5-8 C in a northern winter
        and 18-28 C in summer.
        """
        temps = [t for _, t in self.points] if self.points else [self.min_c, self.max_c]
        mean = sum(temps) / len(temps)
        return min(_MAINS_MAX_C, max(_MAINS_MIN_C, 8.0 + 0.5 * mean))

    def window_sun(self, day_of_year: int, hour_of_day: float) -> float:
        """kW/m2 of sun on a house's windows (sim.sun), under the clouds."""
        return window_irradiance(day_of_year, hour_of_day) * (1.0 - 0.75 * self.cloud_cover)

    def envelope_sun(self, day_of_year: int, hour_of_day: float) -> float:
        """kW/m2 of sun on the roof and walls, once through them (sim.sun), under the clouds."""
        return lagged_envelope_irradiance(day_of_year, hour_of_day) * (
            1.0 - 0.75 * self.cloud_cover)

    def irradiance(self, hour_of_day: float) -> float:
        hour = hour_of_day % 24.0
        if not 6.0 < hour < 20.0:
            return 0.0
        # sin^2 bell: ~7 peak-sun-hours over 06:00-20:00, like a clear summer day.
        return math.sin(math.pi * (hour - 6.0) / 14.0) ** 2 * (1.0 - 0.75 * self.cloud_cover)


def _interpolate(points: tuple[tuple[float, float], ...], hour: float) -> float:
    hours = [p[0] for p in points]
    i = bisect.bisect_right(hours, hour)
    if i == 0:
        return points[0][1]
    if i == len(points):
        return points[-1][1]  # hold the last reading past the end
    (h0, t0), (h1, t1) = points[i - 1], points[i]
    return t0 + (t1 - t0) * (hour - h0) / (h1 - h0)
