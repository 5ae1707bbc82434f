"""A customer's push subscriptions: for a ticket (its token's holder) or a booking (its manage
token's holder). Validated before anything is stored; idempotent (the same browser subscribing
again updates its row); deleted by "stop notifications"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, delete, exists, func, select

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, NotFound
from backend.extensions import db
from backend.messaging.commands import cancel_booking_messages, put_message, subject_of
from backend.messaging.models import Channel, MessageKind, PushSubscription
from backend.messaging.push import check_endpoint, check_keys
from backend.models import Appointment, Ticket
from backend.policy import AppointmentStatus, TicketStatus
from backend.stores.operations import lock_store

# Browsers of one customer (a phone and a tablet): more is not a customer.
MAX_PER_SUBJECT = 5
TICKET_CLOSED = (TicketStatus.DONE, TicketStatus.CANCELLED)
BOOKING_OPEN = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)


@dataclass(frozen=True)
class SubscriptionInput:
    endpoint: str
    p256dh: str
    auth: str


def _check(sub: SubscriptionInput) -> None:
    if not check_endpoint(sub.endpoint, bool(current_app.config.get("PUSH_ALLOW_HTTP"))):
        raise BadInput(
            _l("The push subscription's endpoint must be an https address."),
            error_code="bad_endpoint",
            fields=["endpoint"],
        )
    if not check_keys(sub.p256dh, sub.auth):
        raise BadInput(
            _l("The push subscription's keys are not valid."),
            error_code="bad_keys",
            fields=["keys"],
        )


def _upsert(
    owner: ColumnElement[bool], store_id: int, sub: SubscriptionInput, lang: str, **ids: int
) -> bool:
    """The row for this owner and endpoint, new (True) or updated; at most MAX_PER_SUBJECT."""
    found = db.session.scalar(
        select(PushSubscription).where(owner, PushSubscription.endpoint == sub.endpoint)
    )
    if found is not None:
        found.p256dh, found.auth, found.language = sub.p256dh, sub.auth, lang
        return False
    count = db.session.scalar(select(func.count()).select_from(PushSubscription).where(owner))
    if (count or 0) >= MAX_PER_SUBJECT:
        raise Conflict(
            _l("Notifications are already on for %(n)s browsers.", n=MAX_PER_SUBJECT),
            error_code="too_many_subscriptions",
        )
    db.session.add(
        PushSubscription(
            store_id=store_id,
            endpoint=sub.endpoint,
            p256dh=sub.p256dh,
            auth=sub.auth,
            language=lang,
            created_at=now(),
            **ids,
        )
    )
    return True


def _ticket_of(token: str) -> tuple[int, int]:
    found = db.session.execute(
        select(Ticket.id, Ticket.store_id).where(Ticket.token == token)
    ).one_or_none()
    if found is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    return int(found.id), int(found.store_id)


def subscribe_ticket(token: str, sub: SubscriptionInput, lang: str) -> bool:
    """Messages about this ticket to this browser. Under the store's lock, so a call running at
    the same moment either sees the subscription or comes before it."""
    _check(sub)
    ticket_id, store_id = _ticket_of(token)
    with write_transaction():
        lock_store(store_id=store_id)
        ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
        assert ticket is not None
        if ticket.status in TICKET_CLOSED:
            raise Conflict(
                _l("This ticket is finished: there is nothing more to tell you about it."),
                error_code="ticket_closed",
            )
        created = _upsert(
            PushSubscription.ticket_id == ticket_id, store_id, sub, lang, ticket_id=ticket_id
        )
        ticket.push_subscribed = True
    return created


def unsubscribe_ticket(token: str, endpoint: str) -> None:
    """Stop notifications from this browser (nothing to stop is not an error)."""
    ticket_id, store_id = _ticket_of(token)
    with write_transaction():
        lock_store(store_id=store_id)
        db.session.execute(
            delete(PushSubscription).where(
                PushSubscription.ticket_id == ticket_id, PushSubscription.endpoint == endpoint
            )
        )
        left = db.session.scalar(select(exists().where(PushSubscription.ticket_id == ticket_id)))
        ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
        assert ticket is not None
        ticket.push_subscribed = bool(left)


def _booking_of(token: str) -> tuple[int, int]:
    found = db.session.execute(
        select(Appointment.id, Appointment.store_id).where(
            Appointment.manage_token == token, Appointment.erased.is_(False)
        )
    ).one_or_none()
    if found is None:
        raise NotFound(_l("This booking link is not valid or has expired."))
    return int(found.id), int(found.store_id)


def subscribe_booking(token: str, sub: SubscriptionInput, lang: str) -> bool:
    """The booking's reminder by push too (scheduled now when the store sends reminders)."""
    _check(sub)
    appointment_id, store_id = _booking_of(token)
    with write_transaction():
        store = lock_store(store_id=store_id)
        appointment = db.session.get(Appointment, appointment_id, populate_existing=True)
        assert appointment is not None
        if appointment.status not in BOOKING_OPEN:
            raise Conflict(
                _l("This booking can no longer be changed."), status=str(appointment.status)
            )
        created = _upsert(
            PushSubscription.appointment_id == appointment_id,
            store_id,
            sub,
            lang,
            appointment_id=appointment_id,
        )
        remind_at = appointment.slot_start - timedelta(minutes=store.reminder_minutes)
        moment = now()
        if (
            appointment.status == AppointmentStatus.BOOKED
            and store.reminder_minutes > 0
            and remind_at > moment
        ):
            put_message(
                store.id,
                subject_of(appointment),
                MessageKind.BOOKING_REMINDER,
                Channel.PUSH,
                subject_of(appointment),
                {"code": appointment.code, "slot_start": appointment.slot_start.isoformat()},
                lang,
                remind_at,
            )
    return created


def unsubscribe_booking(token: str, endpoint: str) -> None:
    appointment_id, store_id = _booking_of(token)
    with write_transaction():
        lock_store(store_id=store_id)
        db.session.execute(
            delete(PushSubscription).where(
                PushSubscription.appointment_id == appointment_id,
                PushSubscription.endpoint == endpoint,
            )
        )
        left = db.session.scalar(
            select(exists().where(PushSubscription.appointment_id == appointment_id))
        )
        if not left:
            appointment = db.session.get(Appointment, appointment_id)
            assert appointment is not None
            _cancel_push_reminder(appointment)


def _cancel_push_reminder(appointment: Appointment) -> None:
    cancel_booking_messages(
        appointment, kinds=(MessageKind.BOOKING_REMINDER,), channel=Channel.PUSH
    )


def booking_subscribed(appointment_id: int) -> bool:
    return bool(
        db.session.scalar(select(exists().where(PushSubscription.appointment_id == appointment_id)))
    )
