"""The public JSON API, driven over HTTP as a kiosk, a counter and an integrator use it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Ticket, TicketEvent
from backend.queue.schemas import CallNextOut, ServicesOut, SnapshotOut, TicketOut

from .conftest import MORNING, Api, kiosk_headers, make_user, token_for


def events_of(app: Flask, ticket_id: int) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        rows = db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return [(e.action, e.from_status, e.to_status) for e in rows]


class TestIssue:
    def test_labels_follow_prefix_and_count_per_prefix(self, api: Api) -> None:
        labels = [api.issue(s)["label"] for s in ["A", "A", "C", "B", "A"]]
        assert labels == ["A001", "A002", "C001", "B001", "A003"]

    def test_ticket_fields_and_schema(self, api: Api) -> None:
        api.sign_in(1)  # a staffed counter: the estimate can be told
        first = api.issue("A")
        second = api.issue("B")
        TicketOut.model_validate(second)
        assert second["lane"] == "fast" and second["status"] == "waiting"
        assert second["position"] == 1  # A001 is ahead in the fast lane
        low, high = second["eta_minutes"]
        assert 0 <= low < high
        assert len(first["token"]) >= 22  # ≥ 128 bits of randomness
        assert second["status_url"] == f"/t/{second['token']}"

    def test_numbers_restart_on_the_next_local_day(self, api: Api, clock: ManualClock) -> None:
        # The hall is closed at midnight: staff may still issue (the kiosk may not).
        clock.set(datetime(2026, 11, 26, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
        assert api.issue_as_staff("A")["label"] == "A001"
        assert api.issue_as_staff("A")["label"] == "A002"
        clock.set(datetime(2026, 11, 26, 16, 1, tzinfo=UTC))  # 00:01 next day
        assert api.issue_as_staff("A")["label"] == "A001"

    def test_yesterdays_waiting_tickets_are_not_called_today(
        self, api: Api, clock: ManualClock
    ) -> None:
        api.issue("A")
        clock.advance(days=1)
        today = api.issue("A")
        result = api.call_next(1)
        assert result["ticket"]["id"] == today["id"]
        assert api.call_next(1)["reason"] == "queue_empty"

    def test_unknown_service(self, client: FlaskClient) -> None:
        response = client.post("/api/v1/stores/demo/tickets", json={"service": "nope"})
        assert response.status_code == 400
        assert response.json["error"] == "unknown_service"
        assert "nope" in response.json["message"]

    def test_unknown_store(self, client: FlaskClient) -> None:
        response = client.post("/api/v1/stores/nowhere/tickets", json={"service": "A"})
        assert response.status_code == 404 and response.json["error"] == "not_found"

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ("{not json", "bad_json"),
            ('{"service": 3}', "bad_input"),
            ('{"service": "A", "extra": 1}', "bad_input"),
            ("{}", "bad_input"),
            ("[]", "bad_input"),
        ],
    )
    def test_malformed_bodies(self, client: FlaskClient, body: str, error: str) -> None:
        response = client.post(
            "/api/v1/stores/demo/tickets", data=body, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json["error"] == error
        assert response.json["message"]
        assert client.get("/api/v1/stores/demo/snapshot").json["waiting"] == []

    def test_error_messages_follow_the_language(self, client: FlaskClient) -> None:
        en = client.post("/api/v1/stores/demo/tickets?lang=en", json={"service": "Q"})
        zh = client.post("/api/v1/stores/demo/tickets?lang=zh", json={"service": "Q"})
        assert en.json["message"] == "Unknown service: Q."
        assert zh.json["message"] != en.json["message"]
        assert zh.json["message"] == "未知业务：Q。"

    def test_get_by_token_and_a_wrong_token(self, api: Api, client: FlaskClient) -> None:
        ticket = api.issue("C")
        found = client.get(f"/api/v1/tickets/{ticket['token']}").json
        assert found["label"] == ticket["label"] and found["position"] == 0
        missing = client.get("/api/v1/tickets/not-a-real-token")
        assert missing.status_code == 404 and missing.json["error"] == "not_found"


class TestCounterFlow:
    def test_full_visit_writes_every_event(self, api: Api, app: Flask) -> None:
        ticket = api.issue("A")
        called = api.call_next(1)
        CallNextOut.model_validate(called)
        assert called["ticket"]["id"] == ticket["id"]
        assert called["ticket"]["status"] == "called" and called["ticket"]["counter"] == 1
        assert called["reason"] == "best_ratio"  # the store's ordering: response ratio
        recalled = api.act(ticket["id"], "recall")
        assert recalled.json["recall_count"] == 1
        assert api.act(ticket["id"], "start").json["status"] == "serving"
        assert api.act(ticket["id"], "complete").json["status"] == "done"
        assert events_of(app, ticket["id"]) == [
            ("issue", None, "waiting"),
            ("call", "waiting", "called"),
            ("recall", "called", "called"),
            ("start", "called", "serving"),
            ("complete", "serving", "done"),
        ]

    def test_no_show_and_cancel(self, api: Api) -> None:
        missed, cancelled = api.issue("A"), api.issue("C")
        api.call_next(1)
        assert api.act(missed["id"], "no-show").json["status"] == "no_show"
        assert api.act(cancelled["id"], "cancel").json["status"] == "cancelled"
        assert api.call_next(1)["ticket"] is None

    def test_transfer_keeps_label_token_and_place_in_time(self, api: Api, app: Flask) -> None:
        early = api.issue("A")
        later = api.issue("C")
        api.call_next(1)
        moved = api.act(early["id"], "transfer", service="C").json
        assert moved["status"] == "waiting" and moved["service"] == "C"
        assert moved["lane"] == "standard" and moved["label"] == early["label"]
        assert moved["issued_at"] == early["issued_at"]
        # It keeps its original issue time, so it is ahead of the later standard ticket.
        assert moved["position"] == 0
        assert api.call_next(3)["ticket"]["id"] == early["id"]
        assert api.call_next(3)["ticket"]["id"] == later["id"]
        assert ("transfer", "called", "waiting") in events_of(app, early["id"])

    def test_transfer_to_unknown_or_same_service(self, api: Api) -> None:
        ticket = api.issue("A")
        api.call_next(1)
        assert api.act(ticket["id"], "transfer", service="ZZ").status_code == 400
        same = api.act(ticket["id"], "transfer", service="A")
        assert same.status_code == 400 and same.json["error"] == "same_service"
        assert api.act(ticket["id"], "transfer").status_code == 400  # no service given

    def test_call_next_while_serving_completes_the_current_ticket(self, api: Api) -> None:
        first, second = api.issue("A"), api.issue("A")
        api.call_next(1)
        api.act(first["id"], "start")
        result = api.call_next(1)
        assert result["ticket"]["id"] == second["id"]
        assert result["completed"]["id"] == first["id"]
        assert result["completed"]["status"] == "done"
        assert first["label"] in result["message"]

    def test_work_conservation_over_http(self, api: Api) -> None:
        standard = api.issue("C")
        result = api.call_next(1)  # counter 1 serves the fast lane only
        assert result["ticket"]["id"] == standard["id"]
        assert result["reason"] == "helping_standard_lane"

    def test_unknown_counter_and_ticket(self, api: Api) -> None:
        response = api.client.post("/api/v1/stores/demo/counters/99/call-next", headers=api.headers)
        assert response.status_code == 404
        assert api.act(123456, "start").status_code == 404

    def test_cancel_with_the_customers_token(self, api: Api, client: FlaskClient) -> None:
        ticket = api.issue("A")
        other = api.issue("A")
        wrong = client.post(
            f"/api/v1/tickets/{other['id']}/cancel", json={"token": ticket["token"]}
        )
        assert wrong.status_code == 403
        ok = client.post(f"/api/v1/tickets/{ticket['id']}/cancel", json={"token": ticket["token"]})
        assert ok.status_code == 200 and ok.json["status"] == "cancelled"
        again = client.post(
            f"/api/v1/tickets/{ticket['id']}/cancel", json={"token": ticket["token"]}
        )
        assert again.status_code == 409


ILLEGAL: list[tuple[str, str, dict[str, Any]]] = [
    # (state the ticket is put in, action, body)
    ("waiting", "recall", {}),
    ("waiting", "start", {}),
    ("waiting", "complete", {}),
    ("waiting", "no-show", {}),
    ("waiting", "transfer", {"service": "C"}),
    ("serving", "recall", {}),
    ("serving", "start", {}),
    ("serving", "no-show", {}),
    ("serving", "cancel", {}),
    ("done", "complete", {}),
    ("done", "recall", {}),
    ("done", "cancel", {}),
    ("done", "transfer", {"service": "C"}),
    ("no_show", "start", {}),
    ("no_show", "no-show", {}),
    ("cancelled", "start", {}),
    ("cancelled", "cancel", {}),
]


def put_in_state(api: Api, state: str) -> dict[str, Any]:
    ticket = api.issue("A")
    steps = {
        "waiting": [],
        "serving": ["start"],
        "done": ["complete"],
        "no_show": ["no-show"],
        "cancelled": ["cancel"],
    }[state]
    if state != "waiting":
        api.call_next(1)
    for step in steps:
        assert api.act(ticket["id"], step).status_code == 200
    return ticket


@pytest.mark.parametrize(("state", "action", "body"), ILLEGAL)
def test_illegal_transitions_are_409_and_change_nothing(
    api: Api, app: Flask, state: str, action: str, body: dict[str, Any]
) -> None:
    ticket = put_in_state(api, state)
    before = api.snapshot()
    trail = events_of(app, ticket["id"])
    response = api.act(ticket["id"], action, **body)
    assert response.status_code == 409
    assert response.json["error"] == "conflict"
    assert ticket["label"] in response.json["message"]
    with app.app_context():
        assert db.session.get(Ticket, ticket["id"]).status == state
    assert api.snapshot() == before  # version included: nothing moved
    assert events_of(app, ticket["id"]) == trail


class TestStaffAuth:
    def test_anonymous_staff_calls_are_refused(self, client: FlaskClient, api: Api) -> None:
        ticket = api.issue("A")
        call = client.post("/api/v1/stores/demo/counters/1/call-next")
        assert call.status_code == 401 and call.json["error"] == "login_required"
        for action in ("recall", "start", "complete", "no-show", "cancel"):
            assert client.post(f"/api/v1/tickets/{ticket['id']}/{action}").status_code == 401
        assert api.snapshot()["waiting"][0]["status"] == "waiting"

    def test_bad_bearer_token(self, client: FlaskClient) -> None:
        response = client.post(
            "/api/v1/stores/demo/counters/1/call-next", headers={"Authorization": "Bearer nope"}
        )
        assert response.status_code == 401 and response.json["error"] == "bad_token"

    def test_clerk_of_another_store_is_forbidden(self, app: Flask, api: Api) -> None:
        make_user(app, "outsider", "other")
        headers = {"Authorization": f"Bearer {token_for(app, 'outsider')}"}
        ticket = api.issue("A")
        call = api.client.post("/api/v1/stores/demo/counters/1/call-next", headers=headers)
        assert call.status_code == 403
        act = api.client.post(f"/api/v1/tickets/{ticket['id']}/cancel", headers=headers)
        assert act.status_code == 403
        assert api.snapshot()["waiting"][0]["id"] == ticket["id"]

    def test_session_calls_need_the_csrf_token(self, app: Flask, client: FlaskClient) -> None:
        from .conftest import PASSWORD

        make_user(app, "desk", "demo")
        page = client.get("/login")
        assert page.status_code == 200
        csrf = extract_csrf(page.get_data(as_text=True))
        login = client.post(
            "/login", data={"username": "desk", "password": PASSWORD, "csrf_token": csrf}
        )
        assert login.status_code == 302
        client.post(
            "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
        )
        no_csrf = client.post("/api/v1/stores/demo/counters/1/call-next")
        assert no_csrf.status_code == 400 and no_csrf.json["error"] == "csrf_failed"
        counter_page = client.get("/s/demo/counter?counter=1").get_data(as_text=True)
        token = extract_csrf(counter_page)
        not_yet = client.post(
            "/api/v1/stores/demo/counters/1/call-next", headers={"X-CSRFToken": token}
        )
        assert not_yet.status_code == 409 and not_yet.json["error"] == "not_signed_in"
        signed = client.post(
            "/api/v1/stores/demo/counters/1/sign-in", json={}, headers={"X-CSRFToken": token}
        )
        assert signed.status_code == 200 and signed.json["counter"]["clerk"] == "desk"
        ok = client.post("/api/v1/stores/demo/counters/1/call-next", headers={"X-CSRFToken": token})
        assert ok.status_code == 200 and ok.json["ticket"]["label"] == "A001"

    def test_logout_really_ends_the_session(self, app: Flask, client: FlaskClient) -> None:
        from .conftest import PASSWORD

        make_user(app, "desk", "demo")
        csrf = extract_csrf(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": "desk", "password": PASSWORD, "csrf_token": csrf})
        cookie = client.get_cookie("session")
        assert cookie is not None
        assert client.get("/s/demo/counter").status_code == 200
        page_csrf = extract_csrf(client.get("/s/demo/counter").get_data(as_text=True))
        assert client.post("/logout", data={"csrf_token": page_csrf}).status_code == 302
        # Replay the old cookie: the server-side session is gone, so it is anonymous.
        replay = app.test_client()
        replay.set_cookie("session", cookie.value)
        assert replay.get("/s/demo/counter").status_code == 302

    def test_wrong_password(self, app: Flask, client: FlaskClient) -> None:
        make_user(app, "desk", "demo")
        csrf = extract_csrf(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"username": "desk", "password": "wrong", "csrf_token": csrf}
        )
        assert response.status_code == 401
        assert client.get("/s/demo/counter").status_code == 302


def extract_csrf(html: str) -> str:
    import json
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    if match:
        return match.group(1)
    config = re.search(
        r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S
    )
    assert config, "no CSRF token on the page"
    return json.loads(config.group(1))["csrf_token"]


class TestReadModels:
    def test_services_list(self, api: Api, client: FlaskClient) -> None:
        api.issue("A")
        api.issue("A")
        body = client.get("/api/v1/stores/demo/services").json
        ServicesOut.model_validate(body)
        by_code = {s["code"]: s for s in body["services"]}
        assert set(by_code) == set("ABCDE")  # VIP is issued by staff: not on the public list
        assert by_code["A"]["waiting"] == 2 and by_code["A"]["lane"] == "fast"
        # Nobody is signed in: no estimate is made up ("0–1 min"), the reason is given.
        assert by_code["A"]["eta_minutes"] is None
        assert by_code["A"]["eta_reason"] == "no_staffed_counter"
        api.sign_in(3)  # standard first, then fast
        by_code = {
            s["code"]: s for s in client.get("/api/v1/stores/demo/services").json["services"]
        }
        assert by_code["C"]["waiting"] == 0 and by_code["C"]["eta_reason"] is None
        assert by_code["A"]["eta_minutes"][1] > by_code["C"]["eta_minutes"][0] >= 0

    def test_snapshot_shape_and_version(self, api: Api) -> None:
        api.sign_in(2)
        empty = api.snapshot()
        SnapshotOut.model_validate(empty)
        ticket = api.issue("A")
        api.call_next(2)
        snap = api.snapshot()
        SnapshotOut.model_validate(snap)
        assert snap["version"] == empty["version"] + 2
        counter2 = next(c for c in snap["counters"] if c["number"] == 2)
        assert counter2["current"]["label"] == ticket["label"]
        assert snap["recent_calls"][0]["label"] == ticket["label"]
        assert snap["recent_calls"][0]["counter"] == 2

    def test_stores_are_isolated(self, api: Api) -> None:
        api.issue("A", store="other")
        assert api.snapshot()["waiting"] == []
        assert len(api.snapshot("other")["waiting"]) == 1

    def test_openapi_document_lists_the_contract(self, client: FlaskClient) -> None:
        spec = client.get("/api/openapi.json").json
        assert spec["openapi"].startswith("3.")
        paths = spec["paths"]
        for path in [
            "/api/v1/stores/{store}/tickets",
            "/api/v1/tickets/{token}",
            "/api/v1/stores/{store}/counters/{counter}/call-next",
            "/api/v1/tickets/{ticket_id}/recall",
            "/api/v1/tickets/{ticket_id}/transfer",
            "/api/v1/stores/{store}/snapshot",
            "/api/v1/stores/{store}/services",
        ]:
            assert path in paths, path
        issue = paths["/api/v1/stores/{store}/tickets"]["post"]
        body_ref = issue["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
        assert schema["required"] == ["service"]
        assert "security" in paths["/api/v1/stores/{store}/counters/{counter}/call-next"]["post"]


def test_now_is_injected(api: Api, clock: ManualClock) -> None:
    clock.advance(minutes=7)
    ticket = api.issue("A")
    expected = clock.now().isoformat().replace("+00:00", "Z")
    assert ticket["issued_at"] == expected
    # The injected clock, not the wall clock: 09:07 on the test's morning, whatever today is.
    assert datetime.fromisoformat(ticket["issued_at"]) - MORNING == timedelta(minutes=7)


@pytest.mark.parametrize(
    ("mode", "sample", "checked"),
    [("raise", 0.0, 3), ("log", 1.0, 3), ("log", 0.0, 0), ("", 1.0, 0)],
)
def test_answers_are_checked_against_their_schema_every_time_or_by_sample(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    sample: float,
    checked: int,
) -> None:
    """Tests check every answer; production checks a sample (a check costs about as much as a
    bare request), and can switch the check off."""
    from backend.api import openapi

    seen: list[str] = []
    original = openapi.check_response
    monkeypatch.setattr(
        openapi,
        "check_response",
        lambda model, result: (seen.append(model.__name__), original(model, result)),
    )
    app.config.update(API_VALIDATE_RESPONSES=mode, API_VALIDATE_SAMPLE=sample)
    for _ in range(3):
        assert client.get("/api/v1/stores/demo/services").status_code == 200
    assert seen == ["ServicesOut"] * checked


def test_an_answer_that_breaks_its_schema_is_logged_in_production(
    app: Flask,
    client: FlaskClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from backend.queue import reads

    app.config.update(API_VALIDATE_RESPONSES="log", API_VALIDATE_SAMPLE=1.0)
    monkeypatch.setattr(reads, "services_view", lambda store, lang: [{"undocumented": 1}])
    with caplog.at_level("WARNING"):
        response = client.get("/api/v1/stores/demo/services")
    assert response.status_code == 200  # the customer still gets the answer
    assert any("breaks its schema ServicesOut" in r.getMessage() for r in caplog.records)
