"""Writing the outbox, inside the command that causes a message (atomic with the booking)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, or_, select, update

from backend.core.db import (
    forbid_in_write_transaction,
    in_write_transaction,
    stage,
    write_transaction,
)
from backend.extensions import db
from backend.messaging.models import (
    Channel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    PushSubscription,
)
from backend.models import Appointment, Case, Ticket
from backend.policy.cases import CaseStatus

if TYPE_CHECKING:
    from backend.queue.readmodel import Projection

PENDING = (MessageStatus.QUEUED, MessageStatus.FAILED)


@dataclass(frozen=True)
class MessageDue:
    """Staged when a message is due now: after commit the sender's next round starts at once
    instead of at its interval (a call's push must not wait 15 s)."""


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
    reschedule_reminder(appointment, now, language, push=False)  # a new booking: none yet


def reschedule_reminder(
    appointment: Appointment, now: datetime, language: str, *, push: bool | None = None
) -> None:
    """The reminder by SMS, and by push when the booking has a subscription (`push`: known
    already, else looked up)."""
    store = appointment.store
    remind_at = appointment.slot_start - timedelta(minutes=store.reminder_minutes)
    if store.reminder_minutes <= 0 or remind_at <= now:
        cancel_booking_messages(appointment, kinds=(MessageKind.BOOKING_REMINDER,))
        return
    if push is None:
        push = bool(
            db.session.scalar(
                select(exists().where(PushSubscription.appointment_id == appointment.id))
            )
        )
    for channel in (Channel.SMS, Channel.PUSH) if push else (Channel.SMS,):
        put_message(
            store.id,
            subject_of(appointment),
            MessageKind.BOOKING_REMINDER,
            channel,
            subject_of(appointment),
            booking_params(appointment),
            language,
            remind_at,
        )


def cancel_booking_messages(
    appointment: Appointment,
    kinds: tuple[MessageKind, ...] = (MessageKind.BOOKING_REMINDER,),
    channel: Channel | None = None,
) -> None:
    """What is still to be sent about the booking no longer holds (on every channel, or one)."""
    query = select(OutboxMessage).where(
        OutboxMessage.subject == subject_of(appointment),
        OutboxMessage.kind.in_(kinds),
        OutboxMessage.status.in_(PENDING),
    )
    if channel is not None:
        query = query.where(OutboxMessage.channel == channel)
    for message in db.session.scalars(query):
        message.status = MessageStatus.CANCELLED


# --- a ticket's messages: "almost your turn", "called" ------------------------------------------


def ticket_subject(ticket_id: int, rejoin_count: int, plan_step: int = 0) -> str:
    """A ticket's visit: after a rejoin it is called anew, and so is each next part of a visit
    for several services, so their messages are new ones."""
    rejoined = f"#{rejoin_count}" if rejoin_count else ""
    part = f"/{plan_step + 1}" if plan_step else ""
    return f"ticket:{ticket_id}{rejoined}{part}"


def ticket_recipient(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def note_called(
    store_id: int, ticket: Ticket, counter: int | None, moment: datetime, *, recall: bool = False
) -> None:
    """Inside the call (or recall) command: "please go to counter N" to the ticket's push
    subscriptions, once per visit. `ticket.push_subscribed` is on the row the command holds
    already, so a ticket nobody subscribed to costs no query. A recall sends one more message
    (RECALLED, once): the clerk is waiting for this customer, who may have missed the first."""
    if not ticket.push_subscribed:
        return
    kind = MessageKind.RECALLED if recall else MessageKind.CALLED
    put_message(
        store_id,
        ticket_subject(ticket.id, ticket.rejoin_count, ticket.plan_step),
        kind,
        Channel.PUSH,
        ticket_recipient(ticket.id),
        {"counter": counter},
        "zh",  # each subscription's own language is used at send time
        moment,
    )
    stage(MessageDue())


def note_near_turn(proj: Projection, moment: datetime, done: set[int]) -> int:
    """After commit, once per projection (the publisher): "almost your turn" to every ticket
    that has reached the store's threshold (`almost_ahead` people or fewer ahead) and asked for
    messages. The projection already knows every position, so this costs no forecast; the
    command stays as it was (positions follow the policy's whole order, which no command
    computes inside the write lock). `done` (kept by the caller per store) skips tickets handled
    already (a ticket without a subscription is looked at again: it may subscribe later); the
    outbox's unique (subject, kind, channel) keeps it to one message whatever happens, also
    across processes. Returns the number of messages written."""
    forbid_in_write_transaction("the almost-your-turn check")
    threshold = proj.store.almost_ahead
    if threshold <= 0:
        return 0
    near = {
        row.id: (row, ahead)
        for row in proj.waiting
        if row.id not in done
        and row.id not in proj.held
        and (ahead := proj.positions.get(row.id)) is not None
        and ahead <= threshold
    }
    if not near:
        return 0
    wanted = db.session.execute(
        select(Ticket.id, Ticket.push_subscribed, Ticket.phone, Ticket.phone_language).where(
            Ticket.id.in_(near), or_(Ticket.push_subscribed, Ticket.phone.is_not(None))
        )
    ).all()
    if not wanted:
        db.session.rollback()
        return 0
    written = 0
    with write_transaction():
        for ticket_id, push, phone, phone_language in wanted:
            row, ahead = near[ticket_id]
            channels = [c for c, on in ((Channel.PUSH, push), (Channel.SMS, bool(phone))) if on]
            for channel in channels:
                message = put_message(
                    proj.store.id,
                    ticket_subject(ticket_id, row.rejoin_count, row.plan_step),
                    MessageKind.ALMOST,
                    channel,
                    ticket_recipient(ticket_id),
                    {"ahead": ahead},
                    phone_language or "zh",
                    moment,
                )
                written += message.attempts == 0 and message.status == MessageStatus.QUEUED
            done.add(ticket_id)
        stage(MessageDue())
    return written


def erase_old_contacts(store_id: int, retention_days: int, moment: datetime) -> None:
    """Inside the store's sweep: push subscriptions and remote joiners' numbers older than the
    store's retention are deleted (the tickets and their statistics stay)."""
    start = moment - timedelta(days=retention_days)
    db.session.execute(
        delete(PushSubscription).where(
            PushSubscription.store_id == store_id, PushSubscription.created_at < start
        )
    )
    db.session.execute(
        update(Ticket)
        .where(
            Ticket.store_id == store_id,
            Ticket.service_day < start.date(),
            Ticket.phone.is_not(None),
        )
        .values(phone=None, phone_language=None)
    )


def carry_subscriptions(
    store_id: int, appointment_id: int, ticket: Ticket, moment: datetime
) -> None:
    """At check-in: the browsers notified about the booking are notified about its ticket too
    (its call), without subscribing again. One indexed query; nothing when there are none."""
    subs = db.session.scalars(
        select(PushSubscription).where(PushSubscription.appointment_id == appointment_id)
    ).all()
    if not subs:
        return
    db.session.flush()  # the new ticket's id
    for sub in subs:
        db.session.add(
            PushSubscription(
                store_id=store_id,
                ticket_id=ticket.id,
                endpoint=sub.endpoint,
                p256dh=sub.p256dh,
                auth=sub.auth,
                language=sub.language,
                created_at=moment,
            )
        )
    ticket.push_subscribed = True


# --- a complaint case's messages -----------------------------------------------------------------

# What the customer is told of, by the case's change (backend.cases.commands CaseChange.what).
CASE_KINDS = {"opened": MessageKind.CASE_OPENED, "promise": MessageKind.CASE_PROMISE}


def case_recipient(case_id: int) -> str:
    return f"case:{case_id}"


def note_case_change(case: Case, what: str, moment: datetime) -> None:
    """Inside the case's change: an SMS to a customer who agreed to be contacted, once per
    change (the subject names the timeline entry it is about): the case opened with its number
    and promised date, a new date, the case resolved with the follow-up question. The number is
    read from the case when the message is sent, so an erased contact sends nothing."""
    if not case.consent or not case.contact_phone or case.contact_erased:
        return
    kind = CASE_KINDS.get(what)
    if what == "status" and case.status == CaseStatus.RESOLVED:
        kind = MessageKind.CASE_RESOLVED
    if kind is None:
        return
    put_message(
        case.store_id,
        f"case:{case.id}@{len(case.notes)}",
        kind,
        Channel.SMS,
        case_recipient(case.id),
        {"number": case.number, "date": case.promised_by.isoformat()},
        "zh",
        moment,
    )
    stage(MessageDue())
