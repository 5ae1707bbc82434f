"""Appointment commands of the engine: book, move, cancel, check in, and the no-show sweep.

Like every engine command, each runs as one write transaction that locks the store (see
backend.queue.commands.command), so the last free slot cannot be booked twice: the second booking
re-counts the slot after the first has committed and is told it was just taken.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import Counter as Tally
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backend.cases.commands import erase_old_contacts
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.core.i18n import current_lang
from backend.core.text import has_nul, normalise_phone, visible_text
from backend.extensions import db
from backend.messaging import commands as outbox
from backend.models import Appointment, Kiosk, Service, Store, Ticket, User
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


class Early(StrEnum):
    """What a customer who came before the check-in window chose at the kiosk."""

    WAIT = "wait"  # take their place now: an appointment ticket called at the slot time
    WALK_IN = "walk_in"  # an ordinary ticket of the booking's service now; the booking is used


@dataclass(frozen=True)
class CheckIn:
    """A check-in's outcome: the ticket, and whether this request made it (a second tap on the
    same booking gets the ticket it already has)."""

    ticket: Ticket
    created: bool


def _check_origin(store: Store, kiosk: Kiosk | None, staff: User | None) -> None:
    if staff is not None:
        if not staff.can_act_in(store):
            raise Forbidden(_l("Your account does not belong to this store."))
        return
    if kiosk is None or kiosk.store_id != store.id:
        raise Forbidden(engine.KIOSK_ORIGIN_REQUIRED, error_code="kiosk_not_registered")


def check_in(
    store_code: str,
    raw_code: str,
    kiosk: Kiosk | None,
    early: Early | None = None,
    staff: User | None = None,
) -> Ticket:
    """The customer types (or scans) the code at a kiosk: a ticket in the appointment lane."""
    code = normalise_code(raw_code)
    with engine.command(code=store_code) as cmd:
        store = cmd.store
        _check_origin(store, kiosk, staff)
        appointment = _find_by_code(store, code, cmd.now)
        ticket = _admit(cmd, appointment, early)
    return ticket


def _admit(cmd: engine.Command, appointment: Appointment, early: Early | None) -> Ticket:
    """The check-in window's rules, then the ticket: in the appointment lane (an early arrival's
    waits for its slot), or with `walk_in`, an ordinary one of the booking's service."""
    is_early = _check_window(cmd.store, appointment, cmd.now, early)
    if is_early and early is Early.WALK_IN:
        service = cmd.config.service_by_id(appointment.service_id)
        # An ordinary number of the business booked; the booking is used by it (the customer
        # is served now, so the slot later is not theirs twice, nor are they a no-show for it).
        ticket = engine.queue_ticket(
            cmd, service, service.lane, service.prefix, Channel.APPOINTMENT
        )
    else:
        ticket = _appointment_ticket(cmd, appointment, waits_for_slot=is_early)
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.checked_in_at = cmd.now
    appointment.ticket = ticket
    return ticket


# --- check-in by mobile number -------------------------------------------------------------------

CHOICE_LENGTH = 20


def choice_id(appointment: Appointment) -> str:
    """The opaque id of a booking in the kiosk's list: neither its code nor its manage token,
    meaningful only with the phone number it was listed for (an HMAC with the app's secret)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    message = f"choice:{appointment.id}:{appointment.phone}:{appointment.day}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:CHOICE_LENGTH]


def check_phone(store: Store, raw: str) -> str:
    if has_nul(raw):
        raise BadInput(_l("Please enter a valid mobile number."), error_code="bad_phone")
    phone = normalise_phone(raw)
    if not re.fullmatch(store.phone_pattern, phone):
        raise BadInput(_l("Please enter a valid mobile number."), error_code="bad_phone")
    return phone


@dataclass(frozen=True)
class PhoneBookings:
    """Today's bookings of a number at the store, for the customer to pick theirs."""

    store: Store
    appointments: list[Appointment]


def check_in_by_phone(
    store_code: str,
    raw_phone: str,
    choice: str | None,
    kiosk: Kiosk | None,
    early: Early | None = None,
    staff: User | None = None,
) -> PhoneBookings | CheckIn:
    """Without a `choice`: today's bookings of the number (masked by the caller). With one: that
    booking checked in by the kiosk's rules; already checked in, the same ticket again."""
    with engine.command(code=store_code) as cmd:
        store = cmd.store
        _check_origin(store, kiosk, staff)
        phone = check_phone(store, raw_phone)
        today = _find_by_phone(store, phone, cmd.now)
        if choice is None:
            return PhoneBookings(store, today)
        chosen = next((a for a in today if hmac.compare_digest(choice_id(a), choice)), None)
        if chosen is None:
            raise NotFound(
                _l("This booking is not in the list any more. Please start again."),
                error_code="unknown_booking",
            )
        if chosen.status == AppointmentStatus.CHECKED_IN and chosen.ticket is not None:
            return CheckIn(chosen.ticket, created=False)
        return CheckIn(_admit(cmd, chosen, early), created=True)


def _find_by_phone(store: Store, phone: str, moment: datetime) -> list[Appointment]:
    """Today's open bookings of the number; bookings on a later day only are named (the first
    one), and a number with none at all is a wrong attempt (404, counted like a wrong code)."""
    found = db.session.scalars(
        select(Appointment)
        .where(
            Appointment.store_id == store.id,
            Appointment.phone == phone,
            Appointment.status.in_(ACTIVE),
            Appointment.erased.is_(False),
        )
        .order_by(Appointment.slot_start, Appointment.id)
    ).all()
    today = service_day(moment, store.timezone)
    todays = [a for a in found if a.day == today]
    if todays:
        return todays
    upcoming = [a for a in found if a.day > today and a.status == AppointmentStatus.BOOKED]
    if upcoming:
        first = upcoming[0]
        local = first.slot_start.astimezone(ZoneInfo(store.timezone))
        when = _day_text(local.date()) + " " + local.strftime("%H:%M")
        raise Conflict(
            _l("Your booking is on %(when)s. Please check in on that day.", when=when),
            error_code="other_day",
            date=first.day.isoformat(),
            time=local.strftime("%H:%M"),
        )
    raise NotFound(
        _l("We could not find a booking for today with this number. Please check it."),
        error_code="unknown_phone",
    )


def _day_text(day: date) -> str:
    """12月3日 / Dec 3 (the kiosk's languages)."""
    if current_lang() == "zh":
        return f"{day.month}月{day.day}日"
    return day.strftime("%b ") + str(day.day)


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


def _check_window(
    store: Store, appointment: Appointment, moment: datetime, early: Early | None = None
) -> bool:
    """Refuses a check-in outside the window; True when the customer is early and chose how
    to go on (`early`), False inside the window."""
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
        if early is not None:
            return True
        at = opens.astimezone(zone).strftime("%H:%M")
        slot = appointment.slot_start.astimezone(zone).strftime("%H:%M")
        raise Conflict(
            _l("You are early. Please come back to check in from %(time)s.", time=at),
            error_code="too_early",
            come_back_at=opens.isoformat().replace("+00:00", "Z"),
            time=at,
            slot_time=slot,
            service=appointment.service.code,
            options=_early_options(slot),
        )
    if moment > closes:
        raise Conflict(
            _l("The check-in time for this booking has passed. You can take a normal number."),
            error_code="too_late",
            service=appointment.service.code,
        )
    return False


def _early_options(slot: str) -> list[dict[str, str]]:
    """The two ways on for an early customer, in plain words (send one back as `early`)."""
    return [
        {
            "early": Early.WAIT.value,
            "title": str(_l("Take your place now: you will be called at your booked time")),
            "detail": str(
                _l(
                    "You get your number now. It is called from %(time)s, not before; you may "
                    "wait nearby.",
                    time=slot,
                )
            ),
        },
        {
            "early": Early.WALK_IN.value,
            "title": str(_l("Take a walk-in ticket now")),
            "detail": str(
                _l(
                    "An ordinary number for the same business, in turn with everyone else. Your "
                    "booking at %(time)s is used by it.",
                    time=slot,
                )
            ),
        },
    ]


def _appointment_ticket(
    cmd: engine.Command, appointment: Appointment, waits_for_slot: bool = False
) -> Ticket:
    ticket = engine.queue_ticket(
        cmd,
        cmd.config.service_by_id(appointment.service_id),
        Lane.APPOINTMENT,
        cmd.store.appointment_prefix,
        Channel.APPOINTMENT,
        due_at=appointment.slot_start,
        waits_for_slot=waits_for_slot,
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
