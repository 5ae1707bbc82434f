"""Let a few go ahead (让号): a waiting customer moves back exactly N places in its own queue,
once, within the store's limit; the call order afterwards is the one shown."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.core.errors import BadInput, Conflict
from backend.extensions import db
from backend.models import Store, Ticket, TicketEvent
from backend.policy import ONE_TICK, let_ahead_queue_at
from backend.queue import commands as engine
from backend.queue.readmodel import projection

from .conftest import Api


def set_store(app: Flask, **settings: object) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        for key, value in settings.items():
            setattr(store, key, value)
        db.session.commit()


def let_ahead(client: FlaskClient, ticket: dict, places: object, lang: str = "zh") -> object:
    return client.post(
        f"/api/v1/tickets/{ticket['id']}/let-ahead?lang={lang}",
        json={"token": ticket["token"], "places": places},
    )


def waiting_labels(api: Api) -> list[str]:
    return [t["label"] for t in api.snapshot()["waiting"]]


def call_all(api: Api, counter: int, count: int) -> list[str]:
    return [api.call_next(counter)["ticket"]["label"] for _ in range(count)]


class TestPolicy:
    def test_lands_between_the_nth_and_the_next(self) -> None:
        t0 = datetime(2026, 12, 2, 9, tzinfo=UTC)
        behind = [t0 + timedelta(seconds=s) for s in (1, 2, 3)]
        assert behind[0] < let_ahead_queue_at(behind, 1) < behind[1]
        assert behind[1] < let_ahead_queue_at(behind, 2) < behind[2]
        assert let_ahead_queue_at(behind, 3) == behind[2] + ONE_TICK

    def test_refuses_what_it_cannot_do(self) -> None:
        t0 = datetime(2026, 12, 2, 9, tzinfo=UTC)
        with pytest.raises(ValueError):
            let_ahead_queue_at([t0], 2)
        with pytest.raises(ValueError):
            let_ahead_queue_at([t0], 0)
        with pytest.raises(ValueError):  # no room left between two equal times
            let_ahead_queue_at([t0, t0 + ONE_TICK], 1)


class TestApi:
    def test_moves_exactly_n_places_and_is_called_there(
        self, api: Api, client: FlaskClient
    ) -> None:
        assert api.sign_in(1).status_code == 200  # a staffed counter: the wait has an estimate
        mine = api.issue("A")
        others = [api.issue("A") for _ in range(5)]
        view = client.get(f"/api/v1/tickets/{mine['token']}").json
        assert view["position"] == 0 and view["can_let_ahead"] and view["let_ahead_places"] == 3
        before_eta = view["eta_minutes"]
        response = let_ahead(client, mine, 2, "en")
        assert response.status_code == 200, response.json
        body = response.json
        assert body["position"] == 2
        assert (body["places_asked"], body["places_moved"]) == (2, 2)
        assert body["message"] == "You let 2 people go ahead."
        assert body["can_let_ahead"] is False
        assert before_eta is not None
        assert body["eta_minutes"][0] > before_eta[0]  # the estimate follows the new place
        labels = [o["label"] for o in others]
        expected = [*labels[:2], mine["label"], *labels[2:]]
        assert waiting_labels(api) == expected
        # It stays there: a new ticket queues behind everyone, and the calls follow the order.
        later = api.issue("A")
        assert waiting_labels(api) == [*expected, later["label"]]
        assert call_all(api, 1, 7) == [*expected, later["label"]]

    def test_among_other_business_it_moves_back_in_its_own_queue(
        self, api: Api, client: FlaskClient
    ) -> None:
        mine = api.issue("A")
        b1 = api.issue("B")
        a2 = api.issue("A")
        b2 = api.issue("B")
        a3, a4 = api.issue("A"), api.issue("A")
        assert let_ahead(client, mine, 2).status_code == 200
        order = waiting_labels(api)
        tops = [label for label in order if label.startswith("A")]
        assert tops == [a2["label"], a3["label"], mine["label"], a4["label"]]
        shown = client.get(f"/api/v1/tickets/{mine['token']}").json["position"]
        assert shown == order.index(mine["label"])
        called = call_all(api, 1, 6)
        assert sorted(called) == sorted(order)
        own = [label for label in called if label.startswith("A")]
        assert own == tops  # counter 1 calls the A queue in the order shown
        assert {b1["label"], b2["label"]} <= set(called)

    def test_only_once(self, api: Api, client: FlaskClient) -> None:
        mine = api.issue("A")
        for _ in range(4):
            api.issue("A")
        assert let_ahead(client, mine, 1).status_code == 200
        again = let_ahead(client, mine, 1)
        assert again.status_code == 409 and again.json["error"] == "already_let_ahead"
        assert "已经" in again.json["message"]
        assert client.get(f"/api/v1/tickets/{mine['token']}").json["position"] == 1

    def test_fewer_behind_moves_behind_the_last_and_says_so(
        self, api: Api, client: FlaskClient
    ) -> None:
        mine = api.issue("A")
        other = api.issue("A")
        response = let_ahead(client, mine, 3, "en")
        assert response.status_code == 200
        assert (response.json["places_asked"], response.json["places_moved"]) == (3, 1)
        assert "Only 1 people" in response.json["message"]
        assert waiting_labels(api) == [other["label"], mine["label"]]

    def test_refusals(self, app: Flask, api: Api, client: FlaskClient) -> None:
        alone = api.issue("A")
        nobody = let_ahead(client, alone, 1)
        assert nobody.status_code == 409 and nobody.json["error"] == "nobody_behind"
        api.issue("A")
        too_many = let_ahead(client, alone, 4, "en")
        assert too_many.status_code == 400 and too_many.json["error"] == "too_many_places"
        assert "at most 3" in too_many.json["message"]
        for bad in (0, -1, 10**30, "two", None, 2.5):
            assert let_ahead(client, alone, bad).status_code == 400
        stolen = client.post(
            f"/api/v1/tickets/{alone['id']}/let-ahead", json={"token": "x" * 40, "places": 1}
        )
        assert stolen.status_code == 404
        assert (
            client.post(
                "/api/v1/tickets/999999/let-ahead", json={"token": alone["token"], "places": 1}
            ).status_code
            == 403
        )
        set_store(app, let_ahead_places=0)
        off = let_ahead(client, alone, 1)
        assert off.status_code == 409 and off.json["error"] == "let_ahead_off"
        set_store(app, let_ahead_places=3)
        assert api.call_next(1)["ticket"]["id"] == alone["id"]
        called = let_ahead(client, alone, 1)
        assert called.status_code == 409 and called.json["error"] == "not_waiting"
        # Nothing moved by the refusals: one let-ahead event in all.
        with app.app_context():
            moves = db.session.scalar(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.action == "let_ahead")
            )
        assert moves == 0

    def test_two_clicks_at_once_move_it_once(self, app: Flask, api: Api) -> None:
        mine = api.issue("A")
        others = [api.issue("A") for _ in range(4)]
        statuses: list[int] = []
        barrier = threading.Barrier(2)

        def click() -> None:
            client = app.test_client()
            barrier.wait()
            statuses.append(let_ahead(client, mine, 2).status_code)  # type: ignore[attr-defined]

        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 409]
        labels = [o["label"] for o in others]
        assert waiting_labels(api) == [*labels[:2], mine["label"], *labels[2:]]
        with app.app_context():
            events = db.session.scalars(
                select(TicketEvent.detail).where(
                    TicketEvent.ticket_id == mine["id"], TicketEvent.action == "let_ahead"
                )
            ).all()
        assert events == [{"asked": 2, "places": 2, "reason": "let_ahead"}]

    def test_documented(self, client: FlaskClient) -> None:
        spec = client.get("/api/openapi.json").json
        operation = spec["paths"]["/api/v1/tickets/{ticket_id}/let-ahead"]["post"]
        assert "requestBody" in operation
        text = str(operation)
        assert "LetAheadIn" in text and "LetAheadOut" in text


class TestEngine:
    def test_command_moves_the_row_once_with_its_event(self, app: Flask, api: Api) -> None:
        mine = api.issue("A")
        others = [api.issue("A") for _ in range(4)]
        with app.app_context():
            before = db.session.get(Ticket, mine["id"]).version
            result = engine.let_ahead(mine["id"], mine["token"], 3)
            assert (result.asked, result.moved) == (3, 3)
            ticket = db.session.get(Ticket, mine["id"])
            assert ticket.let_ahead_count == 1 and ticket.version == before + 5
            proj = projection(ticket.store_id, at_least=ticket.version)
            assert proj.position(proj.row_of(ticket)) == 3
            with pytest.raises(Conflict):
                engine.let_ahead(mine["id"], mine["token"], 1)
            with pytest.raises(BadInput):
                engine.let_ahead(others[0]["id"], others[0]["token"], 9)
            event = db.session.scalars(
                select(TicketEvent).where(
                    TicketEvent.ticket_id == mine["id"], TicketEvent.action == "let_ahead"
                )
            ).one()
            assert (event.from_status, event.to_status) == ("waiting", "waiting")
