"""The booking part of the JSON API: slots, book, manage, and check-in at a kiosk."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask_babel import gettext as _

from backend.api import bp, route
from backend.api.openapi import Param, _checked, check_response
from backend.bookings import commands as bookings
from backend.bookings.queries import busy_advice, hours_text, usual_busy
from backend.bookings.schemas import (
    BookIn,
    BookingOut,
    CheckInIn,
    CodeCheckInIn,
    MoveIn,
    PhoneBookingsOut,
    SlotsOut,
)
from backend.bookings.serializers import booking_public
from backend.core.clock import now
from backend.core.errors import BadInput
from backend.core.i18n import current_lang
from backend.core.privacy import mask_name
from backend.extensions import limiter
from backend.kiosks.operations import kiosk_token, refuse_revoked, request_kiosk
from backend.models import User, hash_token
from backend.policy import AppointmentStatus
from backend.policy.slots import bookable_days, is_open
from backend.queue.api import _is_staff_request, _ticket_json
from backend.queue.schemas import EmptyIn, TicketOut
from backend.staff.auth import staff_user
from backend.stores.operations import find_store

BOOKING_RATE = "20 per hour"
# Wrong codes slow a kiosk down for at most a minute: enough to make guessing slow, short enough
# that someone typing wrong codes cannot lock the next customer out (each answer says how long).
WRONG_CODE_RATE = "5 per minute"


@route(
    bp,
    "/stores/<store>/booking",
    "GET",
    summary="What can be booked, and when it is quiet",
    tag="booking",
)
def booking_info(store: str) -> Any:
    found = find_store(store)
    moment = now()
    lang = current_lang()
    services = [s for s in found.services if s.active and s.bookable]
    days_rules = bookings.rules_for(found, services[0]) if services else None
    levels = usual_busy(found, moment)
    return {
        "store": {
            "code": found.code,
            "name": found.name(lang),
            "address": found.address(lang),
            "hours_text": hours_text(found),
        },
        "services": [
            {
                "code": s.code,
                "name": s.name(lang),
                "description": s.description(lang),
                "icon": s.icon,
                "slot_minutes": s.slot_minutes,
            }
            for s in services
        ],
        "days": [
            {"date": d.isoformat(), "weekday": d.weekday(), "open": is_open(rules, d)}
            for rules in ([days_rules] if days_rules else [])
            for d in bookable_days(rules, moment)
        ],
        "phone_pattern": found.phone_pattern,
        "consent_text": _(
            "Your name and mobile number are used only to manage this booking and are deleted "
            "%(days)s days after your visit.",
            days=found.retention_days,
        ),
        "busy": {
            "hours": [{"hour": h, "level": lvl} for h, lvl in (levels or {}).items()],
            "advice": busy_advice(levels),
        },
    }


@route(
    bp,
    "/stores/<store>/slots",
    "GET",
    summary="Free slots of a service on a day",
    tag="booking",
    response=SlotsOut,
    parameters=(
        Param("service", "query", "Code of a bookable service.", required=True),
        Param("date", "query", "The day, in the store's time zone.", required=True, format="date"),
    ),
)
def slots(store: str) -> Any:
    found = find_store(store)
    service = bookings.bookable_service(found, request.args.get("service", ""))
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        raise BadInput(_("Please choose a day."), error_code="bad_date") from None
    rules = bookings.rules_for(found, service)
    free = bookings.free_slots(found, service, day, now())
    return {
        "date": day.isoformat(),
        "service": service.code,
        "closed": not is_open(rules, day),
        "slots": [bookings.slot_json(s, found) for s in free],
    }


def _booking_json(appointment: Any) -> dict[str, Any]:
    return booking_public(appointment, current_lang())


@route(
    bp,
    "/stores/<store>/appointments",
    "POST",
    summary="Book a slot (no account needed)",
    tag="booking",
    body=BookIn,
    response=BookingOut,
    status=201,
)
@limiter.limit(BOOKING_RATE, methods=["POST"])
def book(store: str, body: BookIn) -> Any:
    start = (
        body.start
        if body.start.tzinfo
        else body.start.replace(tzinfo=ZoneInfo(find_store(store).timezone))
    )
    appointment = bookings.book(store, body.service, start, body.name, body.phone, body.consent)
    return jsonify(_booking_json(appointment)), 201


@route(
    bp,
    "/bookings/<token>",
    "GET",
    summary="A booking, for the holder of its link",
    tag="booking",
    response=BookingOut,
)
def booking(token: str) -> Any:
    return _booking_json(bookings.find_booking(token))


@route(
    bp,
    "/bookings/<token>/cancel",
    "POST",
    summary="Cancel a booking",
    tag="booking",
    body=EmptyIn,
    response=BookingOut,
)
def cancel_booking(token: str, body: EmptyIn) -> Any:
    return _booking_json(bookings.cancel_booking(token))


@route(
    bp,
    "/bookings/<token>/move",
    "POST",
    summary="Move a booking to another slot",
    tag="booking",
    body=MoveIn,
    response=BookingOut,
)
def move_booking(token: str, body: MoveIn) -> Any:
    return _booking_json(bookings.move_booking(token, body.start, body.service))


def _kiosk_key() -> str:
    token = kiosk_token(request) or ""
    return "kiosk:" + hash_token(token) if token else "ip:" + (request.remote_addr or "")


def _check_in_staff() -> User | None:
    """A clerk at the greeter's tablet checks a customer in with the staff session (with CSRF)
    or an API token; a kiosk needs neither."""
    if request_kiosk(request) is not None or not _is_staff_request():
        return None
    return staff_user()


def _phone_bookings(found: bookings.PhoneBookings) -> dict[str, Any]:
    """Today's bookings of a number as the kiosk lists them: nothing personal but the masks."""
    zone = ZoneInfo(found.store.timezone)
    lang = current_lang()
    return {
        "bookings": [
            {
                "choice": bookings.choice_id(a),
                "time": a.slot_start.astimezone(zone).strftime("%H:%M"),
                "service": a.service.code,
                "service_name": a.service.name(lang),
                "service_name_zh": a.service.name("zh"),
                "service_name_en": a.service.name("en"),
                "name_masked": mask_name(a.name),
                "checked_in": a.status == AppointmentStatus.CHECKED_IN,
            }
            for a in found.appointments
        ]
    }


@route(
    bp,
    "/stores/<store>/check-in",
    "POST",
    summary="Check in for an appointment at a kiosk: a ticket in the appointment lane. By code, "
    "or by mobile number: without `booking` the answer (200) lists today's bookings of the "
    "number, masked, each with its `choice`; with `booking` that one is checked in (201, or 200 "
    "with the same ticket when it already was). Too early: 409 `too_early` with `options`; "
    "send one back as `early`.",
    tag="booking",
    body=CheckInIn,
    status=201,
)
@limiter.limit(
    WRONG_CODE_RATE,
    key_func=_kiosk_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 404,
)
def check_in(store: str, body: CheckInIn) -> Any:
    kiosk = request_kiosk(request)
    if kiosk is None:
        refuse_revoked(request)
    staff = _check_in_staff()
    given = body.root
    early = bookings.Early(given.early) if given.early else None
    if isinstance(given, CodeCheckInIn):
        ticket = bookings.check_in(store, given.code, kiosk, early, staff)
        return _ticket_answer(ticket, 201)
    found = bookings.check_in_by_phone(store, given.phone, given.booking, kiosk, early, staff)
    if isinstance(found, bookings.PhoneBookings):
        answer = _phone_bookings(found)
        if _checked():
            check_response(PhoneBookingsOut, answer)
        return jsonify(answer), 200
    return _ticket_answer(found.ticket, 201 if found.created else 200)


def _ticket_answer(ticket: Any, status: int) -> Any:
    answer = _ticket_json(ticket, with_token=True)
    if _checked():
        check_response(TicketOut, answer)
    return jsonify(answer), status
