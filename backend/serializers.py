"""JSON shapes shared by the API, the pages and the events. Public shapes carry no personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for

from .models import Counter, Service, Ticket
from .policy import Lane
from .queue_state import StoreQueue


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


def ticket_public(
    ticket: Ticket, queue: StoreQueue, lang: str, *, with_token: bool = False
) -> dict[str, Any]:
    data = ticket_brief(ticket)
    eta = queue.ticket_eta(ticket)
    data |= {
        "service_name": ticket.service.name(lang),
        "service_name_zh": ticket.service.name_zh,
        "service_name_en": ticket.service.name_en,
        "store": ticket.store.code,
        "position": queue.ticket_position(ticket),
        "eta_minutes": list(eta) if eta else None,
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


def counter_state(counter: Counter, queue: StoreQueue) -> dict[str, Any]:
    current = queue.current_at(counter)
    return {
        "number": counter.number,
        "name": counter_name(counter.number, "zh"),
        "name_en": counter_name(counter.number, "en"),
        "lanes": list(counter.lanes),
        "status": str(counter.status),
        "current": ticket_brief(current) if current else None,
    }


def lanes_summary(queue: StoreQueue) -> list[dict[str, Any]]:
    out = []
    for lane in queue.lanes_in_use():
        waiting = queue.waiting_in(lane)
        eta = queue.eta(lane, waiting)
        out.append(
            {"lane": lane.value, "waiting": waiting, "eta_minutes": list(eta) if eta else None}
        )
    return out


def service_public(service: Service, queue: StoreQueue, lang: str) -> dict[str, Any]:
    lane = Lane(service.lane)
    waiting = queue.waiting_in(lane)
    eta = queue.eta(lane, waiting, service.expected_minutes)
    return {
        "code": service.code,
        "name": service.name(lang),
        "name_zh": service.name_zh,
        "name_en": service.name_en,
        "lane": lane.value,
        "prefix": service.prefix,
        "expected_minutes": service.expected_minutes,
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
    }
