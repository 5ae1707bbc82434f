"""A discrete-event simulator of one business-hall day, comparing call policies.

    .venv/bin/python bench/sim.py bench/scenarios/weekday.toml [--seeds 30] [--json]
        [--plot out.png] [--policies fifo,per-service,shortest-first,ours]

Every policy runs the live engine's own code (`backend.policy.choose_next`, `next_status`) on a
simulated clock, over the very same customers per seed (arrival, service, service time,
patience, appointment). See bench/README.md for the scenario format and what each metric means.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import random
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.policy import (
    Action,
    CounterStatus,
    CounterView,
    Lane,
    Ordering,
    QueueItem,
    QueuePolicy,
    TicketStatus,
    choose_next,
    next_queue_at,
    next_status,
)
from backend.policy.eta import ARRIVAL_HORIZON_MINUTES, ArrivalRate

# The simulated day starts at this instant (a Monday); sim time is minutes after opening.
DAY = datetime(2026, 3, 2, tzinfo=UTC)
ALL_LANES = (Lane.FAST, Lane.STANDARD, Lane.VIP, Lane.APPOINTMENT)
POLICIES = ("fifo", "per-service", "shortest-first", "ours")
ON_TIME_MINUTES = 5.0
# What happens first when events fall on the same instant.
STAFF, COMPLETE, ABANDON, ARRIVE, DUE, CLOSE = range(6)


# --- the scenario ---------------------------------------------------------------------------


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


def parse_policy(table: dict[str, Any], checkin_late: float) -> QueuePolicy:
    """The scenario's [policy] table; anything missing keeps QueuePolicy's default (the grace
    defaults to the check-in window, as the live store settings do)."""
    base = QueuePolicy()
    max_wait = base.max_wait.total_seconds() / 60 if base.max_wait else 0
    return QueuePolicy(
        ordering=Ordering(table.get("ordering", base.ordering)),
        work_conserving=bool(table.get("work_conserving", base.work_conserving)),
        appointment_grace=minutes_or_none(table.get("appointment_grace", checkin_late)),
        max_wait=minutes_or_none(table.get("max_wait", max_wait)),
        vip_first=int(table.get("vip_first", base.vip_first)),
        vip_window=int(table.get("vip_window", base.vip_window)),
    )


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
    fields = {k: v for k, v in table.items() if k != "services"}
    return AppointmentSpec(**fields, services=tuple(table.get("services", ())))


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
    with open(path, "rb") as fh:
        return scenario_from_dict(tomllib.load(fh), Path(path).stem)


# --- the customers (drawn once per seed, shared by every policy) -----------------------------


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


def booking(
    rng: random.Random, scenario: Scenario, t: float
) -> tuple[float | None, float | None, bool]:
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


# --- one simulated day under one policy ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicySetup:
    name: str
    policy: QueuePolicy
    counters: tuple[CounterView, ...]

    @property
    def appointments_lane(self) -> bool:
        """Whether checked-in bookings queue in the appointment lane (else: as walk-ins)."""
        return self.policy.appointment_grace is not None


def policy_setups(scenario: Scenario) -> dict[str, PolicySetup]:
    """The three baselines and ours, over the scenario's counters."""
    pooled = tuple(replace(c, lanes=ALL_LANES) for c in scenario.counters)
    bare = QueuePolicy(appointment_grace=None, max_wait=None, vip_first=0)
    return {
        "fifo": PolicySetup("fifo", replace(bare, ordering=Ordering.FIFO), pooled),
        "per-service": PolicySetup(
            "per-service",
            replace(bare, ordering=Ordering.PROFILE, work_conserving=False),
            scenario.counters,
        ),
        "shortest-first": PolicySetup(
            "shortest-first", replace(bare, ordering=Ordering.SHORTEST), pooled
        ),
        "ours": PolicySetup("ours", scenario.policy, scenario.counters),
    }


@dataclass(slots=True)
class Ticket:
    customer: Customer
    item: QueueItem
    status: TicketStatus = TicketStatus.WAITING
    called_at: float | None = None
    counter: int | None = None
    calls: int = 0

    @property
    def key(self) -> tuple[datetime, datetime, int]:
        """The live engine's order within a group: earliest slot, then queue time, then id."""
        return (self.item.due_at or DAY, self.item.queue_at, self.item.ticket_id)

    @property
    def group(self) -> tuple[str, Lane, int | None]:
        return (self.item.service, self.item.lane, self.item.only_counter)


@dataclass(slots=True)
class Desk:
    """A counter's simulated state and its time accounts (minutes)."""

    view: CounterView
    is_open: bool = False
    closing: bool = False
    current: Ticket | None = None
    expected_end: float = 0.0
    opened_at: float = 0.0
    idle_since: float = 0.0
    open_time: float = 0.0
    busy_time: float = 0.0


@dataclass
class DayResult:
    """What happened to every ticket, plus the counters' accounts and the wait forecasts."""

    policy: str
    tickets: list[Ticket]
    desks: list[Desk]
    forecasts: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    log: list[tuple[str, float, int, int]] = field(default_factory=list)


def at(t: float) -> datetime:
    return DAY + timedelta(minutes=t)


Forecaster = Callable[["Hall", Ticket], tuple[float, float, float] | None]


class Hall:
    """The event loop: arrivals, completions, staffing changes, abandonment, appointment slots."""

    def __init__(
        self,
        scenario: Scenario,
        setup: PolicySetup,
        customers: Sequence[Customer],
        forecaster: Forecaster | None = None,
    ) -> None:
        self.scenario = scenario
        self.setup = setup
        self.customers = customers
        self.forecaster = forecaster
        self.desks = {c.number: Desk(c) for c in setup.counters}
        self.groups: dict[tuple[str, Lane, int | None], list[Ticket]] = {}
        self.tickets: dict[int, Ticket] = {}
        self.recent: list[Lane] = []
        self.events: list[tuple[float, int, int, int]] = []
        self.last_queue_at: datetime | None = None
        self.forecasts: dict[int, tuple[float, float, float]] = {}
        self.now = 0.0
        # What happened, in order: ("issue" | "call" | "complete", minute, counter, ticket id).
        # tests/test_live_equals_sim.py replays it against the live engine.
        self.log: list[tuple[str, float, int, int]] = []

    # -- events

    def push(self, t: float, kind: int, arg: int) -> None:
        heapq.heappush(self.events, (t, kind, arg, len(self.events)))

    def run(self) -> DayResult:
        for index, (t, _) in enumerate(self.scenario.staffing):
            self.push(t, STAFF, index)
        for c in self.customers:
            self.push(c.arrival, ARRIVE, c.ticket_id)
        self.push(self.scenario.length, CLOSE, 0)
        handlers = {
            STAFF: self.on_staffing,
            COMPLETE: self.on_complete,
            ABANDON: self.on_abandon,
            ARRIVE: self.on_arrival,
            DUE: self.wake,
            CLOSE: self.wake,
        }
        while self.events:
            self.now, kind, arg, _ = heapq.heappop(self.events)
            handlers[kind](arg)
            self.dispatch()
        self.close_all()
        return DayResult(
            self.setup.name,
            [self.tickets[c.ticket_id] for c in self.customers],
            list(self.desks.values()),
            self.forecasts,
            self.log,
        )

    def on_staffing(self, index: int) -> None:
        """Open the plan's counters; close the others (a busy one after its customer)."""
        if self.now >= self.scenario.length:
            return  # after closing time the counters open then serve whoever is still inside
        wanted = self.scenario.staffing[index][1]
        for number, desk in self.desks.items():
            if number in wanted:
                self.open_desk(desk)
            elif desk.is_open:
                desk.closing = True
                if desk.current is None:
                    self.close_desk(desk)

    def on_arrival(self, ticket_id: int) -> None:
        customer = self.customers[ticket_id - 1]
        ticket = self.issue(customer)
        self.log.append(("issue", self.now, 0, ticket_id))
        self.enqueue(ticket)
        if self.forecaster is not None:
            found = self.forecaster(self, ticket)
            if found is not None:
                self.forecasts[ticket_id] = found
        if math.isfinite(customer.patience):
            self.push(customer.arrival + customer.patience, ABANDON, ticket_id)
        if ticket.item.due_at is not None and customer.slot is not None:
            self.push(max(customer.slot, self.now), DUE, ticket_id)

    def wake(self, _: int) -> None:
        """An appointment's slot begins, or the doors close: idle counters look again (dispatch
        follows; after closing time an idle counter with nobody it could serve closes)."""

    def on_abandon(self, ticket_id: int) -> None:
        ticket = self.tickets[ticket_id]
        if ticket.status is TicketStatus.WAITING:
            ticket.status = next_status(Action.CANCEL, ticket.status)
            self.dequeue(ticket)

    def on_complete(self, number: int) -> None:
        desk = self.desks[number]
        ticket = desk.current
        assert ticket is not None
        ticket.status = next_status(Action.COMPLETE, ticket.status)
        self.log.append(("complete", self.now, number, ticket.item.ticket_id))
        desk.current = None
        desk.idle_since = self.now
        if desk.closing:
            self.close_desk(desk)

    # -- tickets and the queue

    def issue(self, customer: Customer) -> Ticket:
        """The ticket as the live kiosk/check-in would queue it."""
        service = self.scenario.service(customer.service)
        appointment = customer.checked_in and self.setup.appointments_lane
        queue_at = next_queue_at(self.last_queue_at, at(self.now))
        self.last_queue_at = queue_at
        item = QueueItem(
            ticket_id=customer.ticket_id,
            lane=Lane.APPOINTMENT if appointment else service.lane,
            queue_at=queue_at,
            service=service.code,
            due_at=at(customer.slot) if appointment and customer.slot is not None else None,
            service_lane=service.lane,
            expected_minutes=service.mean,
        )
        ticket = Ticket(customer, item)
        self.tickets[customer.ticket_id] = ticket
        return ticket

    def enqueue(self, ticket: Ticket) -> None:
        queue = self.groups.setdefault(ticket.group, [])
        bisect.insort(queue, ticket, key=lambda t: t.key)

    def dequeue(self, ticket: Ticket) -> None:
        self.groups[ticket.group].remove(ticket)

    def heads(self) -> list[QueueItem]:
        """The oldest ticket of each (service, lane, only_counter) group, and every checked-in
        appointment (as the live engine's candidates: a later booking may be due first)."""
        return [
            t.item
            for (_, lane, _), queue in self.groups.items()
            for t in (queue if lane == Lane.APPOINTMENT else queue[:1])
        ]

    def waiting(self) -> list[QueueItem]:
        return [t.item for queue in self.groups.values() for t in queue]

    # -- counters

    def open_desk(self, desk: Desk) -> None:
        desk.closing = False
        if not desk.is_open:
            desk.is_open = True
            desk.opened_at = desk.idle_since = self.now

    def close_desk(self, desk: Desk) -> None:
        desk.is_open = desk.closing = False
        desk.open_time += self.now - desk.opened_at

    def close_all(self) -> None:
        for desk in self.desks.values():
            if desk.is_open:
                self.close_desk(desk)

    def dispatch(self) -> None:
        """Every free open counter calls next, the longest idle first."""
        free = [d for d in self.desks.values() if d.is_open and not d.closing and not d.current]
        for desk in sorted(free, key=lambda d: (d.idle_since, d.view.number)):
            if not self.call_next(desk) and self.now >= self.scenario.length:
                self.close_desk(desk)  # after hours: nobody left that it could serve

    def recent_lanes(self) -> list[Lane]:
        """The lanes of the last calls, as many as the live engine passes (vip_window - 1)."""
        count = self.setup.policy.vip_window - 1
        return self.recent[-count:] if count > 0 else []

    def call_next(self, desk: Desk) -> bool:
        policy = self.setup.policy
        decision = choose_next(desk.view, self.heads(), policy, at(self.now), self.recent_lanes())
        if decision.ticket_id is None:
            return False
        self.serve(desk, self.tickets[decision.ticket_id])
        return True

    def serve(self, desk: Desk, ticket: Ticket) -> None:
        """Call, start and schedule the completion of one ticket at a counter."""
        self.dequeue(ticket)
        ticket.status = next_status(Action.CALL, ticket.status)
        ticket.status = next_status(Action.START, ticket.status)
        ticket.called_at, ticket.counter = self.now, desk.view.number
        ticket.calls += 1
        self.log.append(("call", self.now, desk.view.number, ticket.item.ticket_id))
        self.recent = [*self.recent[-9:], ticket.item.lane]
        desk.current = ticket
        desk.expected_end = self.now + ticket.item.expected_minutes
        desk.busy_time += ticket.customer.duration
        self.push(self.now + ticket.customer.duration, COMPLETE, desk.view.number)

    def arrival_rates(self) -> list[ArrivalRate]:
        """Walk-ins per minute by service over the last hour, as the live system measures it."""
        since = self.now - ARRIVAL_HORIZON_MINUTES
        counts: dict[str, int] = {}
        for ticket in self.tickets.values():
            if ticket.item.lane != Lane.APPOINTMENT and ticket.customer.arrival > since:
                counts[ticket.item.service] = counts.get(ticket.item.service, 0) + 1
        out = []
        for code, count in counts.items():
            service = self.scenario.service(code)
            out.append(
                ArrivalRate(code, service.lane, service.mean, count / ARRIVAL_HORIZON_MINUTES)
            )
        return out

    def counter_views(self) -> list[tuple[CounterView, float, float | None, float | None]]:
        """Each counter as the live system would see it now: its expected free time and, for a
        visit under way, when it began and how long it is expected to take."""
        out = []
        for desk in self.desks.values():
            status = CounterStatus.OPEN if desk.is_open else CounterStatus.PAUSED
            view = replace(desk.view, status=status)
            if desk.current is None:
                out.append((view, self.now, None, None))
                continue
            expected = desk.current.item.expected_minutes
            began = desk.expected_end - expected
            out.append((view, max(desk.expected_end, self.now), began, expected))
        return out


def simulate(
    scenario: Scenario,
    setup: PolicySetup,
    customers: Sequence[Customer],
    forecaster: Forecaster | None = None,
) -> DayResult:
    return Hall(scenario, setup, customers, forecaster).run()


# --- the wait estimate, as the live system would have shown it at issue -------------------


def eta_forecaster(scenario: Scenario, seed: int) -> Forecaster | None:
    """backend.eta.forecast on the state at the moment of issue (None if eta is missing)."""
    try:
        from backend.policy.eta import CounterLoad, forecast
    except ImportError:
        return None

    def estimate(hall: Hall, ticket: Ticket) -> tuple[float, float, float] | None:
        if ticket.item.ticket_id % max(scenario.eta.every, 1):
            return None
        loads = [
            CounterLoad(view, at(free), None if began is None else at(began), expected)
            for view, free, began, expected in hall.counter_views()
        ]
        found = forecast(
            hall.waiting(),
            loads,
            hall.setup.policy,
            at(hall.now),
            hall.recent_lanes(),
            cv=scenario.eta.cv,
            samples=scenario.eta.samples,
            seed=seed * 100_003 + ticket.item.ticket_id,
            rates=hall.arrival_rates(),
        ).get(ticket.item.ticket_id)
        return (found.point, found.low, found.high) if found else None

    return estimate


# --- metrics ---------------------------------------------------------------------------------

WAIT_KEYS = ("mean_wait", "median_wait", "p90_wait", "p95_wait", "max_wait")
KEYS = (*WAIT_KEYS, "within_target", "appointments_on_time", "abandoned", "utilisation")
ETA_KEYS = ("eta_mae", "eta_signed_error", "eta_coverage")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def wait_of(ticket: Ticket) -> float | None:
    if ticket.called_at is None:
        return None
    return ticket.called_at - ticket.customer.arrival


def wait_stats(waits: Sequence[float]) -> dict[str, float | None]:
    return {
        "mean_wait": sum(waits) / len(waits) if waits else None,
        "median_wait": percentile(waits, 0.5),
        "p90_wait": percentile(waits, 0.9),
        "p95_wait": percentile(waits, 0.95),
        "max_wait": max(waits) if waits else None,
    }


def share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def on_time_share(tickets: Iterable[Ticket]) -> float | None:
    """Bookings that arrived by their slot start and were called within 5 min of it."""
    punctual = [
        t
        for t in tickets
        if t.customer.checked_in
        and t.customer.slot is not None
        and (t.customer.came_at or 0.0) <= t.customer.slot
    ]
    called = [
        t
        for t in punctual
        if t.called_at is not None and t.called_at <= t.customer.slot + ON_TIME_MINUTES  # type: ignore[operator]
    ]
    return share(len(called), len(punctual))


def group_metrics(tickets: Sequence[Ticket], target: float) -> dict[str, Any]:
    """Wait figures of served customers; the shares over everyone who queued."""
    waits = [w for t in tickets if (w := wait_of(t)) is not None]
    out: dict[str, Any] = wait_stats(waits)
    out["within_target"] = share(sum(1 for w in waits if w <= target), len(tickets))
    out["appointments_on_time"] = on_time_share(tickets)
    abandoned = sum(1 for t in tickets if t.status is TicketStatus.CANCELLED)
    out["abandoned"] = share(abandoned, len(tickets))
    out["utilisation"] = None
    out["customers"] = len(tickets)
    out["served"] = len(waits)
    return out


def eta_metrics(result: DayResult) -> dict[str, float | None]:
    """Forecast at issue vs the wait that followed (served customers only)."""
    errors, inside = [], 0
    for ticket_id, (point, low, high) in result.forecasts.items():
        actual = wait_of(result.tickets[ticket_id - 1])
        if actual is None:
            continue
        errors.append(point - actual)
        inside += low <= actual <= high
    return {
        "eta_mae": sum(abs(e) for e in errors) / len(errors) if errors else None,
        "eta_signed_error": sum(errors) / len(errors) if errors else None,
        "eta_coverage": share(inside, len(errors)),
        "eta_forecasts": len(errors),
    }


def lane_of(ticket: Ticket, scenario: Scenario) -> str:
    """The reporting lane, the same under every policy: 'appointment' for a booking checked in
    within its window (even where a baseline queues it as a walk-in), else the service's lane."""
    if ticket.customer.checked_in:
        return Lane.APPOINTMENT.value
    return scenario.service(ticket.customer.service).lane.value


def day_metrics(result: DayResult, scenario: Scenario) -> dict[str, Any]:
    """Every reported figure of one simulated day."""
    out = group_metrics(result.tickets, scenario.target)
    open_time = sum(d.open_time for d in result.desks)
    out["utilisation"] = share(sum(d.busy_time for d in result.desks), open_time)  # type: ignore[arg-type]
    lanes: dict[str, list[Ticket]] = {}
    for ticket in result.tickets:
        lanes.setdefault(lane_of(ticket, scenario), []).append(ticket)
    out["lanes"] = {
        lane.value: group_metrics(lanes.get(lane.value, []), scenario.target) for lane in ALL_LANES
    }
    if result.policy == "ours":
        out.update(eta_metrics(result))
    return out


def average(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise mean over replications (None where no replication had a figure)."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r.get(key) is not None]
        if isinstance(runs[0][key], dict):
            out[key] = average([r[key] for r in runs])
        else:
            out[key] = sum(values) / len(values) if values else None
    return out


# --- running replications --------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal, or when forced)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<16} {elapsed:5.1f}s")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_seed(
    scenario: Scenario, seed: int, names: Sequence[str], progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """One replication: the same customers under every policy."""
    customers = generate_customers(scenario, seed)
    setups = policy_setups(scenario)
    out = {}
    for name in names:
        forecaster = eta_forecaster(scenario, seed) if name == "ours" else None
        result = simulate(scenario, setups[name], customers, forecaster)
        out[name] = day_metrics(result, scenario)
        if progress:
            progress.step(f"seed {seed} {name}")
    return out


def run(
    scenario: Scenario,
    seeds: int,
    names: Sequence[str] = POLICIES,
    base: int | None = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Seeds base..base+seeds-1 (base: the scenario's seed), averaged per policy."""
    first = scenario.seed if base is None else base
    bar = Progress(seeds * len(names), progress)
    runs = [run_seed(scenario, first + i, names, bar) for i in range(seeds)]
    return {name: average([r[name] for r in runs]) for name in names}


# --- output ----------------------------------------------------------------------------------

ROWS = (
    ("mean wait (min)", "mean_wait", "{:.1f}"),
    ("median wait", "median_wait", "{:.1f}"),
    ("p90 wait", "p90_wait", "{:.1f}"),
    ("p95 wait", "p95_wait", "{:.1f}"),
    ("max wait", "max_wait", "{:.1f}"),
    ("within target", "within_target", "{:.1%}"),
    ("appointments on time", "appointments_on_time", "{:.1%}"),
    ("abandoned", "abandoned", "{:.1%}"),
    ("utilisation", "utilisation", "{:.1%}"),
    ("customers", "customers", "{:.1f}"),
    ("eta MAE (min)", "eta_mae", "{:.2f}"),
    ("eta signed error", "eta_signed_error", "{:+.2f}"),
    ("eta coverage", "eta_coverage", "{:.1%}"),
)
LANE_ROWS = (("mean", "mean_wait"), ("p90", "p90_wait"), ("max", "max_wait"))


def cell(value: Any, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def table(results: dict[str, dict[str, Any]], scenario: Scenario, seeds: int) -> str:
    """The comparison as a plain-text table."""
    names = list(results)
    width = max(14, *(len(n) + 2 for n in names))
    head = f"{scenario.name}: {seeds} seed(s), target {scenario.target:g} min"
    lines = [head, f"{'':<26}" + "".join(f"{n:>{width}}" for n in names)]
    for label, key, fmt in ROWS:
        if all(key not in results[n] for n in names):
            continue
        row = "".join(f"{cell(results[n].get(key), fmt):>{width}}" for n in names)
        lines.append(f"{label:<26}{row}")
    for lane in ALL_LANES:
        for label, key in LANE_ROWS:
            values = [results[n]["lanes"][lane.value][key] for n in names]
            row = "".join(f"{cell(v, '{:.1f}'):>{width}}" for v in values)
            lines.append(f"{lane.value + ' ' + label:<26}{row}")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], path: str) -> None:
    """Bars of mean / p90 / p95 wait per policy, overall and per lane (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = ["overall", *(lane.value for lane in ALL_LANES)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 4), sharey=True)
    for ax, group in zip(axes, groups, strict=True):
        for offset, name in enumerate(results):
            figures = results[name] if group == "overall" else results[name]["lanes"][group]
            heights = [figures[k] or 0 for k in ("mean_wait", "p90_wait", "p95_wait")]
            ax.bar([x * 5 + offset for x in range(3)], heights, label=name)
        ax.set_xticks([x * 5 + 1.5 for x in range(3)], ["mean", "p90", "p95"])
        ax.set_title(group)
    axes[0].set_ylabel("wait (minutes)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a scenario TOML file (see bench/README.md)")
    parser.add_argument("--seeds", type=int, default=1, help="replications to average")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: scenario's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per policy")
    parser.add_argument("--plot", metavar="PNG", help="bar chart of the waits (matplotlib)")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated")
    parser.add_argument("--eta-every", type=int, help="forecast every k-th ticket (default: [eta])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    unknown = sorted(set(names) - set(POLICIES))
    if unknown:
        sys.exit(f"unknown policies: {', '.join(unknown)} (choose from {', '.join(POLICIES)})")
    scenario = load_scenario(args.scenario)
    if args.eta_every:
        scenario = replace(scenario, eta=replace(scenario.eta, every=args.eta_every))
    started = time.perf_counter()
    show = not args.no_progress and sys.stderr.isatty()
    results = run(scenario, args.seeds, names, args.seed, progress=show)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(table(results, scenario, args.seeds))
    if args.plot:
        plot(results, args.plot)
    sys.stdout.flush()
    print(f"{args.seeds} seed(s) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
