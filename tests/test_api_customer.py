"""The customer's side over HTTP: registered kiosks and their rate limit, remote join, cancel,
rejoin after a missed call, and the one-tap rating."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.models import Feedback, Store

from .conftest import Api, kiosk_headers

TICKETS = "/api/v1/stores/demo/tickets"


def set_store(app: Flask, **settings: object) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        for key, value in settings.items():
            setattr(store, key, value)
        db.session.commit()


def waiting_labels(api: Api) -> list[str]:
    return [t["label"] for t in api.snapshot()["waiting"]]


class TestKiosk:
    def test_an_unregistered_screen_cannot_print(self, client: FlaskClient, api: Api) -> None:
        response = client.post(TICKETS, json={"service": "A"})
        assert response.status_code == 403
        assert response.json["error"] == "kiosk_not_registered"
        forged = client.post(TICKETS, json={"service": "A"}, headers={"X-Kiosk-Token": "nope"})
        assert forged.status_code == 403
        assert waiting_labels(api) == []

    def test_a_kiosk_of_another_store_cannot_print_here(
        self, app: Flask, client: FlaskClient
    ) -> None:
        response = client.post(TICKETS, json={"service": "A"}, headers=kiosk_headers(app, "other"))
        assert response.status_code == 403

    def test_rate_limit_per_kiosk(self, app: Flask, api: Api, clock: ManualClock) -> None:
        set_store(app, kiosk_rate_per_minute=3)
        for _ in range(3):
            api.issue("A")
            clock.advance(seconds=5)
        refused = api.client.post(TICKETS, json={"service": "A"}, headers=kiosk_headers(app))
        assert refused.status_code == 429
        assert refused.json["error"] == "rate_limited"
        # The first print (at :00) leaves the one-minute window at :60; it is now :15.
        assert refused.json["retry_after"] == 45
        assert "稍候" in refused.json["message"]  # in the kiosk's language, kindly
        assert waiting_labels(api) == ["A001", "A002", "A003"]
        clock.advance(seconds=46)
        assert api.issue("A")["label"] == "A004"

    def test_the_limit_is_per_kiosk(self, app: Flask, api: Api) -> None:
        from backend.kiosks.operations import register_kiosk

        set_store(app, kiosk_rate_per_minute=1)
        api.issue("A")
        with app.app_context():
            second = register_kiosk("demo", "second kiosk")
        other = api.client.post(TICKETS, json={"service": "B"}, headers={"X-Kiosk-Token": second})
        assert other.status_code == 201

    def test_register_link_sets_up_the_browser(self, app: Flask, client: FlaskClient) -> None:
        token = app.config["TEST_KIOSKS"]["demo"]
        bad = client.get("/s/demo/kiosk/register/not-a-token")
        assert bad.status_code == 404
        wrong_store = client.get(f"/s/other/kiosk/register/{token}")
        assert wrong_store.status_code == 404
        response = client.get(f"/s/demo/kiosk/register/{token}")
        assert response.status_code == 302 and response.headers["Location"] == "/s/demo/kiosk"
        assert "HttpOnly" in response.headers["Set-Cookie"]
        page = client.get("/s/demo/kiosk").get_data(as_text=True)
        config = json.loads(
            re.search(r'id="page-config" type="application/json">(.*?)</script>', page, re.S)[1]
        )
        assert config["kiosk"]["idle_seconds"] == 60
        # The browser now prints with its cookie alone.
        assert client.post(TICKETS, json={"service": "A"}).status_code == 201

    def test_kiosk_socket_receives_public_events(self, app: Flask, api: Api) -> None:
        kiosk = socketio.test_client(app, auth={"store": "demo", "role": "kiosk"})
        assert kiosk.is_connected()
        kiosk.get_received()
        api.issue("C")
        messages = kiosk.get_received()
        assert [m["name"] for m in messages] == ["issued", "queue_updated"]
        lanes = {lane["lane"]: lane["waiting"] for lane in messages[1]["args"][0]["lanes"]}
        assert lanes["standard"] == 1  # the kiosk's waiting counts follow the projection


class TestRemoteJoin:
    def test_one_active_ticket_per_phone(self, app: Flask, api: Api) -> None:
        phone = app.test_client()
        assert "queue_client=" in phone.get("/s/demo/join").headers["Set-Cookie"]
        first = phone.post(TICKETS, json={"service": "C", "channel": "remote"})
        assert first.status_code == 201 and first.json["channel"] == "remote"
        again = phone.post(TICKETS, json={"service": "A", "channel": "remote"})
        assert again.status_code == 409
        assert again.json["error"] == "already_in_queue"
        assert again.json["status_url"] == first.json["status_url"]
        other_phone = app.test_client()
        other_phone.get("/s/demo/join")
        assert (
            other_phone.post(TICKETS, json={"service": "A", "channel": "remote"}).status_code == 201
        )
        # Once the first visit is over the phone may join again.
        api.act(first.json["id"], "cancel")
        assert phone.post(TICKETS, json={"service": "A", "channel": "remote"}).status_code == 201

    def test_closed_when_the_store_says_so(self, app: Flask, client: FlaskClient, api: Api) -> None:
        set_store(app, remote_join=False)
        client.get("/s/demo/join")
        response = client.post(TICKETS, json={"service": "C", "channel": "remote"})
        assert response.status_code == 403 and response.json["error"] == "remote_join_closed"
        assert waiting_labels(api) == []

    def test_join_page(self, app: Flask, client: FlaskClient) -> None:
        page = client.get("/s/demo/join")
        assert page.status_code == 200 and "业务办理" in page.get_data(as_text=True)


def no_show(api: Api, ticket: dict, counter: int = 1) -> None:
    called = api.call_next(counter)
    assert called["ticket"]["id"] == ticket["id"]
    assert api.act(ticket["id"], "no-show").status_code == 200


def rejoin(client: FlaskClient, ticket: dict) -> object:
    return client.post(f"/api/v1/tickets/{ticket['id']}/rejoin", json={"token": ticket["token"]})


class TestRejoin:
    def test_lands_exactly_n_places_behind_the_head(self, api: Api, client: FlaskClient) -> None:
        missed = api.issue("A")
        others = [api.issue("A") for _ in range(5)]
        no_show(api, missed)
        view = client.get(f"/api/v1/tickets/{missed['token']}").json
        assert view["can_rejoin"] and view["rejoin_places"] == 3 and view["rejoin_until"]
        assert [m["label"] for m in api.snapshot()["missed"]] == [missed["label"]]
        response = rejoin(client, missed)
        assert response.status_code == 200
        assert response.json["status"] == "waiting" and response.json["position"] == 3
        order = [t["label"] for t in api.snapshot()["waiting"]]
        assert order == [o["label"] for o in others[:3]] + [missed["label"]] + [
            o["label"] for o in others[3:]
        ]
        assert api.snapshot()["missed"] == []

    def test_short_lane_goes_to_the_end(self, api: Api, client: FlaskClient) -> None:
        missed = api.issue("A")
        api.issue("A")
        no_show(api, missed)
        later = api.issue("B")  # issued after the no-show
        rejoined = rejoin(client, missed).json
        order = [t["label"] for t in api.snapshot()["waiting"]]  # the order the store will call
        assert sorted(order) == sorted(["A002", "A001", later["label"]])
        assert order.index("A002") < order.index("A001")  # behind its whole (short) lane
        assert rejoined["position"] == order.index("A001")

    def test_only_once(self, api: Api, client: FlaskClient) -> None:
        missed = api.issue("A")
        no_show(api, missed)
        assert rejoin(client, missed).status_code == 200
        no_show(api, missed)
        again = rejoin(client, missed)
        assert again.status_code == 409 and again.json["error"] == "already_rejoined"
        assert client.get(f"/api/v1/tickets/{missed['token']}").json["can_rejoin"] is False

    def test_window_expires(self, api: Api, client: FlaskClient, clock: ManualClock) -> None:
        missed = api.issue("A")
        no_show(api, missed)
        clock.advance(minutes=30, seconds=1)
        late = rejoin(client, missed)
        assert late.status_code == 409 and late.json["error"] == "rejoin_expired"
        assert api.snapshot()["missed"] == []
        assert client.get(f"/api/v1/tickets/{missed['token']}").json["status"] == "no_show"

    def test_only_missed_tickets_and_only_their_holder(self, api: Api, client: FlaskClient) -> None:
        waiting = api.issue("A")
        assert rejoin(client, waiting).status_code == 409
        other = api.issue("A")
        no_show(api, waiting)
        stolen = client.post(
            f"/api/v1/tickets/{waiting['id']}/rejoin", json={"token": other["token"]}
        )
        assert stolen.status_code == 403
        missing = client.post(f"/api/v1/tickets/{waiting['id']}/rejoin", json={})
        assert missing.status_code == 400


class TestFeedback:
    def finish(self, api: Api) -> dict:
        ticket = api.issue("A")
        api.call_next(2)
        api.act(ticket["id"], "complete")
        return ticket

    def test_rating_once_tied_to_service_counter_and_clerk(
        self, app: Flask, api: Api, client: FlaskClient
    ) -> None:
        ticket = self.finish(api)
        assert client.get(f"/api/v1/tickets/{ticket['token']}").json["can_rate"] is True
        url = f"/api/v1/tickets/{ticket['id']}/feedback"
        saved = client.post(url, json={"token": ticket["token"], "stars": 4, "comment": " 很快 "})
        assert saved.status_code == 201 and saved.json == {"stars": 4, "comment": "很快"}
        twice = client.post(url, json={"token": ticket["token"], "stars": 1})
        assert twice.status_code == 409 and twice.json["error"] == "already_rated"
        view = client.get(f"/api/v1/tickets/{ticket['token']}").json
        assert view["can_rate"] is False and view["feedback"]["stars"] == 4
        with app.app_context():
            row = db.session.scalar(select(Feedback))
            assert (row.stars, row.comment) == (4, "很快")
            assert row.counter_id is not None and row.clerk_id is not None
            assert row.service_id is not None

    def test_not_before_the_visit_is_over(self, api: Api, client: FlaskClient) -> None:
        ticket = api.issue("A")
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/feedback", json={"token": ticket["token"], "stars": 5}
        )
        assert response.status_code == 409

    def test_bad_ratings(self, api: Api, client: FlaskClient) -> None:
        ticket = self.finish(api)
        url = f"/api/v1/tickets/{ticket['id']}/feedback"
        for body in (
            {"token": ticket["token"], "stars": 6},
            {"token": ticket["token"], "stars": 0},
            {"token": ticket["token"], "stars": 3, "comment": "x" * 501},
            {"token": ticket["token"]},
        ):
            assert client.post(url, json=body).status_code == 400
        assert client.post(url, json={"token": "wrong", "stars": 3}).status_code == 404


def test_customer_cancel_and_the_public_view(api: Api, client: FlaskClient) -> None:
    ticket = api.issue("A")
    view = client.get(f"/api/v1/tickets/{ticket['token']}").json
    assert view["serving_counters"] == []  # nobody is signed in yet: no counter serves
    statuses = {c["number"]: c["status"] for c in view["counters"]}
    assert statuses == {1: "closed", 2: "closed", 3: "closed"}  # the fast lane's, not open
    assert view["eta_minutes"] is None and view["eta_reason"] == "no_staffed_counter"
    api.sign_in(2)
    view = client.get(f"/api/v1/tickets/{ticket['token']}").json
    assert view["serving_counters"] == [2] and view["eta_reason"] is None
    assert {c["number"]: c["status"] for c in view["counters"]}[2] == "open"
    assert view["can_cancel"] and not view["can_rejoin"] and not view["can_rate"]
    assert view["store_name"] == "示范营业厅"
    cancelled = client.post(
        f"/api/v1/tickets/{ticket['id']}/cancel", json={"token": ticket["token"]}
    )
    assert cancelled.json["status"] == "cancelled" and cancelled.json["can_cancel"] is False


def test_two_taps_on_the_stars_at_once_store_one_rating(app: Flask, api: Api) -> None:
    import threading

    ticket = api.issue("A")
    api.call_next(2)
    api.act(ticket["id"], "complete")
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def tap(stars: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/feedback",
            json={"token": ticket["token"], "stars": stars},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=tap, args=(s,)) for s in (4, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    with app.app_context():
        assert db.session.query(Feedback).count() == 1
