"""The range each store scales by its own promises (`eta.range_error`, `eta.range_scale`): by
hand, in the forward runs, in the simulator's earlier days, and live from yesterday's tickets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import CounterView, Lane, Ordering, QueuePolicy
from backend.policy.eta import (
    MIN_PROMISES,
    RANGE_ERROR_CAP,
    RANGE_SCALE_LIMITS,
    CounterLoad,
    borrowed,
    fixed_band,
    forecast,
    range_error,
    range_scale,
)
from backend.policy.ordering import QueueItem
from backend.policy.sim import generate_customers, load_scenario, simulate
from backend.policy.sim.estimate import eta_forecaster, hall_history, promise_errors
from backend.policy.sim.setups import policy_setups
from backend.queue.models import Ticket
from backend.reports.queries import promises
from backend.stores.models import Store

from .conftest import Api
from .factories import Factory, projection_of, store_id

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in the demo store
MINUTE = timedelta(minutes=1)
FIFO = QueuePolicy(ordering=Ordering.FIFO, max_wait=None, vip_first=0, work_conserving=False)


# --- by hand -------------------------------------------------------------------------------------


def test_an_error_is_counted_in_half_widths_of_its_side_of_the_range() -> None:
    # Promised 10 min, 7-16: 3 below, 6 above.
    assert range_error(13.0, 10.0, 7.0, 16.0, 1.0) == pytest.approx(0.5)
    assert range_error(22.0, 10.0, 7.0, 16.0, 1.0) == pytest.approx(2.0)
    assert range_error(4.0, 10.0, 7.0, 16.0, 1.0) == pytest.approx(2.0)
    assert range_error(10.0, 10.0, 10.0, 10.0, 1.0) == 0.0
    # A range shown 1.5 x wider was 4 min above before it: 12 min late is 3 of those.
    assert range_error(22.0, 10.0, 7.0, 16.0, 1.5) == pytest.approx(3.0)
    # A miss on a side of no width, or by hours, counts as the cap.
    assert range_error(11.0, 10.0, 7.0, 10.0, 1.0) == RANGE_ERROR_CAP
    assert range_error(500.0, 10.0, 7.0, 16.0, 1.0) == RANGE_ERROR_CAP


def test_the_scale_holds_nine_in_ten_of_the_earlier_errors_pulled_towards_one() -> None:
    assert range_scale([5.0] * (MIN_PROMISES - 1)) == 1.0  # too few to learn from
    # 100 errors 0.01, 0.02, ... 1.00: a new one falls below rank 0.9 x 101 = 90.9 nine times in
    # ten, 0.909; blended with 50 promises that needed 1: (100 x 0.909 + 50) / 150.
    errors = [i / 100 for i in range(1, 101)]
    assert range_scale(reversed(errors)) == pytest.approx((90.9 + 50) / 150)
    # Kept within the limits, however far the promises fell.
    assert range_scale([RANGE_ERROR_CAP] * 1000) == RANGE_SCALE_LIMITS[1]
    assert range_scale([0.0] * 1000) == RANGE_SCALE_LIMITS[0]


def test_the_fixed_band_and_a_borrowed_band_scale_around_the_wait() -> None:
    assert fixed_band(10.0) == fixed_band(10.0, 1.0)
    band = fixed_band(10.0, 1.5)  # 8-14 before: 2 below and 4 above, 1.5 x each
    assert (band.point, band.low, band.high) == pytest.approx((10.0, 7.0, 16.0))
    assert fixed_band(10.0, 0.5).as_range() == (9, 12)
    # 4 min beyond the ticket it borrows from: 0.8 below and 1.2 above, 1.5 x each.
    assert borrowed((1.0, -2.0, 3.0), 4.0, 1.5) == pytest.approx((1.0, -3.2, 4.8))


def _queue() -> list[QueueItem]:
    return [
        QueueItem(i, Lane.STANDARD, NOW - (10 - i) * MINUTE, "C", expected_minutes=8.0)
        for i in range(1, 7)
    ]


def test_a_scaled_forecast_keeps_its_median_and_widens_its_range_by_the_scale() -> None:
    counters = [CounterLoad(CounterView(n, (Lane.STANDARD,)), NOW) for n in (1, 2)]
    plain = forecast(_queue(), counters, FIFO, NOW, samples=64, seed=3)
    wider = forecast(_queue(), counters, FIFO, NOW, samples=64, seed=3, scale=1.5)
    assert plain.keys() == wider.keys()
    for ticket_id, f in plain.items():
        w = wider[ticket_id]
        assert w.point == f.point
        assert w.high - w.point == pytest.approx(1.5 * (f.high - f.point))
        if f.point - 1.5 * (f.point - f.low) > 0:  # not cut at zero
            assert w.point - w.low == pytest.approx(1.5 * (f.point - f.low))
    assert any(f.high > f.point for f in plain.values())


# --- the simulator -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weekday_history() -> object:
    scenario = load_scenario("bench/scenarios/weekday.toml")
    return replace(scenario, eta=replace(scenario.eta, history_days=2, history_promises=30))


def test_the_simulators_scale_is_what_its_earlier_days_promises_needed(
    weekday_history: object,
) -> None:
    scenario = weekday_history
    history = hall_history(scenario, 4)
    unscaled = replace(history, range_scale=1.0)
    errors = promise_errors(scenario, 4, 0, unscaled) + promise_errors(scenario, 4, 1, unscaled)
    # About 30 forecasts a day, less those who gave up before their call.
    assert 40 <= len(errors) <= 66
    assert history.range_scale == range_scale(errors) != 1.0
    off = replace(scenario, eta=replace(scenario.eta, history_promises=0))
    assert hall_history(off, 4).range_scale == 1.0


def test_the_simulated_day_prints_its_ranges_scaled(weekday_history: object) -> None:
    scenario = weekday_history
    scale = hall_history(scenario, 4).range_scale
    off = replace(scenario, eta=replace(scenario.eta, history_promises=0, every=10))
    on = replace(scenario, eta=replace(scenario.eta, every=10))
    setup = policy_setups(scenario)["ours"]
    customers = generate_customers(scenario, 4)
    plain = simulate(off, setup, customers, eta_forecaster(off, 4)).forecasts
    scaled = simulate(on, setup, customers, eta_forecaster(on, 4)).forecasts
    assert plain.keys() == scaled.keys() and len(plain) > 30
    for ticket_id, (point, _, high) in plain.items():
        assert scaled[ticket_id][0] == point  # the same day, the same median
        assert scaled[ticket_id][2] - point == pytest.approx(scale * (high - point))


# --- live ----------------------------------------------------------------------------------------


def served_yesterday(api: Api, clock: ManualClock, count: int) -> list[int]:
    """Yesterday at 10:00: `count` top-ups issued while counter 1 was open (each shown an
    estimate, so each kept a promise), each called and served."""
    clock.set(NOW - timedelta(days=1))
    assert api.sign_in(1).status_code == 200
    ids = []
    for _ in range(count):
        ident = api.issue_as_staff("A")["id"]
        assert api.call_next(1)["ticket"]["id"] == ident
        assert api.act(ident, "complete").status_code == 200
        ids.append(ident)
    return ids


def promise_was(
    app: Flask,
    ids: list[int],
    promised: tuple[float, int, int],
    scale: float | None,
    wait: float,
) -> None:
    """Rewrite what these tickets were promised and when they were called."""
    promised_at = NOW - timedelta(days=1)
    minutes, low, high = promised
    with app.app_context():
        db.session.execute(
            update(Ticket)
            .where(Ticket.id.in_(ids))
            .values(
                promised_minutes=minutes,
                promised_low=low,
                promised_high=high,
                promised_scale=scale,
                promised_at=promised_at,
                called_at=promised_at + wait * MINUTE,
            )
        )
        db.session.commit()


def test_a_promise_keeps_the_scale_its_range_was_shown_with(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    ids = served_yesterday(api, clock, 2)
    with app.app_context():
        kept = db.session.execute(
            select(Ticket.promised_minutes, Ticket.promised_scale).where(Ticket.id.in_(ids))
        ).all()
    assert [scale for _, scale in kept] == [1.0, 1.0]  # a store with no earlier promises
    assert all(minutes is not None for minutes, _ in kept)


def test_yesterdays_promises_scale_todays_ranges(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    """Yesterday 30 tickets were promised 10 min, 8-12: 27 were called at 10 min, 3 at 16 (3
    half-widths late). A new error falls below 2.7 nine times in ten (rank 0.9 x 31 = 27.9
    between 0 and 3), blended with 50 promises that needed 1: (30 x 2.7 + 50) / 80."""
    ids = served_yesterday(api, clock, 30)
    promise_was(app, ids[:27], (10.0, 8, 12), 1.0, 10.0)
    promise_was(app, ids[27:], (10.0, 8, 12), 1.0, 16.0)
    clock.set(NOW)
    assert api.sign_in(1).status_code == 200
    found = projection_of(app)
    expected = (30 * 2.7 + 50) / 80
    assert found.range_scale == pytest.approx(expected)
    # The kiosk's wait with nobody ahead: the fixed band, scaled.
    top_up = next(s for s in found.services if s.code == "A")
    point = found.waits_now[top_up.id]
    assert found.wait_now(top_up.id) == fixed_band(point, expected).as_range()
    assert found.wait_now(top_up.id) != fixed_band(point).as_range()
    # The ticket it prints keeps the scale with its promise; its phone shows the wider range.
    ticket = api.issue_as_staff("A")
    with app.app_context():
        kept = db.session.get(Ticket, ticket["id"])
        assert kept.promised_scale == pytest.approx(expected)
        assert (kept.promised_low, kept.promised_high) == tuple(ticket["eta_minutes"])
    view = make.client.get(f"/api/v1/tickets/{ticket['token']}").json
    assert view["eta_minutes"] == ticket["eta_minutes"]


def test_a_range_shown_wider_counts_its_error_in_the_range_before(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    """The same 3 late calls, promised with a range shown 2 x wider (8-12 was 9-11 before):
    each was 6 half-widths late."""
    ids = served_yesterday(api, clock, 30)
    promise_was(app, ids[:27], (10.0, 8, 12), 2.0, 10.0)
    promise_was(app, ids[27:], (10.0, 8, 12), 2.0, 16.0)
    clock.set(NOW)
    assert projection_of(app).range_scale == pytest.approx(
        min((30 * (6 * 0.9) + 50) / 80, RANGE_SCALE_LIMITS[1])
    )


def test_promises_kept_before_the_scale_was_recorded_teach_nothing(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    ids = served_yesterday(api, clock, 30)
    promise_was(app, ids, (10.0, 8, 12), None, 30.0)  # every one far late, scale unknown
    clock.set(NOW)
    assert projection_of(app).range_scale == 1.0


def test_a_rejoined_tickets_promise_counts_to_its_first_call(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    clock.set(NOW - timedelta(days=1))
    assert api.sign_in(1).status_code == 200
    ticket = api.issue_as_staff("A")
    clock.advance(minutes=4)
    assert api.call_next(1)["ticket"]["id"] == ticket["id"]
    clock.advance(minutes=2)
    assert api.act(ticket["id"], "no-show").status_code == 200
    rejoined = make.client.post(
        f"/api/v1/tickets/{ticket['id']}/rejoin", json={"token": ticket["token"]}
    )
    assert rejoined.status_code == 200
    clock.advance(minutes=10)
    assert api.call_next(1)["ticket"]["id"] == ticket["id"]
    day = (NOW - timedelta(days=1)).date()
    with app.app_context():
        zone = db.session.get(Store, store_id(app)).timezone
        rows = db.session.execute(promises(store_id(app), zone, day, day)).all()
    assert len(rows) == 1
    point, low, high, scale, actual = rows[0]
    assert (low, high) == tuple(ticket["eta_minutes"]) and low <= point <= high and scale == 1.0
    assert actual == pytest.approx(4.0)  # not the 16 min to the call that served


def test_todays_own_promises_are_no_history_yet(app: Flask, api: Api, clock: ManualClock) -> None:
    ids = served_yesterday(api, clock, 30)
    promise_was(app, ids, (10.0, 8, 12), 1.0, 30.0)
    assert projection_of(app).range_scale == 1.0  # still yesterday: no earlier day
    clock.set(NOW)
    assert projection_of(app).range_scale == RANGE_SCALE_LIMITS[1]
