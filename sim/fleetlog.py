"""FleetLog: the telemetry of a run, kept as compact rows for M&V and output files."""

from __future__ import annotations

from dataclasses import dataclass

from actors.messages import EventAck, Telemetry


@dataclass(frozen=True, slots=True)
class Row:
    t0: float
    t1: float
    ven_id: str
    power_kw: float
    baseline_kw: float
    shed_kw: float
    requested_kw: float
    event_id: str | None
    comfort_minutes: float
    shed_capability_kw: float
    battery_soc: float | None


class FleetLog:
    """Rows in arrival order plus the latest report of each VEN."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.acks: list[EventAck] = []
        self.latest: dict[str, Telemetry] = {}

    def add_telemetry(self, telemetry: Telemetry) -> None:
        self.latest[telemetry.ven_id] = telemetry
        self.rows.append(
            Row(
                t0=telemetry.t0,
                t1=telemetry.t1,
                ven_id=telemetry.ven_id,
                power_kw=telemetry.used_kw,
                baseline_kw=telemetry.baseline_kw,
                shed_kw=telemetry.shed_kw,
                requested_kw=telemetry.requested_kw,
                event_id=telemetry.event_id,
                comfort_minutes=telemetry.comfort_minutes,
                shed_capability_kw=telemetry.shed_capability_kw,
                battery_soc=telemetry.battery_soc,
            )
        )

    def add_ack(self, ack: EventAck) -> None:
        self.acks.append(ack)

    def capability_kw(self, ven_id: str) -> float:
        latest = self.latest.get(ven_id)
        return latest.shed_capability_kw if latest else 0.0

    def sorted_rows(self) -> list[Row]:
        """Rows by time then VEN id: the order of timeseries.csv, the same every run."""
        return sorted(self.rows, key=lambda r: (r.t1, r.ven_id))
