"""A store's report for a range of days: every figure as a table (the page and its CSV files show
the same rows) and the series its charts draw.

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
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from backend.core.i18n import WEEKDAY_NAMES
from backend.policy import AppointmentStatus, Lane, TicketStatus
from backend.policy.stats import (
    Promise,
    accuracy,
    net_score,
    share,
    share_within,
    summarize,
)
from backend.queue.floor import LANE_NAMES
from backend.queue.serializers import OUTCOME_NAMES, counter_name
from backend.reports import queries
from backend.reports.queries import Booking, Comment, Names, Rating, Visit
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


# Every zone's offset from UTC is a multiple of a quarter of an hour: the local weekday, hour and
# date of a moment are those of its quarter, looked up once per quarter (a year has ~35,000).
QUARTER = 900


class LocalTimes:
    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.known: dict[int, tuple[int, int, date]] = {}

    def __call__(self, epoch: float) -> tuple[int, int, date]:
        quarter = int(epoch // QUARTER)
        found = self.known.get(quarter)
        if found is None:
            at = datetime.fromtimestamp(quarter * QUARTER, UTC).astimezone(self.zone)
            found = self.known[quarter] = (at.weekday(), at.hour, at.date())
        return found


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


class Facts(NamedTuple):
    """A visit and its arrival's local weekday, hour and date (the store's zone)."""

    visit: Visit
    weekday: int
    hour: int
    day: date
    wait: float | None
    service: float | None


def _group_row(facts: Sequence[Facts], target: int) -> list[Any]:
    waits = [f.wait for f in facts if f.wait is not None]
    services = [f.service for f in facts if f.service is not None]
    w = summarize(waits)
    s = summarize(services)
    return [
        len(facts),
        w.count,
        w.mean,
        w.median,
        w.p90,
        share_within(waits, target),
        s.count,
        s.mean,
        s.median,
        s.p90,
    ]


def _group_table(
    name: str,
    title: LazyString,
    first_label: LazyString,
    facts: Iterable[Facts],
    key: Callable[[Facts], Hashable | None],
    label: Callable[[Any], str],
    target: int,
    order: Callable[[Any], Any] = lambda k: k,
) -> Table:
    groups: dict[Any, list[Facts]] = defaultdict(list)
    for f in facts:
        k = key(f)
        if k is not None:
            groups[k].append(f)
    table = Table(name, title, (Column("group", first_label), *GROUP_COLUMNS))
    for k in sorted(groups, key=order):
        table.rows.append([label(k), *_group_row(groups[k], target)])
    return table


# --- the report -------------------------------------------------------------------------------


def build_report(store: Store, first: date, last: date, lang: str, moment: datetime) -> Report:
    """Every table and chart of the store's report for the service days first..last."""
    zone = ZoneInfo(store.timezone)
    visits = queries.visits(store, first, last)
    clerk_ids = {v.clerk_id for v in visits if v.clerk_id is not None}
    names = queries.names(store, clerk_ids)
    local = LocalTimes(zone)
    facts = [Facts(v, *local(v.issued), v.wait, v.service) for v in visits]
    target = store.wait_target_minutes
    today = moment.astimezone(zone).date()

    def service_name(service_id: int) -> str:
        zh, en = names.services.get(service_id, ("?", "?"))
        return en if lang == "en" else zh

    lane_order = {lane.value: i for i, lane in enumerate(Lane)}
    tables = [
        _group_table(
            "by_service",
            _l("By service"),
            _l("Service"),
            facts,
            lambda f: f.visit.service_id,
            service_name,
            target,
            lambda k: service_name(k),
        ),
        _group_table(
            "by_lane",
            _l("By lane"),
            _l("Lane"),
            facts,
            lambda f: f.visit.lane,
            lambda k: str(LANE_NAMES[Lane(k)]),
            target,
            lane_order.__getitem__,
        ),
        _group_table(
            "by_counter",
            _l("By counter"),
            _l("Counter"),
            facts,
            lambda f: names.counters.get(f.visit.counter_id) if f.visit.counter_id else None,
            lambda n: counter_name(n, lang),
            target,
        ),
        _group_table(
            "by_hour",
            _l("By hour of arrival"),
            _l("Hour"),
            facts,
            lambda f: f.hour,
            lambda h: f"{h:02d}:00",
            target,
        ),
        _group_table(
            "by_weekday",
            _l("By weekday"),
            _l("Weekday"),
            facts,
            lambda f: f.weekday,
            lambda d: str(WEEKDAY_NAMES[d]),
            target,
        ),
    ]
    arrivals, waits = _heatmaps(facts)
    tables += [arrivals, waits, _outcomes(facts, today), _appointments(store, first, last, moment)]
    ratings = queries.ratings(store, first, last)
    comments = queries.latest_comments(store, first, last, LATEST_COMMENTS)
    tables += [
        _clerks(facts, ratings, names),
        _ratings(ratings),
        _comments(comments, zone, service_name),
    ]
    by_lane, by_hour, overall, unpromised = _accuracy(facts, lang)
    tables += [by_lane, by_hour]
    summary = _summary(facts, ratings, target, overall, unpromised)
    tables.insert(0, summary)
    made = {t.name: t for t in tables}
    by_name = {name: made[name] for name in TABLE_NAMES}
    return Report(store, first, last, by_name, _charts(by_name, by_hour))


def _heatmaps(facts: Sequence[Facts]) -> tuple[Table, Table]:
    cells: dict[tuple[int, int], list[Facts]] = defaultdict(list)
    for f in facts:
        cells[(f.weekday, f.hour)].append(f)
    hours = sorted({h for _, h in cells})
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
    for day in range(7):
        if not any((day, h) in cells for h in hours):
            continue
        arrivals.rows.append(
            [str(WEEKDAY_NAMES[day]), *(len(cells.get((day, h), [])) for h in hours)]
        )
        waits.rows.append(
            [
                str(WEEKDAY_NAMES[day]),
                *(
                    summarize([f.wait for f in cells.get((day, h), []) if f.wait is not None]).mean
                    for h in hours
                ),
            ]
        )
    return arrivals, waits


MEASURE_COLUMNS = (
    Column("measure", _l("Measure")),
    Column("count", _l("Count"), Kind.COUNT),
    Column("share", _l("Share"), Kind.SHARE),
)


def walked_away(v: Visit, day: date, today: date) -> bool:
    """Left before any call: cancelled while waiting, or still waiting when its day `day` ended."""
    if v.wait is not None:  # it was called
        return False
    ended = day < today
    return v.status == TicketStatus.CANCELLED or (v.status == TicketStatus.WAITING and ended)


def _outcomes(facts: Sequence[Facts], today: date) -> Table:
    visits = [f.visit for f in facts]
    issued = len(visits)
    status = Tally(v.status for v in visits)
    served = status[TicketStatus.DONE]
    walked = sum(1 for f in facts if walked_away(f.visit, f.day, today))
    transferred = sum(1 for v in visits if v.transfers)
    rejoined = sum(1 for v in visits if v.rejoins)
    outcomes = Tally(v.outcome for v in visits if v.status == TicketStatus.DONE)
    table = Table("outcomes", _l("Outcomes, no-shows and transfers"), MEASURE_COLUMNS)
    table.rows += [
        [str(_l("Tickets issued")), issued, share(issued, issued)],
        [str(_l("Served")), served, share(served, issued)],
        [
            str(_l("No-show (called, did not come)")),
            status[TicketStatus.NO_SHOW],
            share(status[TicketStatus.NO_SHOW], issued),
        ],
        [
            str(_l("Cancelled")),
            status[TicketStatus.CANCELLED],
            share(status[TicketStatus.CANCELLED], issued),
        ],
        [str(_l("Walked away (left before any call)")), walked, share(walked, issued)],
        [str(_l("Transferred at least once")), transferred, share(transferred, issued)],
        [str(_l("Transfers")), sum(v.transfers for v in visits), None],
        [str(_l("Rejoined after a missed call")), rejoined, share(rejoined, issued)],
    ]
    for outcome, name in OUTCOME_NAMES.items():
        table.rows.append(
            [
                str(_l("Outcome: %(name)s", name=name)),
                outcomes[outcome.value],
                share(outcomes[outcome.value], served),
            ]
        )
    return table


def _appointments(store: Store, first: date, last: date, moment: datetime) -> Table:
    rows: list[Booking] = queries.bookings(store, first, last)
    cancelled = sum(1 for b in rows if b.status == AppointmentStatus.CANCELLED)
    due = [b for b in rows if b.status != AppointmentStatus.CANCELLED and b.slot_start <= moment]
    showed = [b for b in due if b.checked_in]
    called = [b for b in showed if b.late is not None]
    punctual = sum(1 for b in called if b.late is not None and b.late <= PUNCTUAL_MINUTES)
    no_show = sum(1 for b in due if b.status == AppointmentStatus.NO_SHOW)
    table = Table("appointments", _l("Appointments"), MEASURE_COLUMNS)
    table.rows += [
        [str(_l("Booked (slot begun, not cancelled)")), len(due), None],
        [str(_l("Came (checked in): show rate")), len(showed), share(len(showed), len(due))],
        [str(_l("Did not come")), no_show, share(no_show, len(due))],
        [
            str(_l("Called within %(n)s min of the slot", n=PUNCTUAL_MINUTES)),
            punctual,
            share(punctual, len(called)),
        ],
        [str(_l("Cancelled")), cancelled, share(cancelled, len(rows))],
    ]
    return table


def _clerks(facts: Sequence[Facts], ratings: Sequence[Rating], names: Names) -> Table:
    served: dict[int, list[float]] = defaultdict(list)
    done: Tally[int] = Tally()
    for f in facts:
        v = f.visit
        if v.clerk_id is not None and v.status == TicketStatus.DONE:
            done[v.clerk_id] += 1
            if f.service is not None:
                served[v.clerk_id].append(f.service)
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
    for clerk in sorted(set(done) | set(stars), key=lambda c: (-done[c], names.clerks.get(c, ""))):
        given = stars.get(clerk, [])
        table.rows.append(
            [
                names.clerks.get(clerk, "?"),
                done[clerk],
                summarize(served.get(clerk, [])).mean,
                len(given),
                summarize(given).mean,
            ]
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


def promise_of(visit: Visit) -> Promise | None:
    if visit.promised is None or visit.low is None or visit.high is None or visit.actual is None:
        return None
    return Promise(visit.promised, visit.low, visit.high, visit.actual)


def _accuracy_row(promises: Sequence[Promise]) -> list[Any]:
    a = accuracy(promises)
    return [a.count, a.mae, a.bias, a.inside]


def _accuracy(facts: Sequence[Facts], lang: str) -> tuple[Table, Table, list[Any], int]:
    by_lane: dict[str, list[Promise]] = defaultdict(list)
    by_hour: dict[int, list[Promise]] = defaultdict(list)
    every: list[Promise] = []
    unpromised = 0
    for f in facts:
        if f.visit.promised is None and f.visit.first_part:  # later parts promise nothing
            unpromised += 1
        p = promise_of(f.visit)
        if p is None:
            continue
        every.append(p)
        by_lane[f.visit.lane].append(p)
        by_hour[f.hour].append(p)
    lane_table = Table(
        "accuracy_lane",
        _l("Estimate accuracy by lane"),
        (Column("lane", _l("Lane")), *ACCURACY_COLUMNS),
    )
    for lane in Lane:
        if lane in by_lane:
            lane_table.rows.append([str(LANE_NAMES[lane]), *_accuracy_row(by_lane[lane])])
    hour_table = Table(
        "accuracy_hour",
        _l("Estimate accuracy by hour of arrival"),
        (Column("hour", _l("Hour")), *ACCURACY_COLUMNS),
    )
    for hour in sorted(by_hour):
        hour_table.rows.append([f"{hour:02d}:00", *_accuracy_row(by_hour[hour])])
    return lane_table, hour_table, _accuracy_row(every), unpromised


def _summary(
    facts: Sequence[Facts],
    ratings: Sequence[Rating],
    target: int,
    overall: list[Any],
    unpromised: int,
) -> Table:
    waits = [f.wait for f in facts if f.wait is not None]
    services = [f.service for f in facts if f.service is not None]
    w = summarize(waits)
    s = summarize(services)
    stars = [r.stars for r in ratings]
    count, mae, bias, inside = overall
    table = Table(
        "summary",
        _l("Headline figures"),
        (Column("measure", _l("Measure")), Column("value", _l("Value"))),
    )
    rows: list[tuple[LazyString, Any, Kind]] = [
        (_l("Tickets issued"), len(facts), Kind.COUNT),
        (_l("Called"), w.count, Kind.COUNT),
        (_l("Mean wait (min)"), w.mean, Kind.MINUTES),
        (_l("Median wait"), w.median, Kind.MINUTES),
        (_l("90th percentile wait"), w.p90, Kind.MINUTES),
        (
            _l("Called within the %(n)s min target", n=target),
            share_within(waits, target),
            Kind.SHARE,
        ),
        (_l("Served"), s.count, Kind.COUNT),
        (_l("Mean service (min)"), s.mean, Kind.MINUTES),
        (_l("Ratings"), len(stars), Kind.COUNT),
        (_l("Mean rating (stars)"), summarize(stars).mean, Kind.STARS),
        (_l("Score: share of 5 stars minus share of 1–3 stars"), net_score(stars), Kind.SCORE),
        (_l("Estimate: mean absolute error (min)"), mae, Kind.MINUTES),
        (_l("Estimate: bias (min)"), bias, Kind.SIGNED),
        (_l("Estimate: inside the promised range"), inside, Kind.SHARE),
        (_l("Estimate: tickets with a promise, called"), count, Kind.COUNT),
        (_l("Estimate: tickets given no estimate"), unpromised, Kind.COUNT),
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
