"""No walk-in after the last ticket of the day: the estimate's expected arrivals stop when the
hall closes (less its kiosk's cut-off), so a ticket taken near closing is not told to wait for
short business that can no longer come."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from backend.extensions import db
from backend.policy import CounterView, Lane, Ordering, QueuePolicy
from backend.policy.eta import ArrivalRate, CounterLoad, expected_arrivals, forecast
from backend.policy.ordering import QueueItem
from backend.queue.readmodel import _last_walk_in
from backend.stores.models import Store
from backend.stores.settings import StoreSettings

from .factories import store_id

NOW = datetime(2026, 11, 26, 9, 40, tzinfo=UTC)  # 17:40 in the demo store, open until 18:00
MINUTE = timedelta(minutes=1)
TOP_UPS = ArrivalRate("A", Lane.FAST, 3.0, 0.5)  # one every 2 min


def test_expected_walk_ins_stop_at_the_last_ticket() -> None:
    evenly = expected_arrivals([TOP_UPS], NOW)
    assert len(evenly) == 30  # an hour of them
    until = NOW + 20 * MINUTE
    assert [i.queue_at for i in expected_arrivals([TOP_UPS], NOW, until=until)] == [
        NOW + 2 * k * MINUTE for k in range(1, 11)
    ]
    drawn = expected_arrivals([TOP_UPS], NOW, random.Random(1), until)
    assert drawn and all(i.queue_at <= until for i in drawn)
    assert expected_arrivals([TOP_UPS], NOW, random.Random(1), NOW - MINUTE) == []
    # An hour or more away, the hour's arrivals as before, draw for draw.
    later = NOW + timedelta(hours=2)
    assert expected_arrivals([TOP_UPS], NOW, random.Random(1), later) == expected_arrivals(
        [TOP_UPS], NOW, random.Random(1)
    )


def test_a_plan_change_near_closing_waits_for_no_top_up_that_cannot_come() -> None:
    """Counter 3 serves the fast lane first (its profile's order) and is busy for 4 more
    minutes; a plan change waits. With top-ups coming every 2 min it waits behind them all
    hour; with the hall closing in 5 min, behind the two that can still come."""
    policy = QueuePolicy(ordering=Ordering.PROFILE, max_wait=None, vip_first=0)
    counter = CounterLoad(CounterView(3, (Lane.FAST, Lane.STANDARD)), NOW + 4 * MINUTE)
    plan = QueueItem(1, Lane.STANDARD, NOW, "C", service_lane=Lane.STANDARD, expected_minutes=8)
    open_on = forecast([plan], [counter], policy, NOW, rates=[TOP_UPS], samples=0)[1].point
    closing = forecast(
        [plan], [counter], policy, NOW, rates=[TOP_UPS], samples=0, last_walk_in=NOW + 5 * MINUTE
    )[1].point
    # Two top-ups (at 2 and 4 min) go first, 3 min each: called at 4 + 3 + 3 = 10 min.
    assert closing == pytest.approx(10.0)
    assert open_on > 20.0


def _settings(app: Flask, cutoff: int) -> StoreSettings:
    with app.app_context():
        db.session.execute(
            update(Store).where(Store.id == store_id(app)).values(kiosk_cutoff_minutes=cutoff)
        )
        db.session.commit()
        found = StoreSettings.of(db.session.get(Store, store_id(app)))
    return found


def test_the_last_walk_in_is_the_closing_less_the_kiosks_cut_off(app: Flask) -> None:
    closes = NOW + 20 * MINUTE  # 18:00
    store = _settings(app, 0)
    assert _last_walk_in(store.open_state(NOW), store, NOW) == closes
    store = _settings(app, 15)
    assert _last_walk_in(store.open_state(NOW), store, NOW) == closes - 15 * MINUTE
    assert _last_walk_in(store.open_state(NOW), store, closes - 5 * MINUTE) == closes - 5 * MINUTE
    night = NOW + timedelta(hours=4)  # closed: nobody comes
    assert not store.open_state(night).open
    assert _last_walk_in(store.open_state(night), store, night) == night
