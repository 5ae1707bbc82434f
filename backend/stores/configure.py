"""Changing a store's configuration from the manager console: its rules, services and counters.

Each change is one write transaction on the locked store row: the rows change, one `AuditEntry`
records the changed fields before → after, and the store's version goes up by one with a thin
`settings_changed` event staged, so that the publisher (after COMMIT) tells the displays, kiosks
and counters and projects the store again. A service or counter changed also bumps the store's
`config_version` (the before_flush hook in stores/models.py), which the commands' configuration
cache is keyed by: the next command reads the new configuration. A change that changes nothing
writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from backend.audit.models import AuditEntry
from backend.bookings.models import Appointment
from backend.core import db as core_db
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.live import events
from backend.policy import AT_COUNTER, AppointmentStatus, Lane, Role, TicketStatus, service_day
from backend.queue.models import Ticket, TicketEvent
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from backend.stores.operations import lock_store

MANAGING_ROLES = (Role.MANAGER, Role.ADMIN)

# The store row's columns the console's store form edits: everything the engine, the bookings and
# the screens read from it, except the bookkeeping (version, config_version, last_queue_at,
# recent_lanes), the closed and special days (backend.stores.days: a closed day needs a decision
# about the bookings on it) and the phone pattern (a regular expression is no manager's tool; the
# booking page compiles it too). The time zone is refused while tickets are open (see
# update_store).
STORE_FIELDS = (
    "name_zh",
    "name_en",
    "address_zh",
    "address_en",
    "timezone",
    "hours",
    "ordering",
    "work_conserving",
    "priority_care",
    "max_wait_minutes",
    "ratio_power",
    "fair_factor",
    "fair_floor_minutes",
    "wait_target_minutes",
    "vip_first",
    "vip_window",
    "rejoin_minutes",
    "rejoin_places",
    "let_ahead_places",
    "recall_limit",
    "remote_join",
    "remote_max_open",
    "remote_cutoff_minutes",
    "kiosk_cutoff_minutes",
    "remote_requires_arrival",
    "public_vip",
    "kiosk_rate_per_minute",
    "kiosk_idle_seconds",
    "notices_zh",
    "notices_en",
    "announce_langs",
    "checkin_early_minutes",
    "checkin_late_minutes",
    "appointment_prefix",
    "booking_horizon_days",
    "booking_lead_minutes",
    "bookings_per_phone_per_day",
    "retention_days",
    "almost_ahead",
    "reminder_minutes",
)
SERVICE_FIELDS = (
    "name_zh",
    "name_en",
    "description_zh",
    "description_en",
    "category",
    "prefix",
    "lane",
    "expected_minutes",
    "bookable",
    "slot_minutes",
    "slot_capacity",
    "active",
    "outcomes",
)
COUNTER_FIELDS = ("number", "name_zh", "name_en", "lanes", "services", "reserved")
MAX_AUDIT_ENTRIES = 200


class AuditAction(StrEnum):
    STORE_UPDATED = "store_updated"
    SERVICE_CREATED = "service_created"
    SERVICE_UPDATED = "service_updated"
    COUNTER_CREATED = "counter_created"
    COUNTER_UPDATED = "counter_updated"
    COUNTER_ARCHIVED = "counter_archived"
    COUNTER_DELETED = "counter_deleted"
    NOTICES_CHANGED = "notices_changed"
    STORE_CREATED = "store_created"
    DAYS_CLOSED = "days_closed"
    DAYS_SPECIAL = "days_special"
    DAYS_USUAL = "days_usual"


def can_manage(user: User, store: Store) -> bool:
    return user.role in MANAGING_ROLES and user.can_act_in(store)


def managed_store(code: str, user: User) -> Store:
    """The store `code` if `user` manages it; 404 for a store that is not theirs, so a manager of
    one store learns nothing of another's (not even that it exists); 403 for a clerk."""
    store = db.session.scalar(select(Store).where(Store.code == code)) if code else None
    if store is None or (user.role != Role.ADMIN and user.store_id != store.id):
        raise NotFound(_l("Unknown store."), error_detail="store")
    if not can_manage(user, store):
        raise Forbidden(_l("Only the store's managers may change its settings."))
    return store


def managed_stores(user: User) -> list[Store]:
    """The stores this user manages, by code."""
    if user.role == Role.ADMIN and user.active:
        return list(db.session.scalars(select(Store).order_by(Store.code)))
    if user.role == Role.MANAGER and user.active and user.store is not None:
        return [user.store]
    return []


def _jsonable(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def digest(values: Mapping[str, Any]) -> str:
    """A short fingerprint of a form's stored values: the form carries it from when it was
    opened, so that saving it cannot silently undo what someone else saved meanwhile."""
    text = json.dumps(_jsonable(dict(values)), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_unchanged(current: Mapping[str, Any], loaded: str | None) -> None:
    if loaded and digest(current) != loaded:
        raise Conflict(
            _l(
                "Someone else saved these settings meanwhile. Nothing was saved: here they are now."
            ),
            error_code="changed_meanwhile",
        )


# The staff and devices pages' forms detect a stale form the same way.
check_unchanged = _check_unchanged


def _apply(row: Any, values: Mapping[str, Any], allowed: tuple[str, ...]) -> tuple[dict, dict]:
    """Set the allowed fields that differ; (before, after) of those only."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in allowed:
        if name not in values:
            continue
        old, new = _jsonable(getattr(row, name)), _jsonable(values[name])
        if old != new:
            before[name], after[name] = old, new
            setattr(row, name, values[name])
    return before, after


def _record(
    store: Store,
    actor: User,
    action: AuditAction,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    counter: int | None = None,
) -> None:
    """The audit entry and the live event of one change, in the change's transaction."""
    db.session.add(
        AuditEntry(
            store_id=store.id,
            at=now(),
            actor_id=actor.id,
            actor_name=actor.display_name or actor.username,
            action=action.value,
            target=target,
            before=before,
            after=after,
        )
    )
    store.version += 1
    core_db.stage(
        events.store_event(
            store.id,
            store.code,
            events.EventName.SETTINGS_CHANGED,
            version=store.version,
            ticket=None,
            counter=counter,
        )
    )


def _locked(code: str, actor: User) -> Store:
    managed_store(code, actor)  # 404/403 before the lock, and again under it below
    store = lock_store(code=code)
    if not can_manage(actor, store):
        raise Forbidden(_l("Only the store's managers may change its settings."))
    return store


def update_store(
    code: str, actor: User, values: Mapping[str, Any], loaded: str | None = None
) -> bool:
    """The store's names, hours and queue rules; True when something changed. `loaded`: the
    digest of the values the form was opened with (a 409 if they changed since)."""
    with write_transaction():
        store = _locked(code, actor)
        _check_unchanged(store_values(store), loaded)
        zone = values.get("timezone", store.timezone)
        kept = _move_zone(store, zone) if zone != store.timezone else 0
        before, after = _apply(store, values, STORE_FIELDS)
        if not after:
            return False
        if kept:
            after["bookings_kept"] = kept
        _record(store, actor, AuditAction.STORE_UPDATED, store.code, before, after)
    return True


NOTICE_FIELDS = ("notices_zh", "notices_en")


def post_notices(code: str, actor: User, zh: str, en: str, loaded: str | None = None) -> bool:
    """The displays' notices alone (the live floor posts them); True when they changed.
    `loaded`: the digest of the notices the form was opened with (a 409 if they changed since)."""
    with write_transaction():
        store = _locked(code, actor)
        _check_unchanged({name: getattr(store, name) for name in NOTICE_FIELDS}, loaded)
        before, after = _apply(store, {"notices_zh": zh, "notices_en": en}, NOTICE_FIELDS)
        if not after:
            return False
        _record(store, actor, AuditAction.NOTICES_CHANGED, store.code, before, after)
    return True


# Tickets that are still somewhere in their visit: today's queue under the current service day.
OPEN_TICKETS = (TicketStatus.WAITING, *AT_COUNTER, TicketStatus.PARKED)


def _move_zone(store: Store, zone: str) -> int:
    """A new time zone moves the service day, so it is refused while any ticket of today (in the
    old zone or the new one) is still open: their numbers, positions and the day's statistics
    would change day under them. Bookings keep the date and time of day they were made for (the
    customer was told "10:00"), re-anchored in the new zone; the number of them."""
    moment = now()
    days = {service_day(moment, store.timezone), service_day(moment, zone)}
    busy = exists().where(
        Ticket.store_id == store.id,
        Ticket.service_day.in_(days),
        Ticket.status.in_(OPEN_TICKETS),
    )
    if db.session.scalar(select(busy)):
        raise Conflict(
            _l(
                "The time zone can be changed only while no ticket is waiting or being served. "
                "Please change it after closing."
            ),
            error_code="timezone_busy",
        )
    old, new = ZoneInfo(store.timezone), ZoneInfo(zone)
    booked = db.session.scalars(
        select(Appointment).where(
            Appointment.store_id == store.id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.slot_end > moment - timedelta(days=1),
        )
    ).all()
    for booking in booked:
        length = booking.slot_end - booking.slot_start
        local = booking.slot_start.astimezone(old).replace(tzinfo=None)
        booking.slot_start = local.replace(tzinfo=new).astimezone(UTC)
        booking.slot_end = booking.slot_start + length
        if booking.moved_from is not None:
            was = booking.moved_from.astimezone(old).replace(tzinfo=None)
            booking.moved_from = was.replace(tzinfo=new).astimezone(UTC)
    return len(booked)


def _service(store: Store, service_code: str) -> Service:
    service = db.session.scalar(
        select(Service).where(Service.store_id == store.id, Service.code == service_code)
    )
    if service is None:
        raise NotFound(_l("Unknown service."), error_code="unknown_service")
    return service


def service_code_taken(store: Store, service_code: str) -> bool:
    return bool(
        db.session.scalar(
            select(exists().where(Service.store_id == store.id, Service.code == service_code))
        )
    )


def save_service(
    code: str,
    actor: User,
    service_code: str,
    values: Mapping[str, Any],
    *,
    create: bool,
    loaded: str | None = None,
) -> bool:
    """Create service `service_code` or change it. A new prefix or lane applies to tickets issued
    from now on: a ticket keeps the label and lane it was issued with."""
    with write_transaction():
        store = _locked(code, actor)
        if create:
            if service_code_taken(store, service_code):
                raise Conflict(_l("This code is taken."), error_code="code_taken")
            last = db.session.scalar(
                select(Service.sort_order)
                .where(Service.store_id == store.id)
                .order_by(Service.sort_order.desc())
                .limit(1)
            )
            service = Service(store_id=store.id, code=service_code, sort_order=(last or 0) + 1)
            _apply(service, values, SERVICE_FIELDS)
            db.session.add(service)
            after = {"code": service_code, **{k: _jsonable(values[k]) for k in SERVICE_FIELDS}}
            _record(store, actor, AuditAction.SERVICE_CREATED, service_code, None, after)
            return True
        service = _service(store, service_code)
        _check_unchanged({name: getattr(service, name) for name in SERVICE_FIELDS}, loaded)
        before, after = _apply(service, values, SERVICE_FIELDS)
        if not after:
            return False
        _record(store, actor, AuditAction.SERVICE_UPDATED, service_code, before, after)
    return True


def _counter(store: Store, number: int) -> Counter:
    counter = db.session.scalar(
        select(Counter).where(Counter.store_id == store.id, Counter.number == number)
    )
    if counter is None:
        raise NotFound(_l("Unknown counter."))
    return counter


def counter_number_taken(store: Store, number: int) -> bool:
    return bool(
        db.session.scalar(
            select(exists().where(Counter.store_id == store.id, Counter.number == number))
        )
    )


def save_counter(
    code: str, actor: User, number: int | None, values: Mapping[str, Any], loaded: str | None = None
) -> int:
    """Create a counter (number None) or change one's number and profile; its number."""
    with write_transaction():
        store = _locked(code, actor)
        new_number = int(values["number"])
        if number is None:
            if counter_number_taken(store, new_number):
                raise Conflict(_l("This number is taken."), error_code="number_taken")
            counter = Counter(store_id=store.id)
            _apply(counter, values, COUNTER_FIELDS)
            db.session.add(counter)
            after = {k: _jsonable(values[k]) for k in COUNTER_FIELDS if k in values}
            _record(
                store, actor, AuditAction.COUNTER_CREATED, str(new_number), None, after, new_number
            )
            return new_number
        counter = _counter(store, number)
        if counter.archived:
            raise Conflict(_l("This counter is archived."), error_code="counter_archived")
        # Only what this form changes (the floor's profile form sends the number and lanes).
        current = _counter_values(counter)
        _check_unchanged({k: current[k] for k in values if k in current}, loaded)
        if new_number != number:
            if counter_number_taken(store, new_number):
                raise Conflict(_l("This number is taken."), error_code="number_taken")
            if counter.clerk_id is not None:
                # The clerk's terminal and the display know the counter by its number.
                raise Conflict(
                    _l("A clerk is signed in at this counter: sign them out first."),
                    error_code="counter_staffed",
                )
        before, after = _apply(counter, values, COUNTER_FIELDS)
        if after:
            _record(
                store, actor, AuditAction.COUNTER_UPDATED, str(number), before, after, new_number
            )
    return new_number


def _has_history(counter: Counter) -> bool:
    return bool(
        db.session.scalar(select(exists().where(Ticket.counter_id == counter.id)))
        or db.session.scalar(select(exists().where(TicketEvent.counter_id == counter.id)))
    )


def retire_counter(code: str, actor: User, number: int) -> AuditAction:
    """Delete a counter that never served anyone; archive one with history (its tickets and events
    keep naming it). Never while a clerk is signed in or a customer is at it."""
    with write_transaction():
        store = _locked(code, actor)
        counter = _counter(store, number)
        if counter.archived:
            raise Conflict(_l("This counter is archived."), error_code="counter_archived")
        if counter.clerk_id is not None:
            raise Conflict(
                _l("A clerk is signed in at this counter: sign them out first."),
                error_code="counter_staffed",
            )
        busy = (*AT_COUNTER, TicketStatus.PARKED)
        at_counter = exists().where(Ticket.counter_id == counter.id, Ticket.status.in_(busy))
        sent_here = exists().where(
            Ticket.target_counter_id == counter.id, Ticket.status == TicketStatus.WAITING
        )
        if db.session.scalar(select(at_counter | sent_here)):
            raise Conflict(
                _l("Customers are still at or sent to this counter."), error_code="counter_busy"
            )
        before = _counter_values(counter)
        if _has_history(counter):
            # Without lanes it serves nobody, also in the estimate's run over every counter.
            counter.archived = True
            counter.lanes = []
            action = AuditAction.COUNTER_ARCHIVED
            after: dict[str, Any] | None = {"archived": True}
        else:
            db.session.delete(counter)
            action = AuditAction.COUNTER_DELETED
            after = None
        _record(store, actor, action, str(number), before, after, number)
    return action


# --- reads for the console -------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRow:
    code: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    category: str
    prefix: str
    lane: Lane
    expected_minutes: float
    bookable: bool
    slot_minutes: int
    slot_capacity: int
    active: bool
    outcomes: list[dict[str, str]]


@dataclass(frozen=True)
class CounterRow:
    number: int
    lanes: tuple[Lane, ...]
    archived: bool
    clerk: str | None
    name_zh: str = ""
    name_en: str = ""
    services: tuple[str, ...] = ()
    reserved: bool = False

    def name(self, lang: str) -> str:
        return (self.name_en or self.name_zh) if lang == "en" else (self.name_zh or self.name_en)


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str  # an AuditAction, or another page's (staff, devices)
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def store_values(store: Store) -> dict[str, Any]:
    return {name: getattr(store, name) for name in STORE_FIELDS}


def list_services(store: Store) -> list[ServiceRow]:
    rows = db.session.scalars(
        select(Service).where(Service.store_id == store.id).order_by(Service.sort_order)
    )
    return [ServiceRow(**{f: getattr(s, f) for f in ("code", *SERVICE_FIELDS)}) for s in rows]


def service_values(store: Store, service_code: str) -> dict[str, Any]:
    service = _service(store, service_code)
    return {name: getattr(service, name) for name in SERVICE_FIELDS}


def list_counters(store: Store) -> list[CounterRow]:
    rows = db.session.scalars(
        select(Counter).where(Counter.store_id == store.id).order_by(Counter.number)
    )
    return [
        CounterRow(
            c.number,
            c.lane_profile,
            c.archived,
            (c.clerk.display_name or c.clerk.username) if c.clerk else None,
            c.name_zh,
            c.name_en,
            tuple(c.services or ()),
            bool(c.reserved),
        )
        for c in rows
    ]


def counter_values(store: Store, number: int) -> dict[str, Any]:
    counter = _counter(store, number)
    if counter.archived:
        raise NotFound(_l("Unknown counter."))
    return _counter_values(counter)


def _counter_values(counter: Counter) -> dict[str, Any]:
    return {
        "number": counter.number,
        "name_zh": counter.name_zh or "",
        "name_en": counter.name_en or "",
        "lanes": list(counter.lanes or []),
        "services": list(counter.services or []),
        "reserved": bool(counter.reserved),
    }


def audit_log(store: Store, limit: int = MAX_AUDIT_ENTRIES) -> list[AuditRow]:
    rows = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.store_id == store.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return [AuditRow(e.at, e.actor_name, e.action, e.target, e.before, e.after) for e in rows]
