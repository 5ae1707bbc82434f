"""Each settled service day of a store reduced once to its facts (backend.reports.facts) and kept
in `report_day`, so that a report over a year reads 365 rows instead of 150,000 tickets and their
trails; the days not settled yet are read live.

A day is settled once the store's date is `SETTLE_DAYS` past it. Nothing of its visits changes
after that: tickets are never deleted or moved to another day, and a call after midnight of a late
ticket belongs to the ticket's own day (the day after it is still read live for that). Ratings,
comments and appointments are not kept here: they are small, and a rating may come days later.

Who keeps them: the app's periodic job settles the days just past (`settle_all`, from
backend.__main__.sweep_forever) and, a month of days per sweep, the older history kept by no
earlier version; and a report that meets a settled day not kept yet builds it —
from one read, outside any write lock — then keeps it with one upsert in a short write
transaction: two reports racing for the same day keep the same figures, once. A kept day of
another layout or time zone (the store's zone gives its hours) is built again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.core.db import write_transaction
from backend.extensions import db
from backend.queue.models import Ticket
from backend.reports import queries
from backend.reports.facts import LAYOUT, Facts, facts_by_day, facts_of, merged
from backend.reports.models import ReportDay
from backend.stores.models import Store

SETTLE_DAYS = 2
# The periodic job settles this many days back from the last settled one (a store that was down
# a few days catches up; older days are built by the first report that needs them).
RECENT_DAYS = 7
DAY = timedelta(days=1)


def last_settled(timezone: str, moment: datetime) -> date:
    """The last service day settled at `moment` in this zone."""
    return moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=SETTLE_DAYS)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _kept(store_id: int, timezone: str, first: date, last: date) -> dict[date, Facts]:
    rows = db.session.execute(
        select(ReportDay.service_day, ReportDay.facts).where(
            ReportDay.store_id == store_id,
            ReportDay.service_day >= first,
            ReportDay.service_day <= last,
            ReportDay.layout == LAYOUT,
            ReportDay.timezone == timezone,
        )
    ).all()
    return {day: Facts.loads(text) for day, text in rows}


def _keep(store_id: int, timezone: str, days: dict[date, Facts], moment: datetime) -> None:
    """Keep these days' facts (replacing a kept day of another layout or zone)."""
    if not days:
        return
    table = ReportDay.__table__
    assert isinstance(table, Table)
    rows = [
        {
            "store_id": store_id,
            "service_day": day,
            "layout": LAYOUT,
            "timezone": timezone,
            "facts": facts.dumps(),
            "built_at": moment,
        }
        for day, facts in sorted(days.items())
    ]
    with write_transaction():
        dialect = db.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.store_id, table.c.service_day],
            set_={
                "layout": statement.excluded.layout,
                "timezone": statement.excluded.timezone,
                "facts": statement.excluded.facts,
                "built_at": statement.excluded.built_at,
            },
        )
        db.session.execute(statement, rows)


def _settled(
    store: Store, first: date, last: date, moment: datetime
) -> tuple[dict[date, Facts], int]:
    """The facts of the settled days first..last, kept ones read and the others built and kept;
    and how many were built."""
    store_id, timezone = store.id, store.timezone
    kept = _kept(store_id, timezone, first, last)
    missing = [d for d in _days(first, last) if d not in kept]
    if not missing:
        return kept, 0
    zone = ZoneInfo(timezone)
    today = moment.astimezone(zone).date()
    built = facts_by_day(queries.visits(store, missing[0], missing[-1]), zone, today)
    new = {day: built.get(day) or Facts() for day in missing}
    _keep(store_id, timezone, new, moment)
    return kept | new, len(new)


def range_facts(store: Store, first: date, last: date, moment: datetime) -> Facts:
    """The facts of the service days first..last: the settled ones kept, the rest read live."""
    timezone = store.timezone
    cut = min(last, last_settled(timezone, moment))
    parts: list[Facts] = []
    if first <= cut:
        settled, _ = _settled(store, first, cut, moment)
        parts += settled.values()
    live_first = max(first, cut + DAY)
    if live_first <= last:
        zone = ZoneInfo(timezone)
        today = moment.astimezone(zone).date()
        parts.append(facts_of(queries.visits(store, live_first, last), zone, today))
    return merged(parts)


# The stores whose days are settled up to the day kept here (this process's memory: after a
# restart the first sweep checks each store once), and those whose older history is all kept.
_SWEPT: dict[int, date] = {}
_BACKFILLED: set[int] = set()
# At most this many older days are built per sweep, over all stores (a year of history is kept
# within a quarter of an hour of an upgrade, at a bounded cost per sweep).
BACKFILL_DAYS = 31


def settle_all(moment: datetime, store_ids: Iterable[int] | None = None) -> int:
    """The periodic job's part: keep the recently settled days of every store (each store at most
    once per settled day), then some of the older history not kept yet (the newest first).
    Returns how many days were built."""
    rows = db.session.execute(select(Store.id, Store.timezone)).all()
    wanted = None if store_ids is None else set(store_ids)
    built = 0
    budget = BACKFILL_DAYS
    for store_id, timezone in rows:
        if wanted is not None and store_id not in wanted:
            continue
        cut = last_settled(timezone, moment)
        recent = _SWEPT.get(store_id) != cut
        older = budget > 0 and store_id not in _BACKFILLED
        store = db.session.get(Store, store_id) if recent or older else None
        if store is None:
            continue  # nothing to do for it in this sweep
        if recent:
            _, made = _settled(store, cut - timedelta(days=RECENT_DAYS - 1), cut, moment)
            built += made
            _SWEPT[store_id] = cut
        if older:
            made = _backfill(store, cut - timedelta(days=RECENT_DAYS), moment, budget)
            built += made
            budget -= made
    return built


def _backfill(store: Store, last: date, moment: datetime, budget: int) -> int:
    """Keep up to `budget` of the store's settled days from its first ticket to `last` that are
    not kept yet, the newest first; mark the store done once none is left."""
    store_id, timezone = store.id, store.timezone
    first = db.session.scalar(
        select(func.min(Ticket.service_day)).where(Ticket.store_id == store_id)
    )
    if first is None or first > last:
        _BACKFILLED.add(store_id)
        return 0
    kept = set(
        db.session.scalars(
            select(ReportDay.service_day).where(
                ReportDay.store_id == store_id,
                ReportDay.service_day >= first,
                ReportDay.service_day <= last,
                ReportDay.layout == LAYOUT,
                ReportDay.timezone == timezone,
            )
        )
    )
    missing = [d for d in reversed(_days(first, last)) if d not in kept]
    if len(missing) <= budget:
        _BACKFILLED.add(store_id)
    chosen = missing[:budget]
    if not chosen:
        return 0
    _, made = _settled(store, chosen[-1], chosen[0], moment)
    return made
