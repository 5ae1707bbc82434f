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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, func, select

from backend.core.clock import now
from backend.core.db import forbid_in_write_transaction
from backend.extensions import db
from backend.policy import (
    AT_COUNTER,
    Channel,
    CounterStatus,
    CounterView,
    Lane,
    QueueItem,
    TicketStatus,
    next_queue_at,
    positions,
    service_day,
)
from backend.policy.eta import (
    ARRIVAL_HORIZON_MINUTES,
    ArrivalRate,
    CounterLoad,
    WaitForecast,
    forecast,
    run_forward,
)
from backend.queue.models import Ticket
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from backend.stores.settings import ServiceInfo, StoreSettings

RECENT_CALLS = 10
# The spread of service times around their mean (coefficient of variation) for the range, and
# how many sampled forward runs make it (see bench/BENCHMARKS.md for what they cost and cover).
ETA_SPREAD = 0.5
ETA_SAMPLES = 16
# Sampled runs cost time in proportion to the queue: long queues get fewer samples, and a queue
# longer than any hall holds (the race tests hold 2,000) gets the point run alone.
ETA_SAMPLE_BUDGET = 16 * 300
ETA_MIN_SAMPLES = 4
ETA_SAMPLED_LIMIT = 400
# "Wait now" for a new ticket (kiosk buttons, display lanes): one forward run and a band around it.
WAIT_NOW_LOW = 0.8
WAIT_NOW_HIGH = 1.3
# A projection is rebuilt when the store changes, or when it is this old: estimates move with time.
MAX_AGE = timedelta(seconds=60)


def eta_samples(waiting: int) -> int:
    if waiting > ETA_SAMPLED_LIMIT:
        return 0
    return max(ETA_MIN_SAMPLES, min(ETA_SAMPLES, ETA_SAMPLE_BUDGET // max(waiting, 1)))


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

    @property
    def view(self) -> CounterView:
        return CounterView(self.number, self.lanes, self.status)


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
    lane_counts: Mapping[Lane, int]
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
        if row.status != TicketStatus.WAITING:
            return None
        known = self.positions.get(row.id)
        if known is None and row.id not in self.active:
            return self.waiting_in(row.lane)  # newer than this projection: behind its lane
        return known

    def ticket_eta(self, row: TicketRow) -> tuple[int, int] | None:
        if row.status != TicketStatus.WAITING:
            return None
        found = self.forecasts.get(row.id)
        if found is None and row.id not in self.active and row.lane != Lane.APPOINTMENT:
            return self.wait_now(row.service_id)  # newer than this projection
        return found.as_range() if found else None

    def wait_now(self, service_id: int) -> tuple[int, int] | None:
        """The wait a new ticket for this service would have now."""
        point = self.waits_now.get(service_id)
        if point is None:
            return None
        return WaitForecast(point, point * WAIT_NOW_LOW, point * WAIT_NOW_HIGH + 1).as_range()

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

    def serving_counters(self, lane: Lane) -> list[int]:
        """Open counters that list this lane in their profile (the ones to expect a call from)."""
        return [
            c.number for c in self.counters if c.status == CounterStatus.OPEN and lane in c.lanes
        ]

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
    )


# --- building a projection -----------------------------------------------------------------------


@dataclass
class _Rows:
    store: StoreSettings
    services: tuple[ServiceInfo, ...]
    counters: Sequence[Any]
    active: Sequence[Any]
    recent: Sequence[Any]
    missed: Sequence[Any]
    arrivals: list[tuple[int, int]]
    recent_lanes: list[Lane]


def _today(store_id: int, day: date) -> Any:
    return select(*TICKET_COLUMNS).where(Ticket.store_id == store_id, Ticket.service_day == day)


def _read(conn: Connection, store_id: int, moment: datetime) -> _Rows | None:
    store_row = conn.execute(select(*Store.__table__.c).where(Store.id == store_id)).one_or_none()
    if store_row is None:
        return None
    store = StoreSettings.of(store_row)
    day = service_day(moment, store.timezone)
    services = tuple(
        ServiceInfo.of(row)
        for row in conn.execute(
            select(*Service.__table__.c)
            .where(Service.store_id == store_id)
            .order_by(Service.sort_order)
        )
    )
    counters = conn.execute(
        select(
            Counter.id,
            Counter.number,
            Counter.lanes,
            Counter.status,
            Counter.pause_reason,
            Counter.clerk_id,
            User.display_name,
        )
        .outerjoin(User, User.id == Counter.clerk_id)
        .where(Counter.store_id == store_id)
        .order_by(Counter.number)
    ).all()
    live = (TicketStatus.WAITING, TicketStatus.PARKED, *AT_COUNTER)
    active = conn.execute(
        _today(store_id, day).where(Ticket.status.in_(live)).order_by(Ticket.queue_at, Ticket.id)
    ).all()
    recent = conn.execute(
        _today(store_id, day)
        .where(Ticket.called_at.is_not(None))
        .order_by(Ticket.called_at.desc(), Ticket.id.desc())
        .limit(RECENT_CALLS)
    ).all()
    missed = conn.execute(
        _today(store_id, day)
        .where(
            Ticket.status == TicketStatus.NO_SHOW,
            Ticket.rejoin_count == 0,
            Ticket.finished_at >= moment - timedelta(minutes=store.rejoin_minutes),
        )
        .order_by(Ticket.finished_at.desc())
        .limit(RECENT_CALLS)
    ).all()
    arrivals = conn.execute(
        select(Ticket.service_id, func.count())
        .where(
            Ticket.store_id == store_id,
            Ticket.service_day == day,
            Ticket.issued_at > moment - timedelta(minutes=ARRIVAL_HORIZON_MINUTES),
            Ticket.lane != Lane.APPOINTMENT,
        )
        .group_by(Ticket.service_id)
    ).all()
    lanes = [Lane(lane) for lane in store_row.recent_lanes or ()]
    return _Rows(
        store, services, counters, active, recent, missed, [(a[0], a[1]) for a in arrivals], lanes
    )


def build(store_id: int, moment: datetime) -> Projection | None:
    """Read the store's rows in one consistent read transaction and compute its projection."""
    forbid_in_write_transaction("building the read model")
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            rows = _read(conn, store_id, moment)
    return None if rows is None else _project(rows, moment)


def _project(rows: _Rows, moment: datetime) -> Projection:
    services = {s.id: s for s in rows.services}
    numbers = {c.id: c.number for c in rows.counters}
    active = [_row(t, services, numbers) for t in rows.active]
    waiting = tuple(t for t in active if t.status == TicketStatus.WAITING)
    counters = _counter_states(rows.counters, active)
    store = rows.store
    items = [_item(t, services) for t in waiting]
    loads = _loads(counters, services, moment)
    policy = store.policy()
    recent_lanes = rows.recent_lanes
    rates = [
        ArrivalRate(services[sid].code, services[sid].lane, services[sid].minutes, n / 60)
        for sid, n in rows.arrivals
        if sid in services
    ]
    forecasts = forecast(
        items,
        loads,
        policy,
        moment,
        recent_lanes,
        cv=ETA_SPREAD,
        samples=eta_samples(len(items)),
        seed=store.version,
        rates=rates,
    )
    counts: dict[Lane, int] = {}
    for ticket in waiting:
        counts[ticket.lane] = counts.get(ticket.lane, 0) + 1
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
        positions=MappingProxyType(positions(items)),
        forecasts=MappingProxyType(forecasts),
        waits_now=MappingProxyType(
            _waits_now(items, loads, policy, moment, recent_lanes, rows.services)
        ),
        lane_counts=MappingProxyType(counts),
        _services_by_id=MappingProxyType(services),
        _counter_numbers=MappingProxyType(numbers),
    )


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
            pause_reason=c.pause_reason,
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
    )


def _loads(
    counters: tuple[CounterState, ...], services: Mapping[int, ServiceInfo], moment: datetime
) -> list[CounterLoad]:
    """Each counter and when its current customer should be done (expected duration)."""
    out = []
    for counter in counters:
        current = counter.current
        if current is None:
            out.append(CounterLoad(counter.view, moment))
            continue
        began = current.started_at or current.called_at or moment
        minutes = services[current.service_id].minutes
        free_at = max(moment, began + timedelta(minutes=minutes))
        out.append(CounterLoad(counter.view, free_at, began, minutes))
    return out


def _waits_now(
    items: list[QueueItem],
    loads: list[CounterLoad],
    policy: Any,
    moment: datetime,
    recent_lanes: list[Lane],
    services: tuple[ServiceInfo, ...],
) -> dict[int, float]:
    """One forward run with a stand-in new ticket for every service at the end of its lane.
    The stand-ins take no counter time, so they neither delay each other nor anyone real."""
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
        lambda i: 0.0 if i.ticket_id < 0 else i.expected_minutes,
        recent_lanes,
    )
    return {-ident: waits[ident] for ident in phantoms if ident in waits}


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
            built = build(key[1], moment)
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
    return (str(db.engine.url), store_id)


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


def latest(store_id: int) -> Projection:
    """The newest projection already built (any version), else a fresh one: for answers that
    need the store's figures but not this very change (the POST of a command)."""
    hit = CACHE.peek(_key(store_id))
    if hit is not None and now() - hit.moment < MAX_AGE:
        return hit
    return projection(store_id)
