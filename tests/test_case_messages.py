"""A complaint case's messages to a customer who agreed to be contacted: its number and promised
date when it opens, a new date, its resolution with where to answer, each once and after commit;
none without consent; none once the contact is erased. On both tiers."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy import select

from backend.cases import commands as cases
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.messaging.models import Channel, MessageKind, MessageStatus, OutboxMessage
from backend.messaging.sender import send_due
from backend.messaging.sms import Sms
from backend.models import Case, Store

from .conftest import Api
from .test_cases import COMPLAINT, complain, manager


class Recorder:
    """An SMS provider that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[Sms] = []

    def send(self, sms: Sms) -> None:
        self.sent.append(sms)


def case_messages(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.recipient.like("case:%"))
                .order_by(OutboxMessage.id)
            )
        )
        db.session.expunge_all()
        return rows


def send(app: Flask, recorder: Recorder) -> Any:
    with app.app_context():
        return send_due(provider=recorder)


def test_a_case_tells_its_customer_its_number_date_and_resolution(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    ticket, done = complain(api)
    assert done.status_code == 200
    (opened,) = case_messages(app)
    assert (opened.kind, opened.channel) == (MessageKind.CASE_OPENED, Channel.SMS)
    recorder = Recorder()
    assert send(app, recorder).sent == 1
    (sms,) = recorder.sent
    with app.app_context():
        case = db.session.scalar(select(Case))
        number, promised, case_id = case.number, case.promised_by, case.id
    assert sms.phone == "13812345678"
    assert number in sms.text and promised.isoformat() in sms.text and "投诉" in sms.text
    assert "张三" not in sms.text  # the name is not needed to tell them
    assert send(app, recorder).sent == 0  # once

    with app.app_context():
        boss = manager(app)
        cases.change_promise("demo", case_id, boss, date(2026, 12, 10), "waiting for billing")
        cases.change_status("demo", case_id, boss, "in_progress")  # nothing to tell
        cases.change_status("demo", case_id, boss, "resolved")
    kinds = [m.kind for m in case_messages(app)]
    assert kinds == [MessageKind.CASE_OPENED, MessageKind.CASE_PROMISE, MessageKind.CASE_RESOLVED]
    assert send(app, recorder).sent == 2
    promise, resolved = recorder.sent[1:]
    assert "2026-12-10" in promise.text and number in promise.text
    assert f"/t/{ticket['token']}" in resolved.text  # where the follow-up question is answered


def test_without_consent_nothing_is_sent(app: Flask, api: Api) -> None:
    complain(api, {**COMPLAINT, "consent": False, "name": "", "phone": ""})
    with app.app_context():
        boss = manager(app)
        case_id = db.session.scalar(select(Case.id))
        cases.change_status("demo", case_id, boss, "resolved")
    assert case_messages(app) == []


def test_an_erased_contact_sends_nothing(app: Flask, api: Api, clock: ManualClock) -> None:
    complain(api)
    with app.app_context():
        db.session.execute(
            Case.__table__.update().values(contact_phone="", contact_name="", contact_erased=True)
        )
        db.session.commit()
    recorder = Recorder()
    assert send(app, recorder).sent == 0
    assert recorder.sent == []
    (message,) = case_messages(app)
    assert message.status == MessageStatus.CANCELLED  # not retried: nobody to send it to


def test_a_refused_complaint_writes_no_message(app: Flask, api: Api) -> None:
    ticket = api.issue("A")
    api.call_next(1)
    bad = api.act(ticket["id"], "complete", outcome="complaint", case={**COMPLAINT, "phone": "1"})
    assert bad.status_code == 400
    assert case_messages(app) == []
    with app.app_context():
        assert db.session.scalar(select(Store.id).where(Store.code == "demo")) is not None
        assert db.session.scalar(select(Case)) is None
