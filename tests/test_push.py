"""Web Push without the internet: a push service the test starts (a small HTTP server thread, to
which pywebpush posts like to any URL) receives what the outbox sends; the test verifies the VAPID
JWT (ES256 with the served public key, `aud`, `exp`, `sub`) and decrypts the RFC 8291 aes128gcm
payload with the subscription's private key, which it generated as a browser would. Then when
messages go: "almost your turn" once at the store's threshold, "called" once per call, a recall
once more; 404/410 deletes the subscription; other failures retry and dead-letter while the
command that caused them stands. The subscription API's validation; the .ics alarm; retention."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.app import create_app
from backend.bookings.commands import sweep_all
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.messaging.models import (
    Channel,
    MessageKind,
    MessageStatus,
    OutboxMessage,
    PushSubscription,
)
from backend.messaging.push import VAPID_KEY_FILE, b64url, b64url_decode
from backend.messaging.sender import MAX_ATTEMPTS, backoff, send_due
from backend.models import Ticket

from . import factories
from .conftest import Api
from .factories import booking_body
from .test_api_bookings import set_store

SLOT_10 = "2026-11-27T02:00:00Z"  # 10:00 tomorrow in Shanghai (the clock: 09:00 today)


class PushService:
    """A stand-in for a browser vendor's push service: records each POST, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 201
        self.arrived = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                service.requests.append({"path": self.path, "headers": headers, "body": body})
                service.arrived.set()
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Browser:
    """What a browser keeps for one push subscription: its P-256 key pair and auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)  # type: ignore[no-any-return]


@pytest.fixture
def push_service(app: Flask) -> Iterator[PushService]:
    app.config["PUSH_ALLOW_HTTP"] = True  # the local service speaks plain http
    service = PushService()
    yield service
    service.close()


def subscribe(client: FlaskClient, token: str, browser: Browser, lang: str = "zh") -> Any:
    return client.post(
        f"/api/v1/tickets/{token}/push-subscription?lang={lang}", json=browser.subscription()
    )


def outbox(app: Flask, **where: Any) -> list[OutboxMessage]:
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        rows = list(db.session.scalars(query))
        db.session.expunge_all()
        return rows


def subscriptions(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(PushSubscription))
        db.session.remove()
        return int(count or 0)


def send(app: Flask) -> Any:
    with app.app_context():
        result = send_due()
        db.session.remove()
        return result


def verify_vapid(request: dict[str, Any], public_key: str, origin: str) -> dict[str, Any]:
    """The VAPID header (RFC 8292 §3): `vapid t=<JWT>,k=<key>`, the JWT signed with ES256."""
    scheme, _, params = request["headers"]["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"].rstrip("=") == public_key
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    assert json.loads(b64url_decode(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    raw = b64url_decode(signature_b64)
    assert len(raw) == 64  # r || s, 32 bytes each (JWS, not DER)
    signature = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    signed = f"{header_b64}.{claims_b64}".encode()
    key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))  # raises if it is not ours
    with pytest.raises(InvalidSignature):
        key.verify(signature, signed + b"x", ec.ECDSA(hashes.SHA256()))
    claims: dict[str, Any] = json.loads(b64url_decode(claims_b64))
    assert claims["aud"] == origin
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:"))
    assert request["headers"]["content-encoding"] == "aes128gcm"
    assert int(request["headers"]["ttl"]) > 0
    return claims


class TestEndToEnd:
    def test_a_call_reaches_each_subscription_signed_and_encrypted_in_its_language(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        zh = Browser(push_service.origin + "/wpush/zh-phone")
        en = Browser(push_service.origin + "/wpush/en-tablet")
        assert subscribe(client, ticket["token"], zh, "zh").status_code == 201
        assert subscribe(client, ticket["token"], en, "en").status_code == 201
        called = api.call_next(1)
        assert called["ticket"]["id"] == ticket["id"]
        assert push_service.requests == []  # nothing is sent inside the command
        assert send(app).sent == 1
        public_key = client.get("/api/v1/push/public-key").json["public_key"]
        by_path = {r["path"]: r for r in push_service.requests}
        assert set(by_path) == {"/wpush/zh-phone", "/wpush/en-tablet"}
        for request in by_path.values():
            verify_vapid(request, public_key, push_service.origin)
        counter = called["ticket"]["counter"]
        zh_note = zh.decrypt(by_path["/wpush/zh-phone"]["body"])
        en_note = en.decrypt(by_path["/wpush/en-tablet"]["body"])
        assert zh_note["title"] == f"您的号码 {ticket['label']} 到了"
        assert zh_note["body"] == f"请到 {counter} 号窗口"
        assert en_note["title"] == f"Your number {ticket['label']} is called"
        assert en_note["body"] == f"Please go to counter {counter}"
        assert zh_note["url"] == en_note["url"] == f"/t/{ticket['token']}"
        with pytest.raises(Exception):  # noqa: B017  # the other browser's key opens nothing
            en.decrypt(by_path["/wpush/zh-phone"]["body"])

    def test_almost_your_turn_reads_in_each_language(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        api.issue("A")
        mine = api.issue("A")
        zh = Browser(push_service.origin + "/wpush/zh")
        en = Browser(push_service.origin + "/wpush/en")
        subscribe(client, mine["token"], zh, "zh")
        subscribe(client, mine["token"], en, "en")
        assert api.sign_in(1).status_code == 200  # a command: its projection sees 1 ahead
        assert send(app).sent == 1
        by_path = {r["path"]: r for r in push_service.requests}
        zh_note = zh.decrypt(by_path["/wpush/zh"]["body"])
        en_note = en.decrypt(by_path["/wpush/en"]["body"])
        assert zh_note["body"] == "前面还有 1 位，请回到营业厅"
        assert en_note["body"] == "1 ahead of you — please come back to the hall."
        assert en_note["title"] == f"{mine['label']} · Demo Business Hall"
        assert zh_note["title"].startswith(f"{mine['label']} · ")

    def test_the_payload_carries_no_personal_data(
        self, app: Flask, client: FlaskClient, push_service: PushService
    ) -> None:
        booking = client.post(
            "/api/v1/stores/demo/appointments",
            json=booking_body(SLOT_10, name="王小明", phone="13912345678"),
        ).json
        token = booking["manage_url"].rstrip("/").split("/")[-1]
        phone = Browser(push_service.origin + "/wpush/b")
        answer = client.post(
            f"/api/v1/bookings/{token}/push-subscription?lang=en", json=phone.subscription()
        )
        assert answer.status_code == 201, answer.json
        (reminder,) = outbox(app, kind=MessageKind.BOOKING_REMINDER, channel=Channel.PUSH)
        assert reminder.send_at == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 120 min before
        app.config["CLOCK"].set(reminder.send_at)
        sent = send(app)
        assert sent.sent >= 1
        (request,) = [r for r in push_service.requests if r["path"] == "/wpush/b"]
        note = phone.decrypt(request["body"])
        assert note["title"].startswith("Appointment reminder")
        assert "10:00" in note["body"] and "2026-11-27" in note["body"]
        text = json.dumps(note, ensure_ascii=False)
        for secret in ("王小明", "13912345678", booking["code"]):
            assert secret not in text
        assert note["url"] == f"/b/{token}"


class TestWhenMessagesGo:
    def test_almost_goes_once_when_the_position_reaches_the_threshold(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        set_store(app, almost_ahead=2)
        tickets = [api.issue("A") for _ in range(6)]
        mine = tickets[-1]
        assert (
            subscribe(client, mine["token"], Browser(push_service.origin + "/w/1")).status_code
            == 201
        )
        seen: list[tuple[int, int]] = []
        from backend.live.publisher import PUBLISHER

        before = PUBLISHER.projections_published
        for _ in range(5):
            api.call_next(1)
            position = client.get(f"/api/v1/tickets/{mine['token']}").json["position"]
            almost = outbox(app, kind=MessageKind.ALMOST)
            seen.append((position, len(almost)))
        assert PUBLISHER.projections_published - before >= 5  # one projection per command
        # None before the threshold; exactly one from the first projection at 2 ahead on.
        assert [count for position, count in seen] == [int(p <= 2) for p, _ in seen]
        assert [p for p, _ in seen][-1] == 0 and seen[-1][1] == 1
        (message,) = outbox(app, kind=MessageKind.ALMOST)
        assert message.params == {"ahead": 2} and message.channel == Channel.PUSH
        assert send(app).sent == 1  # still waiting, 0 ahead now: the message holds
        assert len(push_service.requests) == 1

    def test_no_subscription_no_message_and_zero_turns_it_off(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        set_store(app, almost_ahead=0)
        first, second = api.issue("A"), api.issue("A")
        subscribe(client, second["token"], Browser(push_service.origin + "/w/2"))
        api.call_next(1)
        api.call_next(1)
        kinds = [(m.kind, m.subject) for m in outbox(app)]
        assert kinds == [(MessageKind.CALLED, f"ticket:{second['id']}")]  # first: none at all
        assert first["id"] != second["id"]

    def test_a_call_sends_called_once_and_a_recall_once_more(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/3"), "en")
        api.call_next(1)
        for _ in range(3):
            assert api.act(ticket["id"], "recall").status_code == 200
        messages = outbox(app, subject=f"ticket:{ticket['id']}", channel=Channel.PUSH)
        # (And an "almost": alone in the queue, it had 0 ahead when the clerk signed in.)
        assert sorted(m.kind for m in messages) == [
            MessageKind.ALMOST,
            MessageKind.CALLED,
            MessageKind.RECALLED,
        ]
        first = send(app)
        assert (first.sent, first.skipped) == (2, 1)  # called and recalled; "almost" is stale
        assert send(app).sent == 0  # sent once, never again
        assert len(push_service.requests) == 2

    def test_each_part_of_a_visit_for_several_services_is_called_anew(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        set_store(app, almost_ahead=0)
        ticket = factories.issue_ticket(client, "B", then=["C"])
        browser = Browser(push_service.origin + "/w/parts")
        assert subscribe(client, ticket["token"], browser, "en").status_code == 201
        api.call_next(1)
        assert api.act(ticket["id"], "start").status_code == 200
        assert api.act(ticket["id"], "complete").json["status"] == "waiting"  # on to C
        api.call_next(3)
        called = outbox(app, kind=MessageKind.CALLED, channel=Channel.PUSH)
        assert [m.subject for m in called] == [f"ticket:{ticket['id']}", f"ticket:{ticket['id']}/2"]
        assert [m.params["counter"] for m in called] == [1, 3]
        assert send(app).sent == 1  # the first call is stale by now: the second goes out
        (request,) = push_service.requests
        assert "counter 3" in json.dumps(browser.decrypt(request["body"]))

    def test_a_call_message_for_a_ticket_served_meanwhile_is_not_sent(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/4"))
        api.call_next(1)
        assert api.act(ticket["id"], "start").status_code == 200  # at the counter already
        result = send(app)
        assert (result.sent, result.skipped) == (0, 2)  # the call's and the "almost" before it
        assert push_service.requests == []
        (message,) = outbox(app, kind=MessageKind.CALLED)
        assert message.status == MessageStatus.CANCELLED


class TestDelivery:
    def test_gone_deletes_the_subscription(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/gone"))
        push_service.status = 410
        set_store(app, almost_ahead=0)
        api.call_next(1)
        assert send(app).skipped == 1
        assert len(push_service.requests) == 1
        assert subscriptions(app) == 0
        with app.app_context():
            stored = db.session.get(Ticket, ticket["id"])
            assert stored is not None and stored.push_subscribed is False
        (message,) = outbox(app, kind=MessageKind.CALLED)
        assert message.status == MessageStatus.CANCELLED
        assert message.last_error == "no subscription left"

    def test_a_failing_push_service_is_retried_then_dead_lettered(
        self,
        app: Flask,
        client: FlaskClient,
        api: Api,
        clock: ManualClock,
        push_service: PushService,
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/down"))
        push_service.status = 503
        set_store(app, almost_ahead=0)
        assert api.call_next(1)["ticket"]["id"] == ticket["id"]
        waits = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            result = send(app)
            (message,) = outbox(app, kind=MessageKind.CALLED)
            assert message.attempts == attempt and "503" in message.last_error
            if attempt < MAX_ATTEMPTS:
                assert (result.failed, message.status) == (1, MessageStatus.FAILED)
                waits.append(message.send_at - clock.now())
                clock.set(message.send_at)
        assert waits == [backoff(n) for n in range(1, MAX_ATTEMPTS)]
        assert (result.dead, message.status) == (1, MessageStatus.DEAD)
        assert len(push_service.requests) == MAX_ATTEMPTS
        assert subscriptions(app) == 1  # a failing service is no proof the phone is gone
        # The call itself stands.
        assert client.get(f"/api/v1/tickets/{ticket['token']}").json["status"] == "called"

    def test_an_unreachable_push_service_is_retried(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser("http://127.0.0.1:9/nobody-listens"))
        set_store(app, almost_ahead=0)
        api.call_next(1)
        assert send(app).failed == 1
        (message,) = outbox(app, kind=MessageKind.CALLED)
        assert message.status == MessageStatus.FAILED
        assert message.last_error.startswith("push service unreachable")


class TestSubscriptionApi:
    def good(self, push_service: PushService) -> dict[str, Any]:
        return Browser(push_service.origin + "/w/x").subscription()

    def test_idempotent_and_deletable(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        body = self.good(push_service)
        url = f"/api/v1/tickets/{ticket['token']}/push-subscription"
        assert client.post(url, json=body).status_code == 201
        again = client.post(url, json=body)
        assert (again.status_code, again.json) == (200, {"subscribed": True})
        assert subscriptions(app) == 1
        gone = client.delete(url, json={"endpoint": body["endpoint"]})
        assert (gone.status_code, gone.json) == (200, {"subscribed": False})
        assert subscriptions(app) == 0
        assert client.delete(url, json={"endpoint": body["endpoint"]}).status_code == 200
        with app.app_context():
            stored = db.session.get(Ticket, ticket["id"])
            assert stored is not None and stored.push_subscribed is False
        api.call_next(1)
        assert outbox(app) == []  # stopped: nothing is written, neither "almost" nor the call

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"endpoint": "ftp://push.example/x"}, "bad_endpoint"),
            ({"endpoint": "https:///no-host"}, "bad_endpoint"),
            ({"endpoint": "https://push.example/" + "x" * 1100}, "bad_input"),
            ({"endpoint": "https://push.example/a b"}, "bad_endpoint"),
            ({"keys": {"p256dh": "not base64!", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "bad_keys"),
            (
                {
                    "keys": {
                        "p256dh": b64url(b"\x04" + b"\x01" * 64),
                        "auth": "AAAAAAAAAAAAAAAAAAAAAA",
                    }
                },
                "bad_keys",
            ),
            ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "bad_input"),
            ({"expirationTime": None}, "bad_input"),
            ({"endpoint": "https://push.example/\u0000"}, "bad_text"),
        ],
    )
    def test_bad_input_is_refused_and_stores_nothing(
        self,
        app: Flask,
        client: FlaskClient,
        api: Api,
        push_service: PushService,
        change: dict[str, Any],
        code: str,
    ) -> None:
        ticket = api.issue("A")
        body = {**self.good(push_service), **change}
        answer = client.post(f"/api/v1/tickets/{ticket['token']}/push-subscription", json=body)
        assert answer.status_code == 400, answer.json
        assert answer.json["error"] == code and answer.json["message"]
        assert subscriptions(app) == 0

    def test_the_auth_secret_must_be_16_bytes(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        ticket = api.issue("A")
        body = self.good(push_service)
        body["keys"]["auth"] = b64url(b"\x00" * 15)
        answer = client.post(f"/api/v1/tickets/{ticket['token']}/push-subscription", json=body)
        assert (answer.status_code, answer.json["error"]) == (400, "bad_keys")

    def test_http_endpoints_only_where_allowed(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        app.config["PUSH_ALLOW_HTTP"] = False
        ticket = api.issue("A")
        answer = client.post(
            f"/api/v1/tickets/{ticket['token']}/push-subscription?lang=en",
            json=self.good(push_service),
        )
        assert (answer.status_code, answer.json["error"]) == (400, "bad_endpoint")
        assert "https" in answer.json["message"]

    def test_unknown_token_finished_ticket_and_too_many(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        body = self.good(push_service)
        unknown = client.post("/api/v1/tickets/nope/push-subscription", json=body)
        assert (unknown.status_code, unknown.json["error"]) == (404, "not_found")
        ticket = api.issue("A")
        url = f"/api/v1/tickets/{ticket['token']}/push-subscription"
        for n in range(5):
            assert (
                client.post(
                    url, json=Browser(f"{push_service.origin}/w/{n}").subscription()
                ).status_code
                == 201
            )
        sixth = client.post(url, json=Browser(f"{push_service.origin}/w/6").subscription())
        assert sixth.status_code == 409
        assert api.act(ticket["id"], "cancel").status_code == 200
        closed = client.post(url, json=body)
        assert closed.status_code == 409 and subscriptions(app) == 5

    def test_a_booking_subscription_follows_the_booking(
        self, app: Flask, client: FlaskClient, push_service: PushService
    ) -> None:
        booking = client.post("/api/v1/stores/demo/appointments", json=booking_body(SLOT_10)).json
        token = booking["manage_url"].rstrip("/").split("/")[-1]
        url = f"/api/v1/bookings/{token}/push-subscription"
        body = self.good(push_service)
        assert client.post(url, json=body).status_code == 201
        assert len(outbox(app, kind=MessageKind.BOOKING_REMINDER, channel=Channel.PUSH)) == 1
        assert client.delete(url, json={"endpoint": body["endpoint"]}).status_code == 200
        (push,) = outbox(app, kind=MessageKind.BOOKING_REMINDER, channel=Channel.PUSH)
        assert push.status == MessageStatus.CANCELLED
        (sms,) = outbox(app, kind=MessageKind.BOOKING_REMINDER, channel=Channel.SMS)
        assert sms.status == MessageStatus.QUEUED  # the SMS reminder is another matter
        assert client.post(url, json=body).status_code == 201
        assert client.post(f"/api/v1/bookings/{token}/cancel", json={}).status_code == 200
        for message in outbox(app, kind=MessageKind.BOOKING_REMINDER):
            assert message.status == MessageStatus.CANCELLED
        assert client.post(url, json=body).status_code == 409
        assert client.post("/api/v1/bookings/nope/push-subscription", json=body).status_code == 404


class TestKeysAndRetention:
    def test_the_vapid_key_is_made_once_and_kept_owner_only(self, tmp_path: Path) -> None:
        config = {"TESTING": True, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
        config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        first = create_app(config).test_client().get("/api/v1/push/public-key").json
        second = create_app(config).test_client().get("/api/v1/push/public-key").json
        assert first == second and len(b64url_decode(first["public_key"])) == 65
        mode = stat.S_IMODE((tmp_path / VAPID_KEY_FILE).stat().st_mode)
        assert mode == 0o600

    def test_the_environment_key_wins(self, tmp_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        raw = key.private_numbers().private_value.to_bytes(32, "big")
        config = {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "VAPID_PRIVATE_KEY": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        }
        served = create_app(config).test_client().get("/api/v1/push/public-key").json
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        assert served["public_key"] == b64url(point)
        assert not (tmp_path / VAPID_KEY_FILE).exists()

    def test_subscriptions_are_erased_with_the_retention(
        self,
        app: Flask,
        client: FlaskClient,
        api: Api,
        clock: ManualClock,
        push_service: PushService,
    ) -> None:
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/old"))
        clock.advance(days=29)
        with app.app_context():
            sweep_all()
            db.session.remove()
        assert subscriptions(app) == 1
        clock.advance(days=2)
        with app.app_context():
            sweep_all()
            db.session.remove()
        assert subscriptions(app) == 0


class TestCalendarAndPage:
    def booking(self, client: FlaskClient) -> str:
        made = client.post("/api/v1/stores/demo/appointments", json=booking_body(SLOT_10)).json
        return str(made["manage_url"].rstrip("/").split("/")[-1])

    def test_the_ics_carries_an_alarm_at_the_reminder_time(
        self, app: Flask, client: FlaskClient
    ) -> None:
        token = self.booking(client)
        ics = client.get(f"/b/{token}/calendar.ics").get_data(as_text=True)
        lines = ics.split("\r\n")
        alarm = lines[lines.index("BEGIN:VALARM") : lines.index("END:VALARM") + 1]
        assert "TRIGGER:-PT120M" in alarm and "ACTION:DISPLAY" in alarm
        assert lines.index("BEGIN:VALARM") < lines.index("END:VEVENT")
        set_store(app, reminder_minutes=45)
        assert "TRIGGER:-PT45M" in client.get(f"/b/{token}/calendar.ics").get_data(as_text=True)
        set_store(app, reminder_minutes=0)
        assert "VALARM" not in client.get(f"/b/{token}/calendar.ics").get_data(as_text=True)

    def test_the_booking_page_names_the_reminders(
        self, app: Flask, client: FlaskClient, push_service: PushService
    ) -> None:
        token = self.booking(client)
        page = client.get(f"/b/{token}?lang=en").get_data(as_text=True)
        assert "A notification on this phone 120 minutes before, if you turn" in page
        assert 'id="reminder-sms"' not in page  # the log provider sends no real SMS
        assert "with an alarm 120 minutes before" in page
        app.config["SMS_PROVIDER"] = "aliyun"
        client.post(
            f"/api/v1/bookings/{token}/push-subscription",
            json=Browser(push_service.origin + "/w/p").subscription(),
        )
        page = client.get(f"/b/{token}?lang=en").get_data(as_text=True)
        assert "An SMS to your number 120 minutes before your time." in page
        on = page.index('id="reminder-push-on"')
        assert "hidden" not in page[on : page.index(">", on)]
        zh = client.get(f"/b/{token}?lang=zh").get_data(as_text=True)
        assert "提醒" in zh

    def test_the_service_worker_is_served_from_the_root(self, client: FlaskClient) -> None:
        answer = client.get("/sw.js")
        assert answer.status_code == 200
        assert answer.mimetype == "text/javascript"
        assert answer.headers["Service-Worker-Allowed"] == "/"
        text = answer.get_data(as_text=True)
        assert "showNotification" in text and "notificationclick" in text


class RecordingSms:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, sms: Any) -> None:
        self.sent.append(sms)


class TestSmsAlmost:
    @pytest.fixture
    def sms(self, app: Flask) -> RecordingSms:
        from backend.messaging.sender import PROVIDER_KEY

        app.config["SMS_PROVIDER"] = "aliyun"  # SMS really goes out (its provider: recorded)
        provider = RecordingSms()
        app.extensions[PROVIDER_KEY] = provider
        return provider

    def join(self, app: Flask, **body: Any) -> Any:
        phone = app.test_client()
        phone.get("/s/demo/join")
        return phone.post(
            "/api/v1/stores/demo/tickets", json={"service": "A", "channel": "remote", **body}
        )

    def test_the_join_page_offers_it_only_where_sms_goes_out(
        self, app: Flask, client: FlaskClient
    ) -> None:
        assert 'id="sms-box"' not in client.get("/s/demo/join").get_data(as_text=True)
        app.config["SMS_PROVIDER"] = "aliyun"
        page = client.get("/s/demo/join?lang=en").get_data(as_text=True)
        assert 'id="sms-box"' in page and "2 people or fewer are ahead" in page
        assert "deleted after 30 days" in page

    def test_a_remote_joiner_gets_one_sms_at_the_threshold_masked_in_the_log(
        self,
        app: Flask,
        api: Api,
        sms: RecordingSms,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        for _ in range(3):
            api.issue("A")
        joined = self.join(app, phone="139 1234 5678", sms_consent=True)
        assert joined.status_code == 201, joined.json
        with app.app_context():
            stored = db.session.get(Ticket, joined.json["id"])
            assert stored is not None and stored.phone == "13912345678"
            db.session.remove()
        api.sign_in(1)
        assert outbox(app, kind=MessageKind.ALMOST) == []  # 3 ahead
        api.call_next(1)
        api.call_next(1)
        (message,) = outbox(app, kind=MessageKind.ALMOST)
        assert (message.channel, message.params) == (Channel.SMS, {"ahead": 2})
        assert "1391234" not in json.dumps(message.params) + message.recipient
        import logging

        with caplog.at_level(logging.INFO, logger="hallqueue"):
            assert send(app).sent == 1
        (sent,) = sms.sent
        assert sent.phone == "13912345678" and sent.kind == "almost"
        assert "前面还有 2 位，请回到营业厅" in sent.text
        assert "139****5678" in caplog.text and "13912345678" not in caplog.text

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"phone": "13912345678"}, "consent_required"),
            ({"phone": "12345", "sms_consent": True}, "bad_phone"),
            ({"phone": "1" * 40, "sms_consent": True}, "bad_input"),
        ],
    )
    def test_bad_numbers_are_refused(
        self, app: Flask, sms: RecordingSms, body: dict[str, Any], code: str
    ) -> None:
        answer = self.join(app, **body)
        assert answer.status_code == 400 and answer.json["error"] == code, answer.json
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0

    def test_no_number_is_kept_where_no_sms_goes(self, app: Flask, client: FlaskClient) -> None:
        answer = self.join(app, phone="13912345678", sms_consent=True)
        assert (answer.status_code, answer.json["error"]) == (400, "sms_unavailable")
        app.config["SMS_PROVIDER"] = "aliyun"
        kiosk = client.post(
            "/api/v1/stores/demo/tickets",
            json={"service": "A", "phone": "13912345678", "sms_consent": True},
        )
        assert kiosk.status_code == 400 and kiosk.json["error"] == "sms_unavailable"

    def test_the_number_is_erased_with_the_retention(
        self, app: Flask, clock: ManualClock, sms: RecordingSms
    ) -> None:
        joined = self.join(app, phone="13912345678", sms_consent=True).json
        clock.advance(days=31)
        with app.app_context():
            sweep_all()
            stored = db.session.get(Ticket, joined["id"])
            assert stored is not None and stored.phone is None and stored.label == joined["label"]


class TestCost:
    def test_the_almost_check_costs_one_query_whatever_the_queue(
        self, app: Flask, api: Api, clock: ManualClock
    ) -> None:
        """Deterministic counts, not timings: nothing inside the write lock; after commit one
        indexed query of the few tickets near the head, none once they are handled."""
        from backend.core.db import StatementCounter
        from backend.messaging.commands import note_near_turn
        from backend.queue import readmodel

        for _ in range(40):
            clock.advance(seconds=2.5)  # within the kiosk's print limit
            api.issue("A")
        with app.app_context():
            store_id = db.session.scalar(select(Ticket.store_id).limit(1))
            assert store_id is not None
            proj = readmodel.projection(store_id)
            near = {tid for tid, ahead in proj.positions.items() if ahead <= 2}
            assert len(near) == 3 and len(proj.waiting) == 40
            with StatementCounter(db.engine) as nobody:
                assert note_near_turn(proj, clock.now(), set()) == 0
            with StatementCounter(db.engine) as handled:
                assert note_near_turn(proj, clock.now(), set(near)) == 0
            db.session.remove()
        assert nobody.count == 1, nobody.statements
        assert handled.count == 0


class TestConsole:
    def test_the_store_form_sets_the_threshold_and_the_reminder_time(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        from backend.policy import Role

        from .factories import create_user
        from .test_manager import field_error, login, submit

        create_user(app, "boss", "demo", Role.MANAGER)
        login(client, "boss")
        page = client.get("/s/demo/manage/store?lang=en").get_data(as_text=True)
        assert "Messages to the customer" in page and 'name="almost_ahead"' in page
        saved = submit(client, "/s/demo/manage/store", almost_ahead=4, reminder_minutes=30)
        assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:500]
        wrong = submit(client, "/s/demo/manage/store?lang=en", almost_ahead=99)
        assert wrong.status_code == 422  # the form again, with the field's error
        assert field_error(wrong.get_data(as_text=True), "almost_ahead")
        with app.app_context():
            from backend.models import Store

            store = db.session.scalar(select(Store).where(Store.code == "demo"))
            assert store is not None and (store.almost_ahead, store.reminder_minutes) == (4, 30)
            db.session.remove()
        # The new threshold is the one the next projection applies: 4 ahead is near now.
        tickets = [api.issue("A") for _ in range(5)]
        subscribe(client, tickets[-1]["token"], Browser(push_service.origin + "/w/c"))
        api.sign_in(1)
        (message,) = outbox(app, kind=MessageKind.ALMOST)
        assert message.params == {"ahead": 4}


class TestBookingToTicket:
    def test_a_booking_subscriber_hears_the_call_of_its_ticket(
        self,
        app: Flask,
        client: FlaskClient,
        api: Api,
        clock: ManualClock,
        push_service: PushService,
    ) -> None:
        from .factories import book_appointment, check_in

        booking = book_appointment(client, SLOT_10)
        token = booking["manage_url"].rstrip("/").split("/")[-1]
        phone = Browser(push_service.origin + "/w/booked")
        subscribed = client.post(
            f"/api/v1/bookings/{token}/push-subscription?lang=en", json=phone.subscription()
        )
        assert subscribed.status_code == 201
        clock.set(datetime.fromisoformat(SLOT_10))
        ticket = check_in(client, booking["code"])
        assert ticket.status_code == 201, ticket.json
        called = api.call_next(1)
        assert called["ticket"]["id"] == ticket.json["id"]
        send(app)
        # One push: the call. The push reminder and the "almost" are stale now (checked in,
        # called), so they are not sent; the booking's SMS went to the log provider.
        (request,) = push_service.requests
        (reminder,) = outbox(app, kind=MessageKind.BOOKING_REMINDER, channel=Channel.PUSH)
        assert reminder.status == MessageStatus.CANCELLED
        note = phone.decrypt(request["body"])
        assert note["title"] == f"Your number {ticket.json['label']} is called"
        assert note["url"] == f"/t/{ticket.json['token']}"


class TestWake:
    def test_a_message_due_now_wakes_the_sender_after_commit_only(
        self, app: Flask, client: FlaskClient, api: Api, push_service: PushService
    ) -> None:
        from backend.messaging import sender

        set_store(app, almost_ahead=0)
        ticket = api.issue("A")
        subscribe(client, ticket["token"], Browser(push_service.origin + "/w/wake"))
        assert api.sign_in(1).status_code == 200
        sender._wake.clear()
        refused = api.act(ticket["id"], "recall")  # not called yet: 409, rolled back
        assert refused.status_code == 409
        assert not sender._wake.is_set() and outbox(app) == []
        api.call_next(1)
        assert sender._wake.is_set()  # the background round starts within a second
        sender._wake.clear()
