"""The day's customers, drawn once per seed and shared by every policy compared."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..enums import Lane
from ..learning import learn
from ..slots import BookingRules, Interval, day_slots
from .pauses import with_unplanned_pauses
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
    # More of the real day (bench/README.md, "More of the real day"; the defaults: none of it)
    present_at: float | None = None  # a remote joiner: in the hall from then on
    then: str | None = None  # a second service, in another lane, after the first
    then_duration: float = 0.0
    refused: bool = False  # wanted to book, the calendar was full: came as a walk-in


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


def draw_visit(rng: random.Random, scenario: Scenario, t: float) -> dict[str, Any]:
    """One customer's draws (a fixed count per customer), the booking's wish not yet placed."""
    service = pick_service(rng, scenario.services)
    duration = lognormal(rng, service.mean, service.cv)
    patience = lognormal(rng, scenario.patience_mean, scenario.patience_cv)
    books = rng.random() < scenario.appointments.share and bookable(scenario, service)
    slot, came, shows = booking(rng, scenario, t)
    visit = {"arrival": t, "service": service.code, "duration": duration, "patience": patience}
    return {"visit": visit, "books": books, "slot": slot, "late": came - slot, "shows": shows}


def place_visit(draw: dict[str, Any], scenario: Scenario) -> dict[str, Any] | None:
    """The visit as it happens: a booking at its slot (None: a no-show or a closed door), a
    refused booking (slot None) as a walk-in at the drawn time unless the customer was a
    no-show anyway, anyone else as drawn."""
    visit, slot = draw["visit"], draw["slot"]
    if not draw["books"]:
        return visit
    if slot is None:
        return {**visit, "refused": True} if draw["shows"] else None
    came = slot + draw["late"]
    if not draw["shows"] or came >= scenario.length:
        return None
    spec = scenario.appointments
    checked_in = came <= slot + spec.checkin_late
    arrival = max(came, slot - spec.checkin_early) if checked_in else came
    return {**visit, "arrival": arrival, "slot": slot, "came_at": came, "checked_in": checked_in}


# The calendar's day: any date serves, the hall's clock is minutes after opening.
CALENDAR_DAY = date(2026, 3, 2)
CALENDAR_START = datetime.combine(CALENDAR_DAY, datetime.min.time(), UTC)


def calendar_rules(scenario: Scenario) -> BookingRules:
    """The live slot rules of the scenario's day: open from its opening (00:00 on the calendar's
    clock) for its length, `capacity` places a slot, every slot bookable ahead."""
    spec = scenario.appointments
    length = int(scenario.length)
    return BookingRules(
        timezone="UTC",
        hours={str(CALENDAR_DAY.weekday()): [["00:00", f"{length // 60:02d}:{length % 60:02d}"]]},
        closed=frozenset(),
        slot_minutes=spec.slot_minutes,
        capacity=spec.capacity,
        lead=timedelta(0),
        horizon_days=2,
    )


def book_slots(wishes: Sequence[float], scenario: Scenario, seed: int) -> list[float | None]:
    """Each wished slot as the calendar grants it, the bookings made in an order of their own
    (the seed's): the wish while it has a place, else the nearest free slot within
    `flex_minutes` (the earlier of two as near), else None (refused)."""
    rules = calendar_rules(scenario)
    flex = scenario.appointments.flex_minutes
    order = list(range(len(wishes)))
    behaviour_stream(seed, "calendar").shuffle(order)
    now = CALENDAR_START - timedelta(days=1)
    length = timedelta(minutes=rules.slot_minutes)
    booked: list[Interval] = []
    granted: list[float | None] = [None] * len(wishes)
    for index in order:
        free = [
            (s.start - CALENDAR_START) / timedelta(minutes=1)
            for s in day_slots(rules, CALENDAR_DAY, booked, now)
            if s.free > 0
        ]
        near = [f for f in free if abs(f - wishes[index]) <= flex]
        if not near:
            continue
        slot = min(near, key=lambda f: (abs(f - wishes[index]), f))
        start = CALENDAR_START + timedelta(minutes=slot)
        booked.append(Interval(start, start + length))
        granted[index] = slot
    return granted


def place_bookings(draws: list[dict[str, Any]], scenario: Scenario, seed: int) -> None:
    """With a calendar, every booking's wish goes through it (no-shows too: they hold a place)."""
    if scenario.appointments.capacity <= 0:
        return
    booking_draws = [d for d in draws if d["books"]]
    granted = book_slots([d["slot"] for d in booking_draws], scenario, seed)
    for draw, slot in zip(booking_draws, granted, strict=True):
        draw["slot"] = slot


def remote_fields(rng: random.Random, scenario: Scenario, visit: dict[str, Any]) -> dict[str, Any]:
    """A walk-in's [remote] draws (always both): joins from the phone, and the travel time."""
    u_remote, z_travel = rng.random(), rng.gauss(0, 1)
    spec = scenario.remote
    if not spec.active or "slot" in visit or u_remote >= spec.share:
        return {}
    return {
        "present_at": visit["arrival"] + lognormal_of(z_travel, spec.travel_mean, spec.travel_cv)
    }


def second_services(scenario: Scenario, first: ServiceSpec) -> list[ServiceSpec]:
    listed = scenario.transfers.services
    pool = [s for s in scenario.services if (s.code in listed if listed else s.lane != Lane.VIP)]
    return [s for s in pool if s.lane != first.lane]


def transfer_fields(
    rng: random.Random, scenario: Scenario, visit: dict[str, Any]
) -> dict[str, Any]:
    """A visit's [transfers] draws (always all three): needs a second service, which one (by
    the services' shares), and its duration."""
    u_transfer, u_pick, z_duration = rng.random(), rng.random(), rng.gauss(0, 1)
    if u_transfer >= scenario.transfers.share:
        return {}
    pool = second_services(scenario, scenario.service(visit["service"]))
    if not pool:
        return {}
    total = sum(s.share for s in pool)
    running, then = 0.0, pool[-1]
    for candidate in pool:
        running += candidate.share / total
        if u_pick < running:
            then = candidate
            break
    return {"then": then.code, "then_duration": lognormal_of(z_duration, then.mean, then.cv)}


def realism_fields(
    seed: int, scenario: Scenario, visits: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each visit's [remote] and [transfers] fields, from streams of their own."""
    remote = behaviour_stream(seed, "remote")
    transfers = behaviour_stream(seed, "transfers")
    return [
        {**remote_fields(remote, scenario, v), **transfer_fields(transfers, scenario, v)}
        for v in visits
    ]


def day_draws(scenario: Scenario, seed: int) -> list[dict[str, Any]]:
    """The day's draws (`draw_visit`), the bookings placed in the calendar."""
    rng = random.Random(seed)
    draws = [draw_visit(rng, scenario, t) for t in arrival_times(rng, scenario)]
    place_bookings(draws, scenario, seed)
    return draws


@dataclass(frozen=True, slots=True)
class Booking:
    """A booking of the day as the store's calendar holds it, no-shows included: its slot, its
    service, and when it checks in (None: it never does, a no-show or too late)."""

    slot: float
    service: str
    checks_in: float | None


def day_bookings(scenario: Scenario, seed: int) -> list[Booking]:
    """Every booking of the day (the same draws as `generate_customers`), in slot order."""
    out = []
    for draw in day_draws(scenario, seed):
        if not draw["books"] or draw["slot"] is None or draw["slot"] >= scenario.length:
            continue
        visit = place_visit(draw, scenario) or {}
        checks_in = visit["arrival"] if visit.get("checked_in") else None
        out.append(Booking(draw["slot"], draw["visit"]["service"], checks_in))
    return sorted(out, key=lambda b: b.slot)


def generate_customers(scenario: Scenario, seed: int) -> list[Customer]:
    """Every customer of the day, ticket ids in order of issue."""
    visits = [v for d in day_draws(scenario, seed) if (v := place_visit(d, scenario))]
    visits.sort(key=lambda v: v["arrival"])
    stream = behaviour_stream(seed, "customers")
    extra = realism_fields(seed, scenario, visits)
    return [
        Customer(ticket_id=i, **v, **more, **draw_behaviour(stream, scenario.behaviour))
        for i, (v, more) in enumerate(zip(visits, extra, strict=True), start=1)
    ]


# --- the service times the store has learned ---------------------------------------------------

# The live rule's outlier: a visit this many times the current estimate is a forgotten
# "complete", not a visit (backend/queue/commands.py, OUTLIER_FACTOR).
OUTLIER_FACTOR = 5


def learn_visit(current: float, observed: float) -> float | None:
    """The live rule's new estimate after one visit, or None when it ignores the visit."""
    if observed <= 0 or observed > OUTLIER_FACTOR * current:
        return None
    return learn(current, observed)


def learned_start(scenario: Scenario, seed: int | None = None) -> tuple[Any, ...]:
    """Per service at opening: (code, learned mean or None, visits learned, configured mean).
    The configured mean is the true one × a lognormal factor of mean 1 and cv `prior_cv`; the
    learned one follows the live rule over `warm_visits` visits of the true durations. Each
    service has a stream of its own per seed."""
    spec = scenario.learning
    if spec.start or not spec.active:
        return spec.start
    if seed is None and (spec.prior_cv > 0 or spec.warm_visits > 0):
        raise ValueError("learned service times drawn per seed need the seed: `for_seed`")
    out = []
    for service in scenario.services:
        rng = behaviour_stream(seed or 0, f"learning:{service.code}")
        configured = lognormal_of(rng.gauss(0, 1), 1.0, spec.prior_cv) * service.mean
        learned, count = None, 0
        for _ in range(spec.warm_visits):
            observed = lognormal_of(rng.gauss(0, 1), service.mean, service.cv)
            if (new := learn_visit(learned or configured, observed)) is not None:
                learned, count = new, count + 1
        out.append((service.code, learned, count, configured))
    return tuple(out)


def for_seed(scenario: Scenario, seed: int) -> Scenario:
    """The scenario of one seed: whatever is drawn per seed (clerk speeds, the learned service
    times at opening, the unplanned pauses) fixed in it, so every policy of the seed meets the
    same."""
    scenario = with_unplanned_pauses(with_clerk_speeds(scenario, seed), seed)
    if not scenario.learning.active or scenario.learning.start:
        return scenario
    learning = replace(scenario.learning, start=learned_start(scenario, seed))
    return replace(scenario, learning=learning)
