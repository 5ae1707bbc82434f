"""The wait estimate counts today's bookings still to come: a due appointment is called before
the walk-ins, so a walk-in told its wait without them is told too short. The pure rule
(eta.expected_bookings, eta.show_rate), the simulator's calendar (day_bookings), and the live
read model's two reads (the bookings of the next hour, the earlier days' show rate)."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from backend.bookings.models import Appointment
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import CounterView, Lane, Ordering, QueuePolicy
from backend.policy.enums import AppointmentStatus
from backend.policy.eta import (
    BOOKED_ID_BASE,
    DEFAULT_SHOW_RATE,
    MINUTE,
    SHOW_PRIOR_BOOKINGS,
    BookedVisit,
    CounterLoad,
    QueueItem,
    expected_bookings,
    forecast,
    show_rate,
)
from backend.policy.sim import generate_customers, load_scenario
from backend.policy.sim.customers import day_bookings
from backend.policy.sim.estimate import booked_still_to_come, hall_history
from backend.policy.sim.hall import Hall, at
from backend.policy.sim.setups import policy_setups
from backend.queue import readmodel

from .conftest import Api
from .factories import Factory, check_in, projection_of, store_id

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
POLICY = QueuePolicy(ordering=Ordering.FIFO, max_wait=None, vip_first=0)


def visit(minutes_from_now: float, service: str = "C") -> BookedVisit:
    return BookedVisit(service, Lane.STANDARD, 8.0, NOW + minutes_from_now * MINUTE)


def test_the_bookings_of_the_next_hour_check_in_at_their_slot_and_are_due_then() -> None:
    booked = [visit(-6), visit(-4), visit(0), visit(30), visit(60), visit(61)]
    found = expected_bookings(booked, 1.0, NOW)
    # 6 min late: not coming; 4 min late: any moment now; 61 min ahead: beyond the hour.
    assert [(i.queue_at, i.due_at) for i in found] == [
        (NOW, NOW - 4 * MINUTE),
        (NOW, NOW),
        (NOW + 30 * MINUTE, NOW + 30 * MINUTE),
        (NOW + 60 * MINUTE, NOW + 60 * MINUTE),
    ]
    assert all(i.lane == Lane.APPOINTMENT and i.service_lane == Lane.STANDARD for i in found)
    assert [i.ticket_id for i in found] == [BOOKED_ID_BASE - k for k in (1, 2, 3, 4)]


@pytest.mark.parametrize(("shows", "count"), [(0.8, 8), (0.33, 3), (0.5, 5), (0.04, 0), (1.0, 10)])
def test_without_draws_round_n_times_the_show_rate_come(shows: float, count: int) -> None:
    booked = [visit(5 * k) for k in range(10)]
    assert len(expected_bookings(booked, shows, NOW)) == count


def test_drawn_each_booking_comes_with_the_show_rate() -> None:
    rng = random.Random(5)
    booked = [visit(5 * k) for k in range(10)]
    came = sum(len(expected_bookings(booked, 0.7, NOW, rng)) for _ in range(2000))
    # Binomial(20,000, 0.7): sd 65, four of them.
    assert abs(came - 14_000) < 260


def test_a_due_booking_goes_ahead_of_the_walk_in() -> None:
    """One counter free in 10 minutes, a walk-in waiting, a booking at 5 minutes from now: at
    10 the due appointment is called first and the walk-in waits its 8 minutes more."""
    walk_in = [QueueItem(1, Lane.STANDARD, NOW - MINUTE, "C", expected_minutes=8.0)]
    counter = [CounterLoad(CounterView(1, (Lane.STANDARD,)), NOW + 10 * MINUTE)]
    alone = forecast(walk_in, counter, POLICY, NOW, cv=0.0, samples=8)[1]
    with_booking = forecast(
        walk_in, counter, POLICY, NOW, cv=0.0, samples=8, booked=[visit(5)], shows=1.0
    )[1]
    assert (alone.point, with_booking.point) == (10.0, 18.0)
    # A booking after the walk-in's call does not delay it; one that never comes neither.
    later = forecast(walk_in, counter, POLICY, NOW, cv=0.0, samples=8, booked=[visit(20)])[1]
    assert later.point == 10.0
    nobody = forecast(
        walk_in, counter, POLICY, NOW, cv=0.0, samples=8, booked=[visit(5)], shows=0.0
    )[1]
    assert nobody.point == 10.0


def test_the_show_rate_leans_on_the_prior_until_there_are_bookings() -> None:
    assert show_rate(0, 0) == pytest.approx(DEFAULT_SHOW_RATE)
    assert show_rate(5, 10) == pytest.approx((5 + SHOW_PRIOR_BOOKINGS * 0.85) / 20)
    assert show_rate(500, 1000) == pytest.approx(0.5, abs=0.005)


def test_the_simulators_calendar_holds_the_no_shows_and_the_check_ins() -> None:
    scenario = load_scenario("bench/scenarios/weekday.toml")
    bookings = day_bookings(scenario, 4)
    customers = generate_customers(scenario, 4)
    checked_in = sorted(c.arrival for c in customers if c.slot is not None and c.checked_in)
    assert sorted(b.checks_in for b in bookings if b.checks_in is not None) == checked_in
    no_shows = [b for b in bookings if b.checks_in is None]
    # 12 % of the bookings do not come (and a late one queues as a walk-in).
    assert 0 < len(no_shows) < len(bookings) / 2
    assert [b.slot for b in bookings] == sorted(b.slot for b in bookings)
    # At a moment of the day, the bookings not checked in yet are what the estimate is told.
    hall = Hall(scenario, policy_setups(scenario)["ours"], customers)
    hall.now = 120.0
    told = booked_still_to_come(hall, bookings)
    assert len(told) == sum(b.checks_in is None or b.checks_in > 120.0 for b in bookings)
    pending = [at(b.slot) for b in bookings if b.checks_in is None or b.checks_in > 120.0]
    assert [v.slot for v in told] == pending
    # The earlier days tell the share of bookings that came.
    history = hall_history(replace(scenario, eta=replace(scenario.eta, history_days=2)), 4)
    assert 0.7 < history.shows / history.bookings < 0.97


# --- the live read model --------------------------------------------------------------------

TODAY_10 = "2026-11-26T02:00:00Z"  # 10:00 in Shanghai; the morning clock is 09:00
TODAY_11 = "2026-11-26T03:00:00Z"


def kiosk_wait(make: Factory, code: str) -> list[int]:
    """The wait the kiosk's service button shows, as the kiosk reads it."""
    listed = make.client.get("/api/v1/stores/demo/services").json["services"]
    return next(s["eta_minutes"] for s in listed if s["code"] == code)


def booked_rows(app: Flask, moment: datetime) -> tuple[list[tuple[int, datetime]], float]:
    ident = store_id(app)
    with app.app_context():
        with db.engine.connect() as conn:
            rows = readmodel._read(conn, ident, moment)
        db.session.remove()
    assert rows is not None
    return rows.booked, rows.history.shows


def test_the_projection_reads_the_bookings_of_the_next_hour_until_they_check_in(
    app: Flask, make: Factory, clock: ManualClock
) -> None:
    booking = make.appointment(TODAY_10)
    make.appointment(TODAY_11, phone="13912340000")
    ten = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    # 09:00: the 10:00 booking is an hour ahead (the 11:00 one beyond the hour).
    found, _ = booked_rows(app, ten - timedelta(hours=1))
    assert [slot for _, slot in found] == [ten]
    clock.set(ten - timedelta(minutes=5))
    assert check_in(make.client, booking["code"]).status_code == 201
    found, _ = booked_rows(app, ten - timedelta(minutes=5))
    assert found == []  # checked in: a ticket of the queue now, not counted twice
    found, _ = booked_rows(app, ten + timedelta(minutes=10))
    assert [slot for _, slot in found] == [ten + timedelta(hours=1)]
    # 11:06: six minutes late and not here: taken as not coming.
    found, _ = booked_rows(app, ten + timedelta(hours=1, minutes=6))
    assert found == []


def test_the_earlier_days_show_rate_is_read_once_a_day(
    app: Flask, make: Factory, clock: ManualClock
) -> None:
    came = make.appointment(TODAY_10)
    make.appointment(TODAY_11, phone="13912340000")
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    assert check_in(make.client, came["code"]).status_code == 201
    tomorrow = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    # Today is not history yet: the prior alone.
    assert booked_rows(app, datetime(2026, 11, 26, 4, 0, tzinfo=UTC))[1] == pytest.approx(0.85)
    # Tomorrow: one of yesterday's two bookings came (the other is still marked booked).
    _, shows = booked_rows(app, tomorrow)
    assert shows == pytest.approx(show_rate(1, 2))
    with app.app_context():
        db.session.execute(
            update(Appointment)
            .where(Appointment.day == date(2026, 11, 26))
            .values(status=AppointmentStatus.NO_SHOW)
        )
        db.session.commit()
    # An earlier day's rows do not change through the engine; read once a day, kept.
    assert booked_rows(app, tomorrow + timedelta(hours=1))[1] == pytest.approx(show_rate(1, 2))


def test_a_booking_due_before_the_counter_is_free_is_counted_in_every_wait(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    """10:00, a 10:00 booking not here yet; counter 3 alone, just begun a 12-minute plan change.
    When it is free the due appointment goes first: the ticket waiting now is called after two
    visits, not one, and a new ticket's wait (the kiosk's, the display's) is 36 min, not 24."""
    make.appointment(TODAY_10)
    clock.set(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    busy = api.issue_as_staff("C")["id"]
    assert api.call_next(3)["ticket"]["id"] == busy
    assert api.act(busy, "start").status_code == 200
    waiting = api.issue_as_staff("C")["id"]
    found = projection_of(app)
    plan_change = next(s.id for s in found.services if s.code == "C")
    assert found.waits_now[plan_change] == pytest.approx(36.0, abs=0.01)
    # What the kiosk's button shows: the band of the ticket it would be called after (the
    # waiting one), widened for the 12 minutes beyond it (tests/test_wait_now.py).
    low, high = kiosk_wait(make, "C")
    behind = found.forecasts[waiting]
    # (The waiting ticket's point run: 24 min; the new one's: 36, 12 beyond it.)
    assert low == math.floor(found.waits_now[plan_change] + (behind.low - 24) - 0.2 * 12)
    assert low > 15 and high > 36  # after two visits at least
    # The waiting ticket's estimate is the median of 64 sampled runs (durations drawn, cv 0.5):
    # about 20 minutes when the booking comes first (in 85 % of the runs), 10.7 without it.
    assert found.forecasts[waiting].point > 15.0
