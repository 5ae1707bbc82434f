"""The wait estimate as the live system would have printed it on each ticket at its issue."""

from __future__ import annotations

from ..eta import CounterLoad, PatienceTally, forecast, tally_patience
from .customers import generate_customers
from .hall import Forecaster, Hall, Ticket, at, patience_waits, simulate
from .scenario import Scenario
from .setups import policy_setups

# The earlier days' seeds: far from any seed a benchmark runs as a day of its own.
HISTORY_SEED = 7_000_003


def history_patience(scenario: Scenario, seed: int) -> PatienceTally | None:
    """How customers gave up over `scenario.eta.history_days` earlier days of the same hall (the
    default order, no estimate printed), tallied as the live read model tallies the store's
    earlier days; None without history."""
    days = scenario.eta.history_days
    if days <= 0:
        return None
    setup = policy_setups(scenario)["ours"]
    waits = []
    for day in range(days):
        customers = generate_customers(scenario, HISTORY_SEED + seed * 101 + day)
        waits += patience_waits(simulate(scenario, setup, customers).tickets, None)
    return tally_patience(waits)


def eta_forecaster(scenario: Scenario, seed: int) -> Forecaster:
    """`backend.policy.eta.forecast` on the hall's state at the moment of issue."""
    history = history_patience(scenario, seed)

    def estimate(hall: Hall, ticket: Ticket) -> tuple[float, float, float] | None:
        if ticket.item.ticket_id % max(scenario.eta.every, 1):
            return None
        loads = [
            CounterLoad(
                seen.view,
                at(seen.free),
                None if seen.began is None else at(seen.began),
                seen.expected,
                None if seen.back_at is None else at(seen.back_at),
            )
            for seen in hall.counter_views()
        ]
        found = forecast(
            hall.waiting(),
            loads,
            hall.policy,
            at(hall.now),
            hall.recent_lanes(),
            cv=scenario.eta.cv,
            samples=scenario.eta.samples,
            seed=seed * 100_003 + ticket.item.ticket_id,
            rates=hall.arrival_rates(),
            patience=hall.patience(history),
        ).get(ticket.item.ticket_id)
        return (found.point, found.low, found.high) if found else None

    return estimate
