"""The chain: every store at a glance (the admin's overview) and new stores.

The overview reads a constant number of statements whatever the number of stores (one for the
stores, one for the waiting tickets grouped by store, one for the counters grouped by store) and
builds no projection: it shows counts and the longest wait, not estimates. A new store is created
empty, or from a template store: its rules, services and counters copied (not its names, address,
notices, staff, kiosks or anything it learned), in one audited write transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import IntegrityError

from backend.audit.models import AuditEntry
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden
from backend.extensions import db
from backend.policy import CounterStatus, Role, TicketStatus, service_day
from backend.queue.models import Ticket
from backend.staff.models import User
from backend.stores.configure import STORE_FIELDS, AuditAction
from backend.stores.models import Counter, Service, Store
from backend.stores.operations import lock_store
from backend.stores.settings import StoreSettings

if TYPE_CHECKING:
    from backend.queue.readmodel import Projection

ADMIN_ONLY = _l("Only an administrator may see or add the chain's stores.")


def _require_admin(user: User | None) -> None:
    if user is not None and not (user.active and user.role == Role.ADMIN):
        raise Forbidden(ADMIN_ONLY)


# --- the overview ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreStatus:
    code: str
    name_zh: str
    name_en: str
    timezone: str
    waiting: int
    oldest_issued_at: datetime | None
    staffed: int  # counters with a clerk signed in, not paused
    paused: int
    counters: int  # working counters (not archived)
    open: bool
    closes_at: datetime | None
    next_open: datetime | None

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def clock(self, moment: datetime | None) -> str:
        """A moment as the store's own clock shows it ("18:00")."""
        return moment.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M") if moment else ""

    def longest_wait_minutes(self, moment: datetime) -> int | None:
        if self.oldest_issued_at is None:
            return None
        return max(int((moment - self.oldest_issued_at).total_seconds() // 60), 0)

    def as_json(self, moment: datetime) -> dict[str, Any]:
        """The overview's line for the page's live updates (the same figures as its table)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "code": self.code,
            "waiting": self.waiting,
            "oldest_issued_at": iso(self.oldest_issued_at),
            "longest_wait_minutes": self.longest_wait_minutes(moment),
            "staffed": self.staffed,
            "paused": self.paused,
            "counters": self.counters,
            "open": self.open,
            "closes_at": iso(self.closes_at),
            "closes_at_local": self.clock(self.closes_at),
            "moment": moment.isoformat(),
        }


def projection_status(proj: Projection) -> StoreStatus:
    """A store's line of the overview from its projection (what the publisher just computed):
    the same counts as `chain_overview`'s statements, without a query."""
    working = [c for c in proj.counters if not c.archived]
    oldest = min((t.issued_at for t in proj.waiting), default=None)
    state = proj.open_state
    return StoreStatus(
        proj.store.code,
        proj.store.name_zh,
        proj.store.name_en,
        proj.store.timezone,
        len(proj.waiting),
        oldest,
        sum(1 for c in working if c.staffed),
        sum(1 for c in working if c.status == CounterStatus.PAUSED),
        len(working),
        state.open,
        state.closes_at,
        state.next_open,
    )


def chain_overview(user: User) -> list[StoreStatus]:
    """Every store of the chain, by code: its queue now, its counters, open or closed."""
    _require_admin(user)
    moment = now()
    stores = [
        StoreSettings.of(row)
        for row in db.session.execute(select(*Store.__table__.c).order_by(Store.code))
    ]
    days = {s.id: service_day(moment, s.timezone) for s in stores}
    waiting = _waiting_by_store(set(days.values()))
    counters = _counters_by_store()
    out = []
    for s in stores:
        count, oldest = waiting.get((s.id, days[s.id]), (0, None))
        staffed, paused, total = counters.get(s.id, (0, 0, 0))
        state = s.open_state(moment)
        out.append(
            StoreStatus(
                s.code,
                s.name_zh,
                s.name_en,
                s.timezone,
                count,
                oldest,
                staffed,
                paused,
                total,
                state.open,
                state.closes_at,
                state.next_open,
            )
        )
    return out


def _waiting_by_store(days: set[date]) -> dict[tuple[int, date], tuple[int, datetime | None]]:
    """(store, service day) -> waiting tickets and the oldest one's issue time: one statement
    for the few service days the stores' time zones have today."""
    if not days:
        return {}
    rows = db.session.execute(
        select(Ticket.store_id, Ticket.service_day, func.count(), func.min(Ticket.issued_at))
        .where(Ticket.status == TicketStatus.WAITING, Ticket.service_day.in_(days))
        .group_by(Ticket.store_id, Ticket.service_day)
    ).all()
    return {(row[0], row[1]): (int(row[2]), row[3]) for row in rows}


def _counters_by_store() -> dict[int, tuple[int, int, int]]:
    signed_in = Counter.clerk_id.is_not(None)
    rows = db.session.execute(
        select(
            Counter.store_id,
            func.sum(case((signed_in & (Counter.status == CounterStatus.OPEN), 1), else_=0)),
            func.sum(case((Counter.status == CounterStatus.PAUSED, 1), else_=0)),
            func.count(),
        )
        .where(Counter.archived.is_(False))
        .group_by(Counter.store_id)
    ).all()
    return {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3])) for row in rows}


# --- a new store --------------------------------------------------------------------------------

STORE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")
BAD_CODE = _l("2 to 32 lower-case letters, digits and hyphens, starting with a letter or digit.")
MAX_NAME = 120
# What a new store takes from its template: the rules (not its names, address or notices, which
# are that hall's own), and the holidays and phone pattern the console does not edit yet.
# A new store keeps its own names, address, notices and time zone (the form gives them).
OWN_FIELDS = (
    "name_zh",
    "name_en",
    "address_zh",
    "address_en",
    "notices_zh",
    "notices_en",
    "timezone",
)
COPIED_RULES = (
    *(name for name in STORE_FIELDS if name not in OWN_FIELDS),
    "closed_dates",
    "special_hours",
    "phone_pattern",
)
# A service's configuration; what it learned (its durations) is the template hall's own.
COPIED_SERVICE = (
    "code",
    "name_zh",
    "name_en",
    "prefix",
    "lane",
    "expected_minutes",
    "bookable",
    "active",
    "sort_order",
    "category",
    "icon",
    "description_zh",
    "description_en",
    "slot_minutes",
    "slot_capacity",
)


@dataclass(frozen=True)
class NewStore:
    code: str
    template: str | None
    services: int
    counters: int


def time_zones() -> list[str]:
    return sorted(available_timezones())


def check_new_store(code: str, name_zh: str, name_en: str, timezone: str) -> None:
    """The values a new store needs, refused with a message each (the form checks them too)."""
    if not STORE_CODE.match(code or ""):
        raise BadInput(BAD_CODE, error_code="bad_code", field="code")
    for field, name in (("name_zh", name_zh), ("name_en", name_en)):
        if not name or not name.strip() or len(name) > MAX_NAME:
            raise BadInput(_l("Give the store a name (at most 120 characters)."), field=field)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            _l("Unknown time zone: %(zone)s.", zone=timezone),
            error_code="bad_timezone",
            field="timezone",
        ) from None


def code_taken(code: str) -> bool:
    return bool(db.session.scalar(select(exists().where(Store.code == code))))


def create_store(
    actor: User | None,
    code: str,
    name_zh: str,
    name_en: str,
    timezone: str,
    template: str | None = None,
) -> NewStore:
    """A new store `code` (actor None: the command line), empty or copied from `template`."""
    _require_admin(actor)
    check_new_store(code, name_zh, name_en, timezone)
    with write_transaction():
        source = lock_store(code=template) if template else None  # read as one, unchanged
        if code_taken(code):
            raise Conflict(_l("This code is taken."), error_code="code_taken", field="code")
        store = Store(code=code, name_zh=name_zh.strip(), name_en=name_en.strip())
        store.timezone = timezone
        if source is not None:
            for name in COPIED_RULES:
                setattr(store, name, _copy(getattr(source, name)))
        db.session.add(store)
        try:
            db.session.flush()
        except IntegrityError:  # the same code, created a moment ago by someone else
            raise Conflict(
                _l("This code is taken."), error_code="code_taken", field="code"
            ) from None
        services, counters = _copy_setup(source, store) if source is not None else (0, 0)
        after = {
            "code": code,
            "name_zh": store.name_zh,
            "name_en": store.name_en,
            "timezone": timezone,
            "template": template,
            "services": services,
            "counters": counters,
        }
        db.session.add(
            AuditEntry(
                store_id=store.id,
                at=now(),
                actor_id=actor.id if actor else None,
                actor_name=(actor.display_name or actor.username) if actor else "",
                action=AuditAction.STORE_CREATED.value,
                target=code,
                before=None,
                after=after,
            )
        )
    return NewStore(code, template, services, counters)


def _copy(value: Any) -> Any:
    """A JSON column's value copied, so that the two stores never share one object."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _copy_setup(source: Store, store: Store) -> tuple[int, int]:
    services = db.session.scalars(select(Service).where(Service.store_id == source.id)).all()
    for service in services:
        db.session.add(
            Service(
                store_id=store.id,
                outcomes=_copy(service.outcomes or []),
                **{n: getattr(service, n) for n in COPIED_SERVICE},
            )
        )
    counters = db.session.scalars(
        select(Counter)
        .where(Counter.store_id == source.id, Counter.archived.is_(False))
        .order_by(Counter.number)
    ).all()
    for counter in counters:
        db.session.add(
            Counter(
                store_id=store.id,
                number=counter.number,
                name_zh=counter.name_zh,
                name_en=counter.name_en,
                lanes=_copy(counter.lanes),
                services=_copy(counter.services or []),
                reserved=counter.reserved,
            )
        )
    return len(services), len(counters)
