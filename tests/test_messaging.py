"""Customer messages: the outbox written with the booking, the sender after commit (retries,
backoff, dead letters), and the Alibaba Cloud SMS adapter against a local HTTP server."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.messaging.models import MessageKind, MessageStatus, OutboxMessage
from backend.messaging.sender import MAX_ATTEMPTS, PROVIDER_KEY, backoff, send_due
from backend.messaging.sms import AliyunProvider, Sms, aliyun_signature
from backend.models import Appointment

from .factories import PHONE, booking_body
from .test_api_bookings import set_store

BOOK = "/api/v1/stores/demo/appointments"
SLOT_10 = "2026-11-27T02:00:00Z"  # 10:00 tomorrow in Shanghai
SLOT_11 = "2026-11-27T03:00:00Z"
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # the test clock's start


def messages(app: Flask) -> dict[MessageKind, OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return {row.kind: row for row in rows}


def book(client: FlaskClient, start: str = SLOT_10, **extra: Any) -> dict[str, Any]:
    response = client.post(BOOK, json=booking_body(start, **extra))
    assert response.status_code == 201, response.json
    return response.json


class Server:
    """A local stand-in for dysmsapi.aliyuncs.com: records each request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(parse_qs(urlsplit(self.path).query))
                ok = server.status == 200
                body = {"Code": "OK" if ok else "ServiceUnavailable", "Message": "OK"}
                raw = json.dumps(body).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sms_server(app: Flask) -> Iterator[Server]:
    server = Server()
    app.extensions[PROVIDER_KEY] = AliyunProvider(
        "testId",
        "testSecret",
        "营业厅",
        {"confirmation": "SMS_1001", "reminder": "SMS_1002"},
        server.url,
    )
    yield server
    server.close()


class TestOutbox:
    def test_a_booking_writes_its_confirmation_and_reminder(
        self, app: Flask, client: FlaskClient
    ) -> None:
        booking = book(client)
        found = messages(app)
        assert set(found) == {MessageKind.BOOKING_CONFIRMATION, MessageKind.BOOKING_REMINDER}
        assert found[MessageKind.BOOKING_CONFIRMATION].send_at == NOW
        slot = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        assert found[MessageKind.BOOKING_REMINDER].send_at == slot - timedelta(minutes=120)
        for message in found.values():
            assert message.status == MessageStatus.QUEUED
            # No personal data and no secret link in the outbox: read from the booking at send.
            stored = json.dumps(message.params) + message.recipient
            assert PHONE not in stored and booking["manage_url"].split("/")[-1] not in stored
            assert message.params["code"] == booking["code"]

    def test_moving_moves_the_reminder_and_cancelling_cancels_it(
        self, app: Flask, client: FlaskClient
    ) -> None:
        booking = book(client)
        token = booking["manage_url"].rstrip("/").split("/")[-1]
        moved = client.post(f"/api/v1/bookings/{token}/move", json={"start": SLOT_11})
        assert moved.status_code == 200, moved.json
        reminder = messages(app)[MessageKind.BOOKING_REMINDER]
        assert reminder.send_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
        assert client.post(f"/api/v1/bookings/{token}/cancel", json={}).status_code == 200
        found = messages(app)
        assert found[MessageKind.BOOKING_REMINDER].status == MessageStatus.CANCELLED
        assert found[MessageKind.BOOKING_CONFIRMATION].status == MessageStatus.QUEUED
        assert len(found) == 2

    def test_reminders_off_and_a_refused_booking_write_nothing_more(
        self, app: Flask, client: FlaskClient
    ) -> None:
        set_store(app, reminder_minutes=0)
        book(client)
        assert set(messages(app)) == {MessageKind.BOOKING_CONFIRMATION}
        refused = client.post(BOOK, json=booking_body(SLOT_11, phone="12"))
        assert refused.status_code == 400
        with app.app_context():
            assert len(db.session.scalars(select(OutboxMessage)).all()) == 1

    def test_the_outbox_is_written_only_inside_a_command(self, app: Flask) -> None:
        from backend.messaging.commands import put_message

        with app.app_context(), pytest.raises(RuntimeError, match="transaction"):
            put_message(
                1,
                "appointment:1",
                MessageKind.BOOKING_CONFIRMATION,
                "sms",  # type: ignore[arg-type]
                "appointment:1",
                {},
                "zh",
                NOW,
            )


class TestSending:
    def test_due_messages_reach_the_provider_once_in_the_customers_language(
        self, app: Flask, client: FlaskClient, clock: ManualClock, sms_server: Server
    ) -> None:
        booking = book(client, phone="13912345678")
        client.post(BOOK + "?lang=en", json=booking_body(SLOT_11, phone="13800001111"))
        with app.app_context():
            result = send_due()
            again = send_due()
        assert (result.sent, again.sent) == (2, 0)  # reminders are not due yet
        first = sms_server.requests[0]
        assert first["Action"] == ["SendSms"] and first["PhoneNumbers"] == ["13912345678"]
        assert first["TemplateCode"] == ["SMS_1001"] and first["SignName"] == ["营业厅"]
        assert json.loads(first["TemplateParam"][0])["code"] == booking["code"]
        # The signature the server got is the one its parameters give (what Alibaba checks).
        params = {k: v[0] for k, v in first.items() if k != "Signature"}
        assert first["Signature"] == [aliyun_signature(params, "testSecret")]
        assert sms_server.requests[1]["PhoneNumbers"] == ["13800001111"]
        found = messages(app)
        assert found[MessageKind.BOOKING_CONFIRMATION].status == MessageStatus.SENT
        clock.set(datetime(2026, 11, 27, 0, 0, tzinfo=UTC))  # 08:00, the 10:00 slot's reminder
        with app.app_context():
            assert send_due().sent == 1
        assert sms_server.requests[2]["TemplateCode"] == ["SMS_1002"]

    def test_a_failing_provider_is_retried_with_backoff_then_dead_lettered(
        self, app: Flask, client: FlaskClient, clock: ManualClock, sms_server: Server
    ) -> None:
        set_store(app, reminder_minutes=0)
        sms_server.status = 500
        booking = book(client)
        waits = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            with app.app_context():
                result = send_due()
            message = messages(app)[MessageKind.BOOKING_CONFIRMATION]
            assert message.attempts == attempt and "HTTP 500" in message.last_error
            if attempt < MAX_ATTEMPTS:
                assert (result.failed, message.status) == (1, MessageStatus.FAILED)
                waits.append(message.send_at - clock.now())
                with app.app_context():
                    assert send_due().failed == 0  # not before its backoff
                clock.set(message.send_at)
        assert waits == [backoff(n) for n in range(1, MAX_ATTEMPTS)]
        assert waits[1] == 2 * waits[0]
        assert (result.dead, message.status) == (1, MessageStatus.DEAD)
        assert len(sms_server.requests) == MAX_ATTEMPTS
        with app.app_context():
            query = select(Appointment).where(Appointment.code == booking["code"])
            stored = db.session.scalar(query)
            assert stored is not None and stored.status == "booked"

    def test_the_log_provider_masks_the_number(
        self, app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        book(client, phone="13912345678")
        with caplog.at_level(logging.INFO, logger="hallqueue"):
            result = app.test_cli_runner().invoke(args=["send-messages"])
        assert "sent 1, failed 0, dead 0" in result.output
        assert "139****5678" in caplog.text and "13912345678" not in caplog.text


class TestAliyunSignature:
    def test_the_documented_example(self) -> None:
        """Alibaba Cloud SMS, "HTTP协议及签名" (help.aliyun.com/document_detail/101343): the
        published request, with AccessKeySecret `testSecret`, signs to the value below."""
        params = {
            "AccessKeyId": "testId",
            "Action": "SendSms",
            "Format": "XML",
            "OutId": "123",
            "PhoneNumbers": "15300000001",
            "RegionId": "cn-hangzhou",
            "SignName": "阿里云短信测试专用",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
            "SignatureVersion": "1.0",
            "TemplateCode": "SMS_71390007",
            "TemplateParam": '{"customer":"test"}',
            "Timestamp": "2017-07-12T02:42:19Z",
            "Version": "2017-05-25",
        }
        assert aliyun_signature(params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="

    def test_the_request_parameters(self) -> None:
        provider = AliyunProvider("id", "secret", "店", {"confirmation": "SMS_1"})
        sms = Sms("13912345678", "confirmation", {"code": "ABC123"}, "text")
        params = provider.request_params(sms, NOW, "nonce-1")
        assert params["Timestamp"] == "2026-11-26T01:00:00Z"
        assert params["TemplateParam"] == '{"code": "ABC123"}'
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        assert params["Signature"] == aliyun_signature(unsigned, "secret")
