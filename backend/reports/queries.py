"""The reports' reads: a store's visits, appointments and ratings over a range of service days.

Each is one SQL statement (aggregates over the append-only TicketEvent trail joined to the
tickets), the same on SQLite and PostgreSQL. Days are the store's service days (the date in its
own time zone, kept on every ticket), so a ticket at 23:50 in Shanghai belongs to that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, type_coerce

from backend.bookings.models import Appointment
from backend.core.types import UTCDateTime
from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy import Action, AppointmentStatus, Lane, TicketStatus
from backend.queue.models import Ticket, TicketEvent
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store

# A visit's calls and transfers happen on its own service day; the events are read over the
# range's UTC span widened by this much (an after-midnight call of a late ticket still counts).
EVENT_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Visit:
    """One ticket as the reports need it."""

    id: int
    service_id: int
    lane: Lane
    counter_id: int | None
    clerk_id: int | None
    status: TicketStatus
    outcome: str | None
    issued_at: datetime
    first_call: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    transfers: int
    rejoins: int
    promised_minutes: float | None
    promised_low: int | None
    promised_high: int | None
    promised_at: datetime | None


@dataclass(frozen=True)
class Booking:
    status: AppointmentStatus
    slot_start: datetime
    checked_in: bool
    first_call: datetime | None


@dataclass(frozen=True)
class Rating:
    stars: int
    comment: str
    created_at: datetime
    clerk_id: int | None
    service_id: int


@dataclass(frozen=True)
class Names:
    services: dict[int, tuple[str, str]]  # id -> (zh, en)
    counters: dict[int, int]  # id -> number
    clerks: dict[int, str]


def utc_span(timezone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC moments of the first day's local midnight and the day after the last's."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    return start, end


def _ticket_events(store_id: int, timezone: str, first: date, last: date) -> object:
    """Per ticket: its first call, its transfers and rejoins (one pass over the event index)."""
    start, end = utc_span(timezone, first, last)
    is_call = TicketEvent.action == Action.CALL.value
    return (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            type_coerce(func.min(case((is_call, TicketEvent.at))), UTCDateTime()).label(
                "first_call"
            ),
            func.sum(case((TicketEvent.action == Action.TRANSFER.value, 1), else_=0)).label(
                "transfers"
            ),
            func.sum(case((TicketEvent.action == Action.REJOIN.value, 1), else_=0)).label(
                "rejoins"
            ),
        )
        .where(
            TicketEvent.store_id == store_id,
            TicketEvent.action.in_([Action.CALL.value, Action.TRANSFER.value, Action.REJOIN.value]),
            TicketEvent.at >= start - EVENT_MARGIN,
            TicketEvent.at < end + EVENT_MARGIN,
        )
        .group_by(TicketEvent.ticket_id)
        .subquery("ticket_events")
    )


def visits(store: Store, first: date, last: date) -> list[Visit]:
    events = _ticket_events(store.id, store.timezone, first, last)
    rows = db.session.execute(
        select(
            Ticket.id,
            Ticket.service_id,
            Ticket.lane,
            Ticket.counter_id,
            Ticket.clerk_id,
            Ticket.status,
            Ticket.outcome,
            Ticket.issued_at,
            events.c.first_call,
            Ticket.started_at,
            Ticket.finished_at,
            func.coalesce(events.c.transfers, 0),
            func.coalesce(events.c.rejoins, 0),
            Ticket.promised_minutes,
            Ticket.promised_low,
            Ticket.promised_high,
            Ticket.promised_at,
        )
        .outerjoin(events, events.c.ticket_id == Ticket.id)
        .where(
            Ticket.store_id == store.id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
        )
        .order_by(Ticket.id)
    ).all()
    return [Visit(*row) for row in rows]


def bookings(store: Store, first: date, last: date) -> list[Booking]:
    events = _ticket_events(store.id, store.timezone, first, last)
    rows = db.session.execute(
        select(
            Appointment.status,
            Appointment.slot_start,
            Appointment.ticket_id.is_not(None),
            events.c.first_call,
        )
        .outerjoin(events, events.c.ticket_id == Appointment.ticket_id)
        .where(
            Appointment.store_id == store.id,
            Appointment.day >= first,
            Appointment.day <= last,
        )
    ).all()
    return [Booking(*row) for row in rows]


def ratings(store: Store, first: date, last: date) -> list[Rating]:
    """The ratings of the range's visits, newest first."""
    rows = db.session.execute(
        select(
            Feedback.stars,
            Feedback.comment,
            Feedback.created_at,
            Feedback.clerk_id,
            Feedback.service_id,
        )
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(
            Feedback.store_id == store.id,
            Ticket.service_day >= first,
            Ticket.service_day <= last,
        )
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    ).all()
    return [Rating(*row) for row in rows]


def names(store: Store, clerk_ids: set[int]) -> Names:
    services = {
        row.id: (row.name_zh, row.name_en)
        for row in db.session.execute(
            select(Service.id, Service.name_zh, Service.name_en).where(Service.store_id == store.id)
        )
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
    return Names(services, counters, clerks)
