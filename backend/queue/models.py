"""Tickets, their append-only events and the per-day number counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.tokens import new_token
from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model
from backend.policy import Channel, Lane, TicketStatus

if TYPE_CHECKING:
    from backend.bookings.models import Appointment
    from backend.feedback.models import Feedback
    from backend.stores.models import Counter, Service, Store


class DailySequence(Model):
    """The per-store, per-prefix, per-day ticket number counter (never max()+1)."""

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Model):
    __table_args__ = (
        UniqueConstraint("store_id", "service_day", "label"),
        Index("ix_ticket_queue", "store_id", "service_day", "status"),
        # The kiosk print limit counts one kiosk's last minute; the projection reads the last
        # calls and the last hour's arrivals: each an index range, whatever the history's size.
        Index("ix_ticket_kiosk", "kiosk_id", "issued_at"),
        Index("ix_ticket_called", "store_id", "service_day", "called_at"),
        Index("ix_ticket_issued", "store_id", "service_day", "issued_at"),
        Index("ix_ticket_remote", "store_id", "remote_client"),
        # A retried POST (same Idempotency-Key) finds the ticket it already made.
        UniqueConstraint("store_id", "idempotency_key", name="uq_ticket_store_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    lane: Mapped[Lane] = mapped_column(enum_column(Lane))
    label: Mapped[str] = mapped_column(String(12))
    number: Mapped[int] = mapped_column(Integer)
    service_day: Mapped[date] = mapped_column(Date)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), default=Channel.KIOSK)
    status: Mapped[TicketStatus] = mapped_column(
        enum_column(TicketStatus), default=TicketStatus.WAITING
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Orders the queue. Equal to issued_at unless a rule re-inserts the ticket.
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime())
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    rejoin_count: Mapped[int] = mapped_column(Integer, default=0)
    # Times the customer let others go ahead (让号): at most once.
    let_ahead_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"))
    # Hash of the browser's remote-join cookie: one active remote ticket per phone per store.
    remote_client: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    # Staff-only note (set on transfer); never shown on public screens.
    note: Mapped[str | None] = mapped_column(Text)
    target_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    # A checked-in appointment's slot start: from then on it goes before walk-ins.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The store's version after this ticket's last change (a reader of the ticket needs a read
    # model at least this new).
    version: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # A remote ticket's "I am here" (when the store asks for it before the call).
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Priority care (爱心: elderly, disabled, pregnant), set by staff who issue the ticket.
    priority_care: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An appointment checked in before its window: not called before its slot (due_at).
    waits_for_slot: Mapped[bool] = mapped_column(default=False, server_default=false())
    # What the customer was promised the first time the ticket was shown (the answer):
    # the expected wait and its range in minutes, and when. Written once, after the issue's
    # commit; left empty when no estimate was shown (nobody at a counter for the lane).
    promised_minutes: Mapped[float | None] = mapped_column(Float)
    promised_low: Mapped[int | None] = mapped_column(Integer)
    promised_high: Mapped[int | None] = mapped_column(Integer)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The factor the promised range was scaled by (the store's `eta.range_scale` that day): what
    # the next days' scale learns from, in half-widths of the range before it.
    promised_scale: Mapped[float | None] = mapped_column(Float)
    # A visit for several services in a row (at most MAX_PLAN): their ids in order, the one being
    # waited for or served now (`plan_step`), and when this part began waiting (`part_at`; the
    # first part's is the issue). Each finished part but the last is kept as a VisitPart; the
    # ticket keeps its label, its link and its `queue_at` (the first issue) from part to part.
    plan: Mapped[list[int] | None] = mapped_column(JSON)
    plan_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    part_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Messages to the customer when the page is closed: a push subscription exists (so that a
    # call knows without a query whether to write one), and a remote joiner's mobile number
    # given with consent for the "almost your turn" SMS (erased with the store's retention).
    push_subscribed: Mapped[bool] = mapped_column(default=False, server_default=false())
    phone: Mapped[str | None] = mapped_column(String(32))
    phone_language: Mapped[str | None] = mapped_column(String(8))

    store: Mapped[Store] = relationship()
    service: Mapped[Service] = relationship()
    counter: Mapped[Counter | None] = relationship(foreign_keys=[counter_id])
    target_counter: Mapped[Counter | None] = relationship(foreign_keys=[target_counter_id])
    feedback: Mapped[Feedback | None] = relationship(back_populates="ticket")
    appointment: Mapped[Appointment | None] = relationship(back_populates="ticket")


class TicketEvent(Model):
    """Append-only trail of every transition: the ground truth for analytics and recovery."""

    __table_args__ = (
        Index("ix_ticket_event_store_at", "store_id", "at"),
        # The reports find each ticket's first call over a date range: one covering index range.
        Index("ix_ticket_event_report", "store_id", "action", "at", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class VisitPart(Model):
    """A finished part of a visit for several services (all but its last, which the ticket's row
    itself records): what the reports count as one visit of that service."""

    __tablename__ = "visit_part"
    __table_args__ = (Index("ix_visit_part_day", "store_id", "service_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    step: Mapped[int] = mapped_column(Integer)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    lane: Mapped[Lane] = mapped_column(enum_column(Lane))
    service_day: Mapped[date] = mapped_column(Date)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())  # this part began waiting
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32))
    promised_minutes: Mapped[float | None] = mapped_column(Float)
    promised_low: Mapped[int | None] = mapped_column(Integer)
    promised_high: Mapped[int | None] = mapped_column(Integer)
    promised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The factor the promised range was scaled by (the store's `eta.range_scale` that day): what
    # the next days' scale learns from, in half-widths of the range before it.
    promised_scale: Mapped[float | None] = mapped_column(Float)
