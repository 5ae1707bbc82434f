"""JSON shapes of the queue, formatted from what they are handed (a projection and its rows).

Serializers never query and never simulate. Public shapes carry no personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l

from backend.policy import (
    PAUSE_MINUTES_CHOICES,
    Lane,
    Outcome,
    PauseReason,
    TicketStatus,
    allowed_actions,
    can_rejoin,
)
from backend.queue.readmodel import CounterState, Projection, TicketRow
from backend.stores.settings import ServiceInfo


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def counter_name(number: int, lang: str) -> str:
    return f"Counter {number}" if lang == "en" else f"{number}号窗口"


def ticket_brief(ticket: TicketRow) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "label": ticket.label,
        "service": ticket.service,
        "lane": str(ticket.lane),
        "status": str(ticket.status),
        "channel": str(ticket.channel),
        "counter": ticket.counter,
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


def rejoin_until(ticket: TicketRow, rejoin_minutes: int) -> datetime | None:
    if ticket.status != TicketStatus.NO_SHOW or ticket.finished_at is None:
        return None
    return ticket.finished_at + timedelta(minutes=rejoin_minutes)


def _service_names(service: ServiceInfo | None, lang: str) -> dict[str, str]:
    if service is None:
        return {"service_name": "", "service_name_zh": "", "service_name_en": ""}
    return {
        "service_name": service.name(lang),
        "service_name_zh": service.name_zh,
        "service_name_en": service.name_en,
    }


def visit_plan(ticket: TicketRow, proj: Projection, lang: str) -> list[dict[str, Any]]:
    """A visit for several services, part by part (done, current, next); empty for one."""
    if len(ticket.plan) < 2:
        return []
    parts = []
    for step, service_id in enumerate(ticket.plan):
        service = proj.service(service_id)
        state = "done" if step < ticket.plan_step else "next"
        if step == ticket.plan_step:
            state = "done" if ticket.status == TicketStatus.DONE else "current"
        parts.append(
            {
                "step": step + 1,
                "service": service.code if service else "",
                "service_name": service.name(lang) if service else "",
                "state": state,
            }
        )
    return parts


def _call_at(proj: Projection, ticket: TicketRow) -> str | None:
    expected = proj.ticket_expected_minutes(ticket)
    return None if expected is None else iso(proj.moment + timedelta(minutes=expected))


def ticket_public(
    ticket: TicketRow,
    proj: Projection,
    lang: str,
    *,
    token: str | None = None,
    feedback: dict[str, Any] | None = None,
    case: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ticket as its holder sees it; `token` only when answering the holder."""
    store = proj.store
    eta = proj.ticket_eta(ticket)
    rejoinable = ticket.status == TicketStatus.NO_SHOW and can_rejoin(
        ticket.finished_at, ticket.rejoin_count, store.rejoin_minutes, proj.moment
    )
    data = ticket_brief(ticket) | _service_names(proj.service(ticket.service_id), lang)
    data |= {
        "store": store.code,
        "store_name": store.name(lang),
        "version": proj.version,
        "position": proj.position(ticket),
        "is_next": proj.is_next(ticket),
        "eta_minutes": list(eta) if eta else None,
        "eta_reason": proj.eta_reason(ticket),
        "eta_call_at": _call_at(proj, ticket),
        "called_from": iso(ticket.due_at)
        if ticket.waits_for_slot and ticket.status == TicketStatus.WAITING
        else None,
        "serving_counters": proj.serving_counters(ticket.lane),
        "counters": [
            {"number": c.number, "status": c.public_status}
            for c in proj.counters
            if ticket.lane in c.lanes or ticket.target_counter == c.number
        ],
        "arrival_required": ticket.id in proj.held,
        "transferred_to": ticket.target_counter if ticket.status == TicketStatus.WAITING else None,
        "can_cancel": ticket.status in (TicketStatus.WAITING, TicketStatus.CALLED),
        "can_rejoin": rejoinable,
        "rejoin_until": iso(rejoin_until(ticket, store.rejoin_minutes)) if rejoinable else None,
        "rejoin_places": store.rejoin_places,
        "can_let_ahead": ticket.status == TicketStatus.WAITING
        and ticket.let_ahead_count == 0
        and store.let_ahead_places > 0
        and ticket.lane != Lane.APPOINTMENT
        and ticket.target_counter is None,
        "let_ahead_places": store.let_ahead_places,
        "can_rate": ticket.status == TicketStatus.DONE and feedback is None,
        "feedback": feedback,
        "case": case,
        "plan": visit_plan(ticket, proj, lang),
    }
    if token is not None:
        data |= {
            "token": token,
            "status_url": url_for("kiosk.ticket_status", token=token),
            "print_url": url_for("kiosk.ticket_print", store_code=store.code, token=token),
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


def staff_ticket(
    ticket: TicketRow, proj: Projection, lang: str, customer: dict[str, str] | None = None
) -> dict[str, Any]:
    """What the clerk at the counter sees: the public brief plus note, timings and the actions
    the state machine allows (the terminal enables its buttons from them)."""
    waited = (ticket.called_at or proj.moment) - ticket.issued_at
    service = proj.service(ticket.service_id)
    return ticket_brief(ticket) | {
        "service_name": service.name(lang) if service else "",
        "waited_minutes": max(int(waited.total_seconds() // 60), 0),
        "note": ticket.note,
        "priority_care": ticket.care,
        "outcome": ticket.outcome,
        "started_at": iso(ticket.started_at),
        "target_counter": ticket.target_counter,
        "due_at": iso(ticket.due_at),
        "customer": customer,
        "allowed_actions": [a.value for a in allowed_actions(ticket.status)],
        "outcomes": outcome_choices(service, lang),
        "plan": visit_plan(ticket, proj, lang),
    }


def outcome_choices(service: ServiceInfo | None, lang: str) -> list[dict[str, str]]:
    """What a clerk may complete this ticket with: the standard outcomes, then its service's own."""
    own = [
        {"code": code, "name": (en or zh) if lang == "en" else (zh or en)}
        for code, zh, en in (service.outcomes if service else ())
    ]
    return [{"code": o.value, "name": str(n)} for o, n in OUTCOME_NAMES.items()] + own


def counter_detail(
    counter: CounterState,
    proj: Projection,
    lang: str,
    stats: dict[str, Any],
    customers: dict[int, dict[str, str]],
) -> dict[str, Any]:
    current = counter.current
    return {
        "counter": counter_state(counter, proj.moment),
        "current": staff_ticket(current, proj, lang, customers.get(current.id))
        if current
        else None,
        "parked": [staff_ticket(t, proj, lang, customers.get(t.id)) for t in counter.parked],
        "stats": stats,
        "outcomes": [{"code": o.value, "name": str(n)} for o, n in OUTCOME_NAMES.items()],
        "pause_reasons": [{"code": r.value, "name": str(n)} for r, n in PAUSE_REASON_NAMES.items()],
        "pause_lengths": list(PAUSE_MINUTES_CHOICES),
        "recall_limit": proj.store.recall_limit,
    }


def counter_state(counter: CounterState, moment: datetime) -> dict[str, Any]:
    return {
        "number": counter.number,
        "name": counter_name(counter.number, "zh"),
        "name_en": counter_name(counter.number, "en"),
        "own_name_zh": counter.own_name("zh"),
        "own_name_en": counter.own_name("en"),
        "reserved": counter.reserved,
        "lanes": [lane.value for lane in counter.lanes],
        # closed: nobody is signed in there (shown "not open", never as an idle open counter)
        "status": counter.public_status,
        "pause_reason": counter.pause_reason,
        # A pause's planned return while it is still to come at `moment` (screens drop it too
        # once their clock passes it): never a return time in the past.
        "back_at": iso(counter.planned_return(moment)),
        "clerk": counter.clerk_name,
        "current": ticket_brief(counter.current) if counter.current else None,
    }


def lanes_summary(proj: Projection) -> list[dict[str, Any]]:
    out = []
    for lane in proj.lanes_in_use():
        eta = proj.lane_wait_now(lane)
        out.append(
            {
                "lane": lane.value,
                "waiting": proj.waiting_in(lane),
                "eta_minutes": list(eta) if eta else None,
                "eta_reason": proj.lane_eta_reason(lane),
            }
        )
    return out


def service_public(service: ServiceInfo, proj: Projection, lang: str) -> dict[str, Any]:
    eta = proj.wait_now(service.id)
    return {
        "code": service.code,
        "name": service.name(lang),
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "category": service.category,
        "category_name": str(CATEGORY_NAMES.get(service.category, service.category)),
        "icon": service.icon,
        "description": service.description(lang),
        "lane": service.lane.value,
        "prefix": service.prefix,
        "expected_minutes": service.expected_minutes,
        "bookable": service.bookable,
        "slot_minutes": service.slot_minutes,
        "waiting": proj.waiting_in(service.lane),
        "eta_minutes": list(eta) if eta else None,
        "eta_reason": proj.service_eta_reason(service.id),
        "staff_only": not proj.store.public_service(service),
    }


def services_public(proj: Projection, lang: str, *, staff: bool = False) -> list[dict[str, Any]]:
    """The services a kiosk or phone offers (VIP only where the store opens it publicly);
    `staff`: every active service."""
    shown = (
        proj.active_services
        if staff
        else [s for s in proj.active_services if proj.store.public_service(s)]
    )
    return [service_public(s, proj, lang) for s in shown]


def recent_calls(proj: Projection) -> list[dict[str, Any]]:
    """The last calls, each with what became of it (a recall, a no-show, served...)."""
    return [
        {
            "ticket_id": t.id,
            "label": t.label,
            "counter": t.counter,
            "lane": str(t.lane),
            "called_at": iso(t.called_at),
            "status": str(t.status),
            "recall_count": t.recall_count,
        }
        for t in proj.recent_calls
    ]


def now_calling(proj: Projection) -> list[dict[str, Any]]:
    """The tickets called right now (status `called`), newest first: the display's big panel."""
    return [
        {
            "ticket_id": t.id,
            "label": t.label,
            "counter": t.counter,
            "lane": str(t.lane),
            "channel": str(t.channel),
            "called_at": iso(t.called_at),
            "recall_count": t.recall_count,
        }
        for t in proj.now_calling
    ]


def open_info(proj: Projection) -> dict[str, Any]:
    state = proj.open_state
    return {
        "open": state.open,
        "closes_at": iso(state.closes_at),
        "next_open": iso(state.next_open),
    }


def missed_list(proj: Projection) -> list[dict[str, Any]]:
    """No-shows that may still rejoin (the display's 过号 panel): numbers and counters only."""
    minutes = proj.store.rejoin_minutes
    return [
        {
            "ticket_id": t.id,
            "label": t.label,
            "lane": str(t.lane),
            "counter": t.counter,
            "until": iso(rejoin_until(t, minutes)),
        }
        for t in proj.missed
    ]


def store_public(proj: Projection, lang: str) -> dict[str, Any]:
    store = proj.store
    return {
        "code": store.code,
        "name": store.name(lang),
        "name_zh": store.name_zh,
        "name_en": store.name_en,
        "notices": store.notices(lang),
        "announce_langs": store.languages,
        "rejoin_minutes": store.rejoin_minutes,
        "rejoin_places": store.rejoin_places,
        "remote_join": store.remote_join,
        "recall_limit": store.recall_limit,
        "hours": open_info(proj),
    }


def queue_public(proj: Projection) -> dict[str, Any]:
    """What every display shows, language-neutral: the payload of `queue_updated`."""
    return {
        "version": proj.version,
        "counters": [counter_state(c, proj.moment) for c in proj.counters],
        "lanes": lanes_summary(proj),
        "missed": missed_list(proj),
        "recent_calls": recent_calls(proj),
        "now_calling": now_calling(proj),
        "hours": open_info(proj),
    }


def queue_staff(proj: Projection) -> dict[str, Any]:
    """What counters get besides: the waiting list (ticket numbers only, in the order the store
    will call them) and, per counter, what its next call would be and whom it may call."""
    order = sorted(proj.waiting, key=lambda t: proj.positions.get(t.id, len(proj.waiting)))
    return {
        "waiting": [ticket_brief(t) | {"target_counter": t.target_counter} for t in order],
        "counter_queues": [
            {
                "counter": number,
                "next": {
                    "ticket_id": decision.ticket_id,
                    "reason": decision.reason_code,
                },
                "queue": list(proj.queues.get(number, ())),
            }
            for number, decision in proj.next_calls.items()
        ],
    }


def snapshot(proj: Projection, lang: str) -> dict[str, Any]:
    return (
        queue_public(proj)
        | queue_staff(proj)
        | {"store": store_public(proj, lang), "services": services_public(proj, lang)}
    )
