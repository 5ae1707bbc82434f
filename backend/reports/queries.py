"""The reports' reads: a store's visits, appointments and ratings over a range of service days.

Each is one SQL statement (aggregates over the append-only TicketEvent trail joined to the
tickets), the same on SQLite and PostgreSQL. Days are the store's service days (the date in its
own time zone, kept on every ticket), so a ticket at 23:50 in Shanghai belongs to that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, case, func, literal, select, type_coerce, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from backend.bookings.models import Appointment
from backend.core.sqltime import MinutesBetween
from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy import Action, AppointmentStatus, TicketStatus
from backend.queue.models import Ticket, TicketEvent, VisitPart
from backend.reports.facts import Visit
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store

# A visit's calls and transfers happen on its own service day; the events are read over the
# range's UTC span widened by this much (an after-midnight call of a late ticket still counts).
EVENT_MARGIN = timedelta(days=1)
# The Julian day number of 1970-01-01 00:00 UTC (SQLite's julianday() counts from there).
JULIAN_EPOCH = 2440587.5


class Rating(NamedTuple):
    stars: int
    clerk_id: int | None


class Comment(NamedTuple):
    created_at: datetime
    service_id: int
    stars: int
    comment: str


@dataclass(frozen=True)
class Names:
    services: dict[int, tuple[str, str]]  # id -> (zh, en)
    counters: dict[int, int]  # id -> number
    clerks: dict[int, str]
    outcomes: dict[str, tuple[str, str]]  # a service's own outcome code -> (zh, en)


def utc_span(timezone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC moments of the first day's local midnight and the day after the last's."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    return start, end


class EpochSeconds(FunctionElement[float]):
    """A UTC timestamp as seconds since the epoch."""

    type = Float()
    inherit_cache = True


@compiles(EpochSeconds, "sqlite")
def _epoch_sqlite(element: EpochSeconds, compiler: Any, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({moment}) - {JULIAN_EPOCH}) * 86400.0)"


@compiles(EpochSeconds, "postgresql")
def _epoch_postgresql(element: EpochSeconds, compiler: Any, **kw: Any) -> str:
    (moment,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM {moment})"


def first_calls(store_id: int, timezone: str, first: date, last: date) -> tuple[Any, Any]:
    """The trail where the ticket's row cannot tell: its `called_at` is its first call unless it
    was transferred or rejoined (each clears it), so the events are read for those few only:
    (per ticket: transfers and rejoins; per such ticket: its first call)."""
    start, end = utc_span(timezone, first, last)
    moved = (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            func.sum(case((TicketEvent.action == Action.TRANSFER.value, 1), else_=0)).label(
                "transfers"
            ),
            func.sum(case((TicketEvent.action == Action.REJOIN.value, 1), else_=0)).label(
                "rejoins"
            ),
        )
        .where(
            TicketEvent.store_id == store_id,
            TicketEvent.action.in_([Action.TRANSFER.value, Action.REJOIN.value]),
            TicketEvent.at >= start - EVENT_MARGIN,
            TicketEvent.at < end + EVENT_MARGIN,
        )
        .group_by(TicketEvent.ticket_id)
        .subquery("moved")
    )
    # The first call of the ticket's last part (a visit for several services has one per part).
    first_call = (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            func.min(TicketEvent.at).label("at"),
        )
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            TicketEvent.ticket_id.in_(select(moved.c.ticket_id)),
            TicketEvent.action == Action.CALL.value,
            TicketEvent.at >= func.coalesce(Ticket.part_at, Ticket.issued_at),
        )
        .group_by(TicketEvent.ticket_id)
        .subquery("first_call")
    )
    return moved, first_call


def promises(store_id: int, timezone: str, first: date, last: date) -> Any:
    """Every promise of the range whose ticket was called, as the estimate's accuracy counts it
    (`visits`): the promised minutes, range and the factor it was scaled by, and the minutes
    from the promise to the first call. Promises kept before the scale was recorded are left
    out (their range's scale is not known)."""
    _, first_call = first_calls(store_id, timezone, first, last)
    called = func.coalesce(first_call.c.at, Ticket.called_at)
    tickets = (
        select(
            Ticket.promised_minutes,
            Ticket.promised_low,
            Ticket.promised_high,
            Ticket.promised_scale,
            MinutesBetween(called, Ticket.promised_at),
        )
        .outerjoin(first_call, first_call.c.ticket_id == Ticket.id)
        .where(
            Ticket.store_id == store_id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
            Ticket.promised_scale.is_not(None),
            called.is_not(None),
        )
    )
    parts = select(
        VisitPart.promised_minutes,
        VisitPart.promised_low,
        VisitPart.promised_high,
        VisitPart.promised_scale,
        MinutesBetween(VisitPart.called_at, VisitPart.promised_at),
    ).where(
        VisitPart.store_id == store_id,
        VisitPart.service_day >= first,
        VisitPart.service_day <= last,
        VisitPart.promised_scale.is_not(None),
        VisitPart.called_at.is_not(None),
    )
    return union_all(tickets, parts)


def visits(store: Store, first: date, last: date) -> list[Visit]:
    """Every visit of the range: a ticket's row, and each finished part but the last of a visit
    for several services (each counts for its own service, from when that part began waiting)."""
    moved, first_call = first_calls(store.id, store.timezone, first, last)
    called = func.coalesce(first_call.c.at, Ticket.called_at)
    done = Ticket.status == TicketStatus.DONE.value
    began = func.coalesce(Ticket.part_at, Ticket.issued_at)
    rows = db.session.execute(
        select(
            Ticket.service_id,
            type_coerce(Ticket.lane, String),
            Ticket.counter_id,
            Ticket.clerk_id,
            type_coerce(Ticket.status, String),
            Ticket.outcome,
            EpochSeconds(began),
            MinutesBetween(called, began),
            case((done, MinutesBetween(Ticket.finished_at, Ticket.started_at))),
            func.coalesce(moved.c.transfers, 0),
            func.coalesce(moved.c.rejoins, 0),
            Ticket.promised_minutes,
            Ticket.promised_low,
            Ticket.promised_high,
            MinutesBetween(called, Ticket.promised_at),
            Ticket.plan_step == 0,
            Ticket.service_day,
        )
        .outerjoin(moved, moved.c.ticket_id == Ticket.id)
        .outerjoin(first_call, first_call.c.ticket_id == Ticket.id)
        .where(
            Ticket.store_id == store.id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
        )
    ).all()
    parts = db.session.execute(
        select(
            VisitPart.service_id,
            type_coerce(VisitPart.lane, String),
            VisitPart.counter_id,
            VisitPart.clerk_id,
            literal(TicketStatus.DONE.value),
            VisitPart.outcome,
            EpochSeconds(VisitPart.queued_at),
            MinutesBetween(VisitPart.called_at, VisitPart.queued_at),
            MinutesBetween(VisitPart.finished_at, VisitPart.started_at),
            literal(0),
            literal(0),
            VisitPart.promised_minutes,
            VisitPart.promised_low,
            VisitPart.promised_high,
            MinutesBetween(VisitPart.called_at, VisitPart.promised_at),
            VisitPart.step == 0,
            VisitPart.service_day,
        ).where(
            VisitPart.store_id == store.id,
            VisitPart.service_day >= first,
            VisitPart.service_day <= last,
        )
    ).all()
    return [Visit._make(row) for row in rows] + [Visit._make(row) for row in parts]


class Appointments(NamedTuple):
    """A range's appointments, counted by the database."""

    total: int
    cancelled: int
    due: int  # not cancelled, the slot begun
    showed: int  # due and checked in
    no_show: int  # due and marked as not come
    called: int  # showed and called
    punctual: int  # called no later than `punctual` minutes after the slot began


def appointments(
    store: Store, first: date, last: date, moment: datetime, punctual: int
) -> Appointments:
    _, first_call = first_calls(store.id, store.timezone, first, last)
    called = func.coalesce(first_call.c.at, Ticket.called_at)
    late = MinutesBetween(called, Appointment.slot_start)
    due = (Appointment.status != AppointmentStatus.CANCELLED.value) & (
        Appointment.slot_start <= moment
    )
    showed = due & Appointment.ticket_id.is_not(None)

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    row = db.session.execute(
        select(
            func.count(Appointment.id),
            count(Appointment.status == AppointmentStatus.CANCELLED.value),
            count(due),
            count(showed),
            count(due & (Appointment.status == AppointmentStatus.NO_SHOW.value)),
            count(showed & called.is_not(None)),
            count(showed & called.is_not(None) & (late <= punctual)),
        )
        .outerjoin(Ticket, Ticket.id == Appointment.ticket_id)
        .outerjoin(first_call, first_call.c.ticket_id == Appointment.ticket_id)
        .where(
            Appointment.store_id == store.id,
            Appointment.day >= first,
            Appointment.day <= last,
        )
    ).one()
    return Appointments(*(int(v) for v in row))


def ratings(store: Store, first: date, last: date) -> list[Rating]:
    """The stars of the range's visits and who served them (counted by the database: a year
    has tens of thousands)."""
    rows = db.session.execute(
        select(Feedback.stars, Feedback.clerk_id, func.count())
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(
            Feedback.store_id == store.id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
        )
        .group_by(Feedback.stars, Feedback.clerk_id)
        .order_by(Feedback.stars, Feedback.clerk_id)
    ).all()
    return [r for stars, clerk, n in rows for r in [Rating(stars, clerk)] * n]


def latest_comments(store: Store, first: date, last: date, limit: int) -> list[Comment]:
    """The newest ratings of the range's visits that say something."""
    rows = db.session.execute(
        select(Feedback.created_at, Feedback.service_id, Feedback.stars, Feedback.comment)
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(
            Feedback.store_id == store.id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
            Feedback.comment != "",
        )
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(limit)
    ).all()
    return [Comment(*row) for row in rows]


def names(store: Store, clerk_ids: set[int]) -> Names:
    rows = db.session.execute(
        select(Service.id, Service.name_zh, Service.name_en, Service.outcomes).where(
            Service.store_id == store.id
        )
    ).all()
    services = {row.id: (row.name_zh, row.name_en) for row in rows}
    outcomes = {
        o["code"]: (o.get("name_zh") or o["code"], o.get("name_en") or o["code"])
        for row in rows
        for o in row.outcomes or ()
    }
    counters = {
        row.id: row.number
        for row in db.session.execute(
            select(Counter.id, Counter.number).where(Counter.store_id == store.id)
        )
    }
    clerks = {
        row.id: row.display_name or row.username
        for row in db.session.execute(
            select(User.id, User.display_name, User.username).where(
                (User.store_id == store.id) | User.id.in_(sorted(clerk_ids))
            )
        )
    }
    return Names(services, counters, clerks, outcomes)
