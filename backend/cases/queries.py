"""Reads of cases for the console: the inbox (overdue first, then by promised date), one case with
its contact masked unless the reader owns the case or manages the store, and the report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select
from sqlalchemy import case as when

from backend.cases.models import Case
from backend.core.clock import now
from backend.core.errors import NotFound
from backend.core.privacy import mask_name, mask_phone
from backend.extensions import db
from backend.policy import Role
from backend.policy.cases import UNRESOLVED, CaseStatus, can_move, is_overdue
from backend.policy.slots import local_today
from backend.reports.tables import Column, Kind, Table
from backend.staff.models import User
from backend.stores.models import Store


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    category: str | None = None
    owner_id: int | None = None
    overdue: bool = False


def inbox(store: Store, chosen: CaseFilter = CaseFilter()) -> list[Case]:
    today = local_today(now(), store.timezone)
    late = and_(Case.status.in_(UNRESOLVED), Case.promised_by < today)
    query = select(Case).where(Case.store_id == store.id)
    if chosen.status:
        query = query.where(Case.status == chosen.status)
    if chosen.category:
        query = query.where(Case.category == chosen.category)
    if chosen.owner_id is not None:
        query = query.where(Case.owner_id == chosen.owner_id)
    if chosen.overdue:
        query = query.where(late)
    order = (when((late, 0), else_=1), Case.promised_by, Case.id)
    return list(db.session.scalars(query.order_by(*order)))


def find_case(store: Store, case_id: int) -> Case | None:
    if not 0 < case_id < 2**63:
        return None
    found = db.session.get(Case, case_id)
    return found if found is not None and found.store_id == store.id else None


def sees_contact(reader: User, case: Case) -> bool:
    return reader.role in (Role.MANAGER, Role.ADMIN) or reader.id == case.owner_id


def contact_of(reader: User, case: Case) -> tuple[str, str]:
    """The contact as this reader may see it (masked unless owner or manager)."""
    if sees_contact(reader, case):
        return case.contact_name, case.contact_phone
    return mask_name(case.contact_name), mask_phone(case.contact_phone)


def overdue(case: Case, today: date) -> bool:
    return is_overdue(CaseStatus(case.status), case.promised_by, today)


@dataclass(frozen=True)
class Tally:
    key: str
    cases: int
    resolved: int
    on_time: int
    overdue: int
    answers: int
    stars_total: int

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.resolved if self.resolved else None

    @property
    def satisfaction(self) -> float | None:
        return self.stars_total / self.answers if self.answers else None


def _tally(key: str, cases: list[Case], today: date, zone: str) -> Tally:
    resolved = [c for c in cases if c.resolved_at is not None]
    on_time = [c for c in resolved if local_today(c.resolved_at, zone) <= c.promised_by]  # type: ignore[arg-type]
    answered = [c for c in cases if c.follow_up_stars is not None]
    return Tally(
        key,
        len(cases),
        len(resolved),
        len(on_time),
        sum(1 for c in cases if overdue(c, today)),
        len(answered),
        sum(c.follow_up_stars or 0 for c in answered),
    )


@dataclass(frozen=True)
class CaseReport:
    total: Tally
    by_category: list[Tally]
    by_owner: list[Tally]  # key: the owner's id as text ("" for none)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def report(store: Store, start: datetime | None = None, end: datetime | None = None) -> CaseReport:
    """The store's cases (opened from `start` to before `end`, when given) tallied."""
    query = select(Case).where(Case.store_id == store.id)
    if start is not None:
        query = query.where(Case.opened_at >= start)
    if end is not None:
        query = query.where(Case.opened_at < end)
    cases = list(db.session.scalars(query))
    today = local_today(now(), store.timezone)
    groups: dict[str, list[Case]] = {}
    owners: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(str(c.category), []).append(c)
        owners.setdefault(str(c.owner_id or ""), []).append(c)
    zone = store.timezone
    return CaseReport(
        _tally("", cases, today, zone),
        [_tally(k, v, today, zone) for k, v in sorted(groups.items())],
        [_tally(k, v, today, zone) for k, v in sorted(owners.items())],
    )


# --- the console's pages -----------------------------------------------------------------------


def staff_store(code: str, reader: User) -> Store:
    """The store `code` if `reader` works there (clerks too: they see the cases they own); 404
    for another store's staff, who learn nothing of it."""
    store = db.session.scalar(select(Store).where(Store.code == code)) if code else None
    if store is None or not reader.can_act_in(store):
        raise NotFound(_l("Unknown store."), error_detail="store")
    return store


def manages(reader: User) -> bool:
    return reader.role in (Role.MANAGER, Role.ADMIN)


@dataclass(frozen=True)
class StaffChoice:
    id: int
    name: str


def staff_choices(store: Store) -> list[StaffChoice]:
    """Who may own a case: the store's active accounts, by name."""
    users = db.session.scalars(
        select(User).where(User.store_id == store.id, User.active.is_(True)).order_by(User.id)
    )
    return [StaffChoice(u.id, u.display_name or u.username) for u in users]


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(ids))
    ).all()
    return {r.id: r.display_name or r.username for r in rows}


@dataclass(frozen=True)
class CaseRow:
    id: int
    number: str
    category: str
    source: str
    opened_at: datetime
    owner: str
    promised_by: date
    status: str
    overdue_days: int  # 0: not overdue


def _late_by(case: Case, today: date) -> int:
    return (today - case.promised_by).days if overdue(case, today) else 0


def inbox_rows(store: Store, reader: User, chosen: CaseFilter = CaseFilter()) -> list[CaseRow]:
    """The inbox as `reader` sees it: a manager every case of the store, a clerk their own."""
    if not manages(reader):
        chosen = replace(chosen, owner_id=reader.id)
    cases = inbox(store, chosen)
    today = local_today(now(), store.timezone)
    names = _names({c.owner_id for c in cases if c.owner_id is not None})
    return [
        CaseRow(
            c.id,
            c.number,
            str(c.category),
            c.source,
            c.opened_at,
            names.get(c.owner_id, "") if c.owner_id is not None else "",
            c.promised_by,
            str(c.status),
            _late_by(c, today),
        )
        for c in cases
    ]


@dataclass(frozen=True)
class NoteRow:
    at: datetime
    author: str
    kind: str
    text: str


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    owner: str
    notes: list[NoteRow]
    contact_name: str  # masked (the owner sees it in full only by revealing it)
    contact_phone: str
    can_reveal: bool
    can_edit: bool  # notes, status, promise: a manager or the owner
    can_assign: bool
    moves: list[str]  # the statuses the case may move to now (the buttons)
    overdue_days: int
    seen: int  # the version the page's forms carry


def case_detail(store: Store, case_id: int, reader: User) -> CaseDetail:
    """One case as `reader` sees it; 404 for an unknown case, another store's, or (for a clerk)
    one they do not own."""
    from backend.cases.commands import last_seen

    found = find_case(store, case_id)
    if found is None or not (manages(reader) or found.owner_id == reader.id):
        raise NotFound(_l("Unknown case."))
    today = local_today(now(), store.timezone)
    owner = _names({found.owner_id}).get(found.owner_id, "") if found.owner_id else ""
    status = CaseStatus(found.status)
    moves = [s.value for s in CaseStatus if can_move(status, s) and s != CaseStatus.FOLLOWED_UP]
    has_contact = found.consent and not found.contact_erased and bool(found.contact_phone)
    return CaseDetail(
        case=found,
        owner=owner,
        notes=[NoteRow(n.at, n.author_name, n.kind, n.text) for n in found.notes],
        contact_name=mask_name(found.contact_name),
        contact_phone=mask_phone(found.contact_phone),
        can_reveal=has_contact and found.owner_id == reader.id,
        can_edit=manages(reader) or found.owner_id == reader.id,
        can_assign=manages(reader),
        moves=moves,
        overdue_days=_late_by(found, today),
        seen=last_seen(found),
    )


# --- the report ----------------------------------------------------------------------------------

CASE_TABLES = ("cases_by_category", "cases_by_owner")


def _columns(first: LazyString) -> list[Column]:
    return [
        Column("key", first),
        Column("cases", _l("Cases"), Kind.COUNT),
        Column("resolved", _l("Resolved"), Kind.COUNT),
        Column("on_time", _l("Resolved on time"), Kind.COUNT),
        Column("on_time_rate", _l("On-time rate"), Kind.SHARE),
        Column("overdue", _l("Overdue now"), Kind.COUNT),
        Column("answers", _l("Follow-up answers"), Kind.COUNT),
        Column("satisfaction", _l("Follow-up satisfaction (stars)"), Kind.STARS),
    ]


def _row(name: str, t: Tally) -> list[Any]:
    return [
        name,
        t.cases,
        t.resolved,
        t.on_time,
        t.on_time_rate,
        t.overdue,
        t.answers,
        t.satisfaction,
    ]


@dataclass(frozen=True)
class CaseReportTables:
    first: date
    last: date
    total: Tally
    tables: dict[str, Table]


def report_tables(store: Store, first: date, last: date) -> CaseReportTables:
    """The cases opened from `first` to `last` (the store's days, inclusive): on time (resolved
    by the promised day), overdue now, the customers' follow-up stars; by category and by owner,
    each with the total as its last row."""
    from backend.cases.names import category_name

    start = local_midnight(first, store.timezone)
    end = local_midnight(last + timedelta(days=1), store.timezone)
    whole = report(store, start, end)
    total = _row(str(_l("All cases")), whole.total)
    names = _names({int(t.key) for t in whole.by_owner if t.key})
    by_category = Table(
        "cases_by_category",
        _l("Cases by category"),
        _columns(_l("Category")),
        [_row(category_name(t.key), t) for t in whole.by_category] + [total],
    )
    by_owner = Table(
        "cases_by_owner",
        _l("Cases by owner"),
        _columns(_l("Owner")),
        [
            _row(names.get(int(t.key), t.key) if t.key else str(_l("Nobody yet")), t)
            for t in whole.by_owner
        ]
        + [total],
    )
    return CaseReportTables(first, last, whole.total, {t.name: t for t in (by_category, by_owner)})
