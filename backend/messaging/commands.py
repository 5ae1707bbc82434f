"""Writing the outbox, inside the command that causes a message (atomic with the booking)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.core.db import in_write_transaction
from backend.extensions import db
from backend.messaging.models import Channel, MessageKind, MessageStatus, OutboxMessage
from backend.models import Appointment

PENDING = (MessageStatus.QUEUED, MessageStatus.FAILED)


def subject_of(appointment: Appointment) -> str:
    return f"appointment:{appointment.id}"


def put_message(
    store_id: int,
    subject: str,
    kind: MessageKind,
    channel: Channel,
    recipient: str,
    params: dict[str, Any],
    language: str,
    send_at: datetime,
) -> OutboxMessage:
    """The message for (subject, kind, channel), written once: a second call reschedules a
    message not yet sent and leaves a sent one alone."""
    if not in_write_transaction():
        raise RuntimeError("the outbox is written inside the command's transaction")
    found = db.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.subject == subject,
            OutboxMessage.kind == kind,
            OutboxMessage.channel == channel,
        )
    )
    if found is None:
        found = OutboxMessage(
            store_id=store_id,
            subject=subject,
            kind=kind,
            channel=channel,
            recipient=recipient,
            text_key=str(kind),
            params=params,
            language=language,
            send_at=send_at,
            status=MessageStatus.QUEUED,
            attempts=0,
            last_error="",
        )
        db.session.add(found)
    elif found.status in (*PENDING, MessageStatus.CANCELLED):
        found.params = params
        found.send_at = send_at
        found.status = MessageStatus.QUEUED
        found.attempts = 0
        found.last_error = ""
    return found


def booking_params(appointment: Appointment) -> dict[str, Any]:
    # No personal data and no manage token here: the sender reads them from the booking.
    return {"code": appointment.code, "slot_start": appointment.slot_start.isoformat()}


def schedule_booking_messages(appointment: Appointment, now: datetime, language: str) -> None:
    """The confirmation now, and the reminder `reminder_minutes` before the slot (none when the
    store turned reminders off or the slot is nearer than that)."""
    subject = subject_of(appointment)
    params = booking_params(appointment)
    recipient = subject
    store = appointment.store
    put_message(
        store.id,
        subject,
        MessageKind.BOOKING_CONFIRMATION,
        Channel.SMS,
        recipient,
        params,
        language,
        now,
    )
    reschedule_reminder(appointment, now, language)


def reschedule_reminder(appointment: Appointment, now: datetime, language: str) -> None:
    store = appointment.store
    remind_at = appointment.slot_start - timedelta(minutes=store.reminder_minutes)
    if store.reminder_minutes <= 0 or remind_at <= now:
        cancel_booking_messages(appointment, kinds=(MessageKind.BOOKING_REMINDER,))
        return
    put_message(
        store.id,
        subject_of(appointment),
        MessageKind.BOOKING_REMINDER,
        Channel.SMS,
        subject_of(appointment),
        booking_params(appointment),
        language,
        remind_at,
    )


def cancel_booking_messages(
    appointment: Appointment,
    kinds: tuple[MessageKind, ...] = (MessageKind.BOOKING_REMINDER,),
) -> None:
    """What is still to be sent about the booking no longer holds."""
    for message in db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.subject == subject_of(appointment),
            OutboxMessage.kind.in_(kinds),
            OutboxMessage.status.in_(PENDING),
        )
    ):
        message.status = MessageStatus.CANCELLED
