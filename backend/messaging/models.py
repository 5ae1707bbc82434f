"""The outbox: one row per message, written in the transaction of the change that causes it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # failed at least once; retried at `send_at`
    DEAD = "dead"  # gave up: `last_error` says why
    CANCELLED = "cancelled"  # what it announced no longer holds (a cancelled booking)


class MessageKind(StrEnum):
    BOOKING_CONFIRMATION = "confirmation"
    BOOKING_REMINDER = "reminder"
    ALMOST = "almost"  # a watched ticket's position reached the store's threshold
    CALLED = "called"  # the number is called to a counter
    RECALLED = "recalled"  # called again (one message at most, however many recalls)
    # A complaint case, to the customer who agreed to be contacted: its number and promised date
    # when opened, a new date, and its resolution with the follow-up question.
    CASE_OPENED = "case_opened"
    CASE_PROMISE = "case_promise"
    CASE_RESOLVED = "case_resolved"


class Channel(StrEnum):
    SMS = "sms"
    PUSH = "push"  # Web Push to every subscription of the subject, read at send time


class OutboxMessage(Model):
    """`subject` names what the message is about (`appointment:12`); with kind and channel it is
    unique, so a retried command finds the message it already wrote instead of adding one."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        UniqueConstraint("subject", "kind", "channel", name="uq_outbox_subject_kind_channel"),
        Index("ix_outbox_due", "status", "send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(64))
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    # Where it goes: the booking or ticket whose phone or push subscriptions it goes to
    # (`appointment:12`, `ticket:7`), read at send time, so an erased booking sends nothing and
    # the outbox holds no copy of a number or an endpoint.
    recipient: Mapped[str] = mapped_column(String(64))
    text_key: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    send_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus), default=MessageStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PushSubscription(Model):
    """A browser's Web Push subscription (W3C Push API) for one ticket or one booking: where to
    post (`endpoint`, the browser vendor's push service) and the keys to encrypt for (RFC 8291).
    The endpoint identifies a device, so it is personal data: deleted when the push service says
    it is gone (404/410), when the customer stops notifications, and with the store's retention."""

    __tablename__ = "push_subscription"
    __table_args__ = (
        UniqueConstraint("ticket_id", "endpoint", name="uq_push_ticket_endpoint"),
        UniqueConstraint("appointment_id", "endpoint", name="uq_push_appointment_endpoint"),
        Index("ix_push_store_created", "store_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointment.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024))
    p256dh: Mapped[str] = mapped_column(String(128))
    auth: Mapped[str] = mapped_column(String(64))
    # The subscriber's language: each message is written in it.
    language: Mapped[str] = mapped_column(String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
