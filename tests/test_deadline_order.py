"""The deadline call order (Ordering.DEADLINE): the balanced score, unless serving its choice
first would make a ticket the counter could serve wait past its deadline."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backend.core import db as core_db
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Store
from backend.policy import (
    CounterView,
    Lane,
    Ordering,
    QueueItem,
    QueuePolicy,
    Reason,
    choose_next,
    plain_queue_wait,
    service_day,
)
from backend.policy.ordering import allowed_wait, slack
from backend.policy.sim.scenario import parse_policy
from backend.queue import commands as engine
from backend.staff.models import User
from backend.stores.seed import DEMO_SERVICES

from .conftest import Api

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
DEADLINE = QueuePolicy(ordering=Ordering.DEADLINE, fair_factor=1.0, fair_wait=20.0)
SCORE = replace(DEADLINE, ordering=Ordering.SCORE)
FAST_ONLY = CounterView(1, (Lane.FAST,))
STANDARD = CounterView(3, (Lane.STANDARD, Lane.FAST))


def waiting(ticket_id: int, lane: Lane, waited: float, minutes: float, **kw: object) -> QueueItem:
    """A ticket that joined the queue `waited` minutes before NOW."""
    return QueueItem(
        ticket_id,
        lane,
        NOW - timedelta(minutes=waited),
        service=lane.value,
        service_lane=kw.pop("service_lane", lane),  # type: ignore[arg-type]
        expected_minutes=minutes,
        **kw,  # type: ignore[arg-type]
    )


class TestYardstick:
    def test_plain_queue_wait_is_the_work_waiting_over_the_open_counters(self) -> None:
        heads = [
            waiting(1, Lane.FAST, 1, 2.0, group_size=3),  # 6 minutes of fast business
            waiting(2, Lane.STANDARD, 1, 10.0, group_size=2),  # 20 minutes
            waiting(3, Lane.APPOINTMENT, 1, 0.2),  # counted at the half-minute floor
        ]
        assert plain_queue_wait(heads, 4) == (6 + 20 + 0.5) / 4
        assert plain_queue_wait(heads, 0) == 26.5  # nobody open: one counter's worth, not /0

    def test_allowed_wait_is_the_factor_times_the_yardstick_between_floor_and_maximum(
        self,
    ) -> None:
        policy = replace(DEADLINE, fair_factor=1.5, fair_floor=timedelta(minutes=5))
        assert allowed_wait(policy, 10.0) == timedelta(minutes=15)
        assert allowed_wait(policy, 2.0) == timedelta(minutes=5)  # the floor
        assert allowed_wait(policy, 40.0) == timedelta(minutes=30)  # the store's maximum wait
        assert allowed_wait(replace(policy, max_wait=None), 40.0) == timedelta(minutes=60)

    def test_slack_counts_from_the_queue_time_or_from_the_end_of_an_appointments_grace(
        self,
    ) -> None:
        allowed = timedelta(minutes=20)
        assert slack(waiting(1, Lane.FAST, 12, 2.0), DEADLINE, NOW, allowed) == 8.0
        booked = waiting(2, Lane.APPOINTMENT, 50, 8.0, due_at=NOW - timedelta(minutes=40))
        assert slack(booked, DEADLINE, NOW, allowed) == -10.0  # 30 min grace, 40 min past slot


class TestDecisions:
    def test_short_business_goes_first_while_nobody_would_be_made_late(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 10, 18.0), waiting(2, Lane.FAST, 1, 2.5)]
        # 10 of the 20 allowed minutes gone: a 2.5-minute visit first makes nobody late.
        decision = choose_next(STANDARD, queue, DEADLINE, NOW)
        assert (decision.ticket_id, decision.reason) == (2, Reason.BEST_RATIO)

    def test_the_ticket_about_to_be_late_goes_before_short_business(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 18.5, 18.0), waiting(2, Lane.FAST, 1, 2.5)]
        # 1.5 minutes of slack left, less than the 2.5-minute visit the score would pick.
        assert choose_next(STANDARD, queue, SCORE, NOW).ticket_id == 2
        decision = choose_next(STANDARD, queue, DEADLINE, NOW)
        assert (decision.ticket_id, decision.reason_code) == (1, "due_soon")

    def test_a_fast_only_counter_helps_a_late_ticket_of_another_lane(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 21, 8.0), waiting(2, Lane.FAST, 0, 2.5)]
        assert choose_next(FAST_ONLY, queue, SCORE, NOW).ticket_id == 2  # the old cap: own lanes
        decision = choose_next(FAST_ONLY, queue, DEADLINE, NOW)
        assert (decision.ticket_id, decision.reason) == (1, Reason.DUE_SOON)

    def test_past_the_maximum_wait_the_reason_says_so(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 31, 8.0), waiting(2, Lane.FAST, 0, 2.5)]
        decision = choose_next(FAST_ONLY, queue, DEADLINE, NOW)
        assert (decision.ticket_id, decision.reason) == (1, Reason.WAITED_LONG)

    def test_an_appointment_past_its_grace_is_not_forgotten(self) -> None:
        # Reproduces the old order's blind spot: a 1-minute fast ticket beat an appointment
        # checked in 70 minutes ago whose slot was 40 minutes ago (past the 30-minute grace).
        booked = waiting(
            1,
            Lane.APPOINTMENT,
            70,
            8.0,
            due_at=NOW - timedelta(minutes=40),
            service_lane=Lane.STANDARD,
        )
        queue = [booked, waiting(2, Lane.FAST, 0, 1.0)]
        counter = CounterView(2, (Lane.FAST, Lane.STANDARD))
        assert choose_next(counter, queue, replace(SCORE, max_wait=None), NOW).ticket_id == 2
        deadline = replace(DEADLINE, max_wait=None)
        assert choose_next(counter, queue, deadline, NOW).ticket_id == 1

    def test_a_ticket_sent_to_this_counter_still_goes_first(self) -> None:
        queue = [
            waiting(1, Lane.STANDARD, 25, 8.0),
            waiting(2, Lane.FAST, 0, 2.5, only_counter=3),
        ]
        decision = choose_next(STANDARD, queue, DEADLINE, NOW)
        assert (decision.ticket_id, decision.reason) == (2, Reason.TRANSFERRED_HERE)

    def test_a_counter_held_for_appointments_does_not_help_late_walk_ins(self) -> None:
        reserved = CounterView(5, (Lane.APPOINTMENT,), reserved=True)
        queue = [waiting(1, Lane.STANDARD, 29, 8.0)]
        assert choose_next(reserved, queue, DEADLINE, NOW).ticket_id is None

    def test_without_a_clock_the_deadline_order_is_the_score(self) -> None:
        queue = [waiting(1, Lane.STANDARD, 19, 18.0), waiting(2, Lane.FAST, 1, 2.5)]
        assert choose_next(STANDARD, queue, DEADLINE).ticket_id == (
            choose_next(STANDARD, queue, SCORE).ticket_id
        )


LANES = [Lane.FAST, Lane.STANDARD, Lane.VIP]
COUNTERS = [
    CounterView(1, (Lane.FAST,)),
    CounterView(3, (Lane.STANDARD, Lane.FAST)),
    CounterView(6, (Lane.VIP, Lane.STANDARD, Lane.FAST)),
]
tickets = st.lists(
    st.tuples(
        st.sampled_from(LANES),
        st.floats(0, 45, allow_nan=False),  # minutes waited
        st.sampled_from([1.5, 2.5, 4.0, 8.0, 18.0]),  # expected minutes
        st.booleans(),  # priority care
    ),
    min_size=1,
    max_size=12,
)


def queue_of(drawn: list[tuple[Lane, float, float, bool]]) -> list[QueueItem]:
    return [
        waiting(n + 1, lane, waited, minutes, care=care)
        for n, (lane, waited, minutes, care) in enumerate(drawn)
    ]


@settings(max_examples=300, deadline=None)
@given(
    drawn=tickets,
    counter=st.sampled_from(COUNTERS),
    fair_wait=st.floats(0, 40, allow_nan=False),
    factor=st.sampled_from([1.0, 1.25, 2.0]),
)
def test_nobody_is_made_late_for_a_ticket_with_more_slack(
    drawn: list[tuple[Lane, float, float, bool]],
    counter: CounterView,
    fair_wait: float,
    factor: float,
) -> None:
    """Whatever the queue: the call goes to a ticket the counter may serve (work conservation),
    and when it is not the ticket with the least slack, that ticket still has at least the
    chosen visit's length of slack left (serving the choice first makes nobody late)."""
    policy = replace(DEADLINE, fair_wait=fair_wait, fair_factor=factor)
    queue = queue_of(drawn)
    decision = choose_next(counter, queue, policy, NOW)
    assert decision.ticket_id is not None  # every lane's tickets may be helped here
    allowed = allowed_wait(policy, fair_wait)
    chosen = next(i for i in queue if i.ticket_id == decision.ticket_id)
    tightest = min(queue, key=lambda i: (slack(i, policy, NOW, allowed), i.queue_at, i.ticket_id))
    if chosen is not tightest:
        assert slack(tightest, policy, NOW, allowed) >= chosen.expected_minutes
    if decision.reason in (Reason.DUE_SOON, Reason.WAITED_LONG):
        assert chosen is tightest  # a deadline call names the ticket with the least slack


# --- the live engine ---------------------------------------------------------------------------


def use_deadline_order(app: Flask) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        store.ordering = Ordering.DEADLINE.value
        store.fair_factor, store.fair_floor_minutes = 1.0, 5
        db.session.commit()


def fair_wait_kept(app: Flask) -> tuple[float, object]:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        return store.fair_wait_minutes, store.fair_wait_day


def test_a_live_call_explains_a_deadline_and_keeps_the_days_yardstick(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    use_deadline_order(app)
    minutes = {s.code: s.minutes for s in DEMO_SERVICES}
    plan_change = api.issue("C")
    # The plan change and a top-up at the one open counter: a plain queue would make the last
    # of them wait their two visits, so that is the longest wait allowed; the plan change has
    # waited longer, and the store's 30-minute maximum is still far.
    clock.advance(minutes=minutes["C"] + minutes["A"] + 1)
    api.issue("A")
    assert fair_wait_kept(app) == (0.0, None)
    url = "/api/v1/stores/demo/counters/3/call-next"
    assert api.sign_in(3).status_code == 200
    called = api.client.post(url, headers=api.headers)
    assert called.json["ticket"]["id"] == plan_change["id"]  # the score would take the top-up
    assert called.json["reason"] == "due_soon"
    assert called.json["message"] == "即将超过最长等候目标：优先叫号。"
    # The day's yardstick is kept on the store row.
    today = service_day(clock.now(), "Asia/Shanghai")
    assert fair_wait_kept(app) == (pytest.approx(minutes["C"] + minutes["A"]), today)

    assert api.act(plan_change["id"], "start").status_code == 200
    english = api.client.post(url, headers=api.headers | {"Accept-Language": "en"})
    assert english.json["reason"] == "best_ratio"  # nobody else is near a deadline
    assert english.json["message"] == (
        "C001 was completed automatically. Longest wait for the shortest business (fast lane)."
    )
    # A shorter queue now: the day's yardstick is not lowered (no deadline is taken back).
    assert fair_wait_kept(app)[0] == pytest.approx(minutes["C"] + minutes["A"])


def test_the_deadline_order_costs_one_statement_more_per_call(
    app: Flask, api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open counters are counted (the yardstick's divisor); nothing else is read or
    written per call, however long the queue (the store row is updated by any call)."""
    monkeypatch.setattr(core_db, "_dispatchers", [])  # publishing is not the command's
    for _ in range(40):
        for service in "ABC":
            clock.advance(seconds=2.5)  # within the kiosk's print limit
            api.issue(service)
    api.sign_in(1)

    def statements() -> int:
        with app.test_request_context():
            clerk = db.session.scalar(select(User).where(User.username == "tester"))
            with core_db.StatementCounter(db.engine) as call:
                result = engine.call_next("demo", 1, clerk)
            assert result.ticket is not None
            engine.start_ticket(result.ticket.id, clerk)
            db.session.remove()
        return call.count

    statements()  # warm the caches; then every call completes the visit before it
    by_score = statements()
    use_deadline_order(app)
    statements()
    assert statements() == by_score + 1


def test_the_counters_next_call_is_predicted_with_the_yardstick_the_call_will_use(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    """Before the day's first call the kept yardstick is 0 (only the 5-minute floor): a
    prediction from it would name the plan change, 8 minutes waited; the call first raises the
    yardstick to the work waiting (15 minutes at one counter) and takes the top-up."""
    use_deadline_order(app)
    minutes = {s.code: s.minutes for s in DEMO_SERVICES}
    assert minutes["C"] + minutes["A"] > 8 + minutes["A"]  # the plan change keeps its slack
    assert api.sign_in(3).status_code == 200
    api.issue("C")
    clock.advance(minutes=8)
    top_up = api.issue("A")
    queue = next(q for q in api.snapshot()["counter_queues"] if q["counter"] == 3)
    assert queue["next"]["ticket_id"] == top_up["id"]
    assert queue["next"]["reason"] == "best_ratio"
    assert api.call_next(3)["ticket"]["id"] == top_up["id"]  # exactly as shown


def test_every_setting_of_the_order_can_be_set_from_a_scenario() -> None:
    policy = parse_policy(
        {
            "ordering": "deadline",
            "ratio_power": 1.5,
            "fair_factor": 1.25,
            "fair_floor": 0,  # a duration, not a switch: zero minutes
            "max_wait": 0,  # a rule: switched off
        },
        checkin_late=30,
    )
    assert policy.ordering is Ordering.DEADLINE
    assert (policy.ratio_power, policy.fair_factor) == (1.5, 1.25)
    assert (policy.fair_floor, policy.max_wait) == (timedelta(0), None)
