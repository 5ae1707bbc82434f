"""Several stores side by side over one range of service days: a line of headline figures per
store, each computed as its own report computes them (the same queries, the same definitions: see
backend.reports.tables), so a store's line equals its own report's summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from backend.policy import AppointmentStatus, TicketStatus
from backend.policy.stats import accuracy, net_score, share, share_within, summarize
from backend.reports import queries
from backend.reports.tables import (
    PUNCTUAL_MINUTES,
    Column,
    Kind,
    LocalTimes,
    Table,
    promise_of,
    walked_away,
)
from backend.stores.models import Store

# At most this many stores in one comparison (each is three queries over its range).
MAX_COMPARED = 20

COMPARE_COLUMNS = (
    Column("store", _l("Store")),
    Column("issued", _l("Tickets issued"), Kind.COUNT),
    Column("wait_mean", _l("Mean wait (min)"), Kind.MINUTES),
    Column("wait_median", _l("Median wait"), Kind.MINUTES),
    Column("wait_p90", _l("90th percentile wait"), Kind.MINUTES),
    Column("target", _l("Wait target (min)"), Kind.COUNT),
    Column("within_target", _l("Called within target"), Kind.SHARE),
    Column("served", _l("Served"), Kind.COUNT),
    Column("service_mean", _l("Mean service (min)"), Kind.MINUTES),
    Column("no_show", _l("No-show"), Kind.SHARE),
    Column("walked", _l("Walked away"), Kind.SHARE),
    Column("punctual", _l("Appointments called within %(n)s min", n=PUNCTUAL_MINUTES), Kind.SHARE),
    Column("stars", _l("Mean rating"), Kind.STARS),
    Column("score", _l("Score (5★ − 1–3★)"), Kind.SCORE),
    Column("mae", _l("Estimate: mean absolute error (min)"), Kind.MINUTES),
    Column("inside", _l("Estimate: inside the range"), Kind.SHARE),
)


def store_line(store: Store, first: Any, last: Any, lang: str, moment: datetime) -> list[Any]:
    """One store's figures over first..last, in COMPARE_COLUMNS' order."""
    zone = ZoneInfo(store.timezone)
    today = moment.astimezone(zone).date()
    local = LocalTimes(zone)
    visits = queries.visits(store, first, last)
    waits = [v.wait for v in visits if v.wait is not None]
    services = [v.service for v in visits if v.service is not None]
    w, s = summarize(waits), summarize(services)
    no_show = sum(1 for v in visits if v.status == TicketStatus.NO_SHOW)
    walked = sum(1 for v in visits if walked_away(v, local(v.issued)[2], today))
    bookings = queries.bookings(store, first, last)
    called = [
        b
        for b in bookings
        if b.status != AppointmentStatus.CANCELLED
        and b.slot_start <= moment
        and b.checked_in
        and b.late is not None
    ]
    punctual = sum(1 for b in called if b.late is not None and b.late <= PUNCTUAL_MINUTES)
    stars = [r.stars for r in queries.ratings(store, first, last)]
    promised = accuracy([p for p in map(promise_of, visits) if p is not None])
    return [
        store.name(lang),
        len(visits),
        w.mean,
        w.median,
        w.p90,
        store.wait_target_minutes,
        share_within(waits, store.wait_target_minutes),
        s.count,
        s.mean,
        share(no_show, len(visits)),
        share(walked, len(visits)),
        share(punctual, len(called)),
        summarize(stars).mean,
        net_score(stars),
        promised.mae,
        promised.inside,
    ]


def compare_stores(
    stores: Sequence[Store], first: Any, last: Any, lang: str, moment: datetime
) -> Table:
    """The stores' lines, in the order given."""
    table = Table("compare", _l("Stores side by side"), COMPARE_COLUMNS)
    table.rows = [store_line(s, first, last, lang, moment) for s in stores]
    return table


def compare_chart(table: Table) -> dict[str, Any]:
    """The series the comparison's chart draws: each store's mean and 90th percentile wait."""
    keys = [c.key for c in table.columns]
    mean, p90 = keys.index("wait_mean"), keys.index("wait_p90")
    return {
        "labels": [r[0] for r in table.rows],
        "mean": [r[mean] for r in table.rows],
        "p90": [r[p90] for r in table.rows],
    }
