"""Sending the outbox after commit: never inside a write transaction, never in a request.

A round claims each due message in a short write transaction (its `send_at` moves past the
claim's lease, so a second process skips it), sends it with no transaction open, then records
the outcome in another short one: sent, or failed and retried after an exponential backoff
(`BACKOFF_S` doubling), or dead after `MAX_ATTEMPTS` with the provider's error kept.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, exists, select, update

from backend.core import db as core_db
from backend.core.clock import now
from backend.core.db import forbid_in_write_transaction, write_transaction
from backend.core.privacy import mask_phone
from backend.extensions import db, socketio
from backend.messaging.commands import PENDING, MessageDue, ticket_subject
from backend.messaging.models import (
    Channel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    PushSubscription,
)
from backend.messaging.notes import push_note
from backend.messaging.push import TTL_S, PushProvider, PushTarget
from backend.messaging.push import app_provider as app_push_provider
from backend.messaging.sms import Sms, SmsError, SmsProvider, provider_from_config
from backend.models import Appointment, Case, Store, Ticket
from backend.policy import AppointmentStatus, TicketStatus

log = logging.getLogger("hallqueue.messaging")
MAX_ATTEMPTS = 5
BACKOFF_S = 60
CLAIM_LEASE = timedelta(minutes=5)
BATCH = 100
PROVIDER_KEY = "hallqueue.sms_provider"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1, 2, 4, 8 … minutes."""
    return timedelta(seconds=BACKOFF_S * 2 ** (attempts - 1))


def app_provider(app: Flask) -> SmsProvider:
    provider = app.extensions.get(PROVIDER_KEY)
    if provider is None:
        provider = app.extensions.setdefault(PROVIDER_KEY, provider_from_config(app.config))
    return provider  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RoundResult:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0


def _claim(message_id: int, due_at: datetime, moment: datetime) -> bool:
    with write_transaction():
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status.in_(PENDING),
                OutboxMessage.send_at == due_at,
            )
            .values(send_at=moment + CLAIM_LEASE, attempts=OutboxMessage.attempts + 1)
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]


def render_sms(message: OutboxMessage, appointment: Appointment) -> Sms:
    """The text in the customer's language; the link and number come from the booking now."""
    store = appointment.store
    lang = message.language
    local = appointment.slot_start.astimezone(ZoneInfo(store.timezone))
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    link = f"{base}/b/{appointment.manage_token}"
    params = {
        "store": store.name(lang),
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
        "code": appointment.code,
        "link": link,
    }
    with force_locale(lang):
        if message.kind == MessageKind.BOOKING_CONFIRMATION:
            text = _(
                "%(store)s: your booking on %(date)s at %(time)s is confirmed, code %(code)s. "
                "Change or cancel: %(link)s",
                **params,
            )
        else:
            text = _(
                "%(store)s: a reminder of your booking on %(date)s at %(time)s, code %(code)s. "
                "Check in at the kiosk when you arrive.",
                **params,
            )
    return Sms(appointment.phone, str(message.kind), params, text)


def _recipient(message: OutboxMessage) -> Appointment | None:
    kind, _sep, ident = message.recipient.partition(":")
    if kind != "appointment" or not ident.isdigit():
        return None
    return db.session.get(Appointment, int(ident))


def _ticket_of(message: OutboxMessage) -> Ticket | None:
    kind, _sep, ident = message.recipient.partition(":")
    if kind != "ticket" or not ident.isdigit():
        return None
    return db.session.get(Ticket, int(ident))


# An outcome: None (sent), or why not; `final` when retrying cannot help (nobody to send to, or
# what the message says no longer holds): the message is cancelled, not retried.
@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    final: bool = False


SENT = Outcome()


def _record(message_id: int, outcome: Outcome, moment: datetime) -> MessageStatus:
    with write_transaction():
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        error = outcome.error
        if error is None:
            message.status = MessageStatus.SENT
            message.sent_at = moment
            message.last_error = ""
        elif outcome.final:
            message.status = MessageStatus.CANCELLED
            message.last_error = error[:500]
        elif message.attempts >= MAX_ATTEMPTS:
            message.status = MessageStatus.DEAD
            message.last_error = error[:500]
        else:
            message.status = MessageStatus.FAILED
            message.last_error = error[:500]
            message.send_at = moment + backoff(message.attempts)
        return message.status


def _send_sms(message: OutboxMessage, provider: SmsProvider) -> Outcome:
    sms = _sms_of(message)
    db.session.rollback()  # no transaction open while the provider is called
    if sms is None:
        # A ticket's SMS is about now: once the ticket moved on, it is not sent at all.
        final = message.recipient.startswith(("ticket:", "case:"))
        return Outcome("no recipient", final=final)
    try:
        provider.send(sms)
        error = None
    except SmsError as exc:
        error = str(exc)
    except Exception as exc:  # a provider bug must not stop the round
        error = f"{type(exc).__name__}"
    log.info("message %s to %s: %s", message.id, mask_phone(sms.phone), error or "sent")
    return Outcome(error)


def _sms_of(message: OutboxMessage) -> Sms | None:
    if message.recipient.startswith("case:"):
        case = _case_of(message)
        if case is None or not case.consent or case.contact_erased or not case.contact_phone:
            return None
        return render_case_sms(message, case)
    if message.recipient.startswith("ticket:"):
        ticket = _ticket_of(message)
        if ticket is None or not ticket.phone or ticket.status != TicketStatus.WAITING:
            return None
        return render_ticket_sms(message, ticket)
    appointment = _recipient(message)
    if appointment is None or appointment.erased or not appointment.phone:
        return None
    return render_sms(message, appointment)


def _case_of(message: OutboxMessage) -> Case | None:
    _kind, _sep, ident = message.recipient.partition(":")
    return db.session.get(Case, int(ident)) if ident.isdigit() else None


def render_case_sms(message: OutboxMessage, case: Case) -> Sms:
    """A complaint case's news to its customer: the number, the promised date as the message
    was written (a later change has its own message), and after resolution where to answer."""
    store = db.session.get(Store, case.store_id)
    assert store is not None
    lang = message.language
    params = {
        "store": store.name(lang),
        "number": str(message.params.get("number", case.number)),
        "date": str(message.params.get("date", case.promised_by.isoformat())),
    }
    ticket = db.session.get(Ticket, case.ticket_id) if case.ticket_id else None
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    with force_locale(lang):
        if message.kind == MessageKind.CASE_OPENED:
            text = _(
                "%(store)s: your complaint is registered as %(number)s; we will answer by "
                "%(date)s.",
                **params,
            )
        elif message.kind == MessageKind.CASE_PROMISE:
            text = _(
                "%(store)s: the answer to your complaint %(number)s now comes by %(date)s.",
                **params,
            )
        elif ticket is not None:
            text = _(
                "%(store)s: your complaint %(number)s is resolved. Were you satisfied? Please "
                "tell us (1-5 stars): %(link)s",
                link=f"{base}/t/{ticket.token}",
                **params,
            )
        else:
            text = _(
                "%(store)s: your complaint %(number)s is resolved. Thank you for your patience.",
                **params,
            )
    return Sms(case.contact_phone, str(message.kind), params, text)


def render_ticket_sms(message: OutboxMessage, ticket: Ticket) -> Sms:
    """A remote joiner's "almost your turn" (the number they gave, in their language)."""
    assert ticket.phone is not None
    note = push_note(message, ticket, None, message.language)
    params = {"label": ticket.label, "ahead": str(message.params.get("ahead", ""))}
    return Sms(ticket.phone, str(message.kind), params, f"{note.title}: {note.body}")


def _send_push(message: OutboxMessage, provider: PushProvider) -> Outcome:
    """To every subscription of the subject, each in its own language: sent when one took it;
    a subscription its push service calls gone (404/410) is deleted; failures are retried."""
    prepared = _push_targets(message)
    db.session.rollback()  # no transaction open while the push services are called
    if isinstance(prepared, Outcome):
        return prepared
    ttl = TTL_S.get(str(message.kind), 900)
    gone: list[int] = []
    errors: list[str] = []
    delivered = 0
    for sub_id, target, payload in prepared:
        result = provider.send(target, payload, ttl)
        if result.ok:
            delivered += 1
        elif result.gone:
            gone.append(sub_id)
        else:
            errors.append(result.error or f"HTTP {result.status}")
    if gone:
        forget_subscriptions(gone)
    log.info(
        "push %s: %s delivered, %s gone, %s failed", message.id, delivered, len(gone), len(errors)
    )
    if delivered:
        return SENT
    if errors:
        return Outcome("; ".join(errors))
    return Outcome("no subscription left", final=True)


PushPlan = list[tuple[int, PushTarget, dict[str, Any]]]


def _push_targets(message: OutboxMessage) -> PushPlan | Outcome:
    ticket = _ticket_of(message)
    appointment = None if ticket is not None else _recipient(message)
    if ticket is not None:
        if not _ticket_still(message, ticket):
            return Outcome("the ticket moved on", final=True)
        owner = PushSubscription.ticket_id == ticket.id
    elif appointment is not None and appointment.status == AppointmentStatus.BOOKED:
        owner = PushSubscription.appointment_id == appointment.id
    else:
        return Outcome("no recipient", final=True)
    subs = db.session.scalars(select(PushSubscription).where(owner)).all()
    plan: PushPlan = []
    for sub in subs:
        if ticket is not None:
            note = push_note(message, ticket, None, sub.language)
        else:
            assert appointment is not None
            note = push_note(message, None, appointment, sub.language)
        plan.append((sub.id, PushTarget(sub.endpoint, sub.p256dh, sub.auth), note.payload()))
    return plan


def _ticket_still(message: OutboxMessage, ticket: Ticket) -> bool:
    """What the message says still holds: the same visit (not one before a rejoin, nor an earlier
    part of a visit for several services), waiting for "almost", at the counter for a call."""
    if message.subject != ticket_subject(ticket.id, ticket.rejoin_count, ticket.plan_step):
        return False
    if message.kind == MessageKind.ALMOST:
        return ticket.status == TicketStatus.WAITING
    return ticket.status == TicketStatus.CALLED


def forget_subscriptions(ids: list[int]) -> None:
    """The push service says these are gone: deleted (and a ticket left with none is marked)."""
    with write_transaction():
        tickets = set(
            db.session.scalars(
                select(PushSubscription.ticket_id).where(
                    PushSubscription.id.in_(ids), PushSubscription.ticket_id.is_not(None)
                )
            )
        )
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(ids)))
        for ticket_id in tickets:
            left = db.session.scalar(
                select(exists().where(PushSubscription.ticket_id == ticket_id))
            )
            if not left:
                db.session.execute(
                    update(Ticket).where(Ticket.id == ticket_id).values(push_subscribed=False)
                )


def send_due(
    provider: SmsProvider | None = None,
    limit: int = BATCH,
    push_provider: PushProvider | None = None,
) -> RoundResult:
    """One round: every message due now, oldest first (at most `limit`)."""
    forbid_in_write_transaction("sending messages")
    provider = provider or app_provider(current_app)
    moment = now()
    due = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.send_at)
        .where(OutboxMessage.status.in_(PENDING), OutboxMessage.send_at <= moment)
        .order_by(OutboxMessage.send_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    tally = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
    for message_id, due_at in due:
        if not _claim(message_id, due_at, moment):
            tally["skipped"] += 1
            continue
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        if message.channel == Channel.PUSH:
            outcome = _send_push(message, push_provider or app_push_provider(current_app))
        else:
            outcome = _send_sms(message, provider)
        status = _record(message_id, outcome, now())
        key = {MessageStatus.SENT: "sent", MessageStatus.DEAD: "dead"}.get(status, "failed")
        if status == MessageStatus.CANCELLED:
            key = "skipped"
        tally[key] += 1
    return RoundResult(**tally)


# Set after the commit of a change that made a message due now; the loop looks every second.
_wake = threading.Event()
WAKE_POLL_S = 1.0


def _wake_on_commit(staged: list[Any]) -> None:
    if any(isinstance(item, MessageDue) for item in staged):
        _wake.set()


core_db.on_commit(_wake_on_commit)


def _loop(app: Flask, interval: float) -> None:
    waited = 0.0
    while True:
        socketio.sleep(min(WAKE_POLL_S, interval))
        waited += min(WAKE_POLL_S, interval)
        if not _wake.is_set() and waited < interval:
            continue
        _wake.clear()
        waited = 0.0
        with app.app_context():
            try:
                send_due()
            except Exception:  # the next round tries again
                app.logger.exception("sending messages failed")
            finally:
                db.session.remove()


STARTED_KEY = "hallqueue.sender_started"


def start_sender(app: Flask) -> None:
    """The background sender of a serving process, started by its first request (a CLI command
    builds the app too, and must not start one); off when MESSAGES_SEND_INTERVAL is none."""
    interval = app.config.get("MESSAGES_SEND_INTERVAL")
    if interval is None or app.config.get("TESTING"):
        return

    def start_once() -> None:
        if app.extensions.get(STARTED_KEY):
            return
        app.extensions[STARTED_KEY] = True
        socketio.start_background_task(_loop, app, float(interval))

    app.before_request(start_once)
