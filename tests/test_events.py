"""Socket.IO: rooms chosen by the server, events only after commit, payloads carry the version."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.extensions import db, socketio
from backend.live.events import EventName
from backend.models import Ticket
from backend.policy import Channel
from backend.queue import commands as engine

from .conftest import PASSWORD, Api, make_user
from .test_api_tickets import extract_csrf


def received(client: Any, name: str | None = None) -> list[dict[str, Any]]:
    return [m for m in client.get_received() if name is None or m["name"] == name]


def display_client(app: Flask, store: str = "demo") -> Any:
    client = socketio.test_client(app, auth={"store": store, "role": "display"})
    assert client.is_connected()
    client.get_received()
    return client


def test_display_receives_called_after_a_counter_post(app: Flask, api: Api) -> None:
    api.sign_in(3)
    display = display_client(app)
    ticket = api.issue("A")
    issued = received(display)
    assert [m["name"] for m in issued] == ["issued"]
    version_after_issue = issued[0]["args"][0]["version"]
    api.call_next(3)
    called = received(display, "called")
    assert len(called) == 1
    payload = called[0]["args"][0]
    assert payload["ticket"]["label"] == ticket["label"]
    assert payload["counter"] == 3
    assert payload["version"] == version_after_issue + 1 == api.snapshot()["version"]
    counter3 = next(c for c in payload["counters"] if c["number"] == 3)
    assert counter3["current"]["label"] == ticket["label"]


def test_every_action_has_its_event(app: Flask, api: Api) -> None:
    display = display_client(app)
    ticket = api.issue("A")
    api.call_next(1)
    for action in ("recall", "start"):
        api.act(ticket["id"], action)
    api.act(ticket["id"], "transfer", service="C")
    api.call_next(3)
    api.act(ticket["id"], "no-show")
    other = api.issue("B")
    api.act(other["id"], "cancel")
    api.call_next(1)
    # Moving between counters 1 and 3 signs the clerk in and out: counter_changed events.
    names = [m["name"] for m in received(display) if m["name"] != "counter_changed"]
    assert names == [
        "issued",
        "called",
        "recalled",
        "started",
        "transferred",
        "called",
        "no_show",
        "issued",
        "cancelled",
    ]
    assert set(names) <= {e.value for e in EventName}


def test_versions_increase_by_one_per_event(app: Flask, api: Api) -> None:
    api.sign_in(2)
    display = display_client(app)
    start = api.snapshot()["version"]
    for service in "ABC":
        api.issue(service)
    api.call_next(2)
    versions = [m["args"][0]["version"] for m in received(display)]
    assert versions == [start + 1, start + 2, start + 3, start + 4]


def test_rolled_back_command_emits_nothing(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    display = display_client(app)
    original = engine.Command.finish

    def finish_then_fail(self: engine.Command) -> None:
        original(self)  # stages the events ...
        raise RuntimeError("disk full")  # ... and then the transaction fails

    monkeypatch.setattr(engine.Command, "finish", finish_then_fail)
    with app.test_request_context(), pytest.raises(RuntimeError):
        kiosk = engine.find_kiosk(app.config["TEST_KIOSKS"]["demo"])
        engine.issue_ticket("demo", "A", engine.Origin(Channel.KIOSK, kiosk=kiosk))
    monkeypatch.undo()
    assert received(display) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    # The next real command still works and numbers have no gap.
    assert api.issue("A")["label"] == "A001"
    assert [m["name"] for m in received(display)] == ["issued"]


def test_a_409_emits_nothing(app: Flask, api: Api) -> None:
    ticket = api.issue("A")
    display = display_client(app)
    assert api.act(ticket["id"], "start").status_code == 409
    assert received(display) == []


def test_clients_only_receive_their_own_store(app: Flask, api: Api) -> None:
    demo = display_client(app, "demo")
    other = display_client(app, "other")
    api.issue("A", store="other")
    assert received(demo) == []
    assert [m["name"] for m in received(other)] == ["issued"]


def test_ticket_watchers_get_their_position(app: Flask, api: Api, client: FlaskClient) -> None:
    first = api.issue("A")
    second = api.issue("A")
    watcher = socketio.test_client(app, auth={"ticket": second["token"]})
    assert watcher.is_connected()
    api.call_next(1)
    updates = received(watcher, "ticket")
    assert updates[-1]["args"][0]["ticket"]["position"] == 0
    assert "token" not in updates[-1]["args"][0]["ticket"]
    api.act(first["id"], "complete")
    api.call_next(1)
    last = received(watcher, "ticket")[-1]["args"][0]["ticket"]
    assert last["status"] == "called" and last["counter"] == 1


def test_ticket_watcher_sees_only_its_ticket(app: Flask, api: Api) -> None:
    api.issue("C")
    mine = api.issue("C")
    api.issue("A")
    watcher = socketio.test_client(app, auth={"ticket": mine["token"]})
    api.call_next(1)  # calls the A ticket: the standard lane does not move
    assert received(watcher, "ticket") == []
    api.call_next(3)  # calls the C ticket ahead of mine
    updates = [m["args"][0]["ticket"] for m in received(watcher, "ticket")]
    assert [(t["id"], t["position"]) for t in updates] == [(mine["id"], 0)]


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"store": "nowhere", "role": "display"},
        {"store": "demo", "role": "admin"},
        {"ticket": "forged-token"},
        {"store": "demo", "role": "counter"},  # anonymous: no staff session
    ],
)
def test_refused_connections(app: Flask, auth: Any) -> None:
    client = socketio.test_client(app, auth=auth)
    assert not client.is_connected()


def test_counter_room_needs_a_staff_session_of_that_store(
    app: Flask, client: FlaskClient, api: Api
) -> None:
    make_user(app, "desk", "demo")
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "desk", "password": PASSWORD, "csrf_token": csrf})
    counter = socketio.test_client(
        app, auth={"store": "demo", "role": "counter"}, flask_test_client=client
    )
    assert counter.is_connected()
    foreign = socketio.test_client(
        app, auth={"store": "other", "role": "counter"}, flask_test_client=client
    )
    assert not foreign.is_connected()
    api.issue("A")
    assert [m["name"] for m in received(counter)] == ["issued"]
