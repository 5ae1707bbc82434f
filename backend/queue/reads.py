"""The read side's entry points for the API and the pages: one call, one dict to answer with.

Each takes what the caller has (a store code, a token, a ticket a command returned), finds the
projection it needs in the read model's cache and hands both to the serializers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import Forbidden, NotFound
from backend.core.privacy import mask_name, mask_phone
from backend.extensions import db
from backend.feedback.queries import clerk_ratings
from backend.policy import TicketStatus, service_day
from backend.queue import readmodel
from backend.queue.models import Ticket
from backend.queue.readmodel import Projection
from backend.queue.serializers import (
    counter_detail,
    services_public,
    snapshot,
    ticket_public,
)
from backend.staff.models import User
from backend.stores.models import Store
from backend.stores.operations import UNKNOWN_STORE


def store_projection(code: str) -> Projection:
    """The store's projection at its committed version (one query to learn the version)."""
    row = db.session.execute(select(Store.id, Store.version).where(Store.code == code)).first()
    if row is None:
        raise NotFound(UNKNOWN_STORE, error_detail="store")
    return readmodel.projection(row.id, at_least=row.version)


def find_ticket_by_token(token: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.token == token)) if token else None
    if ticket is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    return ticket


def ticket_view(
    ticket: Ticket, lang: str, *, with_token: bool, fresh: bool = True
) -> dict[str, Any]:
    """The ticket's public view. `fresh`: from a projection that includes the ticket's last
    change (pages a customer reads); else from the newest one built (a command's answer, which
    must not pay for a forecast: its own change is in the ticket row itself). The holder's view
    (`with_token`) keeps the promise it shows, the first time it shows one."""
    view, expected, scale = _view(ticket, lang, with_token=with_token, fresh=fresh)
    if with_token:
        _keep_promise(ticket, view, expected, scale)
    return view


def _view(
    ticket: Ticket, lang: str, *, with_token: bool, fresh: bool
) -> tuple[dict[str, Any], float | None, float]:
    """The public view, the estimate's expected minutes it shows (None: no estimate) and the
    factor its range was scaled by."""
    proj = (
        readmodel.projection(ticket.store_id, at_least=ticket.version)
        if fresh
        else readmodel.latest(ticket.store_id)
    )
    row = proj.row_of(ticket)
    feedback = None
    if ticket.status == TicketStatus.DONE and ticket.feedback is not None:
        feedback = {"stars": ticket.feedback.stars, "comment": ticket.feedback.comment}
    view = ticket_public(
        row,
        proj,
        lang,
        token=ticket.token if with_token else None,
        feedback=feedback,
        case=public_case(ticket.id) if ticket.status == TicketStatus.DONE else None,
    )
    return view, proj.ticket_expected_minutes(row), proj.range_scale


def issued_view(ticket: Ticket, lang: str, *, fresh: bool) -> dict[str, Any]:
    """A new ticket's answer to its holder (the promise it makes kept on the ticket)."""
    return ticket_view(ticket, lang, with_token=True, fresh=fresh)


def _keep_promise(
    ticket: Ticket, view: dict[str, Any], expected: float | None, scale: float
) -> None:
    """The first estimate the holder is shown is what the customer was told, wherever it is
    shown (the issue's answer, a check-in's, the printed ticket, the status page): it is written
    once (a conditional UPDATE, so a retried request keeps the first promise), after the command's
    commit and outside it, from the view already computed (no forecast while the write is open).
    A ticket shown without an estimate keeps nothing until it is shown one (the reports count
    those that never were apart)."""
    eta = view["eta_minutes"]
    if eta is None or expected is None or ticket.promised_minutes is not None:
        return
    shown_at = now()
    with write_transaction():
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.promised_minutes.is_(None))
            .values(
                promised_minutes=round(expected, 1),
                promised_low=eta[0],
                promised_high=eta[1],
                promised_at=shown_at,
                promised_scale=scale,
            )
            .execution_options(synchronize_session=False)
        )


def expected_wait(code: str, service_code: str) -> tuple[int, int] | None:
    """A new ticket's estimated wait from the newest projection (read before a command, so the
    command can refuse a ticket that would be called after closing without forecasting)."""
    row = db.session.execute(select(Store.id).where(Store.code == code)).first()
    if row is None:
        return None
    proj = readmodel.latest(row.id, max_age=None)
    service = next((s for s in proj.services if s.code == service_code), None)
    return proj.wait_now(service.id) if service is not None else None


def services_view(code: str, lang: str) -> list[dict[str, Any]]:
    return services_public(store_projection(code), lang)


def snapshot_view(code: str, lang: str) -> dict[str, Any]:
    return snapshot(store_projection(code), lang)


@dataclass(frozen=True)
class ClerkDay:
    served: int
    avg_service_minutes: float | None
    no_shows: int


def clerk_day(store_id: int, timezone: str, clerk: User) -> ClerkDay:
    """The clerk's own figures for today: visits completed, mean service time, no-shows."""
    day = service_day(now(), timezone)
    rows = db.session.execute(
        select(Ticket.status, Ticket.called_at, Ticket.started_at, Ticket.finished_at).where(
            Ticket.store_id == store_id,
            Ticket.service_day == day,
            Ticket.clerk_id == clerk.id,
            Ticket.status.in_([TicketStatus.DONE, TicketStatus.NO_SHOW]),
        )
    ).all()
    durations = []
    for status, called, started, finished in rows:
        began = started or called
        if status == TicketStatus.DONE and finished is not None and began is not None:
            durations.append((finished - began).total_seconds() / 60)
    return ClerkDay(
        served=sum(1 for row in rows if row.status == TicketStatus.DONE),
        avg_service_minutes=round(sum(durations) / len(durations), 1) if durations else None,
        no_shows=sum(1 for row in rows if row.status == TicketStatus.NO_SHOW),
    )


def _customers(ticket_ids: list[int]) -> dict[int, dict[str, str]]:
    """Staff screens see an appointment's customer masked (张*, 138****1234)."""
    if not ticket_ids:
        return {}
    from backend.bookings.models import Appointment

    rows = db.session.execute(
        select(Appointment.ticket_id, Appointment.name, Appointment.phone).where(
            Appointment.ticket_id.in_(ticket_ids), Appointment.erased.is_(False)
        )
    ).all()
    return {
        row.ticket_id: {"name_masked": mask_name(row.name), "phone_masked": mask_phone(row.phone)}
        for row in rows
    }


def counter_panel(code: str, number: int, user: User, lang: str) -> dict[str, Any]:
    proj = store_projection(code)
    store = db.session.get(Store, proj.store.id)
    if store is None or not user.can_act_in(store):
        raise Forbidden(_l("Your account does not belong to this store."))
    counter = proj.counter(number)
    if counter is None:
        raise NotFound(_l("Unknown counter."))
    ids = [t.id for t in (counter.current, *counter.parked) if t is not None]
    stats = asdict(clerk_day(proj.store.id, proj.store.timezone, user)) | asdict(
        clerk_ratings(proj.store.id, proj.store.timezone, user.id, now())
    )
    return counter_detail(counter, proj, lang, stats, _customers(ids))


def public_case(ticket_id: int) -> dict[str, Any] | None:
    """The visit's complaint case as its holder sees it: the number and status; the promised date
    only with the customer's consent to be contacted; nothing personal."""
    from backend.cases.models import Case
    from backend.policy.cases import CaseStatus

    found = db.session.scalar(select(Case).where(Case.ticket_id == ticket_id))
    if found is None:
        return None
    return {
        "number": found.number,
        "status": str(found.status),
        "promised_by": found.promised_by.isoformat() if found.consent else None,
        "can_answer": found.status == CaseStatus.RESOLVED and found.follow_up_stars is None,
        "answered": found.follow_up_stars is not None,
    }
