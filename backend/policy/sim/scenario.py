"""A simulated hall day's description: counters, staffing, services, arrivals, bookings, policy.

Built from a plain dict (`scenario_from_dict`) or a TOML file (`load_scenario`); the format is
described in bench/README.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints

from ..enums import Lane
from ..ordering import CounterView, QueuePolicy

ALL_LANES = (Lane.FAST, Lane.STANDARD, Lane.VIP, Lane.APPOINTMENT)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    code: str
    lane: Lane
    share: float
    mean: float
    cv: float


@dataclass(frozen=True, slots=True)
class AppointmentSpec:
    share: float = 0.0
    slot_minutes: int = 15
    punctuality_mean: float = 0.0
    punctuality_sd: float = 0.0
    no_show: float = 0.0
    checkin_early: float = 15.0
    checkin_late: float = 30.0
    services: tuple[str, ...] = ()  # bookable services; empty: all but the VIP lane


@dataclass(frozen=True, slots=True)
class EtaSpec:
    cv: float = 0.5
    samples: int = 20
    every: int = 1  # forecast at the issue of every k-th ticket only


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    open_at: float  # minutes after midnight
    close_at: float
    counters: tuple[CounterView, ...]
    staffing: tuple[tuple[float, frozenset[int]], ...]  # (minutes after opening, counters open)
    services: tuple[ServiceSpec, ...]
    arrivals: tuple[tuple[float, float], ...]  # (hour start after opening, customers per hour)
    appointments: AppointmentSpec
    patience_mean: float
    patience_cv: float
    target: float
    seed: int
    policy: QueuePolicy
    eta: EtaSpec

    @property
    def length(self) -> float:
        return self.close_at - self.open_at

    def service(self, code: str) -> ServiceSpec:
        return next(s for s in self.services if s.code == code)


def clock(text: str) -> float:
    """'09:30' -> minutes after midnight."""
    hours, _, minutes = str(text).partition(":")
    return int(hours) * 60 + int(minutes or 0)


def minutes_or_none(value: Any) -> timedelta | None:
    """A [policy] duration: minutes, or false / 0 to switch the rule off."""
    if value is False or value is None or value == 0:
        return None
    return timedelta(minutes=float(value))


def policy_value(hint: Any, value: Any) -> Any:
    """One [policy] entry as the QueuePolicy field of this type wants it."""
    optional = type(None) in get_args(hint)
    kinds = [k for k in (get_args(hint) or (hint,)) if k is not type(None)]
    if timedelta in kinds:
        # A rule that can be switched off (false or 0: None); else a duration, 0 included.
        return minutes_or_none(value) if optional else timedelta(minutes=float(value))
    return kinds[0](value)


def parse_policy(table: dict[str, Any], checkin_late: float) -> QueuePolicy:
    """The scenario's [policy] table: any QueuePolicy field (durations in minutes); anything
    missing keeps QueuePolicy's default, except the grace, which defaults to the check-in window
    as the live store settings do."""
    hints = get_type_hints(QueuePolicy)
    names = [f.name for f in fields(QueuePolicy)]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ValueError(f"unknown [policy] settings: {', '.join(unknown)}")
    given = {"appointment_grace": checkin_late, **table}
    return QueuePolicy(**{k: policy_value(hints[k], v) for k, v in given.items()})


def parse_counters(rows: list[dict[str, Any]]) -> tuple[CounterView, ...]:
    return tuple(
        CounterView(int(r["number"]), tuple(Lane(x) for x in r["lanes"]))
        for r in sorted(rows, key=lambda r: r["number"])
    )


def parse_services(rows: list[dict[str, Any]]) -> tuple[ServiceSpec, ...]:
    return tuple(
        ServiceSpec(
            str(r["code"]), Lane(r["lane"]), float(r["share"]), float(r["mean"]), float(r["cv"])
        )
        for r in rows
    )


def parse_appointments(table: dict[str, Any]) -> AppointmentSpec:
    rest = {k: v for k, v in table.items() if k != "services"}
    return AppointmentSpec(**rest, services=tuple(table.get("services", ())))


def scenario_from_dict(data: dict[str, Any], name: str = "scenario") -> Scenario:
    """Build a Scenario from the parsed TOML (see bench/README.md)."""
    open_at, close_at = clock(data["hours"]["open"]), clock(data["hours"]["close"])
    counters = parse_counters(data["counters"])
    plan = data.get("staffing") or {data["hours"]["open"]: [c.number for c in counters]}
    appointments = parse_appointments(data.get("appointments", {}))
    patience = data.get("patience", {})
    return Scenario(
        name=str(data.get("name", name)),
        open_at=open_at,
        close_at=close_at,
        counters=counters,
        staffing=tuple(sorted((clock(k) - open_at, frozenset(v)) for k, v in plan.items())),
        services=parse_services(data["services"]),
        arrivals=tuple(sorted((clock(k) - open_at, float(v)) for k, v in data["arrivals"].items())),
        appointments=appointments,
        patience_mean=float(patience.get("mean", math.inf)),
        patience_cv=float(patience.get("cv", 0.5)),
        target=float(data.get("target_minutes", 15)),
        seed=int(data.get("seed", 0)),
        policy=parse_policy(data.get("policy", {}), appointments.checkin_late),
        eta=EtaSpec(**data.get("eta", {})),
    )


def load_scenario(path: str | Path) -> Scenario:
    """A scenario TOML file; its name defaults to the file's stem."""
    with open(path, "rb") as fh:
        return scenario_from_dict(tomllib.load(fh), Path(path).stem)
