"""The booking as its holder sees it (through the private manage link)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import url_for

from backend.bookings.models import Appointment
from backend.core.privacy import mask_name, mask_phone
from backend.policy import AppointmentStatus
from backend.queue.serializers import iso


def booking_public(appointment: Appointment, lang: str) -> dict[str, Any]:
    """The booking as its holder sees it (through the private manage link)."""
    store = appointment.store
    zone = ZoneInfo(store.timezone)
    local = appointment.slot_start.astimezone(zone)
    opens = appointment.slot_start - timedelta(minutes=store.checkin_early_minutes)
    closes = appointment.slot_start + timedelta(minutes=store.checkin_late_minutes)
    ticket = appointment.ticket
    open_booking = appointment.status == AppointmentStatus.BOOKED
    moved_from = appointment.moved_from.astimezone(zone) if appointment.moved_from else None
    return {
        "code": appointment.code,
        "status": str(appointment.status),
        "service": appointment.service.code,
        "service_name": appointment.service.name(lang),
        "start": iso(appointment.slot_start),
        "end": iso(appointment.slot_end),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "store": {"code": store.code, "name": store.name(lang), "address": store.address(lang)},
        "name_masked": mask_name(appointment.name),
        "phone_masked": mask_phone(appointment.phone),
        "manage_url": url_for("kiosk.booking_page", token=appointment.manage_token),
        "ics_url": url_for("kiosk.booking_calendar", token=appointment.manage_token),
        "can_cancel": open_booking,
        "can_move": open_booking,
        "checkin_from": iso(opens),
        "checkin_until": iso(closes),
        "checkin_from_time": opens.astimezone(zone).strftime("%H:%M"),
        "checkin_until_time": closes.astimezone(zone).strftime("%H:%M"),
        "ticket": {
            "label": ticket.label,
            "status_url": url_for("kiosk.ticket_status", token=ticket.token),
        }
        if ticket
        else None,
        "by_store": str(appointment.store_action) if appointment.store_action else None,
        "store_message": store_message(appointment, lang),
        "moved_from_date": moved_from.date().isoformat() if moved_from else None,
        "moved_from_time": moved_from.strftime("%H:%M") if moved_from else None,
    }


def store_message(appointment: Appointment, lang: str) -> str:
    """The store's message about its change, in the customer's language (else the other one)."""
    zh, en = appointment.store_message_zh or "", appointment.store_message_en or ""
    return (en or zh) if lang == "en" else (zh or en)
