"""The oracle for the wait estimate: the best forecast a ticket's issue allows.

At a ticket's issue the oracle knows the hall exactly (who waits in which queue and since when,
who is at which counter and since when, the staffing plan still to come, the scenario's true
distributions) but not the future. It replays the rest of the day many times from a copy of
that state under the same policy, each time with fresh draws: the service time of every waiting
ticket, the rest of every visit under way (conditioned on having lasted so far), the patience of
everyone waiting (conditioned on having waited so far) and the customers still to come. Its
forecast is the median of the ticket's replayed waits (the median minimises the absolute error)
and the 5–95 % quantiles of them. Pure: the standard library and `backend.policy` only.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

from backend.policy.enums import TicketStatus
from backend.policy.eta import lognormal_beyond
from backend.policy.sim import Customer, Forecaster, Hall, Scenario, Ticket, eta_forecaster
from backend.policy.sim import generate_customers as draw_day
from backend.policy.sim.hall import ABANDON, ARRIVE, CLOSE, COMPLETE, DUE, STAFF
from backend.policy.sim.metrics import percentile, wait_of

# The oracle's range: these quantiles of its replayed waits.
LOW_QUANTILE, HIGH_QUANTILE = 0.05, 0.95
MEDIAN = 0.5
# Drawn future customers are numbered from here on: above any day's ticket count, so a drawn
# customer's id never collides with a ticket of the day being forecast.
FUTURE_ID_BASE = 10_000_000
# Seeds of the oracle's draws, apart from the scenario's day seeds (which draw the real days).
FUTURE_SEED_BASE = 7_000_000_000
DRAW_SEED_BASE = 9_000_000_000
# Seeds per day: room for this many replays (future days) or sampled tickets of one day.
SEED_STRIDE = 1_000_003

Estimate = tuple[float, float, float]


# -- draws from the true distributions --------------------------------------------------------


class FutureDay(Sequence[Customer]):
    """The customers of one drawn day who arrive after a moment, looked up as the hall looks a
    customer up (`customers[ticket_id - 1]`), ids from FUTURE_ID_BASE on."""

    def __init__(self, drawn: Sequence[Customer]) -> None:
        self.drawn = drawn
        self.arrivals = [c.arrival for c in drawn]

    @overload
    def __getitem__(self, index: int) -> Customer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Customer]: ...
    def __getitem__(self, index: int | slice) -> Customer | Sequence[Customer]:
        if isinstance(index, slice):
            return self.drawn[index]
        return self.drawn[index - FUTURE_ID_BASE]  # index = ticket id - 1

    def __len__(self) -> int:
        return len(self.drawn)

    def __iter__(self) -> Iterator[Customer]:
        return iter(self.drawn)

    def after(self, now: float) -> int:
        """The index of the first drawn customer arriving after `now`."""
        return bisect_right(self.arrivals, now)


@dataclass
class FutureDraws:
    """Day `r` of the true arrival and booking process, drawn once per day forecast and shared
    by every sampled ticket's replay `r` (independent across `r`, which is all a ticket's
    quantiles need)."""

    scenario: Scenario
    seed: int
    days: dict[int, FutureDay] = field(default_factory=dict)

    def day(self, index: int) -> FutureDay:
        if index not in self.days:
            drawn = draw_day(self.scenario, FUTURE_SEED_BASE + self.seed * SEED_STRIDE + index)
            numbered = [replace(c, ticket_id=FUTURE_ID_BASE + c.ticket_id) for c in drawn]
            self.days[index] = FutureDay(numbered)
        return self.days[index]


# -- one replay of the rest of the day --------------------------------------------------------


class Replay(Hall):
    """The rest of the day from a copy of a live hall's state, with fresh draws; the live hall
    is only read. It stops as soon as the forecast ticket is called or gives up."""

    def __init__(self, live: Hall, target: Ticket, future: FutureDay, rng: random.Random) -> None:
        super().__init__(live.scenario, live.setup, future)
        self.rng = rng
        self.now = live.now
        self.recent = list(live.recent)
        self.last_queue_at = live.last_queue_at
        self.target_id = target.item.ticket_id
        self.next_future = future.after(live.now)
        for t, kind, arg, _ in live.events:
            if kind in (STAFF, DUE, CLOSE):  # the plan, the slots and the closing stay known
                self.push(t, kind, arg)
        self.copy_queue(live)
        self.copy_desks(live)
        if target.item.due_at is not None and target.customer.slot is not None:
            self.push(max(target.customer.slot, self.now), DUE, self.target_id)
        self.push_next_future()

    def copy_queue(self, live: Hall) -> None:
        """Every waiting ticket with a fresh service time and, conditioned on the wait so far,
        a fresh patience (its give-up is rescheduled from that)."""
        scenario = self.scenario
        for key, queue in live.groups.items():
            copies = []
            for ticket in queue:
                customer = ticket.customer
                service = scenario.service(customer.service)
                waited = self.now - customer.arrival
                patience = lognormal_beyond(
                    self.rng, scenario.patience_mean, scenario.patience_cv, waited
                )
                duration = lognormal_beyond(self.rng, service.mean, service.cv, 0.0)
                fresh = replace(customer, duration=duration, patience=patience)
                copy = replace(ticket, customer=fresh)
                self.tickets[ticket.item.ticket_id] = copy
                copies.append(copy)
                if math.isfinite(patience):
                    self.push(customer.arrival + patience, ABANDON, ticket.item.ticket_id)
            self.groups[key] = copies

    def copy_desks(self, live: Hall) -> None:
        """Every counter as it is; a visit under way gets a fresh total duration, conditioned on
        lasting longer than it already has, and its completion is rescheduled from that."""
        for number, desk in live.desks.items():
            current = desk.current
            if current is None or current.called_at is None:
                self.desks[number] = replace(desk)
                continue
            service = self.scenario.service(current.customer.service)
            elapsed = self.now - current.called_at
            total = lognormal_beyond(self.rng, service.mean, service.cv, elapsed)
            copy = replace(current, customer=replace(current.customer, duration=total))
            self.tickets[current.item.ticket_id] = copy
            self.desks[number] = replace(desk, current=copy)
            self.push(current.called_at + total, COMPLETE, number)

    def push_next_future(self) -> None:
        """The next drawn customer's arrival (one at a time: a replay stops early)."""
        future = self.customers
        assert isinstance(future, FutureDay)
        if self.next_future < len(future):
            customer = future.drawn[self.next_future]
            self.next_future += 1
            self.push(customer.arrival, ARRIVE, customer.ticket_id)

    def on_arrival(self, ticket_id: int) -> None:
        super().on_arrival(ticket_id)
        self.push_next_future()

    def resume(self) -> float | None:
        """The forecast ticket's wait in this replay; None if it gave up or was never called."""
        target = self.tickets[self.target_id]
        self.dispatch()  # as the live loop does after the issue
        while self.events and target.status is TicketStatus.WAITING:
            self.step()
        return wait_of(target)


# -- the oracle -------------------------------------------------------------------------------


def replayed_waits(
    hall: Hall, ticket: Ticket, draws: FutureDraws, resims: int
) -> list[float | None]:
    """The ticket's wait in each of `resims` replays of the rest of the day (None: not served)."""
    rng = random.Random(DRAW_SEED_BASE + draws.seed * SEED_STRIDE + ticket.item.ticket_id)
    return [Replay(hall, ticket, draws.day(r), rng).resume() for r in range(resims)]


def oracle_estimate(waits: Sequence[float | None]) -> Estimate | None:
    """(median, 5 %, 95 %) of the replayed waits where the ticket was served."""
    served = sorted(w for w in waits if w is not None)
    if not served:
        return None
    point, low, high = (percentile(served, q) for q in (MEDIAN, LOW_QUANTILE, HIGH_QUANTILE))
    assert point is not None and low is not None and high is not None
    return point, low, high


@dataclass
class Paired:
    """The product's estimate and the oracle's at the same tickets of one day."""

    estimates: dict[int, Estimate] = field(default_factory=dict)
    oracle: dict[int, Estimate | None] = field(default_factory=dict)


def paired_forecaster(
    scenario: Scenario, seed: int, resims: int, every: int
) -> tuple[Forecaster, Paired]:
    """A forecaster giving the product's estimate at every `every`-th ticket and recording, at
    those same tickets, the oracle's."""
    every = max(every, 1)
    scenario = replace(scenario, eta=replace(scenario.eta, every=every))
    product = eta_forecaster(scenario, seed)
    draws = FutureDraws(scenario, seed)
    paired = Paired()

    def forecast(hall: Hall, ticket: Ticket) -> Estimate | None:
        ticket_id = ticket.item.ticket_id
        if ticket_id % every:
            return None
        found = product(hall, ticket)
        if found is not None:
            paired.estimates[ticket_id] = found
        paired.oracle[ticket_id] = oracle_estimate(replayed_waits(hall, ticket, draws, resims))
        return found

    return forecast, paired


# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scored:
    """One sampled ticket that was served: its real wait and both forecasts at its issue."""

    seed: int
    ticket_id: int
    actual: float
    estimate: Estimate
    oracle: Estimate


def error_figures(rows: Sequence[Scored], which: str) -> dict[str, float | None]:
    """MAE, mean signed error (negative: promised too short) and range coverage of
    `which` ("estimate" or "oracle") over these tickets."""
    if not rows:
        return {"mae": None, "signed_error": None, "coverage": None, "mean_width": None}
    forecasts = [getattr(r, which) for r in rows]
    errors = [f[0] - r.actual for f, r in zip(forecasts, rows, strict=True)]
    inside = sum(f[1] <= r.actual <= f[2] for f, r in zip(forecasts, rows, strict=True))
    return {
        "mae": sum(abs(e) for e in errors) / len(rows),
        "signed_error": sum(errors) / len(rows),
        "coverage": inside / len(rows),
        "mean_width": sum(f[2] - f[1] for f in forecasts) / len(rows),
    }


def mae_ratio(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Σ|estimate error| ÷ Σ|oracle error| (None when the oracle never erred)."""
    oracle = sum(o for _, o in pairs)
    return sum(e for e, _ in pairs) / oracle if oracle > 0 else None


def bootstrap_ratio(
    rows: Sequence[Scored], reps: int, seed: int, level: float = 0.95
) -> tuple[float | None, float | None, float | None]:
    """The ratio estimate-MAE ÷ oracle-MAE and its percentile interval from a paired
    bootstrap over tickets (each resample keeps a ticket's two errors together)."""
    pairs = [(abs(r.estimate[0] - r.actual), abs(r.oracle[0] - r.actual)) for r in rows]
    ratio = mae_ratio(pairs)
    if ratio is None or reps <= 0:
        return ratio, None, None
    rng = random.Random(seed)
    drawn = (mae_ratio(rng.choices(pairs, k=len(pairs))) for _ in range(reps))
    found = [x for x in drawn if x is not None]
    tail = (1 - level) / 2
    return ratio, percentile(found, tail), percentile(found, 1 - tail)
