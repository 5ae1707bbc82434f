"""Ratings: one per finished visit, kept with its service, counter and clerk."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy import TicketStatus
from backend.queue.models import Ticket
from backend.stores.models import Store
from backend.stores.operations import lock_store


def rate_visit(ticket_id: int, token: str, stars: int, comment: str) -> Feedback:
    found = db.session.scalar(select(Ticket).where(Ticket.token == token)) if token else None
    if found is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    if found.id != ticket_id:
        raise Forbidden(_l("This ticket link does not match the ticket."))
    store_id = found.store_id
    with write_transaction():
        lock_store(store_id=store_id)  # two taps at once: the second sees the first rating
        ticket = db.session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        )
        if ticket is None:
            raise NotFound(_l("Unknown ticket."))
        if ticket.status != TicketStatus.DONE:
            raise Conflict(_l("You can rate a visit once it is complete."))
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
            comment=comment.strip(),
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
