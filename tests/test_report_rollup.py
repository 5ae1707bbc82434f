"""The reports' kept days (backend.reports.rollup): a settled service day reduced once to its facts
gives the same report as the live trail, a warm report reads no visit and costs the same whatever
its length, a day kept in another zone or layout is built again, two reports racing keep a day
once, the periodic job keeps the days just settled; and (pure) facts merged day by day equal the
facts of all the visits at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.core.db import StatementCounter
from backend.extensions import db
from backend.policy import Lane, TicketStatus
from backend.policy.stats import summarize
from backend.reports import rollup
from backend.reports.compare import compare_stores
from backend.reports.facts import Facts, Visit, facts_by_day, facts_of, merged
from backend.reports.models import ReportDay
from backend.reports.tables import build_report, minutes_summary
from backend.stores.models import Store
from tests.test_race import run_threads
from tests.test_reports import MONDAY, TUESDAY, WEDNESDAY, history, local

__all__ = ["history"]  # the fixture of the small hand-computed history

NEXT_WEEK = WEDNESDAY + timedelta(days=7)
MONTH_START = TUESDAY - timedelta(days=29)


def tables(app: Flask, clock: ManualClock, first: date = MONDAY, last: date = TUESDAY) -> Any:
    with app.test_request_context("/?lang=en"):
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        report = build_report(store, first, last, "en", clock.now())
        return {name: (t.header(), t.rows) for name, t in report.tables.items()}


def kept(app: Flask) -> dict[date, tuple[int, str]]:
    """The demo store's kept days."""
    with app.app_context():
        rows = db.session.execute(
            select(ReportDay.service_day, ReportDay.layout, ReportDay.timezone)
            .join(Store, Store.id == ReportDay.store_id)
            .where(Store.code == "demo")
        ).all()
        db.session.rollback()
        return {day: (layout, zone) for day, layout, zone in rows}


def test_kept_days_give_the_report_of_the_live_trail(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(local(NEXT_WEEK, 10, 0))  # Monday and Tuesday are both settled
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 10_000)  # nothing settled: all read live
    live = tables(app, clock)
    assert kept(app) == {}
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 2)
    cold = tables(app, clock)  # builds both days and keeps them
    assert set(kept(app)) == {MONDAY, TUESDAY}
    warm = tables(app, clock)  # reads them
    assert cold == live
    assert warm == live
    summary = dict(warm["summary"][1])
    assert summary["Tickets issued"] == "7"
    assert summary["Median wait"] == "7.0"  # (6 + 8) / 2, as in the hand-computed report
    assert summary["Called within the 20 min target"] == "83.3%"


def test_a_range_half_settled_reads_the_rest_live(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Wednesday 10:00: Monday is settled, Tuesday (yesterday) is still read live.
    mixed = tables(app, clock)
    assert set(kept(app)) == {MONDAY}
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 10_000)
    assert tables(app, clock) == mixed


def test_a_warm_report_reads_no_visit_and_costs_the_same_for_a_month(
    app: Flask, clock: ManualClock, history: dict[str, int]
) -> None:
    clock.set(local(NEXT_WEEK, 10, 0))
    tables(app, clock)
    tables(app, clock, MONTH_START, TUESDAY)  # keeps the month's other days (empty)
    assert len(kept(app)) == 30
    counted = []
    for first in (MONDAY, MONTH_START):
        with app.app_context(), StatementCounter(db.engine) as counter:
            tables(app, clock, first, TUESDAY)
        assert not any("visit_part" in s for s in counter.statements)  # no visit is read
        assert sum("report_day" in s for s in counter.statements) == 1
        counted.append(counter.count)
    assert counted[0] == counted[1]


def test_a_day_kept_in_another_zone_or_layout_is_built_again(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(local(NEXT_WEEK, 10, 0))
    tables(app, clock)
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        store.timezone = "Asia/Dhaka"  # two hours behind Shanghai
        db.session.commit()
    moved = tables(app, clock)
    assert kept(app) == {MONDAY: (1, "Asia/Dhaka"), TUESDAY: (1, "Asia/Dhaka")}
    hours = [row[0] for row in moved["by_hour"][1]]
    assert hours == ["07:00", "08:00", "09:00", "21:00"]  # 09:00, 10:00, 11:00, 23:00 Shanghai
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 10_000)
    assert tables(app, clock) == moved
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 2)
    monkeypatch.setattr(rollup, "LAYOUT", 2)
    tables(app, clock)
    assert kept(app) == {MONDAY: (2, "Asia/Dhaka"), TUESDAY: (2, "Asia/Dhaka")}


def test_two_reports_building_the_same_days_at_once_keep_each_day_once(
    app: Flask, clock: ManualClock, history: dict[str, int]
) -> None:
    clock.set(local(NEXT_WEEK, 10, 0))
    results: dict[int, Any] = {}

    def one(index: int) -> None:
        try:
            results[index] = tables(app, clock, MONTH_START, TUESDAY)
        finally:
            with app.app_context():
                db.session.remove()

    errors = run_threads(one, 4)
    assert errors == []
    assert len(results) == 4
    assert all(r == results[0] for r in results.values())
    days = kept(app)
    assert len(days) == 30 and min(days) == MONTH_START and max(days) == TUESDAY
    with app.app_context():
        rows = db.session.scalars(select(ReportDay.service_day)).all()
    assert len(rows) == 30  # one row per day, whoever won


def test_the_stores_side_by_side_read_the_kept_days_too(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(local(NEXT_WEEK, 10, 0))
    with app.test_request_context("/?lang=en"):
        stores = list(db.session.scalars(select(Store).where(Store.code == "demo")))
        warm = compare_stores(stores, MONDAY, TUESDAY, "en", clock.now()).text_rows()
    assert set(kept(app)) == {MONDAY, TUESDAY}
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 10_000)
    with app.test_request_context("/?lang=en"):
        stores = list(db.session.scalars(select(Store).where(Store.code == "demo")))
        live = compare_stores(stores, MONDAY, TUESDAY, "en", clock.now()).text_rows()
    assert warm == live
    assert warm[0][1:5] == ["7", "10.0", "7.0", "30.0"]  # issued, mean, median, p90 wait


def test_the_periodic_job_keeps_the_days_just_settled_once(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup, "_SWEPT", {})
    monkeypatch.setattr(rollup, "_BACKFILLED", set())
    clock.set(local(NEXT_WEEK, 10, 0))  # settled up to Monday 30 November
    with app.app_context():
        stores = len(db.session.scalars(select(Store.id)).all())
        assert stores >= 2  # the demo store and another: every store is settled
        # The week just settled of each store, and the demo's older history (Monday 23rd).
        assert rollup.settle_all(clock.now()) == rollup.RECENT_DAYS * stores + 1
        assert rollup.settle_all(clock.now()) == 0  # once per settled day
    last = NEXT_WEEK - timedelta(days=rollup.SETTLE_DAYS)
    assert set(kept(app)) == {last - timedelta(days=i) for i in range(rollup.RECENT_DAYS + 1)}
    assert MONDAY in kept(app)
    clock.set(local(NEXT_WEEK + timedelta(days=1), 10, 0))
    with app.app_context():
        assert rollup.settle_all(clock.now()) == stores  # the one day settled since, each


def test_the_older_history_is_kept_a_budget_of_days_per_sweep_newest_first(
    app: Flask, clock: ManualClock, history: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup, "_SWEPT", {})
    monkeypatch.setattr(rollup, "_BACKFILLED", set())
    monkeypatch.setattr(rollup, "BACKFILL_DAYS", 10)
    later = WEDNESDAY + timedelta(days=40)
    clock.set(local(later, 10, 0))
    last = later - timedelta(days=rollup.SETTLE_DAYS)
    with app.app_context():
        demo = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        assert demo is not None
        first = rollup.settle_all(clock.now(), [demo])
    older = last - timedelta(days=rollup.RECENT_DAYS)  # the newest day the backfill keeps
    assert first == rollup.RECENT_DAYS + 10
    assert set(kept(app)) == {last - timedelta(days=i) for i in range(rollup.RECENT_DAYS + 10)}
    assert older in kept(app) and MONDAY not in kept(app)
    sweeps = [first]
    while sweeps[-1]:
        with app.app_context():
            sweeps.append(rollup.settle_all(clock.now(), [demo]))
    days = (last - MONDAY).days + 1  # every day from the first ticket to the last settled one
    assert sum(sweeps) == days and max(sweeps[1:]) <= 10
    assert set(kept(app)) == {MONDAY + timedelta(days=i) for i in range(days)}
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 10_000)
    live = tables(app, clock)
    monkeypatch.setattr(rollup, "SETTLE_DAYS", 2)
    assert tables(app, clock) == live  # what the sweeps kept is what the trail says


# --- pure: the facts add up ----------------------------------------------------------------------

ZONE = ZoneInfo("Asia/Shanghai")
DAY0 = date(2026, 11, 2)
minutes = st.floats(min_value=0, max_value=240, allow_nan=False).map(lambda m: round(m, 4))


@st.composite
def visits(draw: st.DrawFn) -> Visit:
    day = DAY0 + timedelta(days=draw(st.integers(0, 3)))
    at = datetime.combine(day, datetime.min.time(), ZONE) + timedelta(
        minutes=draw(st.integers(8 * 60, 20 * 60))
    )
    status = draw(st.sampled_from([s.value for s in TicketStatus]))
    promised = draw(st.none() | minutes)
    low = None if promised is None else int(promised // 2)
    return Visit(
        service_id=draw(st.integers(1, 3)),
        lane=draw(st.sampled_from([lane.value for lane in Lane])),
        counter_id=draw(st.none() | st.integers(1, 3)),
        clerk_id=draw(st.none() | st.integers(1, 2)),
        status=status,
        outcome="done" if status == TicketStatus.DONE else None,
        issued=at.astimezone(UTC).timestamp(),
        wait=draw(st.none() | minutes),
        service=draw(st.none() | minutes) if status == TicketStatus.DONE else None,
        transfers=draw(st.integers(0, 2)),
        rejoins=draw(st.integers(0, 1)),
        promised=promised,
        low=low,
        high=None if promised is None else int(promised * 2) + 1,
        actual=draw(st.none() | minutes) if promised is not None else None,
        first_part=draw(st.booleans()),
        day=day,
    )


def normal(facts: Facts) -> Facts:
    """The facts with every group's durations in order (merging keeps them in day order)."""
    for groups in facts.groups.values():
        for group in groups.values():
            group.waits.sort()
            group.services.sort()
    for errors in (*facts.errors_by_lane.values(), *facts.errors_by_hour.values()):
        errors.absolute, errors.signed = round(errors.absolute, 6), round(errors.signed, 6)
    return facts


@pytest.mark.pure
@settings(max_examples=60, deadline=None)
@given(st.lists(visits(), max_size=40))
def test_days_merged_equal_all_the_visits_at_once(rows: list[Visit]) -> None:
    today = DAY0 + timedelta(days=10)
    by_day = facts_by_day(rows, ZONE, today)
    kept_and_read = [Facts.loads(f.dumps()) for f in by_day.values()]
    assert normal(merged(kept_and_read)) == normal(facts_of(rows, ZONE, today))


@pytest.mark.pure
@settings(max_examples=60, deadline=None)
@given(st.lists(minutes, max_size=30))
def test_a_group_s_figures_are_those_of_its_durations_to_the_second(values: list[float]) -> None:
    seconds = [round(v * 60) for v in values]
    got, ordered = minutes_summary(seconds)
    want = summarize([s / 60 for s in seconds])
    assert ordered == sorted(seconds)
    assert got.count == want.count
    for a, b in ((got.mean, want.mean), (got.median, want.median), (got.p90, want.p90)):
        assert (a is None and b is None) or a == pytest.approx(b, abs=1e-9)
    if values:  # and each is within half a second of the unrounded figure
        exact = summarize(values)
        assert got.median == pytest.approx(exact.median, abs=0.5 / 60)
