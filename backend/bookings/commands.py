"""Appointment commands of the engine: book, move, cancel, check in, and the no-show sweep.

Like every engine command, each runs as one write transaction that locks the store (see
backend.queue.commands.command), so the last free slot cannot be booked twice: the second booking
re-counts the slot after the first has committed and is told it was just taken.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter as Tally
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backend.cases.commands import erase_old_contacts
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.core.i18n import current_lang
from backend.core.text import normalise_phone, visible_text
from backend.extensions import db
from backend.messaging import commands as outbox
from backend.models import Appointment, Kiosk, Service, Store, Ticket
from backend.policy import AppointmentStatus, Channel, Lane, service_day
from backend.policy.slots import (
    CODE_ALPHABET,
    CODE_LENGTH,
    BookingRules,
    Interval,
    Slot,
    busy_levels,
    day_slots,
    local_today,
    normalise_code,
)
from backend.queue import commands as engine
from backend.stores.settings import hall_hours

ACTIVE = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)
BUSY_HISTORY_DAYS = 28


def rules_for(store: Store, service: Service) -> BookingRules:
    hall = hall_hours(store)
    return BookingRules(
        timezone=hall.timezone,
        hours=hall.hours,
        closed=hall.closed,
        special=hall.special,
        slot_minutes=service.slot_minutes,
        capacity=service.slot_capacity,
        lead=timedelta(minutes=store.booking_lead_minutes),
        horizon_days=store.booking_horizon_days,
    )


def bookable_service(store: Store, code: str) -> Service:
    service = db.session.scalar(
        select(Service).where(Service.store_id == store.id, Service.code == code)
    )
    if service is None or not service.active or not service.bookable:
        raise BadInput(
            _l("This service cannot be booked: %(code)s.", code=code), error_code="unknown_service"
        )
    return service


def booked_intervals(
    store: Store, service: Service, day: date, exclude: Collection[int] = ()
) -> list[Interval]:
    """The service's active bookings on the day (its capacity is its own, per slot)."""
    rows = db.session.execute(
        select(Appointment.id, Appointment.slot_start, Appointment.slot_end).where(
            Appointment.store_id == store.id,
            Appointment.service_id == service.id,
            Appointment.day == day,
            Appointment.status.in_(ACTIVE),
        )
    ).all()
    return [Interval(start, end) for ident, start, end in rows if ident not in exclude]


def free_slots(
    store: Store, service: Service, day: date, moment: datetime, exclude: int | None = None
) -> list[Slot]:
    booked = booked_intervals(store, service, day, () if exclude is None else (exclude,))
    return day_slots(rules_for(store, service), day, booked, moment)


def busy_profile(store: Store, moment: datetime) -> dict[int, str] | None:
    """How busy each hour usually is, from the tickets of the last four weeks (not today)."""
    today = service_day(moment, store.timezone)
    since = today - timedelta(days=BUSY_HISTORY_DAYS)
    issued = db.session.scalars(
        select(Ticket.issued_at).where(
            Ticket.store_id == store.id, Ticket.service_day >= since, Ticket.service_day < today
        )
    ).all()
    zone = ZoneInfo(store.timezone)
    per_hour = Tally(moment.astimezone(zone).hour for moment in issued)
    days = max(1, len({t.astimezone(zone).date() for t in issued}))
    return busy_levels({h: n / days for h, n in per_hour.items()}, len(issued))


# --- validation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str


def check_customer(store: Store, name: str, phone: str, consent: bool) -> Customer:
    # Normalised before any check or comparison: a full-width number is the same phone as its
    # half-width twin (one booking per phone), and a name of zero-width spaces is no name.
    name = visible_text(name)
    phone = normalise_phone(phone)
    if not consent:
        raise BadInput(
            _l("Please agree to the use of your name and number for this booking."),
            error_code="consent_required",
        )
    if not name:
        raise BadInput(_l("Please enter your name."), error_code="bad_name")
    if not re.fullmatch(store.phone_pattern, phone):
        raise BadInput(_l("Please enter a valid mobile number."), error_code="bad_phone")
    return Customer(name, phone)


def _check_slot(
    store: Store, service: Service, start: datetime, moment: datetime, exclude: int | None = None
) -> tuple[date, datetime]:
    rules = rules_for(store, service)
    day = start.astimezone(ZoneInfo(store.timezone)).date()
    if (
        day < local_today(moment, store.timezone)
        or (day - local_today(moment, store.timezone)).days >= rules.horizon_days
    ):
        raise BadInput(_l("This day cannot be booked."), error_code="outside_horizon")
    if start < moment + rules.lead:
        raise BadInput(
            _l("This time is too soon to book. Please choose a later time."),
            error_code="too_soon",
        )
    slots = free_slots(store, service, day, moment, exclude)
    slot = next((s for s in slots if s.start == start), None)
    if slot is None:
        raise BadInput(_l("There is no such time to book."), error_code="no_such_slot")
    if slot.free <= 0:
        raise Conflict(
            _l("This time was just taken. Please pick another."),
            error_code="slot_taken",
            slots=[slot_json(s, store) for s in slots if s.free > 0],
        )
    return day, slot.end


def slot_json(slot: Slot, store: Store) -> dict[str, object]:
    zone = ZoneInfo(store.timezone)
    return {
        "start": slot.start.isoformat().replace("+00:00", "Z"),
        "end": slot.end.isoformat().replace("+00:00", "Z"),
        "time": slot.start.astimezone(zone).strftime("%H:%M"),
        "free": slot.free,
    }


def _new_code(store: Store) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        taken = db.session.scalar(
            select(Appointment.id).where(
                Appointment.store_id == store.id,
                Appointment.code == code,
                Appointment.status.in_(ACTIVE),
            )
        )
        if taken is None:
            return code


# --- commands ------------------------------------------------------------------------------------


def book(
    store_code: str, service_code: str, start: datetime, name: str, phone: str, consent: bool
) -> Appointment:
    with engine.command(code=store_code) as cmd:
        appointment = new_booking(cmd, service_code, start, name, phone, consent)
        outbox.schedule_booking_messages(appointment, cmd.now, current_lang())
        return appointment


def new_booking(
    cmd: engine.Command, service_code: str, start: datetime, name: str, phone: str, consent: bool
) -> Appointment:
    """The booking rules inside a running command (the phone's page and the staff's page)."""
    store = cmd.store
    service = bookable_service(store, service_code)
    customer = check_customer(store, name, phone, consent)
    day, end = _check_slot(store, service, start, cmd.now)
    same_day = db.session.scalar(
        select(func.count()).where(
            Appointment.store_id == store.id,
            Appointment.day == day,
            Appointment.phone == customer.phone,
            Appointment.status.in_(ACTIVE),
        )
    )
    if (same_day or 0) >= store.bookings_per_phone_per_day:
        raise Conflict(
            _l("This number already has a booking on that day."), error_code="already_booked"
        )
    appointment = Appointment(
        store_id=store.id,
        service_id=service.id,
        day=day,
        slot_start=start,
        slot_end=end,
        name=customer.name,
        phone=customer.phone,
        code=_new_code(store),
        created_at=cmd.now,
    )
    db.session.add(appointment)
    db.session.flush()
    return appointment


def find_booking(token: str) -> Appointment:
    found = db.session.scalar(select(Appointment).where(Appointment.manage_token == token))
    if found is None or found.erased:
        raise NotFound(_l("This booking link is not valid or has expired."))
    return found


def _open_booking(appointment: Appointment) -> None:
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(_l("This booking can no longer be changed."), status=str(appointment.status))


def cancel_booking(token: str) -> Appointment:
    store_id = find_booking(token).store_id
    with engine.command(store_id=store_id) as cmd:
        appointment = find_booking(token)
        _open_booking(appointment)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.closed_at = cmd.now
        forget_store_action(appointment)
        outbox.cancel_booking_messages(appointment)
    return appointment


def forget_store_action(appointment: Appointment) -> None:
    """The customer changed the booking themselves: the store's notice no longer applies."""
    appointment.store_action = None
    appointment.store_message_zh = appointment.store_message_en = ""
    appointment.moved_from = None


def move_booking(token: str, start: datetime, service_code: str | None = None) -> Appointment:
    store_id = find_booking(token).store_id
    with engine.command(store_id=store_id) as cmd:
        appointment = find_booking(token)
        _open_booking(appointment)
        service = bookable_service(cmd.store, service_code) if service_code else appointment.service
        day, end = _check_slot(cmd.store, service, start, cmd.now, exclude=appointment.id)
        appointment.service_id = service.id
        appointment.day = day
        appointment.slot_start = start
        appointment.slot_end = end
        forget_store_action(appointment)
        outbox.reschedule_reminder(appointment, cmd.now, current_lang())
    return appointment


def check_in(store_code: str, raw_code: str, kiosk: Kiosk | None) -> Ticket:
    """The customer types (or scans) the code at a kiosk: a ticket in the appointment lane."""
    code = normalise_code(raw_code)
    with engine.command(code=store_code) as cmd:
        store = cmd.store
        if kiosk is None or kiosk.store_id != store.id:
            raise Forbidden(engine.KIOSK_ORIGIN_REQUIRED, error_code="kiosk_not_registered")
        appointment = _find_by_code(store, code, cmd.now)
        _check_window(store, appointment, cmd.now)
        ticket = _appointment_ticket(cmd, appointment)
        appointment.status = AppointmentStatus.CHECKED_IN
        appointment.checked_in_at = cmd.now
        appointment.ticket = ticket
    return ticket


def _find_by_code(store: Store, code: str, moment: datetime) -> Appointment:
    """Today's booking with this code; a booking for another day is named, not a wrong code."""
    found = db.session.scalars(
        select(Appointment)
        .where(Appointment.store_id == store.id, Appointment.code == code)
        .order_by(Appointment.slot_start)
    ).all()
    today = service_day(moment, store.timezone)
    for appointment in found:
        if appointment.day == today:
            return appointment
    upcoming = [a for a in found if a.day > today and a.status == AppointmentStatus.BOOKED]
    if upcoming:
        day = upcoming[0].day
        raise Conflict(
            _l("Your booking is for %(date)s. Please check in on that day.", date=day.isoformat()),
            error_code="other_day",
            date=day.isoformat(),
        )
    raise NotFound(
        _l("We could not find a booking for today with this code. Please check it."),
        error_code="unknown_code",
    )


def _check_window(store: Store, appointment: Appointment, moment: datetime) -> None:
    if appointment.status == AppointmentStatus.CHECKED_IN and appointment.ticket is not None:
        raise Conflict(
            _l("You have already checked in: number %(label)s.", label=appointment.ticket.label),
            error_code="already_checked_in",
            status_url=f"/t/{appointment.ticket.token}",
        )
    if appointment.status != AppointmentStatus.BOOKED:
        raise Conflict(_l("This booking was cancelled or has expired."), error_code="cancelled")
    opens = appointment.slot_start - timedelta(minutes=store.checkin_early_minutes)
    closes = appointment.slot_start + timedelta(minutes=store.checkin_late_minutes)
    zone = ZoneInfo(store.timezone)
    if moment < opens:
        at = opens.astimezone(zone).strftime("%H:%M")
        raise Conflict(
            _l("You are early. Please come back to check in from %(time)s.", time=at),
            error_code="too_early",
            come_back_at=opens.isoformat().replace("+00:00", "Z"),
            time=at,
        )
    if moment > closes:
        raise Conflict(
            _l("The check-in time for this booking has passed. You can take a normal number."),
            error_code="too_late",
            service=appointment.service.code,
        )


def _appointment_ticket(cmd: engine.Command, appointment: Appointment) -> Ticket:
    ticket = engine.queue_ticket(
        cmd,
        cmd.config.service_by_id(appointment.service_id),
        Lane.APPOINTMENT,
        cmd.store.appointment_prefix,
        Channel.APPOINTMENT,
        due_at=appointment.slot_start,
    )
    outbox.carry_subscriptions(cmd.store.id, appointment.id, ticket, cmd.now)
    return ticket


def sweep(store_id: int) -> int:
    """No-show every booking whose check-in window has closed; erase personal data past the
    store's retention. Run by the app's own periodic job (and callable from tests)."""
    with engine.command(store_id=store_id) as cmd:
        store = cmd.store
        late = cmd.now - timedelta(minutes=store.checkin_late_minutes)
        missed = db.session.scalars(
            select(Appointment).where(
                Appointment.store_id == store.id,
                Appointment.status == AppointmentStatus.BOOKED,
                Appointment.slot_start < late,
            )
        ).all()
        for appointment in missed:
            appointment.status = AppointmentStatus.NO_SHOW
            appointment.closed_at = cmd.now
        retention_start = cmd.now - timedelta(days=store.retention_days)
        for old in db.session.scalars(
            select(Appointment).where(
                Appointment.store_id == store.id,
                Appointment.erased.is_(False),
                Appointment.slot_end < retention_start,
            )
        ):
            old.name = ""
            old.phone = ""
            old.erased = True
        erase_old_contacts(store, cmd.now)
        outbox.erase_old_contacts(store.id, store.retention_days, cmd.now)
    return len(missed)


def sweep_all() -> int:
    store_ids = list(db.session.scalars(select(Store.id)))
    db.session.rollback()  # end the read before the sweeps' write transactions
    return sum(sweep(store_id) for store_id in store_ids)


# The staff's page (backend.bookings.staff) checks in, books and moves by the same rules.
check_window = _check_window
check_slot = _check_slot
appointment_ticket = _appointment_ticket
