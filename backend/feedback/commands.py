"""Ratings: one per finished visit, kept with its service, counter and clerk."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.feedback.models import MAX_COMMENT, MAX_STARS, MIN_STARS, Feedback, RatingChannel
from backend.policy import TicketStatus, service_day
from backend.queue.models import Ticket
from backend.staff.models import User
from backend.stores.models import Service, Store
from backend.stores.operations import find_store, lock_store


def rate_visit(ticket_id: int, token: str, stars: int, comment: str) -> Feedback:
    """The customer's rating from the status page (the ticket's token is the proof)."""
    found = db.session.scalar(select(Ticket).where(Ticket.token == token)) if token else None
    if found is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    if found.id != ticket_id:
        raise Forbidden(_l("This ticket link does not match the ticket."))
    return _rate(found.store_id, ticket_id, stars, comment, RatingChannel.PHONE)


def rate_visit_at_counter(
    store_code: str, ticket_id: int, actor: User, stars: int, comment: str
) -> Feedback:
    """A rating given on the clerk's screen turned to the customer (no QR, no phone): only for a
    visit this clerk completed in this store; once, like the phone's."""
    store = find_store(store_code)
    if not actor.can_act_in(store):
        raise Forbidden(_l("Your account does not belong to this store."))
    owner = db.session.scalar(select(Ticket.store_id).where(Ticket.id == ticket_id))
    if owner != store.id:
        raise NotFound(_l("Unknown ticket."))
    return _rate(store.id, ticket_id, stars, comment, RatingChannel.COUNTER, clerk=actor)


def last_visit_to_rate(store_code: str, actor: User) -> CounterVisit | None:
    """The clerk's last visit completed today in this store, and whether it is rated already."""
    store = find_store(store_code)
    if not actor.can_act_in(store):
        raise Forbidden(_l("Your account does not belong to this store."))
    day = service_day(now(), store.timezone)
    row = db.session.execute(
        select(Ticket.id, Ticket.label, Ticket.service_id, Feedback.stars)
        .outerjoin(Feedback, Feedback.ticket_id == Ticket.id)
        .where(
            Ticket.store_id == store.id,
            Ticket.service_day == day,
            Ticket.clerk_id == actor.id,
            Ticket.status == TicketStatus.DONE,
        )
        .order_by(Ticket.finished_at.desc(), Ticket.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    service = db.session.get(Service, row.service_id)
    return CounterVisit(row.id, row.label, service, row.stars)


@dataclass(frozen=True)
class CounterVisit:
    ticket_id: int
    label: str
    service: Service | None
    stars: int | None  # its rating, if it has one

    def service_name(self, lang: str) -> str:
        return self.service.name(lang) if self.service is not None else ""


def _rate(
    store_id: int,
    ticket_id: int,
    stars: int,
    comment: str,
    channel: RatingChannel,
    clerk: User | None = None,
) -> Feedback:
    if not MIN_STARS <= stars <= MAX_STARS:
        raise BadInput(_l("Please touch the stars to choose 1 to 5."), error_code="bad_stars")
    with write_transaction():
        lock_store(store_id=store_id)  # two taps at once: the second sees the first rating
        ticket = db.session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        )
        if ticket is None:
            raise NotFound(_l("Unknown ticket."))
        if ticket.status != TicketStatus.DONE:
            raise Conflict(_l("You can rate a visit once it is complete."))
        if clerk is not None and ticket.clerk_id != clerk.id:
            raise Forbidden(
                _l("Only the clerk who served this visit can ask for its rating here."),
                error_code="not_your_visit",
            )
        if db.session.scalar(select(Feedback.id).where(Feedback.ticket_id == ticket_id)):
            raise Conflict(
                _l("Thank you, this visit is already rated."), error_code="already_rated"
            )
        feedback = Feedback(
            ticket_id=ticket.id,
            store_id=ticket.store_id,
            service_id=ticket.service_id,
            counter_id=ticket.counter_id,
            clerk_id=ticket.clerk_id,
            stars=stars,
            comment=comment.strip()[:MAX_COMMENT],
            channel=channel.value,
            created_at=now(),
        )
        db.session.add(feedback)
        _open_case_for(ticket, stars, feedback.comment)
    return feedback


def _open_case_for(ticket: Ticket, stars: int, comment: str) -> None:
    """A low rating with a comment becomes a case (unless the visit has one already)."""
    from backend.cases.commands import CaseInput, CaseSource, open_case_in
    from backend.cases.models import DESCRIPTION_MAX, Case
    from backend.policy.cases import CaseCategory

    store = db.session.get(Store, ticket.store_id)
    assert store is not None
    threshold = store.case_rating_threshold
    if threshold <= 0 or stars > threshold or not comment:
        return
    if db.session.scalar(select(Case.id).where(Case.ticket_id == ticket.id)) is not None:
        return
    given = CaseInput(CaseCategory.OTHER.value, comment[:DESCRIPTION_MAX])
    open_case_in(store, given, None, CaseSource.RATING, ticket_id=ticket.id)
