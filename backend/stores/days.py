"""A store's calendar from the manager console: closed days (holidays) and special days with their
own hours, and what becomes of the bookings on them.

A change of days is one write transaction on the locked store row (configure's `_locked` and
`_record`): the store's closed dates and special hours, the bookings that no longer fit cancelled
with the store's message or moved to the slots the manager chose, one `AuditEntry` and a
`settings_changed` event for the kiosks and displays. No booking is dropped silently: when some
would no longer fit and the manager has not decided about exactly those (a booking made after the
list was shown counts), nothing is written and `BookingsAffected` names them, with a free slot
suggested for each. A booking made after the change commits is refused by the booking command
itself, which reads the same closed dates and hours under the same lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backend.bookings.briefs import BookingBrief, brief_fields
from backend.bookings.commands import ACTIVE
from backend.bookings.models import Appointment, StoreAction
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict
from backend.extensions import db
from backend.policy import AppointmentStatus
from backend.policy.slots import (
    BookingRules,
    HallHours,
    Interval,
    day_slots,
    day_spans,
    local_today,
    max_overlap,
    within_hours,
)
from backend.staff.models import User
from backend.stores.configure import AuditAction, _check_unchanged, _locked, _record
from backend.stores.models import Service, Store
from backend.stores.settings import hall_hours

# A change spans at most this many days (a week's holiday fits, a typing slip of a year does not);
# days may be set this far ahead; bookings may be moved at most this far ahead (the longest
# booking horizon the console allows).
MAX_RANGE_DAYS = 31
MAX_AHEAD_DAYS = 366
MAX_MOVE_DAYS = 90
# Where a new time is suggested for a booking: its own day (when new hours leave room), then the
# days after it.
SUGGEST_DAYS = 14
MAX_MESSAGE = 500


class DayKind(StrEnum):
    CLOSED = "closed"  # a holiday: no queue, no bookings
    SPECIAL = "special"  # open with the day's own hours
    USUAL = "usual"  # back to the weekday's hours


class Decision(StrEnum):
    CANCEL = "cancel"
    MOVE = "move"


@dataclass(frozen=True)
class DayChange:
    """Days `first` … `last` (inclusive) become closed, special (with `spans`) or usual again."""

    first: date
    last: date
    kind: DayKind
    spans: tuple[tuple[str, str], ...] = ()

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class BookingPlan:
    """The manager's decision about the bookings they were shown (`seen`: their fingerprint)."""

    decision: Decision
    seen: str
    message_zh: str = ""
    message_en: str = ""
    moves: Mapping[int, datetime] = field(default_factory=dict)  # booking id -> new slot start


@dataclass(frozen=True)
class AffectedBooking(BookingBrief):
    suggestion: datetime | None  # a free slot of its service under the new hours, if any


DECIDE_FIRST = _l("There are bookings on these days. Please decide about them first.")
CHANGED_MEANWHILE = _l(
    "The bookings on these days changed meanwhile. Nothing was saved: here they are now."
)


class BookingsAffected(Conflict):
    """Bookings that the change would leave outside the hours: nothing was written."""

    def __init__(
        self, bookings: list[AffectedBooking], seen: str, *, changed_meanwhile: bool
    ) -> None:
        message = CHANGED_MEANWHILE if changed_meanwhile else DECIDE_FIRST
        super().__init__(message, error_code="bookings_affected")
        self.bookings = bookings
        self.seen = seen
        self.changed_meanwhile = changed_meanwhile


class MovesRefused(BadInput):
    """Some of the chosen new times do not fit: nothing was written. `errors`: booking id ->
    the reason, in the user's language."""

    def __init__(self, errors: dict[int, LazyString]) -> None:
        super().__init__(
            _l("Some of the new times do not fit. Nothing was saved."), error_code="moves_refused"
        )
        self.errors = errors


class DayRefused(BadInput):
    """The change itself cannot be made (a day in the past, too far ahead)."""


# --- reads for the console -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayRow:
    day: date
    kind: DayKind
    spans: tuple[tuple[str, str], ...]  # the special day's hours (none when closed)
    usual: tuple[tuple[str, str], ...]  # the weekday's hours it replaces
    bookings: int  # active bookings on that day


def days_values(store: Store) -> dict[str, Any]:
    """What a days form is opened with (its staleness is judged on these)."""
    return {
        "closed_dates": sorted(store.closed_dates or []),
        "special_hours": dict(sorted((store.special_hours or {}).items())),
    }


def store_today(store: Store) -> date:
    return local_today(now(), store.timezone)


def coming_days(store: Store) -> list[DayRow]:
    """The closed and special days from today on, by date."""
    today = store_today(store)
    closed = {date.fromisoformat(d) for d in store.closed_dates or []}
    special = {date.fromisoformat(d): spans for d, spans in (store.special_hours or {}).items()}
    days = sorted(d for d in closed | set(special) if d >= today)
    counts = dict(
        db.session.execute(
            select(Appointment.day, func.count())
            .where(
                Appointment.store_id == store.id,
                Appointment.day.in_(days),
                Appointment.status.in_(ACTIVE),
            )
            .group_by(Appointment.day)
        ).all()
    )
    return [
        DayRow(
            day,
            DayKind.CLOSED if day in closed else DayKind.SPECIAL,
            () if day in closed else _pairs(special[day]),
            _pairs((store.hours or {}).get(str(day.weekday())) or []),
            counts.get(day, 0),
        )
        for day in days
    ]


def preview(store: Store, change: DayChange) -> tuple[list[AffectedBooking], str]:
    """The bookings the change would leave outside the hours and their fingerprint (a read, for
    showing the decision again after an invalid answer)."""
    closed, special = _overrides_after(store, change)
    hours = HallHours(store.timezone, store.hours or {}, closed, special)
    found = _affected(store, change, hours)
    return _described(store, found, hours), _fingerprint(found)


# --- the change ----------------------------------------------------------------------------------


def change_days(
    code: str,
    actor: User,
    change: DayChange,
    plan: BookingPlan | None = None,
    loaded: str | None = None,
) -> bool:
    """Close days, give them their own hours or their usual ones back; True when something
    changed. Bookings that would fall outside the new hours need `plan`, made for exactly those
    bookings (else BookingsAffected, nothing written); a move that does not fit raises
    MovesRefused (nothing written)."""
    with write_transaction():
        store = _locked(code, actor)
        _check_dates(store, change)
        closed, special = _overrides_after(store, change)
        before, after = _changed_days(store, change, closed, special)
        if not after:
            return False  # already so (a second click): nothing to undo, nothing to say
        _check_unchanged(days_values(store), loaded)
        hours = HallHours(store.timezone, store.hours or {}, closed, special)
        found = _affected(store, change, hours)
        if found:
            seen = _fingerprint(found)
            if plan is None or plan.seen != seen:
                described = _described(store, found, hours)
                raise BookingsAffected(described, seen, changed_meanwhile=plan is not None)
            after.update(_carry_out(store, found, hours, plan))
        store.closed_dates = sorted(d.isoformat() for d in closed)
        store.special_hours = {
            d.isoformat(): [list(s) for s in special[d]] for d in sorted(special)
        }
        _record(store, actor, _action(change.kind), _target(change), before, after)
    return True


def _check_dates(store: Store, change: DayChange) -> None:
    today = store_today(store)
    if change.first < today:
        raise DayRefused(_l("This day is past."), error_code="day_past")
    if change.last < change.first:
        raise DayRefused(_l("The last day cannot be before the first."), error_code="bad_range")
    if (change.last - change.first).days >= MAX_RANGE_DAYS:
        raise DayRefused(
            _l("At most %(n)s days at once.", n=MAX_RANGE_DAYS), error_code="range_too_long"
        )
    if (change.last - today).days > MAX_AHEAD_DAYS:
        raise DayRefused(_l("This day is too far ahead."), error_code="day_too_far")


def _overrides_after(
    store: Store, change: DayChange
) -> tuple[frozenset[date], dict[date, Sequence[Sequence[str]]]]:
    current = hall_hours(store)
    closed = set(current.closed)
    special: dict[date, Sequence[Sequence[str]]] = dict(current.special)
    for day in change.dates():
        closed.discard(day)
        special.pop(day, None)
        if change.kind == DayKind.CLOSED:
            closed.add(day)
        elif change.kind == DayKind.SPECIAL:
            special[day] = [list(span) for span in change.spans]
    return frozenset(closed), special


def _state(day: date, closed: Iterable[date], special: Mapping[date, Any]) -> Any:
    """A day's override as the change log keeps it: None (usual hours), [] (closed), its spans."""
    if day in closed:
        return []
    if day in special:
        return [list(span) for span in special[day]]
    return None


def _changed_days(
    store: Store,
    change: DayChange,
    closed: frozenset[date],
    special: Mapping[date, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    current = hall_hours(store)
    old_days: dict[str, Any] = {}
    new_days: dict[str, Any] = {}
    for day in change.dates():
        old = _state(day, current.closed, current.special)
        new = _state(day, closed, special)
        if old != new:
            old_days[day.isoformat()], new_days[day.isoformat()] = old, new
    if not new_days:
        return {}, {}
    return {"days": old_days}, {"days": new_days}


def _affected(store: Store, change: DayChange, hours: HallHours) -> list[Appointment]:
    """Booked (not yet checked-in) appointments on the changed days outside the new hours."""
    rows = db.session.scalars(
        select(Appointment)
        .where(
            Appointment.store_id == store.id,
            Appointment.day.in_(change.dates()),
            Appointment.status == AppointmentStatus.BOOKED,
        )
        .order_by(Appointment.slot_start, Appointment.id)
    ).all()
    return [a for a in rows if not within_hours(hours, Interval(a.slot_start, a.slot_end), a.day)]


def _fingerprint(found: Sequence[Appointment]) -> str:
    text = ";".join(f"{a.id},{a.service_id},{a.slot_start.isoformat()},{a.status}" for a in found)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Capacity:
    """The slots left per service and day while bookings are placed one by one: the day's other
    bookings of the service count, the affected ones (leaving their slot) do not."""

    def __init__(self, store: Store, hours: HallHours, leaving: Sequence[Appointment]) -> None:
        self.store = store
        self.hours = hours
        self.leaving = {a.id for a in leaving}
        self.booked: dict[tuple[int, date], list[Interval]] = {}
        self.moment = now()

    def rules(self, service: Service) -> BookingRules:
        return BookingRules(
            timezone=self.hours.timezone,
            hours=self.hours.hours,
            closed=self.hours.closed,
            special=self.hours.special,
            slot_minutes=service.slot_minutes,
            capacity=service.slot_capacity,
            lead=timedelta(0),
            horizon_days=MAX_MOVE_DAYS,
        )

    def _booked(self, service: Service, day: date) -> list[Interval]:
        key = (service.id, day)
        if key not in self.booked:
            rows = db.session.execute(
                select(Appointment.id, Appointment.slot_start, Appointment.slot_end).where(
                    Appointment.store_id == self.store.id,
                    Appointment.service_id == service.id,
                    Appointment.day == day,
                    Appointment.status.in_(ACTIVE),
                )
            ).all()
            self.booked[key] = [Interval(s, e) for i, s, e in rows if i not in self.leaving]
        return self.booked[key]

    def free(self, service: Service, day: date) -> list[Interval]:
        rules = self.rules(service)
        slots = day_slots(rules, day, self._booked(service, day), self.moment)
        return [Interval(s.start, s.end) for s in slots if s.free > 0]

    def slot(self, service: Service, start: datetime) -> Interval | None:
        """The service's slot starting at `start` under the new hours, free or not."""
        day = start.astimezone(ZoneInfo(self.hours.timezone)).date()
        slots = day_slots(self.rules(service), day, [], self.moment)
        return next((Interval(s.start, s.end) for s in slots if s.start == start), None)

    def is_free(self, service: Service, slot: Interval) -> bool:
        day = slot.start.astimezone(ZoneInfo(self.hours.timezone)).date()
        return max_overlap(self._booked(service, day), slot) < service.slot_capacity

    def take(self, service: Service, slot: Interval) -> None:
        day = slot.start.astimezone(ZoneInfo(self.hours.timezone)).date()
        self._booked(service, day).append(slot)


def _suggest(capacity: _Capacity, booking: Appointment) -> datetime | None:
    """A free slot for the booking: on its own day (new hours may leave room) the one nearest its
    time; else on the first day after it with room, its time of day or the next free one after
    it, else that day's first."""
    zone = ZoneInfo(capacity.hours.timezone)
    clock = booking.slot_start.astimezone(zone).time()
    today = local_today(capacity.moment, capacity.hours.timezone)
    for offset in range(SUGGEST_DAYS + 1):
        day = booking.day + timedelta(days=offset)
        free = capacity.free(booking.service, day) if day >= today else []
        if not free:
            continue
        if offset == 0:
            chosen = min(free, key=lambda s: abs(s.start - booking.slot_start))
        else:
            later = [s for s in free if s.start.astimezone(zone).time() >= clock]
            chosen = later[0] if later else free[0]
        capacity.take(booking.service, chosen)
        return chosen.start
    return None


def _described(
    store: Store, found: Sequence[Appointment], hours: HallHours
) -> list[AffectedBooking]:
    capacity = _Capacity(store, hours, found)
    return [AffectedBooking(**brief_fields(a), suggestion=_suggest(capacity, a)) for a in found]


def _carry_out(
    store: Store, found: Sequence[Appointment], hours: HallHours, plan: BookingPlan
) -> dict[str, Any]:
    """Cancel or move every affected booking as decided; what the change log records of it."""
    moment = now()
    zone = ZoneInfo(store.timezone)

    def when(moment_utc: datetime) -> str:
        return moment_utc.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    message = {"message": " / ".join(m for m in (plan.message_zh, plan.message_en) if m)}
    if plan.decision == Decision.CANCEL:
        for booking in found:
            booking.status = AppointmentStatus.CANCELLED
            booking.closed_at = moment
            _tell(booking, StoreAction.CANCELLED, plan)
        cancelled = [f"{b.code} {when(b.slot_start)}" for b in found]
        return {"cancelled": cancelled} | (message if message["message"] else {})
    targets = _check_moves(store, found, hours, plan)
    moved = []
    for booking in found:
        slot = targets[booking.id]
        moved.append(f"{booking.code} {when(booking.slot_start)} → {when(slot.start)}")
        booking.moved_from = booking.slot_start
        booking.day = slot.start.astimezone(zone).date()
        booking.slot_start, booking.slot_end = slot.start, slot.end
        _tell(booking, StoreAction.MOVED, plan)
    return {"moved": moved} | (message if message["message"] else {})


def _tell(booking: Appointment, action: StoreAction, plan: BookingPlan) -> None:
    booking.store_action = action
    booking.store_message_zh = plan.message_zh[:MAX_MESSAGE]
    booking.store_message_en = plan.message_en[:MAX_MESSAGE]


def _check_moves(
    store: Store, found: Sequence[Appointment], hours: HallHours, plan: BookingPlan
) -> dict[int, Interval]:
    """Each booking's new slot, checked against the new hours and its service's capacity (the
    moves count against each other); every booking's reason if any does not fit."""
    capacity = _Capacity(store, hours, found)
    errors: dict[int, LazyString] = {}
    targets: dict[int, Interval] = {}
    for booking in found:
        start = plan.moves.get(booking.id)
        reason = _move_refusal(capacity, booking, start)
        if reason is not None:
            errors[booking.id] = reason
            continue
        assert start is not None
        slot = capacity.slot(booking.service, start)
        assert slot is not None
        capacity.take(booking.service, slot)
        targets[booking.id] = slot
    if errors:
        raise MovesRefused(errors)
    return targets


def _move_refusal(
    capacity: _Capacity, booking: Appointment, start: datetime | None
) -> LazyString | None:
    if start is None:
        return _l("Choose a new day and time.")
    zone = ZoneInfo(capacity.hours.timezone)
    day = start.astimezone(zone).date()
    if start < capacity.moment:
        return _l("This time has passed.")
    if (day - local_today(capacity.moment, capacity.hours.timezone)).days >= MAX_MOVE_DAYS:
        return _l("At most %(n)s days ahead.", n=MAX_MOVE_DAYS)
    if not day_spans(capacity.hours, day):
        return _l("The store is closed on that day.")
    slot = capacity.slot(booking.service, start)
    if slot is None:
        return _l("There is no such time on that day.")
    if not capacity.is_free(booking.service, slot):
        return _l("This time is fully booked.")
    return None


def _action(kind: DayKind) -> AuditAction:
    return {
        DayKind.CLOSED: AuditAction.DAYS_CLOSED,
        DayKind.SPECIAL: AuditAction.DAYS_SPECIAL,
        DayKind.USUAL: AuditAction.DAYS_USUAL,
    }[kind]


def _target(change: DayChange) -> str:
    if change.first == change.last:
        return change.first.isoformat()
    return f"{change.first.isoformat()} – {change.last.isoformat()}"


def _pairs(spans: Iterable[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(a), str(b)) for a, b in spans)


def parse_clock(text: str) -> time:
    hour, minute = text.split(":")[:2]
    return time(int(hour), int(minute))
