"""The staffing advice for one day: counters per hour by Erlang C, checked with the simulator.

No database here: `DayDemand` (built by backend.staffing.queries from the store's history) goes
in, `Advice` comes out. Per opening hour, Erlang C (`backend.policy.staffing`) gives the counters
the hour's arrivals and service times need to meet the store's target if the hour were steady and
the counters pooled. Then the simulator (`backend.policy.sim`) runs that plan through the store's
own call policy and counter profiles on the day's arrival pattern, the same customers for every
plan (fixed seeds); where an hour misses the target, its count is raised (the earliest failing
hour first, since its queue spills into the next) until every hour meets it or has every counter.
The current plan (every counter the store has, in every opening hour) is simulated beside it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from backend.policy import CounterView, Lane, QueuePolicy
from backend.policy.sim import (
    ALL_LANES,
    AppointmentSpec,
    Customer,
    DayResult,
    EtaSpec,
    PolicySetup,
    Scenario,
    ServiceSpec,
    simulate,
)
from backend.policy.sim.customers import lognormal
from backend.policy.sim.metrics import wait_of
from backend.policy.staffing import counters_needed

# Replications of the day (fixed seeds: the same page for the same history).
SEEDS = (1, 2, 3, 4)
# Service times vary as much as Erlang C assumes (exponential: coefficient of variation 1), so
# where the two disagree it is the hall (lanes, profiles, call order, the day's pattern), not a
# different service-time model.
SERVICE_CV = 1.0
DEFAULT_SHARE = 0.8
# A queue left at an hour's start of at least this many customers (mean over the seeds) is the
# hour before's doing.
CARRY_OVER = 1.0


@dataclass(frozen=True, slots=True)
class ServiceLoad:
    code: str
    lane: Lane
    minutes: float  # the learned (or configured) mean duration


@dataclass(frozen=True, slots=True)
class HourDemand:
    """One opening hour (or the part of it the hall is open), in minutes after midnight."""

    start: int
    end: int
    arrivals: dict[str, float]  # service code -> customers expected in this hour

    @property
    def total(self) -> float:
        return sum(self.arrivals.values())

    @property
    def minutes(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class DayDemand:
    hours: tuple[HourDemand, ...]
    services: tuple[ServiceLoad, ...]
    counters: tuple[CounterView, ...]  # every counter the store has, with its profile
    policy: QueuePolicy
    target: float  # minutes
    share: float = DEFAULT_SHARE

    @property
    def open_at(self) -> int:
        return self.hours[0].start

    @property
    def close_at(self) -> int:
        return self.hours[-1].end

    def service(self, code: str) -> ServiceLoad:
        return next(s for s in self.services if s.code == code)


class Why(StrEnum):
    """Why the simulation needs more counters than Erlang C in an hour."""

    PROFILES = "profiles"  # the counters' lanes split the queue
    CARRY_OVER = "carry_over"  # the queue left from the hour before
    PATTERN = "pattern"  # arrivals within the hour, the call order: nothing single
    SHORT = "short"  # even every counter misses the target


@dataclass(frozen=True, slots=True)
class Figures:
    """One hour of one plan in the simulation, pooled over the seeds."""

    mean_wait: float | None
    within_target: float | None
    customers: int  # simulated customers of the hour, all seeds


@dataclass(frozen=True)
class HourAdvice:
    start: int
    end: int
    arrivals: float
    erlang: int  # Erlang C's counters (may exceed the counters the store has)
    counters: int  # the advice, after the simulation
    current: int
    opened: tuple[int, ...]  # the counters the advice opens, by number
    advice: Figures
    now: Figures
    meets: bool  # the advice meets the target in the simulation
    why: Why | None = None
    lane: Lane | None = None  # for PROFILES: the lane that waits longest


@dataclass(frozen=True)
class Advice:
    demand: DayDemand
    hours: tuple[HourAdvice, ...]
    rounds: int  # simulated plans (each over every seed)
    staffing: tuple[frozenset[int], ...] = field(default=())  # the advice's counters per hour


# --- the simulated day ---------------------------------------------------------------------------


def scenario_for(
    demand: DayDemand, plan: Sequence[frozenset[int]], pooled: bool = False
) -> Scenario:
    """The simulator's scenario of this day under `plan` (the counters open in each hour).
    `pooled`: every counter serves every lane (what Erlang C assumes)."""
    counters = tuple(replace(c, lanes=ALL_LANES) for c in demand.counters) if pooled else None
    total = sum(h.total for h in demand.hours) or 1.0
    per_service: dict[str, float] = {}
    for hour in demand.hours:
        for code, n in hour.arrivals.items():
            per_service[code] = per_service.get(code, 0.0) + n
    return Scenario(
        name="staffing",
        open_at=demand.open_at,
        close_at=demand.close_at,
        counters=counters or demand.counters,
        staffing=tuple(
            (float(h.start - demand.open_at), opened)
            for h, opened in zip(demand.hours, plan, strict=True)
        ),
        services=tuple(
            ServiceSpec(s.code, s.lane, per_service.get(s.code, 0.0) / total, s.minutes, SERVICE_CV)
            for s in demand.services
        ),
        arrivals=tuple(
            (float(h.start - demand.open_at), h.total * 60 / max(h.minutes, 1))
            for h in demand.hours
        ),
        appointments=AppointmentSpec(),
        patience_mean=math.inf,
        patience_cv=0.5,
        target=demand.target,
        seed=SEEDS[0],
        policy=demand.policy,
        eta=EtaSpec(),
    )


def day_customers(demand: DayDemand, seed: int) -> list[Customer]:
    """One replication's walk-ins: per hour and service a Poisson stream at the history's rate,
    lognormal service times around the service's mean; nobody gives up (every wait counts)."""
    rng = random.Random(seed)
    visits: list[tuple[float, str, float]] = []
    for hour in demand.hours:
        for code in sorted(hour.arrivals):
            rate = hour.arrivals[code] / max(hour.minutes, 1)  # per minute
            t = float(hour.start - demand.open_at)
            end = float(hour.end - demand.open_at)
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= end:
                    break
                visits.append((t, code, lognormal(rng, demand.service(code).minutes, SERVICE_CV)))
    visits.sort()
    return [
        Customer(ticket_id=i, arrival=t, service=code, duration=d, patience=math.inf)
        for i, (t, code, d) in enumerate(visits, start=1)
    ]


def run_plan(
    demand: DayDemand, plan: Sequence[frozenset[int]], pooled: bool = False
) -> list[DayResult]:
    scenario = scenario_for(demand, plan, pooled)
    setup = PolicySetup("ours", scenario.policy, scenario.counters)
    return [simulate(scenario, setup, day_customers(demand, seed)) for seed in SEEDS]


def hour_figures(demand: DayDemand, results: Sequence[DayResult]) -> list[Figures]:
    """Per hour: the mean wait of its served customers and the share called within the target
    (of everyone who arrived in it), over every seed."""
    out = []
    for hour in demand.hours:
        lo, hi = hour.start - demand.open_at, hour.end - demand.open_at
        tickets = [t for r in results for t in r.tickets if lo <= t.customer.arrival < hi]
        waits = [w for t in tickets if (w := wait_of(t)) is not None]
        hits = sum(1 for w in waits if w <= demand.target)
        out.append(
            Figures(
                sum(waits) / len(waits) if waits else None,
                hits / len(tickets) if tickets else None,
                len(tickets),
            )
        )
    return out


def meets(figures: Figures, share: float) -> bool:
    return figures.within_target is None or figures.within_target >= share


# --- which counters, how many ---------------------------------------------------------------


def hour_loads(demand: DayDemand, hour: HourDemand) -> dict[Lane, float]:
    """Work per lane in the hour (customer-minutes)."""
    loads: dict[Lane, float] = {}
    for code, n in hour.arrivals.items():
        service = demand.service(code)
        loads[service.lane] = loads.get(service.lane, 0.0) + n * service.minutes
    return loads


def gain(
    counter: CounterView, loads: dict[Lane, float], covered: set[Lane]
) -> tuple[float, float, int]:
    lanes = set(counter.lanes)
    new = sum(loads.get(lane, 0.0) for lane in lanes - covered)
    return (new, sum(loads.get(lane, 0.0) for lane in lanes), -counter.number)


def counter_order(demand: DayDemand, hour: HourDemand) -> list[CounterView]:
    """The counters to open first in this hour: each next one serves the most of the hour's work
    not yet served by those before it (then the most work at all, then the lowest number)."""
    loads = hour_loads(demand, hour)
    left = list(demand.counters)
    covered: set[Lane] = set()
    order = []
    while left:
        best = max(left, key=lambda c: gain(c, loads, covered))
        order.append(best)
        covered |= set(best.lanes)
        left.remove(best)
    return order


def erlang_counters(demand: DayDemand, hour: HourDemand) -> int:
    """Erlang C on the hour's pooled load: its arrivals at their mean service time."""
    total = hour.total
    if total <= 0:
        return 0
    work = sum(n * demand.service(code).minutes for code, n in hour.arrivals.items())
    return counters_needed(total / max(hour.minutes, 1), work / total, demand.target, demand.share)


def opened(orders: Sequence[Sequence[CounterView]], counts: Sequence[int]) -> list[frozenset[int]]:
    return [frozenset(c.number for c in order[:n]) for order, n in zip(orders, counts, strict=True)]


# --- the advice ------------------------------------------------------------------------------


def carried_over(demand: DayDemand, results: Sequence[DayResult], index: int) -> float:
    """Customers (mean over the seeds) still waiting when hour `index` begins."""
    start = demand.hours[index].start - demand.open_at
    waiting = sum(
        1
        for r in results
        for t in r.tickets
        if t.customer.arrival < start and (t.called_at is None or t.called_at > start)
    )
    return waiting / len(results)


def worst_lane(demand: DayDemand, results: Sequence[DayResult], index: int) -> Lane | None:
    hour = demand.hours[index]
    lo, hi = hour.start - demand.open_at, hour.end - demand.open_at
    by_lane: dict[Lane, list[float]] = {}
    for r in results:
        for t in r.tickets:
            if lo <= t.customer.arrival < hi:
                wait = wait_of(t)
                by_lane.setdefault(t.item.lane, []).append(math.inf if wait is None else wait)
    if not by_lane:
        return None
    return max(by_lane, key=lambda lane: sum(by_lane[lane]) / len(by_lane[lane]))


def explain(
    demand: DayDemand,
    index: int,
    first: Sequence[DayResult],
    pooled: Sequence[Figures],
) -> tuple[Why, Lane | None]:
    """Why Erlang C's count missed the target in the simulation of hour `index`: the same counters
    serving every lane would have met it (the profiles); or a queue was left from before; or no
    one cause (the day's pattern within the hour, the call order)."""
    if meets(pooled[index], demand.share):
        return Why.PROFILES, worst_lane(demand, first, index)
    if index > 0 and carried_over(demand, first, index) >= CARRY_OVER:
        return Why.CARRY_OVER, None
    return Why.PATTERN, None


def failing_hours(
    demand: DayDemand, counts: Sequence[int], figures: Sequence[Figures]
) -> list[int]:
    """Hours to raise this round: the first that misses the target with counters to spare, and
    every later one whose hour before met it (its miss is its own, not the queue spilled over)."""
    most = len(demand.counters)
    missing = [i for i, f in enumerate(figures) if counts[i] < most and not meets(f, demand.share)]
    if not missing:
        return []
    return [missing[0]] + [i for i in missing[1:] if meets(figures[i - 1], demand.share)]


def advise(demand: DayDemand) -> Advice:
    """Counters per hour that meet the target in the simulation, beside the current plan."""
    most = len(demand.counters)
    orders = [counter_order(demand, h) for h in demand.hours]
    erlang = [erlang_counters(demand, h) for h in demand.hours]
    counts = [min(n, most) for n in erlang]
    first = run_plan(demand, opened(orders, counts))
    figures = hour_figures(demand, first)
    rounds = 1
    # Each round adds a counter to at least one hour: at most hours × counters rounds.
    while raise_ := failing_hours(demand, counts, figures):
        for i in raise_:
            counts[i] += 1
        figures = hour_figures(demand, run_plan(demand, opened(orders, counts)))
        rounds += 1
    everyone = frozenset(c.number for c in demand.counters)
    current = hour_figures(demand, run_plan(demand, [everyone] * len(demand.hours)))
    raised = [i for i, n in enumerate(counts) if n > erlang[i]]
    pooled = (
        hour_figures(demand, run_plan(demand, opened(orders, [min(n, most) for n in erlang]), True))
        if raised
        else []
    )
    plan = opened(orders, counts)
    hours = []
    for i, hour in enumerate(demand.hours):
        ok = meets(figures[i], demand.share)
        why, lane = (None, None)
        if not ok:
            why = Why.SHORT
        elif i in raised:
            why, lane = explain(demand, i, first, pooled)
        hours.append(
            HourAdvice(
                start=hour.start,
                end=hour.end,
                arrivals=hour.total,
                erlang=erlang[i],
                counters=counts[i],
                current=most,
                opened=tuple(sorted(plan[i])),
                advice=figures[i],
                now=current[i],
                meets=ok,
                why=why,
                lane=lane,
            )
        )
    return Advice(demand, tuple(hours), rounds, tuple(plan))
