"""Sending the outbox after commit: never inside a write transaction, never in a request.

A round claims each due message in a short write transaction (its `send_at` moves past the
claim's lease, so a second process skips it), sends it with no transaction open, then records
the outcome in another short one: sent, or failed and retried after an exponential backoff
(`BACKOFF_S` doubling), or dead after `MAX_ATTEMPTS` with the provider's error kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from backend.core.clock import now
from backend.core.db import forbid_in_write_transaction, write_transaction
from backend.core.privacy import mask_phone
from backend.extensions import db, socketio
from backend.messaging.commands import PENDING
from backend.messaging.models import MessageKind, MessageStatus, OutboxMessage
from backend.messaging.sms import Sms, SmsError, SmsProvider, provider_from_config
from backend.models import Appointment

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


def _record(message_id: int, error: str | None, moment: datetime) -> MessageStatus:
    with write_transaction():
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        if error is None:
            message.status = MessageStatus.SENT
            message.sent_at = moment
            message.last_error = ""
        elif message.attempts >= MAX_ATTEMPTS:
            message.status = MessageStatus.DEAD
            message.last_error = error[:500]
        else:
            message.status = MessageStatus.FAILED
            message.last_error = error[:500]
            message.send_at = moment + backoff(message.attempts)
        return message.status


def send_due(provider: SmsProvider | None = None, limit: int = BATCH) -> RoundResult:
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
        appointment = _recipient(message)
        error: str | None
        if appointment is None or appointment.erased or not appointment.phone:
            error = "no recipient"
            db.session.rollback()
        else:
            sms = render_sms(message, appointment)
            db.session.rollback()  # no transaction open while the provider is called
            try:
                provider.send(sms)
                error = None
            except SmsError as exc:
                error = str(exc)
            except Exception as exc:  # a provider bug must not stop the round
                error = f"{type(exc).__name__}"
            log.info("message %s to %s: %s", message_id, mask_phone(sms.phone), error or "sent")
        status = _record(message_id, error, now())
        key = {MessageStatus.SENT: "sent", MessageStatus.DEAD: "dead"}.get(status, "failed")
        tally[key] += 1
    return RoundResult(**tally)


def _loop(app: Flask, interval: float) -> None:
    while True:
        socketio.sleep(interval)
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
