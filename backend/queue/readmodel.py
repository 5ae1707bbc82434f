"""The read side: one immutable projection of a store's queue per (store, version).

Everything a screen shows — positions, lane counts, the wait estimates, the counters' state, recent
and missed calls — is computed here once per version, after the command that made the version has
committed, from plain rows read in one consistent read transaction on a connection of its own (no
ORM objects, nothing shared with a request's session). Every reader of that version — the answer
to a command, the print page, the status page, the snapshot, the kiosk's services, the publisher's
live updates — gets the same object from a small per-process cache, and the sampled estimate is
seeded by the version, so every process computes the same one. No projection is ever built while
a write transaction is open (`forbid_in_write_transaction`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, func, select

from backend.bookings.models import Appointment
from backend.core.clock import now
from backend.core.db import data_key, forbid_in_write_transaction
from backend.core.sqltime import MinutesBetween
from backend.core.types import UTCDateTime
from backend.extensions import db
from backend.policy import (
    AT_COUNTER,
    Action,
    AppointmentStatus,
    Channel,
    CounterStatus,
    CounterView,
    Decision,
    Lane,
    QueueItem,
    QueuePolicy,
    TicketStatus,
    choose_next,
    may_call,
    next_queue_at,
    raise_fair_wait,
    service_day,
)
from backend.policy.eta import (
    ARRIVAL_HORIZON_MINUTES,
    BOOKED_LATE,
    CALL_GAP_CALLS,
    HISTORY_DAYS,
    PATIENCE_BANDS,
    ArrivalRate,
    BookedVisit,
    CounterLoad,
    Patience,
    PatienceTally,
    SampledBand,
    WaitForecast,
    borrowed,
    call_minutes,
    expected_bookings,
    fixed_band,
    forecast_banded,
    observed_patience,
    onward_of,
    range_error,
    range_scale,
    run_forward,
    sample_count,
    shifted,
    show_rate,
    transfer_shares,
)
from backend.policy.patience import learned_patience
from backend.policy.slots import OpenState
from backend.queue.models import Ticket, TicketEvent
from backend.reports.queries import promises
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from backend.stores.settings import ServiceInfo, StoreSettings

# The day's last calls read (the display's recent calls; also those eta.call_minutes averages).
RECENT_CALLS = 10
# The spread of service times around their mean (coefficient of variation) for the range; how
# many sampled forward runs make it is `eta.sample_count` (see bench/BENCHMARKS.md for what they
# cost and cover).
ETA_SPREAD = 0.5
# A projection is rebuilt when the store changes, or when it is this old: estimates move with time.
MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TicketRow:
    """A ticket as the read side sees it: plain values, service code and counter numbers."""

    id: int
    label: str
    service_id: int
    service: str
    lane: Lane
    status: TicketStatus
    channel: Channel
    counter_id: int | None
    counter: int | None
    target_counter: int | None
    issued_at: datetime
    queue_at: datetime
    called_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    due_at: datetime | None
    recall_count: int
    rejoin_count: int
    version: int
    note: str | None  # staff only
    outcome: str | None
    arrived_at: datetime | None
    care: bool = False  # priority care (爱心), set by staff
    plan: tuple[int, ...] = ()  # a visit for several services: their ids in order
    plan_step: int = 0  # the part being waited for or served now
    waits_for_slot: bool = False  # an early arrival: not called before its slot
    let_ahead_count: int = 0  # the customer let others go ahead (让号), at most once


TICKET_COLUMNS = (
    Ticket.id,
    Ticket.label,
    Ticket.service_id,
    Ticket.lane,
    Ticket.status,
    Ticket.channel,
    Ticket.counter_id,
    Ticket.target_counter_id,
    Ticket.issued_at,
    Ticket.queue_at,
    Ticket.called_at,
    Ticket.started_at,
    Ticket.finished_at,
    Ticket.due_at,
    Ticket.recall_count,
    Ticket.rejoin_count,
    Ticket.version,
    Ticket.note,
    Ticket.outcome,
    Ticket.arrived_at,
    Ticket.priority_care,
    Ticket.plan,
    Ticket.plan_step,
    Ticket.waits_for_slot,
    Ticket.let_ahead_count,
)


@dataclass(frozen=True, slots=True)
class CounterState:
    id: int
    number: int
    lanes: tuple[Lane, ...]
    status: CounterStatus
    pause_reason: str | None
    clerk_id: int | None
    clerk_name: str | None
    current: TicketRow | None
    parked: tuple[TicketRow, ...]
    name_zh: str = ""
    name_en: str = ""
    services: frozenset[str] = frozenset()
    reserved: bool = False
    archived: bool = False
    back_at: datetime | None = None  # a pause's planned return

    @property
    def view(self) -> CounterView:
        return CounterView(self.number, self.lanes, self.status, self.services, self.reserved)

    def own_name(self, lang: str) -> str:
        """Its name besides the number (宽带专窗), empty when it has none."""
        return (self.name_en or self.name_zh) if lang == "en" else (self.name_zh or self.name_en)

    @property
    def staffed(self) -> bool:
        """A clerk is signed in and the counter is not paused: it serves, and only such
        counters count in the estimate."""
        return self.clerk_id is not None and self.status == CounterStatus.OPEN

    def planned_return(self, moment: datetime) -> datetime | None:
        """When the clerk said the paused counter would be back, while that is still to come
        (screens never show a return time that has passed)."""
        if self.status != CounterStatus.PAUSED or self.back_at is None:
            return None
        return self.back_at if self.back_at > moment else None

    @property
    def serves_in_forecast(self) -> bool:
        """A clerk is signed in: staffed now, or paused and coming back, at the return said or
        soon (backend/policy/eta.py, CounterLoad.starts_at)."""
        return self.clerk_id is not None

    @property
    def public_status(self) -> str:
        """What the hall is told: open, paused, or closed (nobody signed in)."""
        if self.status == CounterStatus.PAUSED:
            return "paused"
        return "open" if self.clerk_id is not None else "closed"


@dataclass(frozen=True)
class Projection:
    store: StoreSettings
    moment: datetime
    day: date
    services: tuple[ServiceInfo, ...]
    counters: tuple[CounterState, ...]
    waiting: tuple[TicketRow, ...]
    active: Mapping[int, TicketRow]
    recent_calls: tuple[TicketRow, ...]
    missed: tuple[TicketRow, ...]
    positions: Mapping[int, int]
    forecasts: Mapping[int, WaitForecast]
    waits_now: Mapping[int, float]
    # service id -> the sampled band of the ticket a new one would be called after: its
    # estimate's median, low and high minus its wait in the point run
    waits_band: Mapping[int, tuple[float, float, float]]
    lane_counts: Mapping[Lane, int]
    now_calling: tuple[TicketRow, ...]
    next_calls: Mapping[int, Decision]  # counter number -> what its next call would be
    queues: Mapping[int, tuple[int, ...]]  # counter number -> ticket ids it may call, in order
    open_state: OpenState
    held: frozenset[int]  # waiting tickets the policy skips for now (remote, not yet arrived)
    band: SampledBand | None  # the sampled runs' band, kept for the next versions' point runs
    # How customers have been giving up: today's, or while too few have, the earlier days' (None:
    # too few either).
    patience: Patience | None
    # The factor every range shown is scaled by: what the store's earlier promises needed
    # (`eta.range_scale`), kept with each promise.
    range_scale: float
    _services_by_id: Mapping[int, ServiceInfo] = field(repr=False)
    _counter_numbers: Mapping[int, int] = field(repr=False)

    @property
    def version(self) -> int:
        return self.store.version

    # --- tickets ---------------------------------------------------------------------------

    def row_of(self, ticket: Ticket) -> TicketRow:
        """The ticket as of this projection, or (not active any more) from its own row."""
        known = self.active.get(ticket.id)
        if known is not None and known.version == ticket.version:
            return known
        return _row(ticket, self._services_by_id, self._counter_numbers)

    def position(self, row: TicketRow) -> int | None:
        """People the store will call before this ticket, in the policy's own order."""
        if row.status != TicketStatus.WAITING:
            return None
        known = self.positions.get(row.id)
        if known is None and row.id not in self.active:
            return len(self.waiting) - len(self.held)  # newer than this projection: last
        return known

    def is_next(self, row: TicketRow) -> bool:
        """Some staffed counter's next call would be this ticket."""
        return row.status == TicketStatus.WAITING and any(
            d.ticket_id == row.id
            for number, d in self.next_calls.items()
            if (c := self.counter(number)) is not None and c.staffed
        )

    def eta_reason(self, row: TicketRow) -> str | None:
        """Why a waiting ticket has no estimate (shown instead of a made-up number)."""
        if row.status != TicketStatus.WAITING or self.ticket_eta(row) is not None:
            return None
        return "confirm_arrival" if row.id in self.held else "no_staffed_counter"

    def service_eta_reason(self, service_id: int) -> str | None:
        if self.wait_now(service_id) is not None:
            return None
        return "store_closed" if not self.open_state.open else "no_staffed_counter"

    def ticket_eta(self, row: TicketRow) -> tuple[int, int] | None:
        if row.status != TicketStatus.WAITING:
            return None
        found = self.forecasts.get(row.id)
        if found is None and row.id not in self.active and row.lane != Lane.APPOINTMENT:
            return self.wait_now(row.service_id)  # newer than this projection
        return found.as_range() if found else None

    def ticket_expected_minutes(self, row: TicketRow) -> float | None:
        """The estimate's expected value (the mean of the sampled runs), inside its range: what
        "called around 10:20" means; the middle of the range when there is no forecast yet."""
        eta = self.ticket_eta(row)
        if eta is None:
            return None
        found = self.forecasts.get(row.id)
        expected = found.point if found is not None else (eta[0] + eta[1]) / 2
        return min(max(expected, eta[0]), eta[1])

    def wait_now(self, service_id: int) -> tuple[int, int] | None:
        """The wait a new ticket for this service would have now (kiosk buttons, display
        lanes): the stand-ins' forward run, with the band of the ticket it would be called after
        widened for the minutes beyond it — what the ticket it prints then shows
        (`eta.borrowed`) — or the fixed band where nobody waits ahead of it."""
        point = self.waits_now.get(service_id)
        if point is None:
            return None
        offset = self.waits_band.get(service_id)
        if offset is not None:  # what the ticket it prints would show
            return shifted(point, offset).as_range()
        return fixed_band(point, self.range_scale).as_range()

    # --- lanes and counters ----------------------------------------------------------------

    def lanes_in_use(self) -> list[Lane]:
        present = {s.lane for s in self.services if s.active}
        if any(s.active and s.bookable for s in self.services):
            present.add(Lane.APPOINTMENT)
        return [lane for lane in Lane if lane in present]

    def waiting_in(self, lane: Lane) -> int:
        return self.lane_counts.get(lane, 0)

    def lane_wait_now(self, lane: Lane) -> tuple[int, int] | None:
        """For the display: the wait of a new ticket for the lane's first service."""
        services = [s for s in self.services if s.active and s.lane == lane]
        return self.wait_now(services[0].id) if services else None

    def lane_eta_reason(self, lane: Lane) -> str | None:
        """Why a lane shows no estimate (appointments never have a walk-in one)."""
        if lane == Lane.APPOINTMENT or self.lane_wait_now(lane) is not None:
            return None
        return "store_closed" if not self.open_state.open else "no_staffed_counter"

    def serving_counters(self, lane: Lane) -> list[int]:
        """Staffed counters that list this lane in their profile (where to expect a call from)."""
        return [c.number for c in self.counters if c.staffed and lane in c.lanes]

    def counter(self, number: int) -> CounterState | None:
        return next((c for c in self.counters if c.number == number), None)

    def service(self, service_id: int) -> ServiceInfo | None:
        return self._services_by_id.get(service_id)

    @property
    def active_services(self) -> list[ServiceInfo]:
        return [s for s in self.services if s.active]


def _row(ticket: Any, services: Mapping[int, ServiceInfo], numbers: Mapping[int, int]) -> TicketRow:
    service = services.get(ticket.service_id)
    target = getattr(ticket, "target_counter_id", None)
    return TicketRow(
        id=ticket.id,
        label=ticket.label,
        service_id=ticket.service_id,
        service=service.code if service else "",
        lane=Lane(ticket.lane),
        status=TicketStatus(ticket.status),
        channel=Channel(ticket.channel),
        counter_id=ticket.counter_id,
        counter=numbers.get(ticket.counter_id) if ticket.counter_id else None,
        target_counter=numbers.get(target) if target else None,
        issued_at=ticket.issued_at,
        queue_at=ticket.queue_at,
        called_at=ticket.called_at,
        started_at=ticket.started_at,
        finished_at=ticket.finished_at,
        due_at=ticket.due_at,
        recall_count=ticket.recall_count,
        rejoin_count=ticket.rejoin_count,
        version=ticket.version or 0,
        note=ticket.note,
        outcome=ticket.outcome,
        arrived_at=getattr(ticket, "arrived_at", None),
        care=bool(getattr(ticket, "priority_care", False)),
        plan=tuple(getattr(ticket, "plan", None) or ()),
        plan_step=getattr(ticket, "plan_step", 0) or 0,
        waits_for_slot=bool(getattr(ticket, "waits_for_slot", False)),
        let_ahead_count=getattr(ticket, "let_ahead_count", 0) or 0,
    )


# --- building a projection -----------------------------------------------------------------------


@dataclass
class _Rows:
    store: StoreSettings
    day: date
    services: tuple[ServiceInfo, ...]
    counters: Sequence[Any]
    active: Sequence[Any]
    recent: Sequence[Any]
    missed: Sequence[Any]
    arrivals: list[tuple[int, int]]
    recent_lanes: list[Lane]
    patience: PatienceTally
    history: _History
    booked: list[tuple[int, datetime]]


LIVE = (TicketStatus.WAITING, TicketStatus.PARKED, *AT_COUNTER)


@dataclass(frozen=True)
class _Statements:
    """The projection's reads, built once with bound parameters (`store_id`, `day`, `moment`,
    `since`, `ids`): building a statement and its cache key each time cost more CPU than
    running most of them."""

    store: Any
    services: Any
    counters: Any
    active: Any
    versions: Any
    changed: Any
    recent: Any
    missed: Any
    arrivals: Any
    patience: Any
    patience_history: Any
    booked: Any
    shows_history: Any
    finished_history: Any
    transfers_history: Any


def _today() -> Any:
    return select(*TICKET_COLUMNS).where(
        Ticket.store_id == bindparam("store_id"), Ticket.service_day == bindparam("day")
    )


@cache
def _statements() -> _Statements:
    store_id: Any = bindparam("store_id")
    in_day = and_(Ticket.store_id == store_id, Ticket.service_day == bindparam("day"))
    counters = (
        select(
            Counter.id,
            Counter.number,
            Counter.name_zh,
            Counter.name_en,
            Counter.lanes,
            Counter.services,
            Counter.reserved,
            Counter.status,
            Counter.pause_reason,
            Counter.back_at,
            Counter.clerk_id,
            User.display_name,
            Counter.archived,
        )
        .outerjoin(User, User.id == Counter.clerk_id)
        .where(Counter.store_id == store_id)
        .order_by(Counter.number)
    )
    since = bindparam("since", type_=UTCDateTime())
    earlier = and_(
        Ticket.store_id == store_id,
        Ticket.service_day >= bindparam("first"),
        Ticket.service_day < bindparam("day"),
    )
    # A transfer's services, by code, as its event keeps them (a transfer to a counter alone,
    # with no service of its own, is no visit of another service).
    moved_from = TicketEvent.detail["from_service"].as_string()
    moved_to = TicketEvent.detail["to_service"].as_string()
    return _Statements(
        store=select(*Store.__table__.c).where(Store.id == store_id),
        services=select(*Service.__table__.c)
        .where(Service.store_id == store_id)
        .order_by(Service.sort_order),
        counters=counters,
        active=_today().where(Ticket.status.in_(LIVE)).order_by(Ticket.queue_at, Ticket.id),
        versions=select(Ticket.id, Ticket.version)
        .where(in_day, Ticket.status.in_(LIVE))
        .order_by(Ticket.queue_at, Ticket.id),
        changed=_today().where(Ticket.id.in_(bindparam("ids", expanding=True))),
        recent=_today()
        .where(Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(RECENT_CALLS),
        missed=_today()
        .where(
            Ticket.status == TicketStatus.NO_SHOW,
            Ticket.rejoin_count == 0,
            Ticket.finished_at >= since,
        )
        .order_by(Ticket.finished_at.desc())
        .limit(RECENT_CALLS),
        arrivals=select(Ticket.service_id, func.count())
        .where(in_day, Ticket.issued_at > since, Ticket.lane != Lane.APPOINTMENT)
        .group_by(Ticket.service_id),
        patience=_patience_statement(in_day),
        patience_history=_patience_statement(earlier, day_over=True),
        booked=select(Appointment.service_id, Appointment.slot_start)
        .where(
            Appointment.store_id == store_id,
            Appointment.day == bindparam("day"),
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.slot_start > since,
            Appointment.slot_start <= bindparam("until", type_=UTCDateTime()),
        )
        .order_by(Appointment.slot_start),
        shows_history=select(
            func.coalesce(func.sum(case((Appointment.status.in_(SHOWED), 1), else_=0)), 0),
            func.count(),
        ).where(
            Appointment.store_id == store_id,
            Appointment.day >= bindparam("first"),
            Appointment.day < bindparam("day"),
            Appointment.status != AppointmentStatus.CANCELLED,
        ),
        finished_history=select(Service.code, func.count())
        .select_from(Ticket)
        .join(Service, Service.id == Ticket.service_id)
        .where(earlier, Ticket.status == TicketStatus.DONE)
        .group_by(Service.code),
        transfers_history=select(moved_from, moved_to, func.count())
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(earlier, TicketEvent.action == Action.TRANSFER, moved_to.is_not(None))
        .group_by(moved_from, moved_to),
    )


# A booking of an earlier day came if it was checked in (and then, perhaps, served); one still
# marked booked, or marked a no-show, did not.
SHOWED = (AppointmentStatus.CHECKED_IN, AppointmentStatus.DONE)


def _active(
    conn: Connection, store_id: int, day: date, reuse: Mapping[int, TicketRow] | None
) -> list[Any]:
    """Today's live tickets in queue order: the rows of `reuse` whose version is unchanged,
    the others read in full (a queue of 300 costs a query of two integers per ticket instead
    of 22 columns, six of them timestamps to parse)."""
    q = _statements()
    where = {"store_id": store_id, "day": day}
    if not reuse:
        return list(conn.execute(q.active, where).all())
    versions = conn.execute(q.versions, where).all()
    changed = [
        ident
        for ident, version in versions
        if (known := reuse.get(ident)) is None or known.version != (version or 0)
    ]
    fresh: dict[int, Any] = {}
    for chunk in range(0, len(changed), READ_CHUNK):
        ids = changed[chunk : chunk + READ_CHUNK]
        fresh.update((row.id, row) for row in conn.execute(q.changed, where | {"ids": ids}))
    # A ticket that changed between the two reads of this one transaction cannot exist (one
    # snapshot): every id is in one of the two.
    return [fresh[ident] if ident in fresh else reuse[ident] for ident, _ in versions]


# Ids per IN (…) list when reading changed tickets (below every driver's parameter limit).
READ_CHUNK = 500


def _read(
    conn: Connection,
    store_id: int,
    moment: datetime,
    previous: Projection | None = None,
) -> _Rows | None:
    q = _statements()
    store_row = conn.execute(q.store, {"store_id": store_id}).one_or_none()
    if store_row is None:
        return None
    store = StoreSettings.of(store_row)
    day = service_day(moment, store.timezone)
    reuse = (
        previous.active
        if previous is not None
        and previous.day == day
        and previous.store.config_version == store.config_version
        else None
    )
    where = {"store_id": store_id, "day": day}
    services = tuple(ServiceInfo.of(row) for row in conn.execute(q.services, where))
    counters = conn.execute(q.counters, where).all()
    active = _active(conn, store_id, day, reuse)
    recent = conn.execute(q.recent, where).all()
    missed = conn.execute(
        q.missed, where | {"since": moment - timedelta(minutes=store.rejoin_minutes)}
    ).all()
    arrivals = conn.execute(
        q.arrivals, where | {"since": moment - timedelta(minutes=ARRIVAL_HORIZON_MINUTES)}
    ).all()
    lanes = [Lane(lane) for lane in store_row.recent_lanes or ()]
    patience = _tally(conn.execute(q.patience, where | {"moment": moment}).one())
    booked = conn.execute(
        q.booked,
        where
        | {
            "since": moment - BOOKED_LATE,
            "until": moment + timedelta(minutes=ARRIVAL_HORIZON_MINUTES),
        },
    ).all()
    return _Rows(
        store,
        day,
        services,
        counters,
        active,
        recent,
        missed,
        [(a[0], a[1]) for a in arrivals],
        lanes,
        patience,
        _history(conn, store_id, day, store.timezone),
        [(b[0], b[1]) for b in booked],
    )


def _tally(row: Any) -> PatienceTally:
    return PatienceTally(
        tuple(int(row[2 * band + 1] or 0) for band in range(len(PATIENCE_BANDS))),
        tuple(float(row[2 * band] or 0.0) for band in range(len(PATIENCE_BANDS))),
    )


@dataclass(frozen=True, slots=True)
class _History:
    """What the store's earlier days (HISTORY_DAYS of them) tell the estimate: how its customers
    gave up, the share of its bookings that came, and the share of each service's visits sent on
    to each other one (by service code: `eta.transfer_shares`), and how far its promises fell
    from the waits that followed."""

    patience: PatienceTally
    shows: float
    transfers: Mapping[tuple[str, str], float] = field(default_factory=dict)
    range_scale: float = 1.0  # what its earlier promises needed (`eta.range_scale`)


# The store's earlier days' history, per (database, store, day): those days no longer change, so
# it is read once a day per process (a month of tickets and bookings in a few aggregates, and its
# called tickets' promises), not per projection.
_HISTORY: dict[tuple[str, int, date], _History] = {}
_HISTORY_LOCK = threading.Lock()


def learned_store_patience(store_id: int, day: date, timezone: str) -> Patience | None:
    """How patient the store's customers were over its earlier days, for the deadline order of a
    call on `day` (`QueuePolicy.patience`): read with the rest of the history, once a day per
    process (usually by the day's first projection, before any call needs it)."""
    return learned_patience(_history(db.session.connection(), store_id, day, timezone).patience)


def _history(conn: Connection, store_id: int, day: date, timezone: str) -> _History:
    key = (data_key(), store_id, day)
    found = _HISTORY.get(key)
    if found is not None:
        return found
    first = day - timedelta(days=HISTORY_DAYS)
    where = {"store_id": store_id, "first": first, "day": day}
    q = _statements()
    came, booked = conn.execute(q.shows_history, where).one()
    moved = {(str(a), str(b)): int(n) for a, b, n in conn.execute(q.transfers_history, where)}
    # (A store that transfers nobody needs no count of its visits.)
    finished = {str(c): int(n) for c, n in conn.execute(q.finished_history, where)} if moved else {}
    kept = conn.execute(promises(store_id, timezone, first, day - timedelta(days=1)))
    found = _History(
        _tally(conn.execute(q.patience_history, where).one()),
        show_rate(int(came), int(booked)),
        transfer_shares(finished, moved),
        range_scale(
            range_error(float(actual), float(point), float(low), float(high), float(scale))
            for point, low, high, scale, actual in kept
            if None not in (point, low, high, actual) and actual >= 0
        ),
    )
    with _HISTORY_LOCK:
        if len(_HISTORY) >= CACHE_SIZE:
            _HISTORY.clear()  # more stores than any deployment serves: apps come and go (tests)
        for stale in [k for k in _HISTORY if k[:2] == key[:2] and k[2] != day]:
            del _HISTORY[stale]  # yesterday's tally of this store is not asked for again
        _HISTORY[key] = found
    return found


def _patience_statement(in_day: ColumnElement[bool], *, day_over: bool = False) -> Any:
    """How the day's customers have been giving up, in one aggregate statement: per band of
    minutes waited (eta.PATIENCE_BANDS), the minutes every ticket waited in it — from its queue
    time to its call, its leaving, or `moment` — and the tickets that left while waiting in it
    (cancelled without a call). The same tally as `eta.tally_patience` (the simulator's). With
    `day_over` (earlier days), a ticket still marked waiting is left out: when it stopped
    waiting is not known."""
    left = and_(Ticket.status == TicketStatus.CANCELLED, Ticket.called_at.is_(None))
    ends = [
        (Ticket.called_at.is_not(None), MinutesBetween(Ticket.called_at, Ticket.queue_at)),
        (left, MinutesBetween(Ticket.finished_at, Ticket.queue_at)),
    ]
    if not day_over:
        moment = bindparam("moment", type_=UTCDateTime())
        ends.append(
            (Ticket.status == TicketStatus.WAITING, MinutesBetween(moment, Ticket.queue_at))
        )
    waited = case(*ends)
    day_waits = select(waited.label("waited"), left.label("left")).where(in_day).subquery()
    minutes, gone = day_waits.c.waited, day_waits.c.left
    sums: list[ColumnElement[Any]] = []
    for band, start in enumerate(PATIENCE_BANDS):
        if band + 1 < len(PATIENCE_BANDS):
            end = PATIENCE_BANDS[band + 1]
            spent = case((minutes >= end, end - start), (minutes > start, minutes - start))
            leaving = and_(gone, minutes >= start, minutes < end)
        else:  # the last band is open-ended
            spent = case((minutes > start, minutes - start))
            leaving = and_(gone, minutes >= start)
        sums.append(func.coalesce(func.sum(spent), 0.0))
        sums.append(func.coalesce(func.sum(case((leaving, 1), else_=0)), 0))
    return select(*sums)


def build(store_id: int, moment: datetime, previous: Projection | None = None) -> Projection | None:
    """Read the store's rows in one consistent read transaction and compute its projection (with
    the sampled band of `previous`, the store's last projection, while it is young enough)."""
    forbid_in_write_transaction("building the read model")
    # A ticket's row changes only with its version, and what it names (service codes, counter
    # numbers) only with the store's configuration: the rows of the last projection are reused
    # (checked inside the read transaction: `_read` drops them if the configuration moved).
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            rows = _read(conn, store_id, moment, previous)
    if rows is None:
        return None
    same_day = previous is not None and previous.day == rows.day
    return _project(rows, moment, previous.band if previous is not None and same_day else None)


def _project(rows: _Rows, moment: datetime, band: SampledBand | None = None) -> Projection:
    services = {s.id: s for s in rows.services}
    # Archived counters keep their numbers for the day's past calls, but are no counter to show.
    numbers = {c.id: c.number for c in rows.counters}
    active = [t if isinstance(t, TicketRow) else _row(t, services, numbers) for t in rows.active]
    waiting = tuple(t for t in active if t.status == TicketStatus.WAITING)
    counters = _counter_states([c for c in rows.counters if not c.archived], active)
    store = rows.store
    held = frozenset(
        t.id
        for t in waiting
        if store.remote_requires_arrival and t.channel == Channel.REMOTE and t.arrived_at is None
    )
    items = [_item(t, services) for t in waiting if t.id not in held]
    staffed = [c for c in counters if c.staffed]
    loads = _loads([c for c in counters if c.serves_in_forecast], services, moment)
    # The deadline order's yardstick as the next call will raise it (call-next does the same,
    # with the same patience: `learned_store_patience`).
    learned = learned_patience(rows.history.patience)
    policy = raise_fair_wait(store.policy(rows.day, learned), items, len(staffed), moment)
    recent_lanes = rows.recent_lanes
    rates = [
        ArrivalRate(services[sid].code, services[sid].lane, services[sid].minutes, n / 60)
        for sid, n in rows.arrivals
        if sid in services
    ]
    patience = observed_patience(rows.patience, rows.history.patience)
    call_gap = call_minutes(_call_gaps(rows.recent[:CALL_GAP_CALLS]))
    booked = [
        BookedVisit(services[sid].code, services[sid].lane, services[sid].minutes, slot)
        for sid, slot in rows.booked
        if sid in services
    ]
    onward = onward_of(
        rows.history.transfers, {s.code: (s.lane, s.minutes) for s in rows.services if s.active}
    )
    open_state = store.open_state(moment)
    forecasts, band = forecast_banded(
        items,
        loads,
        policy,
        moment,
        recent_lanes,
        cv=ETA_SPREAD,
        samples=sample_count(len(items)),
        seed=store.version,
        rates=rates,
        band=band,
        patience=patience,
        booked=booked,
        shows=rows.history.shows,
        call_gap=call_gap,
        onward=onward,
        scale=rows.history.range_scale,
        last_walk_in=_last_walk_in(open_state, store, moment),
    )
    order = _call_order(items, list(forecasts), counters, services, policy, moment, recent_lanes)
    waits_now, after = _waits_now(
        items,
        loads,
        policy,
        moment,
        recent_lanes,
        rows.services,
        expected_bookings(booked, rows.history.shows, moment),
        call_gap,
    )
    counts: dict[Lane, int] = {}
    for ticket in waiting:
        counts[ticket.lane] = counts.get(ticket.lane, 0) + 1
    by_id = {i.ticket_id: i for i in items}
    next_calls = {
        c.number: choose_next(c.view, items, policy, moment, recent_lanes) for c in counters
    }
    queues = {
        c.number: _counter_queue(c, order, by_id, next_calls[c.number], policy, moment)
        for c in counters
    }
    return Projection(
        store=store,
        moment=moment,
        day=service_day(moment, store.timezone),
        services=rows.services,
        counters=counters,
        waiting=waiting,
        active=MappingProxyType({t.id: t for t in active}),
        recent_calls=tuple(_row(t, services, numbers) for t in rows.recent),
        missed=tuple(_row(t, services, numbers) for t in rows.missed),
        positions=MappingProxyType({ticket_id: n for n, ticket_id in enumerate(order)}),
        forecasts=MappingProxyType(forecasts),
        waits_now=MappingProxyType(waits_now),
        waits_band=MappingProxyType(
            {
                service_id: borrowed(
                    (f.point - wait, f.low - wait, f.high - wait),
                    waits_now[service_id] - wait,
                    rows.history.range_scale,
                )
                for service_id, (ahead, wait) in after.items()
                if (f := forecasts.get(ahead)) is not None and band is not None
            }
        ),
        lane_counts=MappingProxyType(counts),
        now_calling=tuple(
            sorted(
                (t for t in active if t.status == TicketStatus.CALLED),
                key=lambda t: (t.called_at or moment, t.id),
                reverse=True,
            )
        ),
        next_calls=MappingProxyType(next_calls),
        queues=MappingProxyType(queues),
        open_state=open_state,
        held=held,
        band=band,
        patience=patience,
        range_scale=rows.history.range_scale,
        _services_by_id=MappingProxyType(services),
        _counter_numbers=MappingProxyType(numbers),
    )


def _last_walk_in(state: OpenState, store: StoreSettings, moment: datetime) -> datetime:
    """The last moment a walk-in can take a ticket at the kiosk (now, when the hall is closed):
    the estimate counts on nobody coming after it."""
    if not state.open or state.closes_at is None:
        return moment
    return max(state.closes_at - timedelta(minutes=max(store.kiosk_cutoff_minutes, 0)), moment)


def _call_order(
    items: list[QueueItem],
    staffed_order: list[int],
    counters: tuple[CounterState, ...],
    services: Mapping[int, ServiceInfo],
    policy: QueuePolicy,
    moment: datetime,
    recent_lanes: list[Lane],
) -> list[int]:
    """The order the store will call the waiting tickets: the staffed counters' forward run;
    those no staffed counter would reach follow in the order every counter's run gives them."""
    reached = set(staffed_order)
    rest = [i for i in items if i.ticket_id not in reached]
    if not rest:
        return staffed_order
    everyone = _loads(counters, services, moment, all_open=True)
    later = run_forward(rest, everyone, policy, moment, lambda i: i.expected_minutes, recent_lanes)
    unreached = [i.ticket_id for i in sorted(rest, key=lambda i: (i.queue_at, i.ticket_id))]
    return staffed_order + list(later) + [t for t in unreached if t not in later]


def _counter_queue(
    counter: CounterState,
    order: list[int],
    items: Mapping[int, QueueItem],
    decision: Decision,
    policy: QueuePolicy,
    moment: datetime,
) -> tuple[int, ...]:
    """What this counter may call, in the store's order, its next call first."""
    view = replace(counter.view, status=CounterStatus.OPEN)
    mine = [t for t in order if may_call(view, items[t], policy, moment)]
    first = decision.ticket_id
    if first is not None and first in mine:
        mine.remove(first)
        mine.insert(0, first)
    return tuple(mine)


def _counter_states(counters: Sequence[Any], active: list[TicketRow]) -> tuple[CounterState, ...]:
    current: dict[int, TicketRow] = {}
    parked: dict[int, list[TicketRow]] = {}
    for ticket in sorted(active, key=lambda t: (t.called_at or t.queue_at, t.id)):
        if ticket.counter_id is None:
            continue
        if ticket.status in AT_COUNTER:
            current[ticket.counter_id] = ticket
        elif ticket.status == TicketStatus.PARKED:
            parked.setdefault(ticket.counter_id, []).append(ticket)
    return tuple(
        CounterState(
            id=c.id,
            number=c.number,
            lanes=tuple(Lane(lane) for lane in c.lanes or ()),
            status=CounterStatus(c.status),
            name_zh=c.name_zh,
            name_en=c.name_en,
            services=frozenset(c.services or ()),
            reserved=bool(c.reserved),
            archived=bool(c.archived),
            pause_reason=c.pause_reason,
            back_at=c.back_at,
            clerk_id=c.clerk_id,
            clerk_name=c.display_name,
            current=current.get(c.id),
            parked=tuple(parked.get(c.id, ())),
        )
        for c in counters
    )


def _item(ticket: TicketRow, services: Mapping[int, ServiceInfo]) -> QueueItem:
    service = services[ticket.service_id]
    return QueueItem(
        ticket.id,
        ticket.lane,
        ticket.queue_at,
        service.code,
        ticket.target_counter,
        ticket.due_at,
        service.lane,
        service.minutes,
        ticket.care,
        ticket.waits_for_slot,
    )


def _loads(
    counters: Sequence[CounterState],
    services: Mapping[int, ServiceInfo],
    moment: datetime,
    all_open: bool = False,
) -> list[CounterLoad]:
    """Each counter and when its current customer should be done (expected duration), with a
    paused counter's planned return."""
    out = []
    for counter in counters:
        view = replace(counter.view, status=CounterStatus.OPEN) if all_open else counter.view
        back_at = None if all_open else counter.back_at
        current = counter.current
        if current is None:
            out.append(CounterLoad(view, moment, back_at=back_at))
            continue
        began = current.started_at or current.called_at or moment
        minutes = services[current.service_id].minutes
        free_at = max(moment, began + timedelta(minutes=minutes))
        out.append(CounterLoad(view, free_at, began, minutes, back_at, _item(current, services)))
    return out


def _call_gaps(recent: Sequence[Any]) -> list[float]:
    """Minutes from each of the day's last calls to the start of its service, or to its being
    marked missed; a call still waiting for its customer is left out (not known yet)."""
    gaps = []
    for row in recent:
        if row.called_at is None:
            continue
        if row.started_at is not None:
            end = row.started_at
        elif row.status == TicketStatus.NO_SHOW and row.finished_at is not None:
            end = row.finished_at
        else:
            continue
        gaps.append((end - row.called_at) / timedelta(minutes=1))
    return gaps


def _waits_now(
    items: list[QueueItem],
    loads: list[CounterLoad],
    policy: Any,
    moment: datetime,
    recent_lanes: list[Lane],
    services: tuple[ServiceInfo, ...],
    booked: list[QueueItem],
    call_gap: float = 0.0,
) -> tuple[dict[int, float], dict[int, tuple[int, float]]]:
    """One forward run with a stand-in new ticket for every service at the end of its lane,
    and the bookings due meanwhile (`eta.expected_bookings`: called first when due, they hold
    a counter). The stand-ins take no counter time, so they neither delay each other nor
    anyone real. The waits by service id, and the waiting ticket each stand-in is called
    after with that ticket's wait in this run (none for one called before anyone waiting)."""
    last = max((i.queue_at for i in items), default=None)
    at = next_queue_at(last, moment)
    phantoms = {
        -service.id: QueueItem(
            -service.id,
            service.lane,
            at,
            service.code,
            service_lane=service.lane,
            expected_minutes=service.minutes,
        )
        for service in services
        if service.active
    }
    waits = run_forward(
        [*items, *phantoms.values()],
        loads,
        policy,
        moment,
        lambda i: 0.0 if i.ticket_id in phantoms else call_gap + i.expected_minutes,
        recent_lanes,
        booked,
    )
    after: dict[int, tuple[int, float]] = {}
    called: int | None = None  # the last waiting ticket called so far
    for ident in waits:  # in the order of the calls
        if ident not in phantoms:
            called = ident
        elif called is not None:
            after[-ident] = (called, waits[called])
    return {-ident: waits[ident] for ident in phantoms if ident in waits}, after


# --- the cache ---------------------------------------------------------------------------------

CACHE_SIZE = 1024


class ProjectionCache:
    """The newest projection of each store, built at most once per version (single flight)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], Projection] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int], threading.Lock] = {}
        self.builds = 0

    def peek(self, key: tuple[str, int]) -> Projection | None:
        with self._lock:
            return self._entries.get(key)

    def get(self, key: tuple[str, int], at_least: int, moment: datetime) -> Projection | None:
        with self._lock:
            builder = self._building.setdefault(key, threading.Lock())
        with builder:  # one build per store at a time; the others wait and share it
            hit = self.peek(key)
            if _usable(hit, at_least, moment):
                return hit
            built = build(key[1], moment, hit)
            if built is None:
                return None
            with self._lock:
                self.builds += 1
                self._entries[key] = built
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return built

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _usable(hit: Projection | None, at_least: int, moment: datetime) -> bool:
    return hit is not None and hit.version >= at_least and moment - hit.moment < MAX_AGE


CACHE = ProjectionCache()


def _key(store_id: int) -> tuple[str, int]:
    return (data_key(), store_id)


def current_version(store_id: int) -> int:
    version = db.session.scalar(select(Store.version).where(Store.id == store_id))
    return int(version or 0)


def projection(store_id: int, at_least: int | None = None) -> Projection:
    """A projection of the store at least as new as `at_least` (default: the committed version,
    which costs one small query to learn). Built here only if no reader built it already."""
    moment = now()
    key = _key(store_id)
    if at_least is not None:
        hit = CACHE.peek(key)
        if _usable(hit, at_least, moment):
            return hit  # type: ignore[return-value]
    wanted = current_version(store_id) if at_least is None else at_least
    found = CACHE.get(key, wanted, moment)
    if found is None:
        raise LookupError(store_id)
    return found


def latest(store_id: int, max_age: timedelta | None = MAX_AGE) -> Projection:
    """The newest projection already built (any version; no older than `max_age` unless that is
    None), else a fresh one: for answers that need the store's figures but not this very change
    (the POST of a command)."""
    hit = CACHE.peek(_key(store_id))
    if hit is not None and (max_age is None or now() - hit.moment < max_age):
        return hit
    return projection(store_id)
