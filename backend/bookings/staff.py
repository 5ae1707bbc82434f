"""Appointments for the store's staff (clerks, the store's managers, admins): the coming days'
bookings by day, service and slot; search by code or the phone's last four digits; and, on a
customer's behalf, check in, book (a caller on the phone), move or cancel with a reason.

Every change is one engine command (one write transaction on the locked store row, the actor
authorised for the store) with an `AuditEntry` beside it. A change names the state the staff saw
(`seen`, the booking's fingerprint): if the booking changed meanwhile (checked in at the kiosk,
cancelled by the customer, a second click) nothing is written and `BookingChanged` carries the
fresh row. A booking made for a caller records the consent as given by phone to the staff member
(in the audit entry: who took it, and that it was by phone); the per-phone limit and every other
booking rule are the phone page's own (backend.bookings.commands.new_booking).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.bookings import commands as bookings
from backend.bookings.briefs import BookingBrief, brief_fields
from backend.bookings.models import Appointment, StoreAction
from backend.core.clock import now
from backend.core.errors import BadInput, Conflict, NotFound
from backend.core.privacy import mask_phone
from backend.extensions import db
from backend.models import Service, Store, Ticket
from backend.policy import AppointmentStatus
from backend.policy.slots import local_today, normalise_code
from backend.queue import commands as engine
from backend.staff.models import User

LIST_DAYS = 14  # the list shows at most this many days (fewer if the horizon is shorter)
MAX_NOTE = 200
MAX_RESULTS = 50


class StaffAction(StrEnum):
    """The audit log's names of the staff's booking changes."""

    CHECKED_IN = "booking_checked_in"
    BOOKED = "booking_made"
    MOVED = "booking_moved"
    CANCELLED = "booking_cancelled"


class Reason(StrEnum):
    CUSTOMER = "customer_request"
    STAFF = "staff_unavailable"
    STORE = "store_problem"
    OTHER = "other"


REASONS = {
    Reason.CUSTOMER: _l("At the customer's request."),
    Reason.STAFF: _l("The staff for this service are not available at that time."),
    Reason.STORE: _l("A problem at the store (system or equipment)."),
    Reason.OTHER: _l("For another reason."),
}


# --- reads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffBooking(BookingBrief):
    day: date
    status: str
    by_store: str | None
    ticket_label: str | None
    seen: str


@dataclass
class SlotGroup:
    start: datetime
    end: datetime
    capacity: int
    bookings: list[StaffBooking] = field(default_factory=list)

    @property
    def active(self) -> int:
        return sum(1 for b in self.bookings if b.status in bookings.ACTIVE)


@dataclass
class ServiceGroup:
    code: str
    name_zh: str
    name_en: str
    slots: list[SlotGroup] = field(default_factory=list)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


@dataclass
class DayGroup:
    day: date
    services: list[ServiceGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(s.active for g in self.services for s in g.slots)


def fingerprint(appointment: Appointment) -> str:
    text = f"{appointment.id},{appointment.status},{appointment.service_id},"
    text += f"{appointment.slot_start.isoformat()},{appointment.ticket_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe(appointment: Appointment) -> StaffBooking:
    ticket = appointment.ticket
    return StaffBooking(
        **brief_fields(appointment),
        day=appointment.day,
        status=str(appointment.status),
        by_store=str(appointment.store_action) if appointment.store_action else None,
        ticket_label=ticket.label if ticket is not None else None,
        seen=fingerprint(appointment),
    )


def list_days(store: Store) -> int:
    return max(1, min(LIST_DAYS, store.booking_horizon_days))


def coming(store: Store) -> list[DayGroup]:
    """Today's and the coming days' bookings (every status), by day, service and slot."""
    today = local_today(now(), store.timezone)
    last = today + timedelta(days=list_days(store) - 1)
    rows = db.session.scalars(
        select(Appointment)
        .join(Service, Service.id == Appointment.service_id)
        .where(
            Appointment.store_id == store.id,
            Appointment.day >= today,
            Appointment.day <= last,
            Appointment.erased.is_(False),
        )
        .order_by(Appointment.day, Service.sort_order, Service.code, Appointment.slot_start)
        .order_by(Appointment.id)
    ).all()
    days: dict[date, DayGroup] = {}
    for row in rows:
        group = days.setdefault(row.day, DayGroup(row.day))
        if not group.services or group.services[-1].code != row.service.code:
            group.services.append(
                ServiceGroup(row.service.code, row.service.name_zh, row.service.name_en)
            )
        service = group.services[-1]
        if not service.slots or service.slots[-1].start != row.slot_start:
            service.slots.append(SlotGroup(row.slot_start, row.slot_end, row.service.slot_capacity))
        service.slots[-1].bookings.append(describe(row))
    return list(days.values())


def search(store: Store, query: str) -> list[StaffBooking]:
    """Bookings from today on by check-in code, or by the phone's last four digits."""
    text = normalise_code(query or "")
    if not text or len(text) > 16:
        raise BadInput(
            _l("Enter a check-in code or the last 4 digits of the phone."), error_code="bad_query"
        )
    today = local_today(now(), store.timezone)
    found = select(Appointment).where(
        Appointment.store_id == store.id, Appointment.day >= today, Appointment.erased.is_(False)
    )
    if len(text) == 4 and text.isdigit():
        found = found.where(Appointment.phone.endswith(text, autoescape=True))
    else:
        found = found.where(Appointment.code == text)
    rows = db.session.scalars(
        found.order_by(Appointment.slot_start, Appointment.id).limit(MAX_RESULTS)
    ).all()
    return [describe(row) for row in rows]


def staff_booking(store: Store, booking_id: int) -> Appointment:
    found = db.session.get(Appointment, booking_id) if 0 < booking_id < 2**62 else None
    if found is None or found.store_id != store.id or found.erased:
        raise NotFound(_l("There is no such booking in this store."), error_code="unknown_booking")
    return found


def move_choices(store: Store, appointment: Appointment) -> list[tuple[date, list[datetime]]]:
    """The free slots of the booking's service over the list's days (its own slot left out)."""
    moment = now()
    today = local_today(moment, store.timezone)
    choices = []
    for offset in range(list_days(store)):
        day = today + timedelta(days=offset)
        slots = bookings.free_slots(store, appointment.service, day, moment, appointment.id)
        starts = [
            s.start
            for s in slots
            if s.free > 0 and s.start != appointment.slot_start and s.start >= moment
        ]
        if starts:
            choices.append((day, starts))
    return choices


# --- changes -------------------------------------------------------------------------------------


class BookingChanged(Conflict):
    """The booking is no longer as the staff saw it: nothing was done. `booking`: its state now."""

    def __init__(self, booking: StaffBooking) -> None:
        super().__init__(
            _l("This booking changed meanwhile. Nothing was done: here it is now."),
            error_code="booking_changed",
            status=booking.status,
        )
        self.booking = booking


def _current(cmd: engine.Command, booking_id: int, seen: str) -> Appointment:
    appointment = staff_booking(cmd.store, booking_id)
    if fingerprint(appointment) != seen:
        raise BookingChanged(describe(appointment))
    return appointment


def _open(appointment: Appointment) -> None:
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(
            _l("This booking can no longer be changed."),
            error_code="not_open",
            status=str(appointment.status),
        )


def _audit(
    cmd: engine.Command,
    actor: User,
    action: StaffAction,
    appointment: Appointment,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    db.session.add(
        AuditEntry(
            store_id=cmd.store.id,
            at=cmd.now,
            actor_id=actor.id,
            actor_name=actor.display_name or actor.username,
            action=action.value,
            target=appointment.code,
            before=before,
            after=after,
        )
    )


def _when(store: Store, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(store.timezone)).strftime("%Y-%m-%d %H:%M")


def check_in_for(store_code: str, actor: User, booking_id: int, seen: str) -> Ticket:
    """Check the customer in at the desk: the kiosk's rules (today, the check-in window) and its
    ticket in the appointment lane, queued as usual."""
    with engine.command(code=store_code, actor=actor) as cmd:
        appointment = _current(cmd, booking_id, seen)
        bookings.check_window(cmd.store, appointment, cmd.now)
        if appointment.day != cmd.day:
            raise Conflict(
                _l("This booking is for %(date)s.", date=appointment.day.isoformat()),
                error_code="other_day",
            )
        ticket = bookings.appointment_ticket(cmd, appointment)
        appointment.status = AppointmentStatus.CHECKED_IN
        appointment.checked_in_at = cmd.now
        appointment.ticket = ticket
        db.session.flush()
        _audit(
            cmd,
            actor,
            StaffAction.CHECKED_IN,
            appointment,
            {"status": "booked"},
            {"status": "checked_in", "ticket": ticket.label},
        )
    return ticket


def book_for(
    store_code: str, actor: User, service_code: str, start: datetime, name: str, phone: str
) -> Appointment:
    """Book for a caller: the staff member confirms the caller agreed by phone (the form's
    required box); that consent is recorded in the audit entry as given by phone to them."""
    with engine.command(code=store_code, actor=actor) as cmd:
        appointment = bookings.new_booking(cmd, service_code, start, name, phone, True)
        _audit(
            cmd,
            actor,
            StaffAction.BOOKED,
            appointment,
            None,
            {
                "service": service_code,
                "slot": _when(cmd.store, start),
                "phone": mask_phone(appointment.phone),
                "consent": "by phone to staff",
            },
        )
    return appointment


def _message(reason: Reason, note: str, lang: str) -> str:
    with force_locale(lang):
        text = str(REASONS[reason])
    return (f"{text} {note}" if note else text)[:500]


def _tell(appointment: Appointment, action: StoreAction, reason: Reason, note: str) -> None:
    appointment.store_action = action
    appointment.store_message_zh = _message(reason, note, "zh")
    appointment.store_message_en = _message(reason, note, "en")


def move_for(
    store_code: str,
    actor: User,
    booking_id: int,
    seen: str,
    start: datetime,
    reason: Reason,
    note: str = "",
) -> Appointment:
    """Move the booking to another free slot of its service; the customer's page says so."""
    with engine.command(code=store_code, actor=actor) as cmd:
        appointment = _current(cmd, booking_id, seen)
        _open(appointment)
        was = appointment.slot_start
        day, end = bookings.check_slot(
            cmd.store, appointment.service, start, cmd.now, exclude=appointment.id
        )
        appointment.moved_from = was
        appointment.day = day
        appointment.slot_start, appointment.slot_end = start, end
        _tell(appointment, StoreAction.MOVED, reason, note)
        _audit(
            cmd,
            actor,
            StaffAction.MOVED,
            appointment,
            {"slot": _when(cmd.store, was)},
            {"slot": _when(cmd.store, start), "reason": reason.value} | _noted(note),
        )
    return appointment


def cancel_for(
    store_code: str, actor: User, booking_id: int, seen: str, reason: Reason, note: str = ""
) -> Appointment:
    with engine.command(code=store_code, actor=actor) as cmd:
        appointment = _current(cmd, booking_id, seen)
        _open(appointment)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.closed_at = cmd.now
        appointment.moved_from = None
        _tell(appointment, StoreAction.CANCELLED, reason, note)
        _audit(
            cmd,
            actor,
            StaffAction.CANCELLED,
            appointment,
            {"status": "booked", "slot": _when(cmd.store, appointment.slot_start)},
            {"status": "cancelled", "reason": reason.value} | _noted(note),
        )
    return appointment


def _noted(note: str) -> dict[str, str]:
    return {"note": note} if note else {}


def status_words() -> dict[str, str]:
    return {
        "booked": _("Awaiting check-in"),
        "checked_in": _("Checked in"),
        "done": _("Done"),
        "no_show": _("No-show"),
        "cancelled": _("Cancelled"),
    }


__all__: Sequence[str] = (
    "REASONS",
    "BookingChanged",
    "Reason",
    "book_for",
    "cancel_for",
    "check_in_for",
    "coming",
    "move_choices",
    "move_for",
    "search",
    "staff_booking",
)


def bookable_services(store: Store) -> list[Service]:
    return [s for s in store.services if s.active and s.bookable]


@dataclass(frozen=True)
class BookingView:
    booking: StaffBooking
    choices: list[tuple[date, list[datetime]]]


def booking_view(store: Store, booking_id: int) -> BookingView:
    """One booking for its page, with the free slots it may move to (none once it is closed)."""
    found = staff_booking(store, booking_id)
    open_ = found.status == AppointmentStatus.BOOKED
    return BookingView(describe(found), move_choices(store, found) if open_ else [])
