"""Read model of one store's queue today: waiting tickets, counters, positions and estimates.

Loaded inside the engine's transaction to build event payloads, and in a read transaction for the
snapshot and the public ticket view, so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import fmean

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .extensions import db
from .models import Counter, Service, Store, Ticket
from .policy import (
    AT_COUNTER,
    CounterView,
    Lane,
    QueueItem,
    QueuePolicy,
    TicketStatus,
    positions,
    servers_for_lane,
    service_day,
    simple_eta,
)

RECENT_CALLS = 10


@dataclass
class StoreQueue:
    store: Store
    now: datetime
    day: date
    services: list[Service]
    counters: list[Counter]
    waiting: list[Ticket]
    at_counter: dict[int, Ticket]
    policy: QueuePolicy
    ahead: dict[int, int] = field(default_factory=dict)

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
        active = list(
            db.session.scalars(
                select(Ticket)
                .options(selectinload(Ticket.counter))
                .where(
                    Ticket.store_id == store.id,
                    Ticket.service_day == day,
                    Ticket.status.in_([TicketStatus.WAITING, *AT_COUNTER]),
                )
                .order_by(Ticket.queue_at, Ticket.id)
            )
        )
        waiting = [t for t in active if t.status == TicketStatus.WAITING]
        at_counter: dict[int, Ticket] = {}
        for ticket in active:
            if ticket.status != TicketStatus.WAITING and ticket.counter_id is not None:
                at_counter[ticket.counter_id] = ticket
        queue = cls(
            store=store,
            now=now,
            day=day,
            services=services,
            counters=counters,
            waiting=waiting,
            at_counter=at_counter,
            policy=QueuePolicy(work_conserving=store.work_conserving),
        )
        queue.ahead = positions(queue.items())
        return queue

    def items(self) -> list[QueueItem]:
        return [
            QueueItem(t.id, Lane(t.lane), t.queue_at, t.service.code if t.service else "")
            for t in self.waiting
        ]

    def counter_views(self) -> list[CounterView]:
        return [CounterView(c.number, c.lane_profile, c.status) for c in self.counters]

    def lanes_in_use(self) -> list[Lane]:
        present = {Lane(s.lane) for s in self.services if s.active}
        return [lane for lane in Lane if lane in present]

    def mean_minutes(self, lane: Lane) -> float:
        durations = [s.expected_minutes for s in self.services if s.active and s.lane == lane]
        return fmean(durations) if durations else 5.0

    def eta(self, lane: Lane, ahead: int, minutes: float | None = None) -> tuple[int, int] | None:
        servers = servers_for_lane(lane, self.counter_views(), self.policy)
        return simple_eta(ahead, minutes or self.mean_minutes(lane), servers)

    def waiting_in(self, lane: Lane) -> int:
        return sum(1 for t in self.waiting if t.lane == lane)

    def ticket_position(self, ticket: Ticket) -> int | None:
        return self.ahead.get(ticket.id) if ticket.status == TicketStatus.WAITING else None

    def ticket_eta(self, ticket: Ticket) -> tuple[int, int] | None:
        ahead = self.ticket_position(ticket)
        if ahead is None:
            return None
        return self.eta(Lane(ticket.lane), ahead, ticket.service.expected_minutes)

    def current_at(self, counter: Counter) -> Ticket | None:
        return self.at_counter.get(counter.id)

    def recent_calls(self) -> list[Ticket]:
        return list(
            db.session.scalars(
                select(Ticket)
                .options(selectinload(Ticket.counter))
                .where(
                    Ticket.store_id == self.store.id,
                    Ticket.service_day == self.day,
                    Ticket.called_at.is_not(None),
                )
                .order_by(Ticket.called_at.desc(), Ticket.id.desc())
                .limit(RECENT_CALLS)
            )
        )
