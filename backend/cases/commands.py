"""The case commands: open (from the counter's complaint, a low rating or the console), note,
assign, move on, re-promise, record the customer's follow-up, erase contacts past retention.

Each runs in one write transaction on the locked store row (or inside the caller's, when a ticket
command opens a case: `open_case_in`) and writes a timeline line for what it changed. Each returns
a `CaseChange` naming what changed: the one place where a later message to the customer (the
messaging domain's outbox) will be queued from — nothing is sent from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.cases.models import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    NOTE_MAX,
    Case,
    CaseNote,
)
from backend.cases.names import status_name
from backend.core.clock import now
from backend.core.db import stage, write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.core.text import has_nul, normalise_phone, visible_text
from backend.extensions import db
from backend.live.events import TicketChange
from backend.messaging.commands import note_case_change
from backend.policy import Role
from backend.policy.cases import CaseCategory, CaseStatus, add_working_days, can_move
from backend.policy.slots import local_today
from backend.queue.commands import next_sequence
from backend.staff.models import User
from backend.stores.models import Store
from backend.stores.operations import lock_store
from backend.stores.settings import hall_hours

# The per-day counter row of case numbers (a ticket prefix has at most 4 letters, never "#").
CASE_SEQUENCE = "#TS"
NUMBER_PREFIX = "TS"
MAX_PROMISE_DAYS = 366
STARS = range(1, 6)


class CaseSource:
    COUNTER = "counter"
    RATING = "rating"
    CONSOLE = "console"


@dataclass(frozen=True)
class CaseChange:
    """What a command changed, for whoever tells the customer (status, promised date, none)."""

    case: Case
    what: str  # opened, note, owner, status, promise, follow_up
    tell_customer: bool


@dataclass(frozen=True)
class CaseInput:
    category: str
    description: str
    consent: bool = False
    name: str = ""
    phone: str = ""


def _clean(text: str, limit: int, what: str) -> str:
    if has_nul(text):
        raise BadInput(
            _l("The text contains characters that are not allowed."), error_code="bad_text"
        )
    cleaned = text.strip()
    if len(cleaned) > limit:
        raise BadInput(
            _l("At most %(n)s characters.", n=limit), error_code=f"{what}_too_long", limit=limit
        )
    return cleaned


def _category(code: str) -> CaseCategory:
    try:
        return CaseCategory(code)
    except ValueError:
        raise BadInput(_l("Choose a category."), error_code="bad_category") from None


def _tell_pages(case: Case) -> None:
    """After COMMIT, the visit's open status pages show the case as it is now (its number,
    status and promised date are on the ticket's view)."""
    if case.ticket_id is not None:
        stage(TicketChange(case.store_id, case.ticket_id))


def _note(case: Case, actor: User | None, kind: str, text: str, moment: datetime) -> None:
    case.notes.append(
        CaseNote(
            at=moment,
            author_id=actor.id if actor else None,
            author_name=(actor.display_name or actor.username) if actor else "",
            kind=kind,
            text=text,
        )
    )


def promised_date(store: Store, moment: datetime) -> date:
    """The store's default promise: `case_days` working days after today (in the store's zone)."""
    today = local_today(moment, store.timezone)
    return add_working_days(hall_hours(store), today, max(store.case_days, 0))


def open_case_in(
    store: Store,
    given: CaseInput,
    actor: User | None,
    source: str,
    ticket_id: int | None = None,
    owner_id: int | None = None,
) -> CaseChange:
    """Open a case inside the caller's write transaction on the locked `store`."""
    moment = now()
    category = _category(given.category)
    description = _clean(given.description, DESCRIPTION_MAX, "description")
    if not description:
        raise BadInput(_l("Please say what the issue is."), error_code="description_required")
    name, phone = "", ""
    if given.consent:
        name = _clean(visible_text(given.name), NAME_MAX, "name")
        phone = normalise_phone(given.phone)
        if has_nul(given.phone) or not re.fullmatch(store.phone_pattern, phone):
            raise BadInput(_l("Please enter a valid mobile number."), error_code="bad_phone")
    today = local_today(moment, store.timezone)
    number = next_sequence(store.id, CASE_SEQUENCE, today)
    case = Case(
        store_id=store.id,
        number=f"{NUMBER_PREFIX}-{today:%Y%m%d}-{number:04d}",
        ticket_id=ticket_id,
        source=source,
        category=category,
        description=description,
        owner_id=owner_id,
        status=CaseStatus.OPEN,
        opened_at=moment,
        promised_by=promised_date(store, moment),
        consent=given.consent,
        contact_name=name,
        contact_phone=phone,
    )
    _note(case, actor, "opened", "", moment)
    db.session.add(case)
    db.session.flush()
    _tell_pages(case)
    note_case_change(case, "opened", moment)
    return CaseChange(case, "opened", tell_customer=given.consent)


def open_case(
    code: str,
    actor: User,
    given: CaseInput,
    owner_id: int | None = None,
    promised_by: date | None = None,
) -> CaseChange:
    """A case opened by hand in the console (promised by the store's default unless given)."""
    with write_transaction():
        store = lock_store(code=code)
        _check_staff(actor, store, manager=True)
        if owner_id is not None:
            _owner(store, owner_id)
        if promised_by is not None:
            _check_promise(store, promised_by)
        change = open_case_in(store, given, actor, CaseSource.CONSOLE, owner_id=owner_id)
        if promised_by is not None:
            change.case.promised_by = promised_by
        return change


def _check_promise(store: Store, promised_by: date) -> None:
    today = local_today(now(), store.timezone)
    if promised_by < today or promised_by > today + timedelta(days=MAX_PROMISE_DAYS):
        raise BadInput(_l("Choose a date from today on, within a year."), error_code="bad_date")


def _check_staff(actor: User, store: Store, manager: bool) -> None:
    if not actor.can_act_in(store):
        raise NotFound(_l("Unknown case."))
    if manager and actor.role not in (Role.MANAGER, Role.ADMIN):
        raise Forbidden()


def _owner(store: Store, owner_id: int) -> User:
    user = db.session.get(User, owner_id)
    if user is None or not user.active or user.store_id != store.id:
        raise BadInput(_l("Choose a staff member of this store."), error_code="bad_owner")
    return user


def _locked_case(
    code: str, case_id: int, actor: User, seen: int | None = None, owner_may: bool = False
) -> tuple[Store, Case]:
    """The case under the store's lock, for a manager (or, where `owner_may`, its owner); with
    `seen` (the last timeline line the form was opened with) a form opened before someone else's
    change is refused, so that nothing is done twice or over another's change."""
    store = lock_store(code=code)
    _check_staff(actor, store, manager=False)
    case = db.session.get(Case, case_id) if 0 < case_id < 2**63 else None
    if case is None or case.store_id != store.id:
        raise NotFound(_l("Unknown case."))
    manages = actor.role in (Role.MANAGER, Role.ADMIN)
    if not manages and not (owner_may and case.owner_id == actor.id):
        raise Forbidden()
    if seen is not None and last_seen(case) != seen:
        raise Conflict(
            _l("This case was changed meanwhile. Nothing was saved: here it is now."),
            error_code="changed_meanwhile",
        )
    return store, case


def last_seen(case: Case) -> int:
    """The case's version as a form carries it: its last timeline line (every change adds one)."""
    return max((n.id for n in case.notes if n.id is not None), default=0)


def add_note(
    code: str, case_id: int, actor: User, text: str, seen: int | None = None
) -> CaseChange:
    with write_transaction():
        _, case = _locked_case(code, case_id, actor, seen, owner_may=True)
        cleaned = _clean(text, NOTE_MAX, "note")
        if not cleaned:
            raise BadInput(_l("Write the note first."), error_code="note_required")
        _note(case, actor, "note", cleaned, now())
    return CaseChange(case, "note", tell_customer=False)


def assign_case(
    code: str, case_id: int, actor: User, owner_id: int, seen: int | None = None
) -> CaseChange:
    with write_transaction():
        store, case = _locked_case(code, case_id, actor, seen)
        owner = _owner(store, owner_id)
        case.owner_id = owner.id
        _note(case, actor, "owner", owner.display_name or owner.username, now())
    return CaseChange(case, "owner", tell_customer=False)


def change_status(
    code: str, case_id: int, actor: User, status: str, seen: int | None = None
) -> CaseChange:
    try:
        target = CaseStatus(status)
    except ValueError:
        raise BadInput(_l("Unknown status."), error_code="bad_status") from None
    with write_transaction():
        _, case = _locked_case(code, case_id, actor, seen, owner_may=True)
        if not can_move(CaseStatus(case.status), target) or target == CaseStatus.FOLLOWED_UP:
            raise Conflict(
                _l(
                    "This case cannot go from %(a)s to %(b)s.",
                    a=status_name(case.status),
                    b=status_name(target),
                ),
                error_code="illegal_transition",
            )
        moment = now()
        case.status = target
        if target == CaseStatus.RESOLVED:
            case.resolved_at = moment
        _note(case, actor, "status", str(target), moment)
        note_case_change(case, "status", moment)
        _tell_pages(case)
    return CaseChange(case, "status", tell_customer=case.consent)


def change_promise(
    code: str,
    case_id: int,
    actor: User,
    promised_by: date,
    reason: str,
    seen: int | None = None,
) -> CaseChange:
    with write_transaction():
        store, case = _locked_case(code, case_id, actor, seen, owner_may=True)
        cleaned = _clean(reason, NOTE_MAX, "reason")
        if not cleaned:
            raise BadInput(_l("Say why the date changes."), error_code="reason_required")
        _check_promise(store, promised_by)
        before = case.promised_by
        case.promised_by = promised_by
        moment = now()
        _note(
            case,
            actor,
            "promise",
            f"{before.isoformat()} → {promised_by.isoformat()}: {cleaned}",
            moment,
        )
        note_case_change(case, "promise", moment)
        _tell_pages(case)
    return CaseChange(case, "promise", tell_customer=case.consent)


CONTACT_SHOWN = "case_contact_shown"


def reveal_contact(code: str, case_id: int, actor: User) -> tuple[str, str]:
    """The customer's contact in full, for the case's owner only, written to the store's change
    log (who saw whose contact, when); an erased or never given contact reveals nothing."""
    with write_transaction():
        store, case = _locked_case(code, case_id, actor, owner_may=True)
        if case.owner_id != actor.id:
            raise Forbidden(_l("Only the case's owner may see the customer's contact."))
        if not case.consent or case.contact_erased or not case.contact_phone:
            raise Conflict(_l("This case has no contact to show."), error_code="no_contact")
        db.session.add(
            AuditEntry(
                store_id=store.id,
                at=now(),
                actor_id=actor.id,
                actor_name=actor.display_name or actor.username,
                action=CONTACT_SHOWN,
                target=case.number,
                before=None,
                after=None,
            )
        )
        return case.contact_name, case.contact_phone


def record_follow_up(
    token: str, stars: int, comment: str, ticket_id: int | None = None
) -> CaseChange:
    """The customer's answer on the ticket's status page, once, after the case is resolved."""
    from backend.queue.models import Ticket

    if stars not in STARS:
        raise BadInput(_l("Choose 1 to 5 stars."), error_code="bad_stars")
    cleaned = _clean(comment, COMMENT_MAX, "comment")
    found = db.session.scalar(select(Ticket).where(Ticket.token == token)) if token else None
    if found is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    if ticket_id is not None and found.id != ticket_id:
        raise Forbidden(_l("This ticket link does not match the ticket."))
    store_id, ticket_id = found.store_id, found.id
    with write_transaction():
        lock_store(store_id=store_id)
        case = db.session.scalar(
            select(Case)
            .where(Case.ticket_id == ticket_id)
            .execution_options(populate_existing=True)
        )
        if case is None:
            raise NotFound(_l("Unknown case."))
        if case.follow_up_stars is not None:
            raise Conflict(
                _l("Thank you, your answer is already recorded."), error_code="already_answered"
            )
        if case.status != CaseStatus.RESOLVED:
            raise Conflict(
                _l("You can answer once the case is resolved."), error_code="not_resolved"
            )
        moment = now()
        case.follow_up_stars = stars
        case.follow_up_comment = cleaned
        case.follow_up_at = moment
        case.status = CaseStatus.FOLLOWED_UP
        _note(case, None, "follow_up", f"{stars}", moment)
        _tell_pages(case)
    return CaseChange(case, "follow_up", tell_customer=False)


def erase_old_contacts(store: Store, moment: datetime) -> int:
    """Inside the store's sweep: erase the contact of cases opened before the retention; the
    cases (category, dates, answer) stay for the counts."""
    start = moment - timedelta(days=store.retention_days)
    old = db.session.scalars(
        select(Case).where(
            Case.store_id == store.id, Case.contact_erased.is_(False), Case.opened_at < start
        )
    ).all()
    for case in old:
        case.contact_name = ""
        case.contact_phone = ""
        case.contact_erased = True
    return len(old)
