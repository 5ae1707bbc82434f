"""The manager console's live floor: what it shows and what a manager does there.

What it shows is formatted from the store's projection (the read model every screen shares), so
the floor says what the counters and the display say: a counter is open, paused or closed (nobody
signed in: never shown with a clerk), its current ticket is one at the counter (called or being
served: a no-show is not), and each time is the server's own timestamp, which the page ticks on.

What a manager does there goes through the engine's commands (pause, reopen, issue for a customer,
call a ticket to a counter) or the console's audited configuration operations (the displays'
notices, a counter's profile). Each first checks that the user manages the store: a clerk gets 403,
a manager of another store 404, before anything is read or changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.core.clock import now
from backend.core.errors import NotFound
from backend.extensions import db
from backend.policy import Channel, Lane
from backend.queue import commands as engine
from backend.queue import reads
from backend.queue.models import Ticket
from backend.queue.readmodel import CounterState, Projection, TicketRow
from backend.queue.serializers import PAUSE_REASON_NAMES, counter_name, iso, open_info
from backend.staff.models import User
from backend.stores import configure
from backend.stores.models import Counter
from backend.stores.settings import ServiceInfo

LANE_NAMES = {
    Lane.FAST: _l("Fast lane"),
    Lane.STANDARD: _l("Standard"),
    Lane.VIP: _l("VIP"),
    Lane.APPOINTMENT: _l("Appointment"),
}


def profile_digest(number: int, lanes: Sequence[str]) -> str:
    """The fingerprint of a counter's profile as the floor shows it (the stale-form check)."""
    return configure.digest({"number": number, "lanes": [str(lane) for lane in lanes]})


def notices_digest(zh: str, en: str) -> str:
    return configure.digest({"notices_zh": zh, "notices_en": en})


def _service(proj: Projection, row: TicketRow) -> ServiceInfo | None:
    return proj.service(row.service_id)


def _ticket(proj: Projection, row: TicketRow, lang: str) -> dict[str, Any]:
    service = _service(proj, row)
    return {
        "id": row.id,
        "label": row.label,
        "service": row.service,
        "service_name": service.name(lang) if service else row.service,
        "lane": row.lane.value,
        "status": row.status.value,
        "channel": row.channel.value,
        "issued_at": iso(row.issued_at),
        "called_at": iso(row.called_at),
        "started_at": iso(row.started_at),
        # The duration the engine expects of this visit (learned once there is enough data).
        "expected_minutes": round(service.minutes, 1) if service else None,
        "target_counter": row.target_counter,
    }


def _counter(proj: Projection, counter: CounterState, lang: str) -> dict[str, Any]:
    reason = counter.pause_reason
    names = {r.value: n for r, n in PAUSE_REASON_NAMES.items()}
    decision = proj.next_calls.get(counter.number)
    nxt = proj.active.get(decision.ticket_id) if decision and decision.ticket_id else None
    return {
        "number": counter.number,
        "name": counter_name(counter.number, lang),
        "own_name": counter.own_name(lang),
        "reserved": counter.reserved,
        "lanes": [lane.value for lane in counter.lanes],
        "status": counter.public_status,
        "pause_reason": reason,
        "pause_reason_name": str(names.get(reason, reason)) if reason else None,
        "back_at": iso(counter.planned_return(proj.moment)),
        # Only a signed-in clerk is named: a closed counter has nobody.
        "clerk": (counter.clerk_name or "") if counter.clerk_id is not None else None,
        "current": _ticket(proj, counter.current, lang) if counter.current else None,
        "parked": len(counter.parked),
        "next": nxt.label if nxt is not None and counter.staffed else None,
        "profile_loaded": profile_digest(counter.number, [lane.value for lane in counter.lanes]),
    }


def _serves(counter: CounterState, row: TicketRow, services: Mapping[int, ServiceInfo]) -> bool:
    """Whether a staffed counter's profile serves this waiting ticket (a ticket sent to one
    counter is that counter's; an appointment goes to a counter serving its service's lane)."""
    if row.target_counter is not None:
        return row.target_counter == counter.number
    if not counter.view.takes_service(row.lane, row.service):
        return False
    service = services.get(row.service_id)
    return row.lane in counter.lanes or (service is not None and service.lane in counter.lanes)


def _lanes(proj: Projection, lang: str) -> list[dict[str, Any]]:
    staffed = [c for c in proj.counters if c.staffed]
    services = {s.id: s for s in proj.services}
    reachable = {t for c in staffed for t in proj.queues.get(c.number, ())}
    out = []
    for lane in proj.lanes_in_use():
        waiting = [t for t in proj.waiting if t.lane == lane]
        oldest = min(waiting, key=lambda t: (t.issued_at, t.id), default=None)
        unserved = [
            t
            for t in waiting
            if t.id not in proj.held and not any(_serves(c, t, services) for c in staffed)
        ]
        eta = proj.lane_wait_now(lane)
        out.append(
            {
                "lane": lane.value,
                "name": str(LANE_NAMES[lane]),
                "waiting": len(waiting),
                "oldest_issued_at": iso(oldest.issued_at) if oldest else None,
                "oldest_label": oldest.label if oldest else None,
                "eta_minutes": list(eta) if eta else None,
                "eta_reason": proj.lane_eta_reason(lane),
                "staffed_counters": [c.number for c in staffed if lane in c.lanes],
                # Waiting here with no staffed counter serving them by its profile; of those,
                # how many an idle counter would still call (helping other lanes).
                "unserved": len(unserved),
                "helped": sum(1 for t in unserved if t.id in reachable),
            }
        )
    return out


def _waiting(proj: Projection, lang: str) -> list[dict[str, Any]]:
    order = sorted(proj.waiting, key=lambda t: (proj.positions.get(t.id, len(proj.waiting)), t.id))
    return [_ticket(proj, t, lang) | {"held": t.id in proj.held} for t in order]


def floor_state(code: str, user: User, lang: str) -> dict[str, Any]:
    """Everything the floor shows, at the store's committed version."""
    configure.managed_store(code, user)
    proj = reads.store_projection(code)
    store = proj.store
    return {
        "version": proj.version,
        # The server's clock now: the page ticks its times from the server's, whatever the
        # device's own clock says.
        "now": iso(now()),
        "store": {
            "code": store.code,
            "name": store.name(lang),
            "timezone": store.timezone,
            "wait_target_minutes": store.wait_target_minutes,
            "work_conserving": store.work_conserving,
            "hours": open_info(proj),
        },
        "notices": {
            "zh": store.notices_zh,
            "en": store.notices_en,
            "loaded": notices_digest(store.notices_zh, store.notices_en),
        },
        "services": [
            {
                "code": s.code,
                "name": s.name(lang),
                "lane": s.lane.value,
                "prefix": s.prefix,
                "expected_minutes": round(s.minutes, 1),
            }
            for s in proj.active_services
        ],
        "counters": [_counter(proj, c, lang) for c in proj.counters],
        "lanes": _lanes(proj, lang),
        "waiting": _waiting(proj, lang),
        "pause_reasons": [{"code": r.value, "name": str(n)} for r, n in PAUSE_REASON_NAMES.items()],
    }


# --- actions ------------------------------------------------------------------------------------


def pause_counter(
    code: str, user: User, number: int, reason: str, minutes: int | None = None
) -> Counter:
    configure.managed_store(code, user)
    return engine.pause_counter(code, number, user, reason, minutes)


def reopen_counter(code: str, user: User, number: int) -> Counter:
    configure.managed_store(code, user)
    return engine.resume_counter(code, number, user)


def call_to_counter(code: str, user: User, ticket_id: int, number: int) -> engine.CallResult:
    store = configure.managed_store(code, user)
    found = db.session.scalar(select(Ticket.store_id).where(Ticket.id == ticket_id))
    if found != store.id:  # another store's ticket is as unknown here as a made-up one
        raise NotFound(_l("Unknown ticket."))
    return engine.call_ticket_to_counter(ticket_id, number, user)


def issue_for_customer(code: str, user: User, service: str, request_key: str | None) -> Ticket:
    """A ticket staff issue for a customer (VIP included); `request_key`: a second click of the
    same form returns the ticket already issued."""
    configure.managed_store(code, user)
    return engine.issue_ticket(
        code, service, engine.Origin(Channel.STAFF), user, idempotency_key=request_key or None
    )


@dataclass(frozen=True)
class Change:
    changed: bool


def post_notices(code: str, user: User, zh: str, en: str, loaded: str | None) -> Change:
    """The displays' notices (their ticker), audited; the displays reload them live."""
    return Change(configure.post_notices(code, user, zh, en, loaded))


def change_profile(
    code: str, user: User, number: int, lanes: list[str], loaded: str | None
) -> Change:
    """A counter's lanes, as the counters page changes them: a configuration change, audited,
    that holds until it is changed back (the next call at the counter follows it at once)."""
    current = configure.counter_values(configure.managed_store(code, user), number)
    configure.save_counter(code, user, number, {"number": number, "lanes": lanes}, loaded)
    return Change(list(current["lanes"]) != lanes)
