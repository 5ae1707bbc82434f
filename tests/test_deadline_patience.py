"""The deadline order on a day when a plain queue would make people wait past the store's maximum
wait: with the store's patience (learned from its earlier days) the yardstick then counts who
leaves (the work of a waiting ticket as much as the chance that it is still there when the work
ahead of it is done), and the deadlines may pass the maximum wait as far as that yardstick."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Counter, Store
from backend.policy import (
    CounterStatus,
    Lane,
    Ordering,
    QueuePolicy,
    Reason,
    choose_next,
    group_heads,
    plain_queue_wait,
    raise_fair_wait,
)
from backend.policy.ordering import CounterView, QueueItem, allowed_wait
from backend.policy.patience import Patience, PatienceTally, learned_patience, observed_patience
from backend.policy.sim import (
    for_seed,
    generate_customers,
    history_patience,
    load_scenario,
    policy_setups,
)
from backend.policy.sim.estimate import hall_history
from backend.policy.sim.hall import Hall
from backend.stores.seed import DEMO_SERVICES

from .conftest import Api
from .test_deadline_order import use_deadline_order
from .test_patience import hand_made_day_yesterday

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
# Nobody leaves in the first ten minutes, then 2 % a minute, then 5 % a minute from 20 on.
PATIENCE = Patience((0.0, 0.02, 0.05, 0.05, 0.05))
DEADLINE = QueuePolicy(ordering=Ordering.DEADLINE, fair_factor=1.0)
STANDARD = CounterView(3, (Lane.STANDARD, Lane.FAST))


def waiting(
    ticket_id: int, lane: Lane, waited: float, minutes: float, service: str = "", **kw: object
) -> QueueItem:
    """A ticket that joined the queue `waited` minutes before NOW (of a service of its own
    unless told: tickets of one service queue as one group)."""
    return QueueItem(
        ticket_id,
        lane,
        NOW - timedelta(minutes=waited),
        service=service or f"S{ticket_id}",
        service_lane=lane,
        expected_minutes=minutes,
        **kw,  # type: ignore[arg-type]
    )


class TestYardstick:
    def test_tickets_of_one_service_count_as_their_group_at_its_heads_place(self) -> None:
        queue = [
            waiting(2, Lane.STANDARD, 5, 10.0, "C"),
            waiting(1, Lane.STANDARD, 15, 10.0, "C"),
            waiting(3, Lane.STANDARD, 12, 10.0, "C", care=True),  # may go first: apart
            waiting(4, Lane.FAST, 0, 4.0, "A"),
            waiting(5, Lane.APPOINTMENT, 20, 8.0, "C"),
            waiting(6, Lane.APPOINTMENT, 10, 8.0, "C"),  # each booking on its own
        ]
        heads = {i.ticket_id: i.group_size for i in group_heads(queue)}
        assert heads == {1: 2, 3: 1, 4: 1, 5: 1, 6: 1}
        # The engine's candidates are heads already: grouped again, they stay as they are.
        again = group_heads(group_heads(queue))
        assert sorted(again, key=lambda i: i.ticket_id) == sorted(
            group_heads(queue), key=lambda i: i.ticket_id
        )
        # Five minutes on, at one counter, in queue order: booking 5 (waited 25), the group of
        # tickets 1-2 at ticket 1's place and wait (20; both tickets' 20 minutes), the priority
        # ticket 3 (17), booking 6 (15), the top-up 4 (5).
        found = plain_queue_wait(queue, 1, NOW + timedelta(minutes=5), PATIENCE)
        by_hand = 0.0
        for waited, minutes in ((25, 8.0), (20, 20.0), (17, 10.0), (15, 8.0), (5, 4.0)):
            by_hand += PATIENCE.stays(waited, by_hand) * minutes
        assert found == pytest.approx(by_hand)

    def test_each_tickets_work_counts_as_the_chance_it_is_still_there_by_its_turn(self) -> None:
        # Listed out of queue order: the oldest ticket's turn comes first whatever the list.
        queue = [
            waiting(2, Lane.STANDARD, 5, 10.0),
            waiting(1, Lane.STANDARD, 15, 10.0),
            waiting(3, Lane.FAST, 0, 4.0),
        ]
        # Three services, three groups; two counters. Ticket 1 (15 min waited) is first: all
        # of its 10 minutes count, 5 each.
        # Ticket 2 (5 min waited) is reached 5 minutes on, at 10 waited: nobody has left by
        # then (the first band's rate is 0), so its 5 minutes count too: 10 minutes ahead.
        # Ticket 3 (new) is reached 10 minutes on: it has stayed through ten minutes at no
        # risk and none at 2 %: all of it again. So far this is the plain wait:
        assert plain_queue_wait(queue, 2, NOW, PATIENCE) == pytest.approx((10 + 10 + 4) / 2)
        # Fifteen minutes later the same queue has waited longer: ticket 1 at 30, ticket 2 at
        # 20, ticket 3 at 15.
        later = NOW + timedelta(minutes=15)
        first = 5.0
        # Ticket 2 is reached 5 minutes on, from 20 to 25 waited at 5 % a minute.
        second = math.exp(-0.05 * 5) * 5.0
        # Ticket 3 is reached (5 + second) minutes on, from 15: 5 minutes at 2 %, then 5 %.
        reached = first + second
        third = math.exp(-0.02 * 5 - 0.05 * (reached - 5)) * 2.0
        found = plain_queue_wait(queue, 2, later, PATIENCE)
        assert found == pytest.approx(first + second + third)
        assert found < plain_queue_wait(queue, 2, later)  # without patience: all of the work

    def test_without_a_clock_or_a_patience_the_yardstick_is_all_the_work(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 40, 10.0), waiting(2, Lane.FAST, 30, 4.0)]
        assert plain_queue_wait(queue, 2, None, PATIENCE) == 7.0
        assert plain_queue_wait(queue, 2, NOW, None) == 7.0

    def test_past_the_maximum_wait_the_call_raises_the_yardstick_counting_who_leaves(
        self,
    ) -> None:
        knowing = replace(DEADLINE, patience=PATIENCE)
        # All of the work is 50 minutes at one counter, past the 30-minute maximum. Ticket 1
        # (30 min waited) counts whole; ticket 2 is reached 30 minutes on, from 25 to 55
        # waited at 5 % a minute.
        queue = [waiting(1, Lane.STANDARD, 30, 30.0), waiting(2, Lane.STANDARD, 25, 20.0)]
        raised = raise_fair_wait(knowing, queue, 1, NOW)
        assert raised.fair_wait == pytest.approx(30 + math.exp(-0.05 * 30) * 20)
        assert raise_fair_wait(DEADLINE, queue, 1, NOW).fair_wait == 50.0
        # Counted so, 40 minutes of work come to less than the maximum: the maximum it is.
        shorter = [waiting(1, Lane.STANDARD, 30, 20.0), waiting(2, Lane.STANDARD, 25, 20.0)]
        assert 20 + math.exp(-0.05 * 20) * 20 < 30
        assert raise_fair_wait(knowing, shorter, 1, NOW).fair_wait == 30.0
        # Within the maximum, who leaves is not counted: the yardstick of any other day.
        light = [waiting(1, Lane.STANDARD, 30, 10.0), waiting(2, Lane.STANDARD, 25, 10.0)]
        assert raise_fair_wait(knowing, light, 1, NOW).fair_wait == 20.0
        # The score order keeps no yardstick, patience or not.
        score = replace(knowing, ordering=Ordering.SCORE)
        assert raise_fair_wait(score, queue, 1, NOW) is score


class TestAllowance:
    def test_a_deadline_passes_the_maximum_wait_only_when_the_yardstick_counts_who_leaves(
        self,
    ) -> None:
        knowing = replace(DEADLINE, patience=PATIENCE)
        assert allowed_wait(DEADLINE, 40.0) == timedelta(minutes=30)  # the store's maximum
        assert allowed_wait(knowing, 40.0) == timedelta(minutes=40)  # the day's own
        assert allowed_wait(knowing, 2.0) == timedelta(minutes=5)  # the floor
        # A looser factor loosens the deadlines up to the maximum, or up to the day's own wait.
        looser = replace(knowing, fair_factor=1.5)
        assert allowed_wait(looser, 16.0) == timedelta(minutes=24)
        assert allowed_wait(looser, 24.0) == timedelta(minutes=30)
        assert allowed_wait(looser, 40.0) == timedelta(minutes=40)
        assert allowed_wait(replace(looser, max_wait=None), 40.0) == timedelta(minutes=60)

    def test_on_a_day_a_plain_queue_waits_past_the_maximum_short_business_still_goes_first(
        self,
    ) -> None:
        # A plain queue would have made someone wait 40 minutes today. A complaint has waited
        # 35: held to the 30-minute maximum it is late and goes first; measured against the
        # day it has 5 minutes left, more than the 2.5-minute top-up the score picks.
        queue = [waiting(1, Lane.STANDARD, 35, 18.0), waiting(2, Lane.FAST, 1, 2.5)]
        capped = replace(DEADLINE, fair_wait=40.0)
        decision = choose_next(STANDARD, queue, capped, NOW)
        assert (decision.ticket_id, decision.reason) == (1, Reason.WAITED_LONG)
        knowing = replace(capped, patience=PATIENCE)
        decision = choose_next(STANDARD, queue, knowing, NOW)
        assert (decision.ticket_id, decision.reason) == (2, Reason.BEST_RATIO)
        # Four more minutes and the complaint is due at the day's own measure.
        later = NOW + timedelta(minutes=4)
        assert choose_next(STANDARD, queue, knowing, later).ticket_id == 1


class TestLearned:
    def test_the_store_learns_from_its_earlier_days_alone(self) -> None:
        few = PatienceTally((1, 1, 1, 0, 0), (100.0, 50.0, 20.0, 0.0, 0.0))
        assert learned_patience(few) is None  # 3 departures: too few to tell
        assert learned_patience(None) is None
        days = PatienceTally((1, 1, 2, 1, 0), (55.0, 37.0, 20.0, 5.0, 0.0))
        assert learned_patience(days) == observed_patience(days)


# --- the simulator -------------------------------------------------------------------------------


def test_the_simulators_deadline_order_counts_with_the_halls_history_days() -> None:
    scenario = for_seed(load_scenario("bench/scenarios/month_start.toml"), 3)
    scenario = replace(scenario, eta=replace(scenario.eta, history_days=2, history_promises=0))
    patience = history_patience(scenario, 3)
    assert patience is not None
    expected = learned_patience(hall_history(scenario, 3).patience)
    assert patience == expected
    setups = policy_setups(scenario, patience)
    assert setups["deadline"].policy.patience == patience
    assert setups["deadline-2"].policy.patience == patience
    assert setups["ours"].policy.patience is None and setups["fifo"].policy.patience is None
    # No history: nothing learned, the deadlines held to the maximum wait as before.
    assert history_patience(replace(scenario, eta=replace(scenario.eta, history_days=0)), 3) is None

    # The month start's rush, on the same customers: a fifth of the hall gives up, so the
    # backlog overstates how long a plain queue makes anyone wait; the day's yardstick counted
    # with the patience stays below the one counted with all of the work.
    customers = generate_customers(scenario, 3)
    knowing = Hall(scenario, setups["deadline"], customers)
    blind = Hall(scenario, policy_setups(scenario)["deadline"], customers)
    knowing.run()
    blind.run()
    assert 0 < knowing.policy.fair_wait < blind.policy.fair_wait


# --- the live engine ---------------------------------------------------------------------------


def staffed_counters(app: Flask) -> int:
    with app.app_context():
        serving = db.session.scalar(
            select(func.count())
            .select_from(Counter)
            .where(Counter.status == CounterStatus.OPEN, Counter.clerk_id.is_not(None))
        )
        db.session.remove()
    return int(serving or 0)


def kept_yardstick(app: Flask) -> float:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        kept = float(store.fair_wait_minutes)
        db.session.remove()
    return kept


def morning_queue(api: Api, clock: ManualClock) -> tuple[dict, dict]:
    """Two complaints 20 minutes apart, then 11 minutes later a top-up."""
    complaint = api.issue("E")
    clock.advance(minutes=20)
    api.issue("E")
    clock.advance(minutes=11)
    return complaint, api.issue("A")


MINUTES = {s.code: s.minutes for s in DEMO_SERVICES}


def test_a_live_call_counts_the_queue_with_the_earlier_days_patience(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    hand_made_day_yesterday(api, clock)
    learned = observed_patience(PatienceTally((1, 1, 2, 1, 0), (55.0, 37.0, 20.0, 5.0, 0.0)))
    assert learned is not None
    use_deadline_order(app)
    assert api.sign_in(3).status_code == 200
    _, top_up = morning_queue(api, clock)
    serving = staffed_counters(app)
    assert serving == 1
    # All of the work is 39 minutes, past the store's 30-minute maximum. The two complaints
    # queue as one group, counted at its head's place (31 min waited): whole; the top-up
    # (new) is reached their 36 minutes on.
    assert 2 * MINUTES["E"] + MINUTES["A"] == 39
    ahead = 2 * MINUTES["E"] + learned.stays(0, 2 * MINUTES["E"]) * MINUTES["A"]
    assert 31 + MINUTES["A"] < ahead < 39
    # A plain queue would have made people wait that long today: the first complaint (31
    # min waited) has minutes to spare, more than the top-up's 3, and the top-up goes first
    # (below, without the earlier days, the complaint is past the maximum and goes first).
    queue = next(q for q in api.snapshot()["counter_queues"] if q["counter"] == 3)
    called = api.call_next(3)
    assert (called["ticket"]["id"], called["reason"]) == (top_up["id"], "best_ratio")
    assert queue["next"]["ticket_id"] == top_up["id"]  # as the counter showed it
    assert kept_yardstick(app) == pytest.approx(ahead, rel=1e-4)


def test_without_earlier_days_the_same_queue_is_held_to_the_maximum_wait(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    use_deadline_order(app)
    assert api.sign_in(3).status_code == 200
    complaint, _ = morning_queue(api, clock)
    assert staffed_counters(app) == 1
    queue = next(q for q in api.snapshot()["counter_queues"] if q["counter"] == 3)
    called = api.call_next(3)
    assert (called["ticket"]["id"], called["reason"]) == (complaint["id"], "waited_long")
    assert queue["next"]["ticket_id"] == complaint["id"]
    assert kept_yardstick(app) == pytest.approx(39.0)  # all of the work
