"""The wait estimate counts the visits that will be sent on to a second service: a transferred
ticket keeps its queue time, so it waits at the head of its new lane, ahead of everyone who
queued after it. The pure rule (eta.transfer_shares, eta.second_part, the forward run's second
parts), the simulator's tally of its earlier days, and the live read model's."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import CounterView, Lane, Ordering, QueuePolicy
from backend.policy.eta import (
    MINUTE,
    TRANSFER_PRIOR_VISITS,
    CounterLoad,
    QueueItem,
    Transfer,
    forecast,
    onward_of,
    run_forward,
    second_part,
    transfer_shares,
)
from backend.policy.sim import generate_customers, load_scenario, simulate
from backend.policy.sim.customers import for_seed
from backend.policy.sim.estimate import transfer_tally
from backend.policy.sim.setups import policy_setups
from backend.queue import readmodel
from backend.queue.models import TicketEvent
from backend.stores.models import Store

from .conftest import Api
from .factories import Factory, projection_of, store_id

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
FIFO = QueuePolicy(ordering=Ordering.FIFO, max_wait=None, vip_first=0, work_conserving=False)
FAST_ONLY = CounterView(1, (Lane.FAST,))
STANDARD_ONLY = CounterView(3, (Lane.STANDARD,))


def ticket(ident: int, lane: Lane, minutes_ago: float, service: str, minutes: float) -> QueueItem:
    return QueueItem(
        ident,
        lane,
        NOW - minutes_ago * MINUTE,
        service,
        service_lane=lane,
        expected_minutes=minutes,
    )


def part_of(first: QueueItem, ident: int, service: str = "C", minutes: float = 10.0) -> QueueItem:
    return QueueItem(
        ident, Lane.STANDARD, first.queue_at, service, service_lane=Lane.STANDARD,
        expected_minutes=minutes,
    )  # fmt: skip


def minutes_of(item: QueueItem) -> float:
    return item.expected_minutes


class Fixed(random.Random):
    """A generator whose uniform draws are given (the rest of random.Random as it is)."""

    def __init__(self, *draws: float) -> None:
        super().__init__(0)
        self.draws = list(draws)

    def random(self) -> float:
        return self.draws.pop(0)


def test_a_share_is_the_transfers_out_of_every_visit_of_the_first_service_and_the_prior() -> None:
    finished = {"A": 4, "C": 30}
    moved = {("A", "C"): 30, ("A", "D"): 6, ("C", "C"): 3}
    shares = transfer_shares(finished, moved)
    # 36 of A's 40 visits went on, and the prior adds 20 visits that did not: 30/60 and 6/60.
    assert TRANSFER_PRIOR_VISITS == 20
    assert shares == {("A", "C"): pytest.approx(0.5), ("A", "D"): pytest.approx(0.1)}
    # A store's few visits say little: one transfer in one visit is 1/21, not all of them.
    assert transfer_shares({}, {("B", "C"): 1}) == {("B", "C"): pytest.approx(1 / 21)}
    onward = onward_of(shares, {"C": (Lane.STANDARD, 12.0), "B": (Lane.FAST, 5.0)})
    # D is no longer offered: nobody is sent there.
    assert onward == {"A": (Transfer("C", Lane.STANDARD, 12.0, pytest.approx(0.5)),)}


def test_the_second_part_keeps_the_queue_time_and_care_and_a_vip_stays_one() -> None:
    options = {
        "A": (Transfer("C", Lane.STANDARD, 12.0, 0.3), Transfer("D", Lane.STANDARD, 15, 0.2))
    }
    first = QueueItem(7, Lane.FAST, NOW - 20 * MINUTE, "A", care=True, expected_minutes=3.0)
    part = second_part(Fixed(0.35), first, options, -9)
    assert part == QueueItem(
        -9, Lane.STANDARD, first.queue_at, "D", service_lane=Lane.STANDARD,
        expected_minutes=15, care=True,
    )  # fmt: skip
    assert second_part(Fixed(0.29), first, options, -9).service == "C"  # type: ignore[union-attr]
    assert second_part(Fixed(0.5), first, options, -9) is None  # the other half stays done
    vip = QueueItem(8, Lane.VIP, NOW, "A")
    assert second_part(Fixed(0.1), vip, options, -9).lane == Lane.VIP  # type: ignore[union-attr]
    assert second_part(Fixed(0.1), QueueItem(9, Lane.FAST, NOW, "B"), options, -9) is None


def test_a_transferred_visit_waits_at_the_head_of_its_new_lane() -> None:
    """10:00: counter 1 (fast) takes the top-up queued 20 min ago, done at 10:03 and sent on
    to a plan change; counter 3 (standard) is busy until 10:10. The plan change queued 5 min
    ago is called at 10:20, after the transferred one's 10 minutes, not at 10:10."""
    top_up = ticket(1, Lane.FAST, 20, "A", 3.0)
    plan = ticket(2, Lane.STANDARD, 5, "C", 12.0)
    counters = [
        CounterLoad(FAST_ONLY, NOW),
        CounterLoad(STANDARD_ONLY, NOW + 10 * MINUTE),
    ]
    alone = run_forward([top_up, plan], counters, FIFO, NOW, minutes_of)
    assert alone == {1: 0.0, 2: 10.0}
    onward = {1: part_of(top_up, -4_000_000)}
    sent = run_forward([top_up, plan], counters, FIFO, NOW, minutes_of, onward=onward)
    assert sent == {1: 0.0, 2: 20.0}
    # Sent on at 10:12 instead (a longer top-up): counter 3 has begun the plan change by then.
    slow = run_forward([top_up, plan], counters, FIFO, NOW, lambda i: 12.0, onward=onward)
    assert slow == {1: 0.0, 2: 10.0}


def test_a_visit_under_way_that_is_sent_on_queues_when_it_ends() -> None:
    """Counter 3 (standard) ends its visit at 10:05 and sends it on to the fast lane; counter 1
    (fast) is busy until 10:08 and then takes it (queued an hour ago) before the top-up queued
    at 9:58."""
    top_up = ticket(1, Lane.FAST, 2, "A", 3.0)
    under_way = ticket(0, Lane.STANDARD, 60, "C", 12.0)
    back = QueueItem(-4_000_000, Lane.FAST, under_way.queue_at, "B", expected_minutes=5.0)
    counters = [
        CounterLoad(FAST_ONLY, NOW + 8 * MINUTE),
        CounterLoad(STANDARD_ONLY, NOW + 5 * MINUTE, serving=under_way),
    ]
    assert run_forward([top_up], counters, FIFO, NOW, minutes_of) == {1: 8.0}
    requeued = [(NOW + 5 * MINUTE, back)]
    assert run_forward([top_up], counters, FIFO, NOW, minutes_of, requeued=requeued) == {1: 13.0}
    # Counter 1 free at 10:02 calls the top-up first: the second part comes after it.
    early = [CounterLoad(FAST_ONLY, NOW + 2 * MINUTE), counters[1]]
    assert run_forward([top_up], early, FIFO, NOW, minutes_of, requeued=requeued) == {1: 2.0}


def test_a_counter_with_nothing_to_call_takes_a_second_part_when_it_comes() -> None:
    """Counter 5 serves plan changes only and has none to call at 10:00, so it would drop out of
    the run; the top-up sent on to a plan change at 10:03 is for it. Counter 3 (every standard
    service) then calls the broadband ticket when it is free at 10:10, not after the part."""
    plan_changes = CounterView(5, (Lane.STANDARD,), services=frozenset({"C"}))
    top_up = ticket(1, Lane.FAST, 20, "A", 3.0)
    broadband = ticket(2, Lane.STANDARD, 5, "D", 15.0)
    counters = [
        CounterLoad(FAST_ONLY, NOW),
        CounterLoad(STANDARD_ONLY, NOW + 10 * MINUTE),
        CounterLoad(plan_changes, NOW),
    ]
    onward = {1: part_of(top_up, -4_000_000)}
    assert run_forward([top_up, broadband], counters, FIFO, NOW, minutes_of, onward=onward) == {
        1: 0.0,
        2: 10.0,
    }
    # Without counter 5, counter 3 calls the part (queued earlier) first.
    without = counters[:2]
    assert run_forward([top_up, broadband], without, FIFO, NOW, minutes_of, onward=onward) == {
        1: 0.0,
        2: 20.0,
    }


def test_the_sampled_runs_send_on_the_share_of_the_visits() -> None:
    """The forecast's runs draw each visit's transfer: with every top-up sent on, the plan
    change waits for the part in every run; with none, the forecast is the one of a store
    that transfers nobody, draw for draw."""
    top_up = ticket(1, Lane.FAST, 20, "A", 3.0)
    plan = ticket(2, Lane.STANDARD, 5, "C", 12.0)
    counters = [CounterLoad(FAST_ONLY, NOW), CounterLoad(STANDARD_ONLY, NOW + 10 * MINUTE)]
    base = forecast([top_up, plan], counters, FIFO, NOW, samples=64, seed=3)
    everyone = {"A": (Transfer("C", Lane.STANDARD, 10.0, 1.0),)}
    sent = forecast([top_up, plan], counters, FIFO, NOW, samples=64, seed=3, onward=everyone)
    nobody = {"B": (Transfer("C", Lane.STANDARD, 10.0, 1.0),)}
    same = forecast([top_up, plan], counters, FIFO, NOW, samples=64, seed=3, onward=nobody)
    assert same == base
    # The top-up (3 min drawn) ends before 10:10 in nearly every run; then its part goes first.
    assert base[2].point == pytest.approx(10.0)
    assert sent[2].point > 17.0
    assert sent[2].high > base[2].high + 5


def test_the_simulators_tally_counts_the_transfers_of_its_day() -> None:
    scenario = for_seed(load_scenario("bench/scenarios/realistic_weekday.toml"), 5)
    result = simulate(scenario, policy_setups(scenario)["ours"], generate_customers(scenario, 5))
    finished, moved = transfer_tally(result)
    sent = [t for t in result.tickets if t.part == 1]
    assert sum(moved.values()) == len(sent) > 0
    for first, second in moved:
        assert scenario.service(first).lane != scenario.service(second).lane
    done = [t for t in result.tickets if t.status.value == "done"]
    assert sum(finished.values()) == len(done)
    # A transferred visit served to its end counts for its second service, not its first.
    for t in sent:
        if t.status.value == "done":
            assert t.item.service == t.customer.then != t.customer.service


def transfer_yesterday(api: Api, clock: ManualClock, sent: int, kept: int) -> None:
    """Yesterday: `sent` top-ups called at counter 1 and sent on to a plan change, each then
    served at counter 3; `kept` top-ups served to their end at counter 1."""
    clock.set(NOW - timedelta(days=1))
    for _ in range(sent):
        ident = api.issue_as_staff("A")["id"]
        assert api.call_next(1)["ticket"]["id"] == ident
        assert api.act(ident, "transfer", service="C").status_code == 200
        assert api.call_next(3)["ticket"]["id"] == ident
        assert api.act(ident, "complete").status_code == 200
    for _ in range(kept):
        ident = api.issue_as_staff("A")["id"]
        assert api.call_next(1)["ticket"]["id"] == ident
        assert api.act(ident, "complete").status_code == 200


def today_with_two_visits_under_way(api: Api, make: Factory, clock: ManualClock) -> dict[str, Any]:
    """10:00 today: counter 3 has just begun a plan change, counter 1 a top-up (another clerk);
    a plan change waits: its ticket."""
    clock.set(NOW)
    plan = api.issue_as_staff("C")["id"]
    assert api.call_next(3)["ticket"]["id"] == plan
    assert api.act(plan, "start").status_code == 200
    other = make.staff("clerk2")
    make.counter(other, 1)
    top_up = api.issue_as_staff("A")["id"]
    called = make.client.post("/api/v1/stores/demo/counters/1/call-next", headers=other)
    assert called.json["ticket"]["id"] == top_up
    assert make.client.post(f"/api/v1/tickets/{top_up}/start", headers=other).status_code == 200
    return api.issue_as_staff("C")


def history_of(app: Flask, day: date) -> Mapping[tuple[str, str], float]:
    with app.app_context():
        with db.engine.connect() as conn:
            zone = db.session.get(Store, store_id(app)).timezone
            found = readmodel._history(conn, store_id(app), day, zone).transfers
        db.session.remove()
    return found


def test_the_projection_reads_yesterdays_transfers_once_a_day(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    transfer_yesterday(api, clock, sent=3, kept=2)
    # The day's own transfers are no history yet.
    assert history_of(app, NOW.date() - timedelta(days=1)) == {}
    # The next day: 3 of A's 5 visits went on to C (C's own 3 visits went nowhere).
    assert history_of(app, NOW.date()) == {("A", "C"): pytest.approx(3 / (2 + 3 + 20))}
    with app.app_context():
        db.session.execute(delete(TicketEvent).where(TicketEvent.action == "transfer"))
        db.session.commit()
    # An earlier day's rows do not change through the engine; read once a day, kept.
    assert history_of(app, NOW.date()) == {("A", "C"): pytest.approx(3 / 25)}


def test_yesterdays_transfers_lengthen_the_wait_behind_a_visit_that_may_be_sent_on(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    """Yesterday all 60 top-ups were sent on to a plan change (a share of 60/80 with the prior).
    This morning the top-up under way at counter 1 is likely to come back as a plan change
    queued before the one waiting, which counter 1 then calls first when it helps the standard
    lane: the waiting plan change is called when counter 3 is free (its drawn remainder, about
    11 min) instead of after the top-up (about 3)."""
    transfer_yesterday(api, clock, sent=60, kept=0)
    waiting = today_with_two_visits_under_way(api, make, clock)
    found = projection_of(app)
    # The median of the 64 runs: about 8 min (3 without: the next test).
    assert found.forecasts[waiting["id"]].point > 6.0
    # What the customer's phone shows reaches past counter 3's visit (7 without).
    view = make.client.get(f"/api/v1/tickets/{waiting['token']}").json
    assert view["eta_minutes"][1] >= 15


def test_without_transfers_the_wait_is_the_counters_own(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    transfer_yesterday(api, clock, sent=0, kept=4)
    waiting = today_with_two_visits_under_way(api, make, clock)
    found = projection_of(app)
    # Counter 1 (the fast lane's) helps the standard lane when its top-up is done, in 3 min.
    assert 2.0 < found.forecasts[waiting["id"]].point < 4.5
    view = make.client.get(f"/api/v1/tickets/{waiting['token']}").json
    assert view["eta_minutes"][1] < 9
