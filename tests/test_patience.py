"""Customers giving up in the wait estimate: the patience measured from the day so far (the same
live and in the simulator), the queue thinned by it, and the range rule."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import CounterView, Lane, Ordering, QueueItem, QueuePolicy, TicketStatus
from backend.policy.eta import (
    MINUTE,
    CounterLoad,
    Patience,
    PatienceTally,
    WaitForecast,
    _departures,
    covering_quantile,
    forecast,
    observed_patience,
    range_widening,
    run_forward,
)
from backend.policy.sim import generate_customers, load_scenario, policy_setups, simulate
from backend.policy.sim.customers import Customer
from backend.policy.sim.estimate import HISTORY_SEED, hall_history
from backend.policy.sim.hall import Hall, Ticket, at
from backend.queue import readmodel
from backend.queue.models import Ticket as TicketRow
from tests.conftest import Api

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
FIFO = QueuePolicy(ordering=Ordering.FIFO, max_wait=None, vip_first=0, appointment_grace=None)

# The hand-made day (minutes after the first issue): seven tickets; five leave while waiting,
# one is called at 15, one still waits at 35 (the moment measured).
#   ticket:      1     2      3       4     5     6     7 (issued at 30)
#   waited:      5     12     15      25    25    35    5
#   left:        yes   yes    called  yes   yes   yes   waiting
# Departures per band [0,10) [10,20) [20,30) [30,40) [40,∞): 1, 1, 2, 1, 0.
# Minutes waited per band: 5+10+10+10+10+10+5 = 60; 2+5+10+10+10 = 37; 5+5+10 = 20; 5; 0.
DAY_TALLY = PatienceTally((1, 1, 2, 1, 0), (60.0, 37.0, 20.0, 5.0, 0.0))
# Each band's rate pulled towards the one before (the first towards 5 / 122 overall) by 60
# ticket-minutes: r0 = (1 + 60·5/122) / 120, r1 = (1 + 60·r0) / 97, r2 = (2 + 60·r1) / 80,
# r3 = (1 + 60·r2) / 65, r4 = (0 + 60·r3) / 60 = r3.
DAY_RATES = (0.0288251366, 0.0281392598, 0.0461044448, 0.0579425644, 0.0579425644)
DAY_MOMENT = 35.0


def test_the_patience_of_a_hand_made_day() -> None:
    found = observed_patience(DAY_TALLY)
    assert found is not None
    assert found.rates == pytest.approx(DAY_RATES, abs=1e-9)


def test_too_few_departures_mean_no_thinning() -> None:
    assert observed_patience(PatienceTally((1, 1, 2, 0, 0), (60.0, 37.0, 20.0, 5.0, 0.0))) is None


def test_until_the_day_has_seen_enough_leave_the_earlier_days_tell() -> None:
    few = PatienceTally((1, 1, 2, 0, 0), (60.0, 37.0, 20.0, 5.0, 0.0))
    from_history = observed_patience(few, DAY_TALLY)
    assert from_history is not None
    assert from_history.rates == pytest.approx(DAY_RATES, abs=1e-9)
    # Enough today: today's own, whatever the history says.
    today = PatienceTally((0, 0, 5, 0, 0), (60.0, 37.0, 20.0, 5.0, 0.0))
    own = observed_patience(today, DAY_TALLY)
    assert own == observed_patience(today)
    assert own is not None and own.rates != from_history.rates
    # Too few in both: no thinning.
    assert observed_patience(few, few) is None


def test_the_simulators_history_is_its_earlier_days_tallied() -> None:
    scenario = load_scenario("bench/scenarios/month_start.toml")
    two_days = replace(scenario, eta=replace(scenario.eta, history_days=2))
    tally = hall_history(two_days, 3).patience
    assert tally is not None
    setup = policy_setups(two_days)["ours"]
    left = called = 0
    for day in range(2):
        customers = generate_customers(two_days, HISTORY_SEED + 3 * 101 + day)
        tickets = simulate(two_days, setup, customers).tickets
        left += sum(t.left_at is not None for t in tickets)
        called += sum(t.called_at is not None for t in tickets)
    assert sum(tally.departures) == left > 0
    # Every ticket waited from its queue time: the first band holds min(wait, 10) of each.
    assert tally.exposure[0] <= 10.0 * (left + called)
    no_history = replace(scenario, eta=replace(scenario.eta, history_days=0))
    assert hall_history(no_history, 3).patience is None


def test_the_hazard_is_piecewise_constant_and_its_inverse_draws_given_the_wait() -> None:
    patience = Patience((0.0, 0.1, 0.2, 0.2, 0.2))
    # Waited 5 minutes, 10 more: nothing over 5-10, 0.1 × 5 over 10-15.
    assert patience.stays(5.0, 10.0) == pytest.approx(math.exp(-0.5))
    assert patience.remaining(5.0, 0.5) == pytest.approx(10.0)
    # From zero, a hazard of 1.5: 1.0 over 10-20, then 0.5 at 0.2 a minute: 2.5 minutes more.
    assert patience.remaining(0.0, 1.5) == pytest.approx(22.5)
    assert Patience((0.0, 0.0, 0.0, 0.0, 0.0)).remaining(3.0, 0.1) == math.inf


def one_counter_two_tickets() -> tuple[list[QueueItem], list[CounterLoad]]:
    """One counter busy for 10 more minutes, visits of exactly 4 minutes; ticket 1 has waited
    20 minutes, ticket 2 has just come: 2 is called at 14, or at 10 if 1 has left by then."""
    waiting = [
        QueueItem(1, Lane.FAST, NOW - 20 * MINUTE, "A", expected_minutes=4.0),
        QueueItem(2, Lane.FAST, NOW, "A", expected_minutes=4.0),
    ]
    return waiting, [CounterLoad(CounterView(1, (Lane.FAST,)), NOW + 10 * MINUTE)]


def test_someone_ahead_leaves_with_the_probability_of_the_hazard() -> None:
    # Nobody leaves before 20 minutes, then 0.05 a minute: ticket 1 leaves within its 10 more
    # minutes with probability 1 - e^-0.5 = 0.3935; ticket 2 (14 minutes at most) never does.
    patience = Patience((0.0, 0.0, 0.05, 0.05, 0.05))
    waiting, loads = one_counter_two_tickets()
    rng = random.Random(7)
    draws = 4000
    earlier = 0
    for _ in range(draws):
        leaves = _departures(rng, waiting, NOW, patience)
        waits = run_forward(waiting, loads, FIFO, NOW, lambda i: 4.0, leaves=leaves)
        assert waits[2] in (10.0, 14.0)
        earlier += waits[2] == 10.0
    # Binomial sd at 4000 draws: 0.0077; three of them.
    assert earlier / draws == pytest.approx(1 - math.exp(-0.5), abs=0.023)


# 400 runs, every one of them serving ticket 2: its range is widened by 0.85 + 1.6 / 20.
WIDENING_400 = 0.93


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        # P(1 leaves) = 0.39 < 1/2: the median is 14; the low end 10 (39 % of the runs) widened
        # around the median: 14 - 0.93 × 4; the high end 14.
        (0.05, (14.0, 14.0 - WIDENING_400 * 4, 14.0)),
        # P(1 leaves) = 1 - e^-1 = 0.63 > 1/2: the median is 10, the high end 10 + 0.93 × 4.
        (0.1, (10.0, 10.0, 10.0 + WIDENING_400 * 4)),
    ],
)
def test_the_estimate_is_the_median_of_the_thinned_runs(
    rate: float, expected: tuple[float, float, float]
) -> None:
    assert range_widening(400) == pytest.approx(WIDENING_400)
    waiting, loads = one_counter_two_tickets()
    patience = Patience((0.0, 0.0, rate, rate, rate))
    found = forecast(waiting, loads, FIFO, NOW, cv=0.0, samples=400, seed=3, patience=patience)
    assert (found[2].point, found[2].low, found[2].high) == pytest.approx(expected)
    # Without patience nobody leaves: 14 in every run.
    assert forecast(waiting, loads, FIFO, NOW, cv=0.0, samples=40)[2] == WaitForecast(14, 14, 14)


def test_the_range_takes_the_order_statistics_of_rank_q_times_n_plus_1() -> None:
    sixteen = [float(v) for v in range(1, 17)]
    # Rank 0.05 × 17 = 0.85: below the smallest by 0.15 of the first gap; 0.95 × 17 = 16.15.
    assert covering_quantile(sixteen, 0.05) == pytest.approx(0.85)
    assert covering_quantile(sixteen, 0.95) == pytest.approx(16.15)
    nineteen = [float(v) for v in range(1, 20)]
    assert covering_quantile(nineteen, 0.05) == pytest.approx(1.0)  # rank 1 of 19
    assert covering_quantile(nineteen, 0.95) == pytest.approx(19.0)  # rank 19


def test_the_range_of_16_runs_holds_a_new_draw_90_percent_of_the_time() -> None:
    rng = random.Random(11)
    trials = 6000
    inside = 0
    for _ in range(trials):
        runs = sorted(rng.random() for _ in range(16))
        new = rng.random()
        inside += covering_quantile(runs, 0.05) <= new <= covering_quantile(runs, 0.95)
    # Binomial sd at 6000 trials: 0.0039; three of them.
    assert inside / trials == pytest.approx(0.90, abs=0.012)


def test_the_simulators_hall_measures_the_hand_made_day() -> None:
    scenario = load_scenario("bench/scenarios/weekday.toml")
    hall = Hall(scenario, policy_setups(scenario)["ours"], [])
    # (ticket, issued, called, left) in minutes after opening.
    day = [
        (1, 0, None, 5),
        (2, 0, None, 12),
        (3, 0, 15, None),
        (4, 0, None, 25),
        (5, 0, None, 25),
        (6, 0, None, 35),
        (7, 30, None, None),
    ]
    for ticket_id, issued, called, left in day:
        item = QueueItem(ticket_id, Lane.FAST, at(issued), "A", expected_minutes=2.5)
        status = TicketStatus.CANCELLED if left is not None else TicketStatus.WAITING
        customer = Customer(ticket_id, issued, "A", 1.0, math.inf)
        hall.tickets[ticket_id] = Ticket(customer, item, status, called_at=called, left_at=left)
    hall.now = DAY_MOMENT
    found = hall.patience()
    assert found is not None
    assert found.rates == pytest.approx(DAY_RATES, abs=1e-9)


def test_the_live_projection_measures_the_hand_made_day(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    start = clock.now()
    ids = [api.issue_as_staff("A")["id"] for _ in range(6)]

    def at_minute(minutes: float) -> None:
        clock.set(start + timedelta(minutes=minutes))

    at_minute(5)
    assert api.act(ids[0], "cancel").status_code == 200
    at_minute(12)
    assert api.act(ids[1], "cancel").status_code == 200
    at_minute(15)
    assert api.call_next(1)["ticket"]["id"] == ids[2]
    at_minute(25)
    assert api.act(ids[3], "cancel").status_code == 200
    assert api.act(ids[4], "cancel").status_code == 200
    at_minute(30)
    api.issue_as_staff("A")
    at_minute(DAY_MOMENT)
    assert api.act(ids[5], "cancel").status_code == 200
    with app.app_context():
        store_id = db.session.scalar(select(TicketRow.store_id).limit(1))
        assert store_id is not None
        found = readmodel.projection(store_id).patience
        db.session.remove()
    assert found is not None
    # The queue times are apart by microseconds and SQLite counts hundredths of a second.
    assert found.rates == pytest.approx(DAY_RATES, abs=1e-6)


def hand_made_day_yesterday(api: Api, clock: ManualClock) -> list[int]:
    """The hand-made day through the API, then the clock a day on: as an earlier day its tally
    is departures 1, 1, 2, 1, 0 over 55, 37, 20, 5, 0 minutes (ticket 7, still marked waiting,
    left out). The ids of its first six tickets."""
    start = clock.now()
    ids = [api.issue_as_staff("A")["id"] for _ in range(6)]
    for minute, ticket in ((5, 0), (12, 1), (25, 3), (25, 4), (35, 5)):
        clock.set(start + timedelta(minutes=minute))
        assert api.act(ids[ticket], "cancel").status_code == 200
        if minute == 12:
            clock.set(start + timedelta(minutes=15))
            assert api.call_next(1)["ticket"]["id"] == ids[2]
        if ticket == 4:
            clock.set(start + timedelta(minutes=30))
            api.issue_as_staff("A")  # still waiting when the day ends
    clock.set(start + timedelta(days=1))
    return ids


def test_a_new_day_thins_the_queue_by_the_earlier_days_patience(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    """The hand-made day yesterday; this morning nobody has left yet, so the estimate takes
    yesterday's patience (its ticket still marked waiting left out: when it stopped waiting is
    not known). Earlier days are read once a day."""
    ids = hand_made_day_yesterday(api, clock)
    api.issue_as_staff("A")
    with app.app_context():
        store_id = db.session.scalar(select(TicketRow.store_id).limit(1))
        assert store_id is not None
        found = readmodel.projection(store_id).patience
        # An earlier day's row changed now (it cannot, through the engine) is not read again
        # today: the tally of the earlier days is kept for the day.
        db.session.execute(update(TicketRow).where(TicketRow.id == ids[2]).values(called_at=None))
        db.session.commit()
        api.issue_as_staff("A")
        again = readmodel.projection(store_id).patience
        db.session.remove()
    expected = observed_patience(PatienceTally((1, 1, 2, 1, 0), (55.0, 37.0, 20.0, 5.0, 0.0)))
    assert found is not None and expected is not None
    assert found.rates == pytest.approx(expected.rates, abs=1e-6)
    assert again == found
