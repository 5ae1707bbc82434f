"""Reads of cases for the console: the inbox (overdue first, then by promised date), one case with
its contact masked unless the reader owns the case or manages the store, and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, select
from sqlalchemy import case as when

from backend.cases.models import Case
from backend.core.clock import now
from backend.core.privacy import mask_name, mask_phone
from backend.extensions import db
from backend.policy import Role
from backend.policy.cases import UNRESOLVED, CaseStatus, is_overdue
from backend.policy.slots import local_today
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


def report(store: Store) -> CaseReport:
    cases = list(db.session.scalars(select(Case).where(Case.store_id == store.id)))
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
