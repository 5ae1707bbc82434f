"""The wait estimate as the live system would have printed it on each ticket at its issue."""

from __future__ import annotations

from ..eta import CounterLoad, forecast
from .hall import Forecaster, Hall, Ticket, at
from .scenario import Scenario


def eta_forecaster(scenario: Scenario, seed: int) -> Forecaster:
    """`backend.policy.eta.forecast` on the hall's state at the moment of issue."""

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
            patience=hall.patience(),
        ).get(ticket.item.ticket_id)
        return (found.point, found.low, found.high) if found else None

    return estimate
