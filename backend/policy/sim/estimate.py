"""The wait estimate as the live system would have printed it on each ticket at its issue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..enums import TicketStatus
from ..eta import (
    BookedVisit,
    CounterLoad,
    PatienceTally,
    Transfer,
    forecast,
    onward_of,
    range_error,
    range_scale,
    sample_count,
    show_rate,
    tally_patience,
    transfer_shares,
)
from ..patience import Patience, learned_patience
from .customers import Booking, day_bookings, generate_customers
from .hall import DayResult, Forecaster, Hall, Ticket, at, patience_waits, simulate
from .metrics import wait_of
from .scenario import Scenario
from .setups import policy_setups

# The earlier days' seeds: far from any seed a benchmark runs as a day of its own.
HISTORY_SEED = 7_000_003


@dataclass(frozen=True, slots=True)
class History:
    """What the store's earlier days tell the estimate: how customers gave up, and how many of
    the bookings came."""

    patience: PatienceTally | None = None
    shows: int = 0
    bookings: int = 0
    # Visits that ended at each service, and transfers from one service to another.
    finished: Mapping[str, int] = field(default_factory=dict)
    moved: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # The factor the range is scaled by: what the earlier days' printed promises needed.
    range_scale: float = 1.0


def hall_history(scenario: Scenario, seed: int) -> History:
    """How customers gave up over `scenario.eta.history_days` earlier days of the same hall (the
    default order, no estimate printed), how many bookings came and who was sent on, tallied as
    the live read model tallies the store's earlier days, and the factor their promises needed
    (each day simulated again with the estimate printed); nothing without history."""
    if scenario.eta.history_days <= 0:
        return History()
    found = _history_days(scenario, seed)
    if scenario.eta.history_promises <= 0:
        return found
    days = range(scenario.eta.history_days)
    errors = [e for day in days for e in promise_errors(scenario, seed, day, found)]
    return replace(found, range_scale=range_scale(errors))


def history_patience(scenario: Scenario, seed: int) -> Patience | None:
    """How patient the hall's customers were over its history days: what the live store's
    deadline order counts with (`QueuePolicy.patience`); None without history."""
    if scenario.eta.history_days <= 0:
        return None
    return learned_patience(_history_days(scenario, seed).patience)


# The estimate and the deadline order of one seed both ask for its history days: simulated once.
@lru_cache(maxsize=32)
def _history_days(scenario: Scenario, seed: int) -> History:
    setup = policy_setups(scenario)["ours"]
    waits = []
    shows = bookings = 0
    finished: Counter[str] = Counter()
    moved: Counter[tuple[str, str]] = Counter()
    for day in range(scenario.eta.history_days):
        day_seed = _history_seed(seed, day)
        customers = generate_customers(scenario, day_seed)
        result = simulate(scenario, setup, customers)
        waits += patience_waits(result.tickets, None)
        ended, sent = transfer_tally(result)
        finished.update(ended)
        moved.update(sent)
        booked = day_bookings(scenario, day_seed)
        shows += sum(b.checks_in is not None for b in booked)
        bookings += len(booked)
    return History(tally_patience(waits), shows, bookings, dict(finished), dict(moved))


def _history_seed(seed: int, day: int) -> int:
    return HISTORY_SEED + seed * 101 + day


def promise_errors(scenario: Scenario, seed: int, day: int, history: History) -> list[float]:
    """An earlier day simulated again with the estimate printed as the store prints it (knowing
    `history`, its range not yet scaled) on `history_promises` of its tickets spread over the
    day: each served one's error in half-widths of its range (`eta.range_error`)."""
    day_seed = _history_seed(seed, day)
    customers = generate_customers(scenario, day_seed)
    every = max(len(customers) // scenario.eta.history_promises, 1)
    printing = _forecaster(scenario, day_seed, history, day_bookings(scenario, day_seed), every)
    result = simulate(scenario, policy_setups(scenario)["ours"], customers, printing)
    errors = []
    for ticket_id, (point, low, high) in result.forecasts.items():
        actual = wait_of(result.tickets[ticket_id - 1])
        if actual is not None:
            errors.append(range_error(actual, point, low, high, 1.0))
    return errors


def transfer_tally(result: DayResult) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """A day's visits that ended at each service (served to the end) and its transfers from one
    service to another, as the live read model counts them from the store's tickets and their
    transfer events."""
    finished = Counter(t.item.service for t in result.tickets if t.status is TicketStatus.DONE)
    by_id = {t.item.ticket_id: t for t in result.tickets}
    moved: Counter[tuple[str, str]] = Counter()
    for kind, _, _, ticket_id in result.log:
        if kind == "transfer":
            customer = by_id[ticket_id].customer
            moved[(customer.service, customer.then or "")] += 1
    return finished, moved


def hall_onward(
    scenario: Scenario, hall: Hall, shares: Mapping[tuple[str, str], float]
) -> dict[str, tuple[Transfer, ...]]:
    """The transfers the estimate draws: the earlier days' shares (`eta.transfer_shares`), to
    the services as the store knows them now."""
    services = {s.code: (s.lane, hall.expected(s.code)) for s in scenario.services}
    return onward_of(shares, services)


def booked_still_to_come(hall: Hall, bookings: Sequence[Booking]) -> list[BookedVisit]:
    """The day's bookings not checked in by now, as the live read model reads them (all of
    them: the estimate keeps those near enough to matter)."""
    if not hall.setup.appointments_lane:
        return []  # booked customers queue as walk-ins: the arrival rates count them
    out = []
    for booking in bookings:
        if booking.checks_in is not None and booking.checks_in <= hall.now:
            continue
        service = hall.scenario.service(booking.service)
        out.append(
            BookedVisit(service.code, service.lane, hall.expected(service.code), at(booking.slot))
        )
    return out


def eta_forecaster(scenario: Scenario, seed: int) -> Forecaster:
    """`backend.policy.eta.forecast` on the hall's state at the moment of issue."""
    history = hall_history(scenario, seed)
    return _forecaster(scenario, seed, history, day_bookings(scenario, seed), scenario.eta.every)


def _forecaster(
    scenario: Scenario, seed: int, history: History, bookings: Sequence[Booking], every: int
) -> Forecaster:
    """The forecast at every `every`-th ticket's issue, knowing the earlier days (`history`) and
    the day's calendar (`bookings`)."""
    shares = transfer_shares(history.finished, history.moved)  # once: the history is fixed
    shows = show_rate(history.shows, history.bookings)

    def estimate(hall: Hall, ticket: Ticket) -> tuple[float, float, float] | None:
        if ticket.item.ticket_id % max(every, 1):
            return None
        loads = [
            CounterLoad(
                seen.view,
                at(seen.free),
                None if seen.began is None else at(seen.began),
                seen.expected,
                None if seen.back_at is None else at(seen.back_at),
                seen.serving,
            )
            for seen in hall.counter_views()
        ]
        waiting = hall.waiting()
        found = forecast(
            waiting,
            loads,
            hall.policy,
            at(hall.now),
            hall.recent_lanes(),
            cv=scenario.eta.cv,
            samples=sample_count(len(waiting), scenario.eta.samples),
            seed=seed * 100_003 + ticket.item.ticket_id,
            rates=hall.arrival_rates(),
            patience=hall.patience(history.patience),
            booked=booked_still_to_come(hall, bookings),
            shows=shows,
            call_gap=hall.call_gap(),
            onward=hall_onward(scenario, hall, shares) if shares else None,
            scale=history.range_scale,
            last_walk_in=at(scenario.length),  # customers come until the hall closes
        ).get(ticket.item.ticket_id)
        return (found.point, found.low, found.high) if found else None

    return estimate
