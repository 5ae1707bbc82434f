"""Every screen tells the truth and the queue refuses cheap abuse (one test per fixed promise,
through the HTTP API and sockets, as the screens meet it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.models import Store, Ticket
from backend.policy import TicketStatus
from backend.queue import readmodel

from .conftest import PASSWORD, Api, kiosk_headers, make_user
from .test_api_tickets import extract_csrf

TICKETS = "/api/v1/stores/demo/tickets"


def set_store(app: Flask, **values: Any) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        for key, value in values.items():
            setattr(store, key, value)
        db.session.commit()


def post(api: Api, path: str, **body: Any) -> Any:
    return api.client.post(f"/api/v1{path}", json=body or None, headers=api.headers)


def kiosk_post(client: FlaskClient, app: Flask, service: str, **headers: str) -> Any:
    return client.post(
        TICKETS, json={"service": service}, headers={**kiosk_headers(app), **headers}
    )


def shanghai(clock: ManualClock, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, 11, 26, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")))


# --- 1 now calling --------------------------------------------------------------------------


def test_now_calling_is_only_the_tickets_called_right_now(app: Flask, api: Api) -> None:
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    first = api.issue("A")
    api.call_next(2)
    assert [c["label"] for c in api.snapshot()["now_calling"]] == [first["label"]]
    assert api.act(first["id"], "no-show").status_code == 200
    snap = api.snapshot()
    assert snap["now_calling"] == []  # a missed number leaves the big panel ...
    assert [m["label"] for m in snap["missed"]] == [first["label"]]  # ... for the missed one
    calls = [r for r in snap["recent_calls"] if r["ticket_id"] == first["id"]]
    assert calls[0]["status"] == "no_show"  # recent calls say what became of it
    second = api.issue("A")
    api.call_next(2)
    post(api, f"/tickets/{second['id']}/recall")
    recalled = api.snapshot()["now_calling"][0]
    assert recalled["label"] == second["label"] and recalled["recall_count"] == 1
    api.act(second["id"], "start")
    api.act(second["id"], "park")
    post(api, "/stores/demo/counters/2/pause", reason="break")
    assert api.snapshot()["now_calling"] == []
    updates = [m["args"][0] for m in display.get_received() if m["name"] == "queue_updated"]
    assert updates[-1]["now_calling"] == []  # the live update carries it too


COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["issue", "call", "start", "no-show", "recall", "complete", "cancel"]),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(COMMANDS)
def test_property_now_calling_equals_the_called_tickets(
    app: Flask, api: Api, clock: ManualClock, commands: list[tuple[str, int]]
) -> None:
    """After every step of any command sequence, the snapshot's now-calling is exactly the set of
    tickets in status `called` (each with its counter)."""
    clock.advance(minutes=2)  # the kiosk's per-minute print limit counts each example afresh
    with app.app_context():  # a fresh day for each example: no one left waiting or called
        db.session.execute(Ticket.__table__.update().values(status=TicketStatus.DONE))
        db.session.execute(Store.__table__.update().values(version=Store.version + 1))
        db.session.commit()
    issued: list[int] = []
    for action, pick in commands:
        if action == "issue":
            issued.append(api.issue("AB"[pick % 2])["id"])
        elif action == "call":
            counter = 1 + pick % 3
            api.sign_in(counter)
            post(api, f"/stores/demo/counters/{counter}/call-next")
        elif issued:
            api.act(issued[pick % len(issued)], action)
        with app.app_context():
            called = set(
                db.session.execute(
                    select(Ticket.label, Ticket.counter_id).where(
                        Ticket.status == TicketStatus.CALLED
                    )
                ).all()
            )
            demo = db.session.scalars(select(Store).where(Store.code == "demo")).one()
            numbers = {c.id: c.number for c in demo.counters}
        shown = {(c["label"], c["counter"]) for c in api.snapshot()["now_calling"]}
        assert shown == {(label, numbers[counter]) for label, counter in called}


# --- 2 and 3 closed counters and honest estimates --------------------------------------------


def test_counters_nobody_signed_in_at_are_closed_and_estimate_nothing(
    api: Api, client: FlaskClient
) -> None:
    api.issue("A")
    snap = api.snapshot()
    assert {c["status"] for c in snap["counters"]} == {"closed"}
    assert all(lane["eta_minutes"] is None for lane in snap["lanes"])
    services = client.get("/api/v1/stores/demo/services").json["services"]
    assert {s["eta_reason"] for s in services} == {"no_staffed_counter"}
    api.sign_in(1)  # fast only
    snap = api.snapshot()
    statuses = {c["number"]: c["status"] for c in snap["counters"]}
    assert statuses == {1: "open", 2: "closed", 3: "closed", 4: "closed"}
    lanes = {lane["lane"]: lane["eta_minutes"] for lane in snap["lanes"]}
    assert lanes["fast"] is not None
    post(api, "/stores/demo/counters/1/pause", reason="break")
    snap = api.snapshot()
    assert {c["number"]: c["status"] for c in snap["counters"]}[1] == "paused"
    assert {lane["lane"]: lane["eta_minutes"] for lane in snap["lanes"]}["fast"] is None


def test_no_estimate_for_a_lane_no_staffed_counter_serves(app: Flask, api: Api) -> None:
    set_store(app, work_conserving=False)
    api.sign_in(1)  # fast only
    fast, standard = api.issue("A"), api.issue("C")
    view = api.client.get(f"/api/v1/tickets/{standard['token']}").json
    assert view["eta_minutes"] is None and view["eta_reason"] == "no_staffed_counter"
    assert api.client.get(f"/api/v1/tickets/{fast['token']}").json["eta_minutes"] is not None


# --- 4 positions follow the real order -----------------------------------------------------------


def test_you_are_next_only_when_a_counter_would_call_you_next(
    api: Api, client: FlaskClient, clock: ManualClock
) -> None:
    api.sign_in(2)  # fast, then standard
    long = api.issue("D")  # broadband, 15 min
    clock.advance(minutes=1)
    short = api.issue("A")  # a top-up issued later goes first by the store's order
    view = client.get(f"/api/v1/tickets/{long['token']}").json
    assert view["position"] == 1 and view["is_next"] is False
    assert client.get(f"/api/v1/tickets/{short['token']}").json["is_next"] is True
    panel = api.snapshot()
    assert [t["id"] for t in panel["waiting"]] == [short["id"], long["id"]]  # F1's order
    queue = next(q for q in panel["counter_queues"] if q["counter"] == 2)
    assert queue["queue"] == [short["id"], long["id"]]
    assert queue["next"]["ticket_id"] == short["id"] and queue["next"]["reason"] == "best_ratio"
    assert api.call_next(2)["ticket"]["id"] == short["id"]  # exactly as shown


# --- 5 opening hours apply to the queue --------------------------------------------------------


def test_opening_hours_apply_to_the_queue(app: Flask, api: Api, clock: ManualClock) -> None:
    shanghai(clock, 4)
    kiosk = app.test_client()
    refused = kiosk_post(kiosk, app, "A")
    assert refused.status_code == 409 and refused.json["error"] == "store_closed"
    assert refused.json["next_open"] == "2026-11-26T01:00:00Z"  # 09:00 in Shanghai
    phone = app.test_client()
    phone.get("/s/demo/join")
    remote = phone.post(TICKETS, json={"service": "A", "channel": "remote"})
    assert remote.status_code == 409 and remote.json["error"] == "store_closed"
    assert api.issue_as_staff("A")["label"] == "A001"  # staff may still issue
    assert api.snapshot()["hours"]["open"] is False
    shanghai(clock, 17, 45)  # remote joining stops 30 minutes before 18:00; the kiosk does not
    late = phone.post(TICKETS, json={"service": "A", "channel": "remote"})
    assert late.status_code == 409 and late.json["error"] == "closing_soon"
    assert kiosk_post(kiosk, app, "A").status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_ticket_that_would_be_called_after_closing_is_refused(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    set_store(app, kiosk_rate_per_minute=0)
    shanghai(clock, 17, 0)
    api.sign_in(4)  # one counter for the standard lane: complaints take 18 minutes each
    for _ in range(5):
        assert kiosk_post(api.client, app, "E").status_code == 201
    refused = kiosk_post(api.client, app, "E")
    assert refused.status_code == 409 and refused.json["error"] == "after_closing"
    assert "closes_at" in refused.json


# --- 7 and 8 what the clerk can do by accident ------------------------------------------------


def test_call_next_never_completes_a_customer_who_was_only_called(api: Api) -> None:
    first = api.issue("A")
    second = api.issue("A")
    api.sign_in(1)
    post(api, "/stores/demo/counters/1/call-next")
    refused = post(api, "/stores/demo/counters/1/call-next")
    assert refused.status_code == 409 and refused.json["error"] == "still_called"
    view = api.client.get(f"/api/v1/tickets/{first['token']}").json
    assert view["status"] == "called" and view["can_rate"] is False  # not counted as served
    assert api.act(first["id"], "no-show").status_code == 200
    assert post(api, "/stores/demo/counters/1/call-next").json["ticket"]["id"] == second["id"]


def test_a_transfer_cannot_strand_a_customer(api: Api) -> None:
    ticket = api.issue("C")  # standard
    api.call_next(3)
    refused = post(api, f"/tickets/{ticket['id']}/transfer", counter=1)  # counter 1: fast only
    assert refused.status_code == 409 and refused.json["error"] == "counter_cannot_serve"
    assert api.client.get(f"/api/v1/tickets/{ticket['token']}").json["status"] == "called"
    sent = post(api, f"/tickets/{ticket['id']}/transfer", counter=2)  # fast, standard
    assert sent.status_code == 200 and sent.json["transferred_to"] == 2
    waiting = api.snapshot()["waiting"]
    assert [(t["id"], t["target_counter"]) for t in waiting] == [(ticket["id"], 2)]
    queues = {q["counter"]: q["queue"] for q in api.snapshot()["counter_queues"]}
    assert queues[2] == [ticket["id"]] and queues[3] == []  # only counter 2 lists it


# --- 9 logging in lands staff on a staff page ----------------------------------------------------


@pytest.mark.parametrize("next_url", [None, "/", "/s/demo/kiosk"])
def test_login_lands_on_the_counter_picker(app: Flask, next_url: str | None) -> None:
    make_user(app, "desk", "demo")
    client = app.test_client()
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    form = {"username": "desk", "password": PASSWORD, "csrf_token": csrf}
    if next_url is not None:
        form["next"] = next_url
    response = client.post("/login", data=form)
    assert response.status_code == 302 and response.headers["Location"] == "/s/demo/counter"


# --- 10 remote join is not a free ticket printer -----------------------------------------------


def test_remote_join_needs_the_join_page_and_is_limited(app: Flask, api: Api) -> None:
    script = app.test_client()
    bare = script.post(TICKETS, json={"service": "A", "channel": "remote"})
    assert bare.status_code == 400 and bare.json["error"] == "no_client"
    script.get("/s/demo/join")
    answers = []
    for _ in range(7):
        made = script.post(TICKETS, json={"service": "A", "channel": "remote"})
        answers.append(made.status_code)
        if made.status_code == 201:
            api.act(made.json["id"], "cancel")  # cancelled: the phone may join again ...
    # Five tries a minute per phone and address (the refused try above counted): not 60.
    assert answers[:4] == [201] * 4 and answers[4:] == [429, 429, 429]
    with app.app_context():
        made_count = db.session.scalar(select(func.count()).select_from(Ticket))
    assert made_count == 4


def test_open_remote_tickets_are_capped(app: Flask) -> None:
    set_store(app, remote_max_open=2)
    statuses = []
    for _ in range(3):
        phone = app.test_client()
        phone.get("/s/demo/join")
        statuses.append(phone.post(TICKETS, json={"service": "A", "channel": "remote"}))
    assert [r.status_code for r in statuses] == [201, 201, 409]
    assert statuses[2].json["error"] == "remote_full"


def test_an_unconfirmed_remote_ticket_is_skipped_not_lost(app: Flask, api: Api) -> None:
    set_store(app, remote_requires_arrival=True)
    phone = app.test_client()
    phone.get("/s/demo/join")
    remote = phone.post(TICKETS, json={"service": "A", "channel": "remote"}).json
    walk_in = api.issue("A")
    assert remote["arrival_required"] is True and remote["eta_reason"] == "confirm_arrival"
    assert api.call_next(1)["ticket"]["id"] == walk_in["id"]  # skipped ...
    api.act(walk_in["id"], "start")
    assert api.call_next(1)["ticket"] is None
    here = phone.post(f"/api/v1/tickets/{remote['id']}/arrived", json={"token": remote["token"]})
    assert here.status_code == 200 and here.json["arrival_required"] is False
    assert api.call_next(1)["ticket"]["id"] == remote["id"]  # ... not lost


# --- 11 VIP is not self-declared ---------------------------------------------------------------


def test_vip_is_issued_by_staff(app: Flask, api: Api, client: FlaskClient) -> None:
    refused = kiosk_post(client, app, "V")
    assert refused.status_code == 403 and refused.json["error"] == "staff_issues_this_service"
    codes = {s["code"] for s in client.get("/api/v1/stores/demo/services").json["services"]}
    assert "V" not in codes
    kiosk_page = client.get("/s/demo/kiosk").get_data(as_text=True)
    assert 'data-service="A"' in kiosk_page and 'data-service="V"' not in kiosk_page
    assert api.issue_as_staff("V")["lane"] == "vip"
    set_store(app, public_vip=True)
    assert kiosk_post(client, app, "V").status_code == 201


# --- 12 issue is idempotent --------------------------------------------------------------------


def test_a_retried_issue_returns_the_ticket_already_made(app: Flask, client: FlaskClient) -> None:
    first = kiosk_post(client, app, "A", **{"Idempotency-Key": "tap-7f3a"})
    retry = kiosk_post(client, app, "A", **{"Idempotency-Key": "tap-7f3a"})
    assert first.status_code == retry.status_code == 201
    assert retry.json["id"] == first.json["id"] and retry.json["label"] == "A001"
    other = kiosk_post(client, app, "A", **{"Idempotency-Key": "tap-8c21"})
    assert other.json["label"] == "A002"
    reused = kiosk_post(client, app, "C", **{"Idempotency-Key": "tap-7f3a"})
    assert reused.status_code == 409 and reused.json["error"] == "idempotency_key_reused"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_concurrent_retries_of_one_tap_make_one_ticket(app: Flask) -> None:
    import threading

    barrier = threading.Barrier(6)
    answers: list[Any] = []

    def tap() -> None:
        barrier.wait()
        answers.append(kiosk_post(app.test_client(), app, "A", **{"Idempotency-Key": "same"}))

    threads = [threading.Thread(target=tap) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {201}
    assert len({a.json["id"] for a in answers}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_the_expected_call_time_is_the_estimates_mean_inside_its_range(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    """ "Called around 10:20" is the expected wait (the mean of the sampled runs), not the
    range's earliest end: with a long visit under way, the mean lies well above the low end."""
    served = api.issue("D")
    api.call_next(2)
    api.act(served["id"], "start")
    tickets = [api.issue("A") for _ in range(4)]
    view = api.client.get(f"/api/v1/tickets/{tickets[-1]['token']}").json
    low, high = view["eta_minutes"]
    called_at = datetime.fromisoformat(view["eta_call_at"])
    minutes = (called_at - clock.now()).total_seconds() / 60
    assert low <= minutes <= high
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        proj = readmodel.projection(store_id)
        expected = proj.forecasts[tickets[-1]["id"]].point
    assert minutes == pytest.approx(expected, abs=1 / 60)
    assert minutes > low  # not the earliest end


def test_a_lane_without_an_estimate_says_why(api: Api, clock: ManualClock) -> None:
    api.issue("A")
    lanes = {lane["lane"]: lane for lane in api.snapshot()["lanes"]}
    assert lanes["fast"]["eta_minutes"] is None
    assert lanes["fast"]["eta_reason"] == "no_staffed_counter"
    assert lanes["appointment"]["eta_reason"] is None  # appointments have no walk-in estimate
    shanghai(clock, 19)  # after hours, nobody at a counter
    lanes = {lane["lane"]: lane for lane in api.snapshot()["lanes"]}
    assert lanes["fast"]["eta_reason"] == "store_closed"
    shanghai(clock, 10)
    api.sign_in(1)  # a fast counter opens: an estimate, and no reason any more
    lanes = {lane["lane"]: lane for lane in api.snapshot()["lanes"]}
    assert lanes["fast"]["eta_minutes"] is not None and lanes["fast"]["eta_reason"] is None
