"""Cost of the console's reports over a year of a busy store.

Generates a year of one store (~410 tickets a day: ~150,000 tickets, ~600,000 events, ratings
and appointments; bulk inserts) into a scratch SQLite file, then times the report for one day,
a month and the year, with its parts (the visits' query, the appointments', the ratings', the
tables built in Python) and a baseline in the same run (a count over the events table).

.venv/bin/python bench/bench_reports.py [--days 365] [--per-day 410] [--repeat 3]
                                        [--postgres postgresql+psycopg://127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, text

from backend.app import create_app
from backend.bookings.models import Appointment
from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy import Action, AppointmentStatus, Channel, Lane, TicketStatus
from backend.queue.models import Ticket, TicketEvent
from backend.reports import queries, rollup
from backend.reports.models import ReportDay
from backend.reports.tables import build_report
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from backend.stores.seed import seed_demo

ZONE = ZoneInfo("Asia/Shanghai")
LAST_DAY = date(2026, 11, 30)
BATCH = 20_000


def _store_ids() -> tuple[int, list[tuple[int, Lane, float]], list[int], list[int]]:
    store = db.session.scalar(select(Store).where(Store.code == "demo"))
    assert store is not None
    services = [
        (s.id, s.lane, s.expected_minutes)
        for s in db.session.scalars(select(Service).where(Service.store_id == store.id))
    ]
    counters = list(db.session.scalars(select(Counter.id).where(Counter.store_id == store.id)))
    clerks = list(db.session.scalars(select(User.id).where(User.store_id == store.id)))
    return store.id, services, counters, clerks


def _trail(
    issued: datetime, wait: float, served: float, counter: int, fate: float
) -> tuple[
    Any, Any, datetime, TicketStatus, list[tuple[datetime, Action, int | None, TicketStatus]]
]:
    """One visit's events: most served, some walk away, miss the call, or rejoin after one."""
    called = issued + timedelta(minutes=wait)
    started = called + timedelta(minutes=0.5)
    finished = started + timedelta(minutes=served)
    trail = [(issued, Action.ISSUE, None, TicketStatus.WAITING)]
    status = TicketStatus.DONE
    if fate < 0.04:  # walked away
        status = TicketStatus.CANCELLED
        finished = issued + timedelta(minutes=wait / 2)
        trail.append((finished, Action.CANCEL, None, status))
        called = started = None  # type: ignore[assignment]
    elif fate < 0.09:  # missed the call
        status = TicketStatus.NO_SHOW
        finished = called + timedelta(minutes=2)
        trail += [
            (called, Action.CALL, counter, TicketStatus.CALLED),
            (finished, Action.NO_SHOW, counter, status),
        ]
        started = None  # type: ignore[assignment]
    else:
        trail.append((called, Action.CALL, counter, TicketStatus.CALLED))
        if fate < 0.11:  # rejoined after a missed call, served later
            trail += [
                (
                    called + timedelta(minutes=1),
                    Action.NO_SHOW,
                    counter,
                    TicketStatus.NO_SHOW,
                ),
                (called + timedelta(minutes=3), Action.REJOIN, None, TicketStatus.WAITING),
                (called + timedelta(minutes=6), Action.CALL, counter, TicketStatus.CALLED),
            ]
        trail += [
            (started, Action.START, counter, TicketStatus.SERVING),
            (finished, Action.COMPLETE, counter, status),
        ]
    return called, started, finished, status, trail


def generate(days: int, per_day: int, seed: int = 1) -> tuple[int, int]:  # noqa: C901 (one generator loop, read top to bottom)
    """A year of visits: most served, some no-shows, cancels, transfers and rejoins."""
    rng = random.Random(seed)
    store_id, services, counters, clerks = _store_ids()
    tickets: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    bookings: list[dict[str, Any]] = []
    next_id = 1
    made = events_made = 0

    def flush() -> None:
        nonlocal tickets, events, ratings, bookings
        if tickets:
            db.session.execute(insert(Ticket), tickets)
        if events:
            db.session.execute(insert(TicketEvent), events)
        if ratings:
            db.session.execute(insert(Feedback), ratings)
        if bookings:
            db.session.execute(insert(Appointment), bookings)
        db.session.commit()
        tickets, events, ratings, bookings = [], [], [], []

    for d in range(days):
        day = LAST_DAY - timedelta(days=days - 1 - d)
        opening = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZONE).astimezone(UTC)
        n = max(1, int(rng.gauss(per_day, per_day * 0.1)))
        for number in range(1, n + 1):
            service_id, lane, minutes = rng.choice(services)
            issued = opening + timedelta(minutes=rng.uniform(0, 540))
            wait = rng.expovariate(1 / 9)
            served = rng.lognormvariate(0, 0.5) * minutes
            counter = rng.choice(counters)
            clerk = rng.choice(clerks)
            fate = rng.random()
            called, started, finished, status, trail = _trail(issued, wait, served, counter, fate)
            promised = None if fate > 0.97 else max(0.0, wait * rng.uniform(0.7, 1.3))
            tickets.append(
                {
                    "id": next_id,
                    "store_id": store_id,
                    "service_id": service_id,
                    "lane": lane,
                    "label": f"X{number:04d}",
                    "number": number,
                    "service_day": day,
                    "channel": Channel.KIOSK,
                    "status": status,
                    "token": secrets.token_hex(16),
                    "counter_id": counter if called else None,
                    "clerk_id": clerk if called else None,
                    "issued_at": issued,
                    "queue_at": issued,
                    "called_at": called,
                    "started_at": started,
                    "finished_at": finished,
                    "outcome": "done" if status == TicketStatus.DONE else None,
                    "version": 1,
                    "promised_minutes": promised,
                    "promised_low": None if promised is None else int(promised * 0.6),
                    "promised_high": None if promised is None else int(promised * 1.5) + 1,
                    "promised_at": None if promised is None else issued,
                }
            )
            for at, action, where, to in trail:
                events.append(
                    {
                        "ticket_id": next_id,
                        "store_id": store_id,
                        "at": at,
                        "action": action.value,
                        "to_status": to.value,
                        "counter_id": where,
                    }
                )
            if status == TicketStatus.DONE and rng.random() < 0.15:
                ratings.append(
                    {
                        "ticket_id": next_id,
                        "store_id": store_id,
                        "service_id": service_id,
                        "counter_id": counter,
                        "clerk_id": clerk,
                        "stars": rng.choice((5, 5, 5, 4, 4, 3, 2, 1)),
                        "comment": rng.choice(("", "", "很好", "太慢了", "ok")),
                        "created_at": finished + timedelta(minutes=3),
                    }
                )
            if rng.random() < 0.05:
                bookings.append(
                    {
                        "store_id": store_id,
                        "service_id": service_id,
                        "day": day,
                        "slot_start": issued,
                        "slot_end": issued + timedelta(minutes=20),
                        "name": "张三",
                        "phone": "13800001234",
                        "code": f"{next_id:08d}"[-8:],
                        "manage_token": secrets.token_hex(16),
                        "status": AppointmentStatus.DONE,
                        "created_at": issued - timedelta(days=2),
                        "ticket_id": next_id,
                        "checked_in_at": issued,
                    }
                )
            events_made += len(trail)
            made += 1
            next_id += 1
            if len(events) >= BATCH:
                flush()
    flush()
    return made, events_made


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """The median of `repeat` runs, in ms."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
        db.session.rollback()  # each run reads afresh (no identity map carried over)
    return statistics.median(runs)


def partial_report(now: datetime) -> Callable[[Store, date, date], Any]:
    return lambda store, first, last: build_report(store, first, last, "en", now)


def forget_kept_days() -> None:
    db.session.execute(delete(ReportDay))
    db.session.commit()


def timed_cold(fn: Callable[[], Any], repeat: int) -> float:
    """`timed`, with the kept days forgotten before each run (not timed)."""
    runs = []
    for _ in range(repeat):
        forget_kept_days()
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return statistics.median(runs)


def timed_after(prepare: Callable[[], Any], fn: Callable[[], Any], repeat: int) -> float:
    """`timed_cold`, with `prepare` run (not timed) after the kept days are forgotten."""
    runs = []
    for _ in range(repeat):
        forget_kept_days()
        prepare()
        db.session.rollback()
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    return statistics.median(runs)


def measure(label: str, repeat: int) -> list[tuple[str, str, float]]:
    store = db.session.scalar(select(Store).where(Store.code == "demo"))
    assert store is not None
    now = datetime.combine(LAST_DAY + timedelta(days=1), datetime.min.time(), ZONE)
    first_day = db.session.scalar(select(func.min(Ticket.service_day)))
    spans = {
        "day": (LAST_DAY, LAST_DAY),
        "month": (LAST_DAY - timedelta(days=29), LAST_DAY),
        "year": (first_day, LAST_DAY),
    }
    rows: list[tuple[str, str, float]] = []
    rows.append(
        (
            label,
            "baseline: SELECT count(*) FROM ticket_event",
            timed(lambda: db.session.scalar(text("SELECT count(*) FROM ticket_event")), repeat),
        )
    )
    for span, (first, last) in spans.items():
        s = db.session.get(Store, store.id)
        assert s is not None
        parts: list[tuple[str, Callable[..., Any]]] = [
            ("visits query (tickets + first calls)", queries.visits),
            ("appointments query", partial(queries.appointments, moment=now, punctual=5)),
            ("ratings query", queries.ratings),
        ]
        for what, fn in parts:
            rows.append((label, f"{span}: {what}", timed(partial(fn, s, first, last), repeat)))
        report = partial(partial_report(now), s, first, last)
        rows.append((label, f"{span}: whole report, no day kept yet", timed_cold(report, repeat)))
        report()  # keeps the settled days
        db.session.rollback()
        rows.append((label, f"{span}: whole report, settled days kept", timed(report, repeat)))
    moment = now + timedelta(days=1)  # one more day settles, as the periodic job sees it

    def sweep() -> None:
        rollup._SWEPT.clear()  # as a process just started: it checks each store once
        rollup._BACKFILLED.update(db.session.scalars(select(Store.id)))  # the week alone
        assert rollup.settle_all(moment) == rollup.RECENT_DAYS

    def backfill() -> None:
        rollup._BACKFILLED.clear()  # the week kept: the sweep builds older days only
        assert rollup.settle_all(moment) == rollup.BACKFILL_DAYS

    rows.append(
        (label, "the periodic job's week, none kept (7 days built)", timed_cold(sweep, repeat))
    )
    rows.append(
        (
            label,
            f"a sweep of older history ({rollup.BACKFILL_DAYS} days built)",
            timed_after(sweep, backfill, repeat),
        )
    )
    return rows


def run(
    url: str, args: argparse.Namespace, label: str, instance: Path
) -> list[tuple[str, str, float]]:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "bench"}
    )
    with app.test_request_context("/?lang=en"):
        db.drop_all()
        db.create_all()
        seed_demo("demo")
        start = time.perf_counter()
        made, events = generate(args.days, args.per_day)
        took = time.perf_counter() - start
        print(
            f"[{label}] generated {made:,} tickets and {events:,} events in {took:.0f} s",
            flush=True,
        )
        if url.startswith("sqlite"):
            db.session.execute(text("ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        rows = measure(label, args.repeat)
        db.session.remove()
        db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=410)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL: a scratch database is made there"
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run(f"sqlite:///{Path(tmp) / 'reports.db'}", args, "SQLite", Path(tmp))
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from tests import factories

            name = f"hq_bench_reports_{secrets.token_hex(3)}"
            url = factories.fresh_postgres_database(args.postgres, name)
            try:
                rows += run(url, args, "PostgreSQL", Path(tmp))
            finally:
                factories.drop_postgres_database(args.postgres, name)
    print(f"\n| tier | what | ms (median of {args.repeat}) |\n|---|---|--:|")
    for label, what, ms in rows:
        print(f"| {label} | {what} | {ms:.1f} |")


if __name__ == "__main__":
    main()
