"""Read model of one store's queue today: counters, lane counts, lane heads, positions, estimates.

Commands need only the few tickets that can be called next (the head of each service's queue:
within one service the oldest ticket always outranks the others) and per-lane counts, so a
command costs the same with 20 or 2,000 people waiting. The full waiting list is loaded only
when a snapshot or a position asks for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import TypeVar

from flask import current_app, g, has_request_context
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from backend.extensions import db
from backend.models import Counter, Service, Store, Ticket, TicketEvent
from backend.policy import (
    AT_COUNTER,
    Action,
    CounterStatus,
    CounterView,
    Lane,
    Ordering,
    QueueItem,
    QueuePolicy,
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
from backend.policy.learning import trusted_minutes

RECENT_CALLS = 10
# The spread of service times around their mean (coefficient of variation) for the range, and
# how many sampled forward runs make it (see bench/BENCHMARKS.md for what they cost and cover).
ETA_SPREAD = 0.5
ETA_SAMPLES = 16
# Sampled runs cost time in proportion to the queue: long queues get fewer samples.
ETA_SAMPLE_BUDGET = 16 * 300
ETA_MIN_SAMPLES = 4
# "Wait now" for a new ticket (kiosk buttons, display lanes): one forward run and a band around
# it, cheap enough to refresh on every change of the queue.
WAIT_NOW_LOW = 0.8
WAIT_NOW_HIGH = 1.3


# A queue longer than any hall holds (the race tests hold 2,000): estimates from the point run
# alone, refreshed at most every few seconds per store (see StoreQueue._throttled).
LONG_QUEUE = 400
LONG_QUEUE_REFRESH_S = 2.0
ETA_SAMPLED_LIMIT = LONG_QUEUE
_long_queue_cache: dict[tuple[str, int, str], tuple[float, object]] = {}
_T = TypeVar("_T")


def eta_samples(waiting: int) -> int:
    if waiting > ETA_SAMPLED_LIMIT:
        return 0
    return max(ETA_MIN_SAMPLES, min(ETA_SAMPLES, ETA_SAMPLE_BUDGET // max(waiting, 1)))


def service_minutes(service: Service) -> float:
    """The service's duration: learned from completed visits once there are enough of them."""
    return trusted_minutes(service.expected_minutes, service.learned_minutes, service.learned_count)


def store_policy(store: Store) -> QueuePolicy:
    return QueuePolicy(
        ordering=Ordering(store.ordering),
        work_conserving=store.work_conserving,
        appointment_grace=timedelta(minutes=store.checkin_late_minutes),
        max_wait=timedelta(minutes=store.max_wait_minutes) if store.max_wait_minutes else None,
        vip_first=store.vip_first,
        vip_window=store.vip_window,
    )


@dataclass
class StoreQueue:
    store: Store
    now: datetime
    day: date
    services: list[Service]
    counters: list[Counter]
    at_counter: dict[int, Ticket]
    lane_counts: dict[Lane, int]
    policy: QueuePolicy
    _ahead: dict[int, int] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, store: Store, now: datetime) -> StoreQueue:
        day = service_day(now, store.timezone)
        services = list(
            db.session.scalars(
                select(Service).where(Service.store_id == store.id).order_by(Service.sort_order)
            )
        )
        counters = list(
            db.session.scalars(
                select(Counter).where(Counter.store_id == store.id).order_by(Counter.number)
            )
        )
        at_counter: dict[int, Ticket] = {}
        for ticket in db.session.scalars(
            cls._today(store, day).where(Ticket.status.in_(AT_COUNTER)).order_by(Ticket.called_at)
        ):
            if ticket.counter_id is not None:
                at_counter[ticket.counter_id] = ticket
        counts = db.session.execute(
            select(Ticket.lane, func.count())
            .where(
                Ticket.store_id == store.id,
                Ticket.service_day == day,
                Ticket.status == TicketStatus.WAITING,
            )
            .group_by(Ticket.lane)
        )
        return cls(
            store=store,
            now=now,
            day=day,
            services=services,
            counters=counters,
            at_counter=at_counter,
            lane_counts={Lane(lane): n for lane, n in counts},
            policy=store_policy(store),
        )

    @classmethod
    def for_request(cls, store: Store, now: datetime) -> StoreQueue:
        """The read model for this request: the one the last command built, if the store has
        not changed since; else a fresh load."""
        cached: StoreQueue | None = g.get("queue_by_store", {}).get(store.id)
        if cached is not None and cached.version == store.version:
            return cached
        return cls.load(store, now)

    def remember(self) -> None:
        if has_request_context():
            g.setdefault("queue_by_store", {})[self.store.id] = self

    @property
    def version(self) -> int:
        return self.store.version

    @staticmethod
    def _today(store: Store, day: date):  # type: ignore[no-untyped-def]
        return (
            select(Ticket)
            .options(selectinload(Ticket.counter), selectinload(Ticket.service))
            .where(Ticket.store_id == store.id, Ticket.service_day == day)
        )

    # --- what a counter can call ---------------------------------------------------------

    def candidates(self) -> list[Ticket]:
        """The oldest waiting ticket of each service: the only ones call-next can pick."""
        ranked = (
            select(
                Ticket.id,
                Ticket.lane,
                func.row_number()
                .over(
                    # Tickets sent to one counter queue apart from the rest of their service,
                    # and appointments apart from walk-ins (earliest slot first).
                    partition_by=(Ticket.service_id, Ticket.lane, Ticket.target_counter_id),
                    order_by=(Ticket.due_at, Ticket.queue_at, Ticket.id),
                )
                .label("rank"),
            )
            .where(
                Ticket.store_id == self.store.id,
                Ticket.service_day == self.day,
                Ticket.status == TicketStatus.WAITING,
            )
            .subquery()
        )
        # Every checked-in appointment is a candidate (they are few): the first booking of a
        # service may be past its grace window while a later one's slot has just begun.
        heads = select(ranked.c.id).where(
            or_(ranked.c.rank == 1, ranked.c.lane == Lane.APPOINTMENT.value)
        )
        return list(
            db.session.scalars(self._today(self.store, self.day).where(Ticket.id.in_(heads)))
        )

    def items(self, tickets: list[Ticket]) -> list[QueueItem]:
        numbers = {c.id: c.number for c in self.counters}
        return [
            QueueItem(
                t.id,
                Lane(t.lane),
                t.queue_at,
                t.service.code,
                numbers.get(t.target_counter_id) if t.target_counter_id else None,
                t.due_at,
                Lane(t.service.lane),
                service_minutes(t.service),
            )
            for t in tickets
        ]

    @cached_property
    def waiting_items(self) -> list[QueueItem]:
        """The whole waiting queue as the policy sees it, read as plain rows (no ORM objects:
        this runs on every change, and a long queue must stay cheap)."""
        if "waiting" in self.__dict__:
            return self.items(self.waiting)
        numbers = {c.id: c.number for c in self.counters}
        services = {s.id: s for s in self.services}
        rows = db.session.execute(
            select(
                Ticket.id,
                Ticket.lane,
                Ticket.queue_at,
                Ticket.service_id,
                Ticket.target_counter_id,
                Ticket.due_at,
            )
            .where(
                Ticket.store_id == self.store.id,
                Ticket.service_day == self.day,
                Ticket.status == TicketStatus.WAITING,
            )
            .order_by(Ticket.queue_at, Ticket.id)
        ).all()
        return [
            QueueItem(
                ident,
                Lane(lane),
                queue_at,
                services[service_id].code,
                numbers.get(target) if target else None,
                due_at,
                Lane(services[service_id].lane),
                service_minutes(services[service_id]),
            )
            for ident, lane, queue_at, service_id, target, due_at in rows
        ]

    def counter_view(self, counter: Counter) -> CounterView:
        return CounterView(counter.number, counter.lane_profile, counter.status)

    # --- the whole queue, on demand ------------------------------------------------------

    @cached_property
    def waiting(self) -> list[Ticket]:
        return list(
            db.session.scalars(
                self._today(self.store, self.day)
                .where(Ticket.status == TicketStatus.WAITING)
                .order_by(Ticket.queue_at, Ticket.id)
            )
        )

    def _positions(self) -> dict[int, int]:
        if self._ahead is None:
            self._ahead = positions(self.waiting_items)
        return self._ahead

    def ticket_position(self, ticket: Ticket) -> int | None:
        if ticket.status != TicketStatus.WAITING:
            return None
        if self._ahead is not None or "waiting" in self.__dict__:
            return self._positions().get(ticket.id)
        # One ticket: count who is ahead in its lane instead of loading the queue.
        return db.session.scalar(
            select(func.count()).where(
                Ticket.store_id == self.store.id,
                Ticket.service_day == self.day,
                Ticket.status == TicketStatus.WAITING,
                Ticket.lane == ticket.lane,
                or_(
                    Ticket.queue_at < ticket.queue_at,
                    and_(Ticket.queue_at == ticket.queue_at, Ticket.id < ticket.id),
                ),
            )
        )

    # --- estimates -------------------------------------------------------------------------

    def lanes_in_use(self) -> list[Lane]:
        present = {Lane(s.lane) for s in self.services if s.active}
        if any(s.active and s.bookable for s in self.services):
            present.add(Lane.APPOINTMENT)
        return [lane for lane in Lane if lane in present]

    def waiting_in(self, lane: Lane) -> int:
        return self.lane_counts.get(lane, 0)

    def loads(self) -> list[CounterLoad]:
        """Each counter and when its current customer should be done (expected duration)."""
        out = []
        for counter in self.counters:
            current = self.current_at(counter)
            if current is None:
                out.append(CounterLoad(self.counter_view(counter), self.now))
                continue
            began = current.started_at or current.called_at or self.now
            minutes = service_minutes(current.service)
            free_at = max(self.now, began + timedelta(minutes=minutes))
            out.append(CounterLoad(self.counter_view(counter), free_at, began, minutes))
        return out

    @cached_property
    def recent_lanes(self) -> list[Lane]:
        return self.recent_call_lanes(max(self.policy.vip_window - 1, 0))

    @cached_property
    def forecasts(self) -> dict[int, WaitForecast]:
        """Every waiting ticket's estimated wait: the store's policy run forward."""
        return self._throttled(
            "forecasts",
            lambda: forecast(
                self.waiting_items,
                self.loads(),
                self.policy,
                self.now,
                self.recent_lanes,
                cv=ETA_SPREAD,
                samples=eta_samples(len(self.waiting_items)),
                seed=self.store.version,
                rates=self.arrival_rates(),
            ),
        )

    def _throttled(self, kind: str, compute: Callable[[], _T]) -> _T:
        """Recompute on every change, except for a queue longer than any hall holds: then at
        most every LONG_QUEUE_REFRESH_S seconds per store (each run costs time per ticket)."""
        if sum(self.lane_counts.values()) <= LONG_QUEUE:
            return compute()
        key = (current_app.config["SQLALCHEMY_DATABASE_URI"], self.store.id, kind)
        hit = _long_queue_cache.get(key)
        moment = time.monotonic()
        if hit is not None and moment - hit[0] < LONG_QUEUE_REFRESH_S:
            return hit[1]  # type: ignore[no-any-return]
        value = compute()
        _long_queue_cache[key] = (moment, value)
        return value

    def arrival_rates(self) -> list[ArrivalRate]:
        """Walk-ins per minute by service over the last hour: who is likely to come next."""
        since = self.now - timedelta(minutes=ARRIVAL_HORIZON_MINUTES)
        counts = db.session.execute(
            select(Ticket.service_id, func.count())
            .where(
                Ticket.store_id == self.store.id,
                Ticket.service_day == self.day,
                Ticket.issued_at > since,
                Ticket.lane != Lane.APPOINTMENT,
            )
            .group_by(Ticket.service_id)
        ).all()
        services = {s.id: s for s in self.services}
        return [
            ArrivalRate(
                services[service_id].code,
                Lane(services[service_id].lane),
                service_minutes(services[service_id]),
                count / ARRIVAL_HORIZON_MINUTES,
            )
            for service_id, count in counts
            if service_id in services
        ]

    def ticket_eta(self, ticket: Ticket) -> tuple[int, int] | None:
        if ticket.status != TicketStatus.WAITING:
            return None
        found = self.forecasts.get(ticket.id)
        if found is None and ticket.lane != Lane.APPOINTMENT:
            return self.wait_now(ticket.service)  # newer than a throttled forecast
        return found.as_range() if found else None

    def wait_now(self, service: Service) -> tuple[int, int] | None:
        """The wait a new ticket for this service would have now."""
        point = self._waits_now.get(service.id)
        if point is None:
            return None
        return WaitForecast(point, point * WAIT_NOW_LOW, point * WAIT_NOW_HIGH + 1).as_range()

    @cached_property
    def _waits_now(self) -> dict[int, float]:
        return self._throttled("waits_now", self._run_waits_now)

    def _run_waits_now(self) -> dict[int, float]:
        """One forward run with a stand-in new ticket for every service at the end of its lane.
        The stand-ins take no counter time, so they neither delay each other nor anyone real."""
        items = self.waiting_items
        last = max((i.queue_at for i in items), default=None)
        at = next_queue_at(last, self.now)
        phantoms = {
            -service.id: QueueItem(
                -service.id,
                Lane(service.lane),
                at,
                service.code,
                service_lane=Lane(service.lane),
                expected_minutes=service_minutes(service),
            )
            for service in self.services
            if service.active
        }
        waits = run_forward(
            [*items, *phantoms.values()],
            self.loads(),
            self.policy,
            self.now,
            lambda i: 0.0 if i.ticket_id < 0 else i.expected_minutes,
            self.recent_lanes,
        )
        return {-ident: waits[ident] for ident in phantoms if ident in waits}

    def lane_wait_now(self, lane: Lane) -> tuple[int, int] | None:
        """For the display: the wait of a new ticket for the lane's first service."""
        services = [s for s in self.services if s.active and s.lane == lane]
        return self.wait_now(services[0]) if services else None

    def current_at(self, counter: Counter) -> Ticket | None:
        return self.at_counter.get(counter.id)

    def serving_counters(self, lane: Lane) -> list[int]:
        """Open counters that list this lane in their profile (the ones to expect a call from)."""
        return [
            c.number
            for c in self.counters
            if c.status == CounterStatus.OPEN and lane in c.lane_profile
        ]

    def missed(self) -> list[Ticket]:
        """No-shows still inside the rejoin window, newest first (the display's 过号 list)."""
        since = self.now - timedelta(minutes=self.store.rejoin_minutes)
        return list(
            db.session.scalars(
                self._today(self.store, self.day)
                .where(
                    Ticket.status == TicketStatus.NO_SHOW,
                    Ticket.rejoin_count == 0,
                    Ticket.finished_at >= since,
                )
                .order_by(Ticket.finished_at.desc())
                .limit(RECENT_CALLS)
            )
        )

    def recent_call_lanes(self, count: int) -> list[Lane]:
        """Lanes of the store's last calls today, oldest first (for the VIP share)."""
        if count <= 0:
            return []
        lanes = db.session.scalars(
            select(Ticket.lane)
            .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
            .where(
                TicketEvent.store_id == self.store.id,
                TicketEvent.action == Action.CALL.value,
                Ticket.service_day == self.day,
            )
            .order_by(TicketEvent.id.desc())
            .limit(count)
        ).all()
        return [Lane(lane) for lane in reversed(lanes)]

    def parked_at(self, counter: Counter) -> list[Ticket]:
        return list(
            db.session.scalars(
                self._today(self.store, self.day)
                .where(Ticket.status == TicketStatus.PARKED, Ticket.counter_id == counter.id)
                .order_by(Ticket.started_at)
            )
        )

    def recent_calls(self) -> list[Ticket]:
        return list(
            db.session.scalars(
                self._today(self.store, self.day)
                .where(Ticket.called_at.is_not(None))
                .order_by(Ticket.called_at.desc(), Ticket.id.desc())
                .limit(RECENT_CALLS)
            )
        )
