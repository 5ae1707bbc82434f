"""JSON shapes shared by the API, the pages and the events. Public shapes carry no personal data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import url_for
from flask_babel import lazy_gettext as _l

from backend.core.privacy import mask_name, mask_phone
from backend.models import Appointment, Counter, Service, Ticket
from backend.policy import AppointmentStatus, Lane, Outcome, PauseReason, TicketStatus, can_rejoin
from backend.queue.readmodel import StoreQueue


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def counter_name(number: int, lang: str) -> str:
    return f"Counter {number}" if lang == "en" else f"{number}号窗口"


def ticket_brief(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "label": ticket.label,
        "service": ticket.service.code,
        "lane": str(ticket.lane),
        "status": str(ticket.status),
        "channel": str(ticket.channel),
        "counter": ticket.counter.number if ticket.counter else None,
        "issued_at": iso(ticket.issued_at),
        "called_at": iso(ticket.called_at),
        "recall_count": ticket.recall_count,
    }


CATEGORY_NAMES = {
    "everyday": _l("Everyday business"),
    "account": _l("Plans and broadband"),
    "care": _l("Help and complaints"),
    "vip": _l("VIP customers"),
    "appointment": _l("Appointments"),
}


def rejoin_until(ticket: Ticket) -> Any:
    if ticket.status != TicketStatus.NO_SHOW or ticket.finished_at is None:
        return None
    return ticket.finished_at + timedelta(minutes=ticket.store.rejoin_minutes)


def ticket_public(
    ticket: Ticket, queue: StoreQueue, lang: str, *, with_token: bool = False
) -> dict[str, Any]:
    data = ticket_brief(ticket)
    eta = queue.ticket_eta(ticket)
    store = ticket.store
    rejoinable = ticket.status == TicketStatus.NO_SHOW and can_rejoin(
        ticket.finished_at, ticket.rejoin_count, store.rejoin_minutes, queue.now
    )
    feedback = ticket.feedback
    data |= {
        "service_name": ticket.service.name(lang),
        "service_name_zh": ticket.service.name_zh,
        "service_name_en": ticket.service.name_en,
        "store": store.code,
        "store_name": store.name(lang),
        "position": queue.ticket_position(ticket),
        "eta_minutes": list(eta) if eta else None,
        "serving_counters": queue.serving_counters(Lane(ticket.lane)),
        "can_cancel": ticket.status in (TicketStatus.WAITING, TicketStatus.CALLED),
        "can_rejoin": rejoinable,
        "rejoin_until": iso(rejoin_until(ticket)) if rejoinable else None,
        "rejoin_places": store.rejoin_places,
        "can_rate": ticket.status == TicketStatus.DONE and feedback is None,
        "feedback": {"stars": feedback.stars, "comment": feedback.comment} if feedback else None,
    }
    if with_token:
        data |= {
            "token": ticket.token,
            "status_url": url_for("kiosk.ticket_status", token=ticket.token),
            "print_url": url_for(
                "kiosk.ticket_print", store_code=ticket.store.code, token=ticket.token
            ),
        }
    return data


OUTCOME_NAMES = {
    Outcome.DONE: _l("Done"),
    Outcome.FOLLOW_UP: _l("Needs a follow-up visit"),
    Outcome.COMPLAINT: _l("Turned into a complaint"),
    Outcome.REFERRED: _l("Referred elsewhere"),
}
PAUSE_REASON_NAMES = {
    PauseReason.BREAK: _l("Break"),
    PauseReason.TRAINING: _l("Training"),
    PauseReason.OTHER: _l("Other"),
}


def staff_ticket(ticket: Ticket, queue: StoreQueue, lang: str) -> dict[str, Any]:
    """What the clerk at the counter sees: the public brief plus note and timings."""
    waited = (ticket.called_at or queue.now) - ticket.issued_at
    return ticket_brief(ticket) | {
        "service_name": ticket.service.name(lang),
        "waited_minutes": int(waited.total_seconds() // 60),
        "note": ticket.note,
        "outcome": ticket.outcome,
        "started_at": iso(ticket.started_at),
        "target_counter": ticket.target_counter.number if ticket.target_counter else None,
        "due_at": iso(ticket.due_at),
        "customer": customer_masked(ticket),
    }


def customer_masked(ticket: Ticket) -> dict[str, str] | None:
    """Staff screens see an appointment's customer masked (张*, 138****1234)."""
    appointment = ticket.appointment
    if appointment is None or appointment.erased:
        return None
    return {
        "name_masked": mask_name(appointment.name),
        "phone_masked": mask_phone(appointment.phone),
    }


def booking_public(appointment: Appointment, lang: str) -> dict[str, Any]:
    """The booking as its holder sees it (through the private manage link)."""
    store = appointment.store
    zone = ZoneInfo(store.timezone)
    local = appointment.slot_start.astimezone(zone)
    opens = appointment.slot_start - timedelta(minutes=store.checkin_early_minutes)
    closes = appointment.slot_start + timedelta(minutes=store.checkin_late_minutes)
    ticket = appointment.ticket
    open_booking = appointment.status == AppointmentStatus.BOOKED
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
    }


def counter_detail(
    counter: Counter, queue: StoreQueue, lang: str, stats: dict[str, Any]
) -> dict[str, Any]:
    current = queue.current_at(counter)
    return {
        "counter": counter_state(counter, queue),
        "current": staff_ticket(current, queue, lang) if current else None,
        "parked": [staff_ticket(t, queue, lang) for t in queue.parked_at(counter)],
        "stats": stats,
        "outcomes": [{"code": o.value, "name": str(n)} for o, n in OUTCOME_NAMES.items()],
        "pause_reasons": [{"code": r.value, "name": str(n)} for r, n in PAUSE_REASON_NAMES.items()],
        "recall_limit": queue.store.recall_limit,
    }


def counter_state(counter: Counter, queue: StoreQueue) -> dict[str, Any]:
    current = queue.current_at(counter)
    return {
        "number": counter.number,
        "name": counter_name(counter.number, "zh"),
        "name_en": counter_name(counter.number, "en"),
        "lanes": list(counter.lanes),
        "status": str(counter.status),
        "pause_reason": counter.pause_reason,
        "clerk": counter.clerk.display_name if counter.clerk else None,
        "current": ticket_brief(current) if current else None,
    }


def lanes_summary(queue: StoreQueue) -> list[dict[str, Any]]:
    out = []
    for lane in queue.lanes_in_use():
        waiting = queue.waiting_in(lane)
        eta = queue.lane_wait_now(lane)
        out.append(
            {"lane": lane.value, "waiting": waiting, "eta_minutes": list(eta) if eta else None}
        )
    return out


def service_public(service: Service, queue: StoreQueue, lang: str) -> dict[str, Any]:
    lane = Lane(service.lane)
    waiting = queue.waiting_in(lane)
    eta = queue.wait_now(service)
    return {
        "code": service.code,
        "name": service.name(lang),
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "category": service.category,
        "category_name": str(CATEGORY_NAMES.get(service.category, service.category)),
        "icon": service.icon,
        "description": service.description(lang),
        "lane": lane.value,
        "prefix": service.prefix,
        "expected_minutes": service.expected_minutes,
        "bookable": service.bookable,
        "slot_minutes": service.slot_minutes,
        "waiting": waiting,
        "eta_minutes": list(eta) if eta else None,
    }


def snapshot(queue: StoreQueue, lang: str) -> dict[str, Any]:
    store = queue.store
    return {
        "version": store.version,
        "store": {
            "code": store.code,
            "name": store.name(lang),
            "name_zh": store.name_zh,
            "name_en": store.name_en,
            "notices": store.notices(lang),
            "announce_langs": [x for x in store.announce_langs.split(",") if x],
            "rejoin_minutes": store.rejoin_minutes,
            "rejoin_places": store.rejoin_places,
            "remote_join": store.remote_join,
            "recall_limit": store.recall_limit,
        },
        "services": [service_public(s, queue, lang) for s in queue.services if s.active],
        "counters": [counter_state(c, queue) for c in queue.counters],
        "lanes": lanes_summary(queue),
        "waiting": [ticket_brief(t) for t in queue.waiting],
        "recent_calls": [
            {
                "ticket_id": t.id,
                "label": t.label,
                "counter": t.counter.number if t.counter else None,
                "lane": str(t.lane),
                "called_at": iso(t.called_at),
            }
            for t in queue.recent_calls()
        ],
        "missed": missed_list(queue),
    }


def missed_list(queue: StoreQueue) -> list[dict[str, Any]]:
    """No-shows that may still rejoin (the display's 过号 panel): numbers and counters only."""
    return [
        {
            "ticket_id": t.id,
            "label": t.label,
            "lane": str(t.lane),
            "counter": t.counter.number if t.counter else None,
            "until": iso(rejoin_until(t)),
        }
        for t in queue.missed()
    ]
