"""The day's customers, drawn once per seed and shared by every policy compared."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..enums import Lane
from .scenario import Scenario, ServiceSpec


@dataclass(frozen=True, slots=True)
class Customer:
    """One visit. Times are minutes after opening; `arrival` is when the ticket is issued."""

    ticket_id: int
    arrival: float
    service: str
    duration: float
    patience: float
    slot: float | None = None  # an appointment's slot start
    came_at: float | None = None  # an appointment's true arrival (check-in may be later)
    checked_in: bool = False  # an appointment that arrived within its check-in window


def lognormal(rng: random.Random, mean: float, cv: float) -> float:
    """A lognormal draw with this mean and coefficient of variation."""
    if math.isinf(mean):
        return math.inf
    if cv <= 0:
        return mean
    sigma2 = math.log(1 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def arrival_times(rng: random.Random, scenario: Scenario) -> list[float]:
    """A non-homogeneous Poisson process, piecewise constant per hour of `arrivals`."""
    times: list[float] = []
    ends = [start for start, _ in scenario.arrivals[1:]] + [scenario.length]
    for (start, rate), end in zip(scenario.arrivals, ends, strict=True):
        t = start
        while rate > 0:
            t += rng.expovariate(rate / 60)
            if t >= min(end, scenario.length):
                break
            times.append(t)
    return times


def pick_service(rng: random.Random, services: Sequence[ServiceSpec]) -> ServiceSpec:
    return rng.choices(services, weights=[s.share for s in services])[0]


def bookable(scenario: Scenario, service: ServiceSpec) -> bool:
    listed = scenario.appointments.services
    return service.code in listed if listed else service.lane != Lane.VIP


def booking(rng: random.Random, scenario: Scenario, t: float) -> tuple[float, float, bool]:
    """(slot, true arrival, shows up) of a booked customer whose visit falls at `t`. The same
    number of draws whatever the outcome, so one change does not shift every later draw."""
    spec = scenario.appointments
    hour = math.floor(t / 60) * 60
    grid = max(1, 60 // spec.slot_minutes)
    slot = min(hour + spec.slot_minutes * rng.randrange(grid), scenario.length - spec.slot_minutes)
    late = rng.gauss(spec.punctuality_mean, spec.punctuality_sd)
    shows = rng.random() >= spec.no_show
    return slot, slot + late, shows


def draw_visit(rng: random.Random, scenario: Scenario, t: float) -> dict[str, Any] | None:
    """One customer's draws (fixed count per customer); None for a no-show or a closed door."""
    service = pick_service(rng, scenario.services)
    duration = lognormal(rng, service.mean, service.cv)
    patience = lognormal(rng, scenario.patience_mean, scenario.patience_cv)
    books = rng.random() < scenario.appointments.share and bookable(scenario, service)
    slot, came, shows = booking(rng, scenario, t)
    visit = {"arrival": t, "service": service.code, "duration": duration, "patience": patience}
    if not books:
        return visit
    if not shows or came >= scenario.length:
        return None
    spec = scenario.appointments
    checked_in = came <= slot + spec.checkin_late
    arrival = max(came, slot - spec.checkin_early) if checked_in else came
    return {**visit, "arrival": arrival, "slot": slot, "came_at": came, "checked_in": checked_in}


def generate_customers(scenario: Scenario, seed: int) -> list[Customer]:
    """Every customer of the day, ticket ids in order of issue."""
    rng = random.Random(seed)
    visits = [v for t in arrival_times(rng, scenario) if (v := draw_visit(rng, scenario, t))]
    visits.sort(key=lambda v: v["arrival"])
    return [Customer(ticket_id=i, **v) for i, v in enumerate(visits, start=1)]
