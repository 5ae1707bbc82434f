"""A store's report for a range of days: every figure as a table (the page and its CSV files show
the same rows) and the series its charts draw, from the facts of its days (backend.reports.facts:
the settled days kept once in `report_day`, the others read live; durations to the second).

Definitions (the page says them too):
- wait: from issue (an appointment: its check-in, when its ticket is made) to the first call;
- service time: from start to done (completed visits);
- groups by hour and weekday use the arrival's local time in the store's zone; a visit counts for
  its service, lane, counter and clerk as it ended (a transferred one: the service it went to);
- walked away: left before any call (cancelled while waiting, or still waiting when its day ended);
- estimate accuracy: the wait the ticket was promised when issued against its actual wait
  (promise to first call); tickets issued while no counter served their lane got no promise and
  are counted apart.
"""

from __future__ import annotations

import csv
import io
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from backend.core.i18n import WEEKDAY_NAMES
from backend.policy import Lane, TicketStatus
from backend.policy.stats import (
    Summary,
    net_score,
    share,
    share_within_sorted,
    summarize,
    summarize_sorted,
)
from backend.queue.floor import LANE_NAMES
from backend.queue.serializers import OUTCOME_NAMES, counter_name
from backend.reports import queries, rollup
from backend.reports.facts import SECONDS, Errors, Facts, Group, merged_groups
from backend.reports.queries import Comment, Names, Rating
from backend.stores.models import Store

# An appointment is honoured when it is called no later than this after its slot starts.
PUNCTUAL_MINUTES = 5
LATEST_COMMENTS = 10
STARS = (5, 4, 3, 2, 1)
EMPTY = "—"
# Every table of a report, in the page's order (each downloads as <name>.csv).
TABLE_NAMES = (
    "summary",
    "by_service",
    "by_lane",
    "by_counter",
    "by_hour",
    "by_weekday",
    "heatmap_arrivals",
    "heatmap_waits",
    "outcomes",
    "appointments",
    "clerks",
    "ratings",
    "comments",
    "accuracy_lane",
    "accuracy_hour",
)
# A heatmap's cells are coloured in this many steps, from the table's smallest value to its largest.
HEAT_STEPS = 5


class Kind(StrEnum):
    TEXT = "text"
    COUNT = "count"
    MINUTES = "minutes"
    SIGNED = "signed"  # minutes with a sign (a bias)
    SHARE = "share"
    STARS = "stars"
    SCORE = "score"


def cell_text(value: Any, kind: Kind) -> str:
    """One cell as the page and the CSV show it."""
    if value is None:
        return EMPTY
    if kind is Kind.COUNT:
        return str(int(value))
    if kind is Kind.MINUTES:
        return f"{value:.1f}"
    if kind is Kind.SIGNED:
        return f"{value:+.1f}"
    if kind is Kind.SHARE:
        return f"{value * 100:.1f}%"
    if kind is Kind.STARS:
        return f"{value:.2f}"
    if kind is Kind.SCORE:
        return f"{value * 100:+.0f}"
    return str(value)


@dataclass(frozen=True)
class Column:
    key: str
    label: str | LazyString
    kind: Kind = Kind.TEXT


@dataclass
class Table:
    name: str
    title: str | LazyString
    columns: Sequence[Column]
    rows: list[list[Any]] = field(default_factory=list)

    def header(self) -> list[str]:
        return [str(c.label) for c in self.columns]

    def text_rows(self) -> list[list[str]]:
        return [
            [cell_text(v, c.kind) for v, c in zip(row, self.columns, strict=True)]
            for row in self.rows
        ]

    def kinds(self) -> list[str]:
        return [c.kind.value for c in self.columns]


def table_csv(table: Table) -> bytes:
    """The table as CSV, UTF-8 with a byte-order mark (so that Excel reads Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header())
    writer.writerows(table.text_rows())
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@dataclass
class Report:
    store: Store
    first: date
    last: date
    tables: dict[str, Table]
    charts: dict[str, Any]


# --- the group tables -------------------------------------------------------------------------

GROUP_COLUMNS = (
    Column("arrivals", _l("Arrivals"), Kind.COUNT),
    Column("called", _l("Called"), Kind.COUNT),
    Column("wait_mean", _l("Mean wait (min)"), Kind.MINUTES),
    Column("wait_median", _l("Median wait"), Kind.MINUTES),
    Column("wait_p90", _l("90th percentile wait"), Kind.MINUTES),
    Column("within_target", _l("Called within target"), Kind.SHARE),
    Column("served", _l("Served"), Kind.COUNT),
    Column("service_mean", _l("Mean service (min)"), Kind.MINUTES),
    Column("service_median", _l("Median service"), Kind.MINUTES),
    Column("service_p90", _l("90th percentile service"), Kind.MINUTES),
)


def minutes_summary(seconds: list[int]) -> tuple[Summary, list[int]]:
    """The summary in minutes of durations in seconds, and the durations in ascending order."""
    ordered = sorted(seconds)
    s = summarize_sorted(ordered)
    if not s.count:
        return s, ordered
    assert s.mean is not None and s.median is not None and s.p90 is not None
    return Summary(s.count, s.mean / SECONDS, s.median / SECONDS, s.p90 / SECONDS), ordered


def within(ordered_seconds: list[int], minutes: int) -> float | None:
    return share_within_sorted(ordered_seconds, minutes * SECONDS)


def _group_row(group: Group, target: int) -> list[Any]:
    w, waits = minutes_summary(group.waits)
    s, _ = minutes_summary(group.services)
    return [
        group.arrivals,
        w.count,
        w.mean,
        w.median,
        w.p90,
        within(waits, target),
        s.count,
        s.mean,
        s.median,
        s.p90,
    ]


def _group_table(
    name: str,
    title: LazyString,
    first_label: LazyString,
    groups: dict[Any, Group],
    label: Callable[[Any], str],
    target: int,
    order: Callable[[Any], Any] = lambda k: k,
) -> Table:
    table = Table(name, title, (Column("group", first_label), *GROUP_COLUMNS))
    for k in sorted(groups, key=order):
        table.rows.append([label(k), *_group_row(groups[k], target)])
    return table


def _by(slots: dict[tuple[int, int], Group], part: int) -> dict[int, Group]:
    """The slots (weekday, hour) merged by their weekday (part 0) or their hour (part 1)."""
    out: dict[int, list[Group]] = defaultdict(list)
    for key, group in slots.items():
        out[key[part]].append(group)
    return {k: merged_groups(groups) for k, groups in out.items()}


# --- the report -------------------------------------------------------------------------------


def build_report(store: Store, first: date, last: date, lang: str, moment: datetime) -> Report:
    """Every table and chart of the store's report for the service days first..last."""
    zone = ZoneInfo(store.timezone)
    facts = rollup.range_facts(store, first, last, moment)
    clerk_ids = set(facts.clerks)
    names = queries.names(store, clerk_ids)
    target = store.wait_target_minutes

    def service_name(service_id: int) -> str:
        zh, en = names.services.get(service_id, ("?", "?"))
        return en if lang == "en" else zh

    lane_order = {lane.value: i for i, lane in enumerate(Lane)}
    groups = facts.groups
    counters = {names.counters[k]: g for k, g in groups["counter"].items() if k in names.counters}
    tables = [
        _group_table(
            "by_service",
            _l("By service"),
            _l("Service"),
            groups["service"],
            service_name,
            target,
            lambda k: service_name(k),
        ),
        _group_table(
            "by_lane",
            _l("By lane"),
            _l("Lane"),
            groups["lane"],
            lambda k: str(LANE_NAMES[Lane(k)]),
            target,
            lane_order.__getitem__,
        ),
        _group_table(
            "by_counter",
            _l("By counter"),
            _l("Counter"),
            counters,
            lambda n: counter_name(n, lang),
            target,
        ),
        _group_table(
            "by_hour",
            _l("By hour of arrival"),
            _l("Hour"),
            _by(groups["slot"], 1),
            lambda h: f"{h:02d}:00",
            target,
        ),
        _group_table(
            "by_weekday",
            _l("By weekday"),
            _l("Weekday"),
            _by(groups["slot"], 0),
            lambda d: str(WEEKDAY_NAMES[d]),
            target,
        ),
    ]
    arrivals, waits = _heatmaps(groups["slot"])
    tables += [
        arrivals,
        waits,
        _outcomes(facts, names, lang),
        _appointments(store, first, last, moment),
    ]
    ratings = queries.ratings(store, first, last)
    comments = queries.latest_comments(store, first, last, LATEST_COMMENTS)
    tables += [
        _clerks(facts, ratings, names),
        _ratings(ratings),
        _comments(comments, zone, service_name),
    ]
    by_lane, by_hour, overall = _accuracy(facts)
    tables += [by_lane, by_hour]
    summary = _summary(facts, ratings, target, overall)
    tables.insert(0, summary)
    made = {t.name: t for t in tables}
    by_name = {name: made[name] for name in TABLE_NAMES}
    return Report(store, first, last, by_name, _charts(by_name, by_hour))


def _heatmaps(slots: dict[tuple[int, int], Group]) -> tuple[Table, Table]:
    hours = sorted({h for _, h in slots})
    hours = list(range(hours[0], hours[-1] + 1)) if hours else []
    hour_columns = [Column(f"h{h}", f"{h:02d}", Kind.COUNT) for h in hours]
    arrivals = Table(
        "heatmap_arrivals",
        _l("Arrivals by weekday and hour"),
        (Column("weekday", _l("Weekday")), *hour_columns),
    )
    waits = Table(
        "heatmap_waits",
        _l("Mean wait by weekday and hour (min)"),
        (
            Column("weekday", _l("Weekday")),
            *(Column(c.key, c.label, Kind.MINUTES) for c in hour_columns),
        ),
    )
    empty = Group()
    for day in range(7):
        if not any((day, h) in slots for h in hours):
            continue
        cells = [slots.get((day, h), empty) for h in hours]
        arrivals.rows.append([str(WEEKDAY_NAMES[day]), *(c.arrivals for c in cells)])
        waits.rows.append(
            [str(WEEKDAY_NAMES[day]), *(minutes_summary(c.waits)[0].mean for c in cells)]
        )
    return arrivals, waits


MEASURE_COLUMNS = (
    Column("measure", _l("Measure")),
    Column("count", _l("Count"), Kind.COUNT),
    Column("share", _l("Share"), Kind.SHARE),
)


def _outcomes(facts: Facts, names: Names, lang: str) -> Table:
    o = facts.outcomes
    issued, served = o["issued"], o[TicketStatus.DONE.value]
    table = Table("outcomes", _l("Outcomes, no-shows and transfers"), MEASURE_COLUMNS)

    def line(label: LazyString, count: int, whole: int | None) -> list[Any]:
        return [str(label), count, None if whole is None else share(count, whole)]

    table.rows += [
        line(_l("Tickets issued"), issued, issued),
        line(_l("Served"), served, issued),
        line(_l("No-show (called, did not come)"), o[TicketStatus.NO_SHOW.value], issued),
        line(_l("Cancelled"), o[TicketStatus.CANCELLED.value], issued),
        line(_l("Walked away (left before any call)"), o["walked"], issued),
        line(_l("Transferred at least once"), o["transferred"], issued),
        line(_l("Transfers"), o["transfers"], None),
        line(_l("Rejoined after a missed call"), o["rejoined"], issued),
    ]
    for outcome, name in OUTCOME_NAMES.items():
        table.rows.append(
            line(_l("Outcome: %(name)s", name=name), o[f"outcome:{outcome.value}"], served)
        )
    standard = {f"outcome:{outcome.value}" for outcome in OUTCOME_NAMES}
    # The services' own outcome codes that visits of the range ended with, by their name.
    for key in sorted(k for k in o if k.startswith("outcome:") and k not in standard):
        code = key.removeprefix("outcome:")
        zh, en = names.outcomes.get(code, (code, code))
        own = en if lang == "en" else zh
        table.rows.append(line(_l("Outcome: %(name)s", name=own), o[key], served))
    return table


def _appointments(store: Store, first: date, last: date, moment: datetime) -> Table:
    a = queries.appointments(store, first, last, moment, PUNCTUAL_MINUTES)
    table = Table("appointments", _l("Appointments"), MEASURE_COLUMNS)
    table.rows += [
        [str(_l("Booked (slot begun, not cancelled)")), a.due, None],
        [str(_l("Came (checked in): show rate")), a.showed, share(a.showed, a.due)],
        [str(_l("Did not come")), a.no_show, share(a.no_show, a.due)],
        [
            str(_l("Called within %(n)s min of the slot", n=PUNCTUAL_MINUTES)),
            a.punctual,
            share(a.punctual, a.called),
        ],
        [str(_l("Cancelled")), a.cancelled, share(a.cancelled, a.total)],
    ]
    return table


def _clerks(facts: Facts, ratings: Sequence[Rating], names: Names) -> Table:
    served = facts.clerks
    stars: dict[int, list[int]] = defaultdict(list)
    for r in ratings:
        if r.clerk_id is not None:
            stars[r.clerk_id].append(r.stars)
    table = Table(
        "clerks",
        _l("Clerks"),
        (
            Column("clerk", _l("Clerk")),
            Column("served", _l("Served"), Kind.COUNT),
            Column("service_mean", _l("Mean service (min)"), Kind.MINUTES),
            Column("ratings", _l("Ratings"), Kind.COUNT),
            Column("stars", _l("Mean rating"), Kind.STARS),
        ),
    )

    def done(clerk: int) -> int:
        return served[clerk].done if clerk in served else 0

    for clerk in sorted(
        set(served) | set(stars), key=lambda c: (-done(c), names.clerks.get(c, ""))
    ):
        given = stars.get(clerk, [])
        tally = served.get(clerk)
        mean = tally.service_sum / tally.timed / SECONDS if tally and tally.timed else None
        table.rows.append(
            [names.clerks.get(clerk, "?"), done(clerk), mean, len(given), summarize(given).mean]
        )
    return table


def _ratings(ratings: Sequence[Rating]) -> Table:
    tally = Tally(r.stars for r in ratings)
    table = Table(
        "ratings",
        _l("Ratings"),
        (
            Column("stars", _l("Stars")),
            Column("count", _l("Count"), Kind.COUNT),
            Column("share", _l("Share"), Kind.SHARE),
        ),
    )
    for s in STARS:
        table.rows.append(["★" * s, tally[s], share(tally[s], len(ratings))])
    return table


def _comments(
    comments: Sequence[Comment], zone: ZoneInfo, service_name: Callable[[int], str]
) -> Table:
    table = Table(
        "comments",
        _l("Latest comments"),
        (
            Column("at", _l("When")),
            Column("service", _l("Service")),
            Column("stars", _l("Stars"), Kind.COUNT),
            Column("comment", _l("Comment")),
        ),
    )
    for r in comments:
        at = r.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        table.rows.append([at, service_name(r.service_id), r.stars, r.comment])
    return table


ACCURACY_COLUMNS = (
    Column("promised", _l("Tickets with a promise, called"), Kind.COUNT),
    Column("mae", _l("Mean absolute error (min)"), Kind.MINUTES),
    Column("bias", _l("Bias: waited longer (+) or shorter (−) than told (min)"), Kind.SIGNED),
    Column("inside", _l("Inside the promised range"), Kind.SHARE),
)


def _accuracy_row(errors: Errors) -> list[Any]:
    if not errors.count:
        return [0, None, None, None]
    n = errors.count
    return [n, errors.absolute / n, errors.signed / n, errors.inside / n]


def _accuracy(facts: Facts) -> tuple[Table, Table, list[Any]]:
    lane_table = Table(
        "accuracy_lane",
        _l("Estimate accuracy by lane"),
        (Column("lane", _l("Lane")), *ACCURACY_COLUMNS),
    )
    for lane in Lane:
        if lane.value in facts.errors_by_lane:
            lane_table.rows.append(
                [str(LANE_NAMES[lane]), *_accuracy_row(facts.errors_by_lane[lane.value])]
            )
    hour_table = Table(
        "accuracy_hour",
        _l("Estimate accuracy by hour of arrival"),
        (Column("hour", _l("Hour")), *ACCURACY_COLUMNS),
    )
    for hour in sorted(facts.errors_by_hour):
        hour_table.rows.append([f"{hour:02d}:00", *_accuracy_row(facts.errors_by_hour[hour])])
    return lane_table, hour_table, overall_accuracy(facts)


def overall_accuracy(facts: Facts) -> list[Any]:
    """count, mean absolute error, bias and share inside the range over every promise."""
    every = Errors()
    for errors in facts.errors_by_lane.values():
        every.merge(errors)
    return _accuracy_row(every)


def headline(facts: Facts, target: int) -> tuple[Summary, Summary, float | None]:
    """The waits and service times of every visit, and the share called within the target (each
    visit counts in exactly one service's group)."""
    every = merged_groups(facts.groups["service"].values())
    w, waits = minutes_summary(every.waits)
    s, _ = minutes_summary(every.services)
    return w, s, within(waits, target)


def _summary(
    facts: Facts,
    ratings: Sequence[Rating],
    target: int,
    overall: list[Any],
) -> Table:
    w, s, within_target = headline(facts, target)
    stars = [r.stars for r in ratings]
    count, mae, bias, inside = overall
    table = Table(
        "summary",
        _l("Headline figures"),
        (Column("measure", _l("Measure")), Column("value", _l("Value"))),
    )
    rows: list[tuple[LazyString, Any, Kind]] = [
        (_l("Tickets issued"), facts.outcomes["issued"], Kind.COUNT),
        (_l("Called"), w.count, Kind.COUNT),
        (_l("Mean wait (min)"), w.mean, Kind.MINUTES),
        (_l("Median wait"), w.median, Kind.MINUTES),
        (_l("90th percentile wait"), w.p90, Kind.MINUTES),
        (_l("Called within the %(n)s min target", n=target), within_target, Kind.SHARE),
        (_l("Served"), s.count, Kind.COUNT),
        (_l("Mean service (min)"), s.mean, Kind.MINUTES),
        (_l("Ratings"), len(stars), Kind.COUNT),
        (_l("Mean rating (stars)"), summarize(stars).mean, Kind.STARS),
        (_l("Score: share of 5 stars minus share of 1–3 stars"), net_score(stars), Kind.SCORE),
        (_l("Estimate: mean absolute error (min)"), mae, Kind.MINUTES),
        (_l("Estimate: bias (min)"), bias, Kind.SIGNED),
        (_l("Estimate: inside the promised range"), inside, Kind.SHARE),
        (_l("Estimate: tickets with a promise, called"), count, Kind.COUNT),
        (_l("Estimate: tickets given no estimate"), facts.unpromised, Kind.COUNT),
    ]
    # The summary mixes kinds: each row's value is formatted by its own kind.
    table.rows = [[str(label), cell_text(value, kind)] for label, value, kind in rows]
    return table


def heat_levels(table: Table) -> list[list[int | None]]:
    """Each numeric cell's colour step (0 … HEAT_STEPS) against the table's largest value."""
    values = [v for row in table.rows for v in row[1:] if v is not None]
    top = max(values, default=0)
    return [
        [None if v is None else (round(HEAT_STEPS * v / top) if top else 0) for v in row[1:]]
        for row in table.rows
    ]


def _charts(tables: dict[str, Table], accuracy_hour: Table) -> dict[str, Any]:
    """The series the page's charts draw (numbers, not the tables' text)."""
    hour = tables["by_hour"]
    ratings = tables["ratings"]
    return {
        "waits_by_hour": {
            "labels": [r[0] for r in hour.rows],
            "mean": [r[3] for r in hour.rows],
            "p90": [r[5] for r in hour.rows],
            "arrivals": [r[1] for r in hour.rows],
        },
        "ratings": {
            "labels": [r[0] for r in ratings.rows],
            "counts": [r[1] for r in ratings.rows],
        },
        "accuracy_by_hour": {
            "labels": [r[0] for r in accuracy_hour.rows],
            "mae": [r[2] for r in accuracy_hour.rows],
            "bias": [r[3] for r in accuracy_hour.rows],
            "inside": [r[4] for r in accuracy_hour.rows],
        },
    }
