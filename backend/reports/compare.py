"""Several stores side by side over one range of service days: a line of headline figures per
store, each computed as its own report computes them (the same queries, the same definitions: see
backend.reports.tables), so a store's line equals its own report's summary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from backend.policy import TicketStatus
from backend.policy.stats import net_score, share, summarize
from backend.reports import queries, rollup
from backend.reports.tables import (
    PUNCTUAL_MINUTES,
    Column,
    Kind,
    Table,
    headline,
    overall_accuracy,
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
    facts = rollup.range_facts(store, first, last, moment)
    target = store.wait_target_minutes
    w, s, within_target = headline(facts, target)
    o = facts.outcomes
    issued = o["issued"]
    booked = queries.appointments(store, first, last, moment, PUNCTUAL_MINUTES)
    stars = [r.stars for r in queries.ratings(store, first, last)]
    _, mae, _, inside = overall_accuracy(facts)
    return [
        store.name(lang),
        issued,
        w.mean,
        w.median,
        w.p90,
        target,
        within_target,
        s.count,
        s.mean,
        share(o[TicketStatus.NO_SHOW.value], issued),
        share(o["walked"], issued),
        share(booked.punctual, booked.called),
        summarize(stars).mean,
        net_score(stars),
        mae,
        inside,
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
