"""The day's customers, drawn once per seed and shared by every policy compared."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..enums import Lane
from .scenario import BehaviourSpec, Scenario, ServiceSpec


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
    # [behaviour] (the defaults: the obliging customer of a scenario without it)
    walk: float = 0.0  # minutes from the call to the counter
    misses: bool = False  # does not come at the first call
    returns_after: float | None = None  # a missed customer comes back this long after the miss
    tolerance: float = math.inf  # takes no ticket when the estimate is longer than this


# The behaviour stream's draws per customer, always all of them whatever is switched on, so
# that one setting never shifts another's draws: walk, miss, return, return delay, tolerance.
BEHAVIOUR_DRAWS = 5


def lognormal(rng: random.Random, mean: float, cv: float) -> float:
    """A lognormal draw with this mean and coefficient of variation."""
    if math.isinf(mean):
        return math.inf
    if cv <= 0:
        return mean
    sigma2 = math.log(1 + cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


def lognormal_of(z: float, mean: float, cv: float) -> float:
    """The lognormal with this mean and cv at the standard normal quantile `z` (the behaviour
    stream draws z's, so that a setting changes the value, never the stream)."""
    if math.isinf(mean):
        return math.inf
    if cv <= 0:
        return mean
    sigma2 = math.log(1 + cv * cv)
    return math.exp(math.log(mean) - sigma2 / 2 + math.sqrt(sigma2) * z)


def behaviour_stream(seed: int, what: str) -> random.Random:
    """A stream of its own per seed, apart from the arrivals' and the visits' draws."""
    return random.Random(f"{seed}:{what}")


def draw_behaviour(rng: random.Random, spec: BehaviourSpec) -> dict[str, Any]:
    """One customer's [behaviour] fields; nothing at all when every setting is off."""
    z_walk, u_miss, u_return, u_delay, z_tolerance = (
        rng.gauss(0, 1),
        rng.random(),
        rng.random(),
        rng.random(),
        rng.gauss(0, 1),
    )
    if not spec.active:
        return {}
    misses = u_miss < spec.miss_share
    low, high = spec.rejoin_after
    returns = misses and u_return < spec.rejoin_share
    return {
        "walk": lognormal_of(z_walk, spec.walk_mean, spec.walk_cv) if spec.walk_mean > 0 else 0.0,
        "misses": misses,
        "returns_after": low + (high - low) * u_delay if returns else None,
        "tolerance": lognormal_of(z_tolerance, spec.tolerance_mean, spec.tolerance_cv),
    }


def clerk_speeds(scenario: Scenario, seed: int | None = None) -> dict[int, float]:
    """Each counter's factor on service durations: the scenario's list, or drawn per seed
    (lognormal, mean 1, `clerk_cv`) from a stream of its own, or 1 everywhere."""
    spec = scenario.behaviour
    numbers = [c.number for c in scenario.counters]
    if spec.clerk_factors:
        return dict(zip(numbers, spec.clerk_factors, strict=True))
    if spec.clerk_cv <= 0:
        return dict.fromkeys(numbers, 1.0)
    if seed is None:
        raise ValueError(
            "clerk speeds drawn per seed (clerk_cv) need the seed: simulate the "
            "scenario of `with_clerk_speeds(scenario, seed)`"
        )
    rng = behaviour_stream(seed, "clerks")
    return {n: lognormal_of(rng.gauss(0, 1), 1.0, spec.clerk_cv) for n in numbers}


def with_clerk_speeds(scenario: Scenario, seed: int) -> Scenario:
    """The scenario of one seed: clerk speeds drawn per seed become its fixed factors, so every
    policy of the seed meets the same clerks (the same scenario when nothing is drawn)."""
    spec = scenario.behaviour
    if spec.clerk_factors or spec.clerk_cv <= 0:
        return scenario
    factors = tuple(clerk_speeds(scenario, seed).values())
    return replace(scenario, behaviour=replace(spec, clerk_factors=factors, clerk_cv=0.0))


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
    stream = behaviour_stream(seed, "customers")
    return [
        Customer(ticket_id=i, **v, **draw_behaviour(stream, scenario.behaviour))
        for i, v in enumerate(visits, start=1)
    ]
