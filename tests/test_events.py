"""Socket.IO: rooms chosen by the server, thin events right after commit, one projection update per
version after it, payloads carry the version; nothing heavy runs inside a write transaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.core import db as core_db
from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.kiosks.operations import find_kiosk
from backend.live.events import STORE_EVENTS, EventName, js_module
from backend.live.publisher import PUBLISHER
from backend.models import Ticket
from backend.policy import Channel
from backend.queue import commands as engine
from backend.queue import readmodel

from .conftest import PASSWORD, Api, kiosk_headers, make_user
from .factories import as_seen as seen_as_pages
from .test_api_tickets import extract_csrf

ROOT = Path(__file__).resolve().parents[1]
THIN_KEYS = {"version", "event", "ticket", "counter"}
STORE_EVENT_NAMES = {e.value for e in STORE_EVENTS}


def received(client: Any, name: str | None = None) -> list[dict[str, Any]]:
    return [m for m in client.get_received() if name is None or m["name"] == name]


def thin(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["name"] in STORE_EVENT_NAMES]


def display_client(app: Flask, store: str = "demo") -> Any:
    client = socketio.test_client(app, auth={"store": store, "role": "display"})
    assert client.is_connected()
    client.get_received()
    return client


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `check` returns something truthy (a positive signal), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("the expected signal never came")


def test_display_gets_a_thin_called_event_then_the_projection(app: Flask, api: Api) -> None:
    api.sign_in(3)
    display = display_client(app)
    ticket = api.issue("A")
    issued = received(display)
    assert [m["name"] for m in issued] == ["issued", "queue_updated"]
    version_after_issue = issued[0]["args"][0]["version"]
    api.call_next(3)
    messages = received(display)
    assert [m["name"] for m in messages] == ["called", "queue_updated"]
    called, projected = (m["args"][0] for m in messages)
    assert set(called) == THIN_KEYS  # thin: no counters, lanes or lists ride on it
    assert called["ticket"]["label"] == ticket["label"] and called["counter"] == 3
    assert called["version"] == version_after_issue + 1 == api.snapshot()["version"]
    assert projected["version"] == called["version"]
    counter3 = next(c for c in projected["counters"] if c["number"] == 3)
    assert counter3["current"]["label"] == ticket["label"]
    assert "waiting" not in projected  # the waiting list goes to counters only


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
    names = [m["name"] for m in thin(received(display)) if m["name"] != "counter_changed"]
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


def test_a_command_with_several_thin_events_sends_them_in_one_frame(app: Flask, api: Api) -> None:
    """A call that completes the visit under way is two steps (`completed`, `called`): they go
    out as one `steps` frame, in order, so the call reaches every display in one pass and no
    screen draws the counter empty in between; a command of one step sends it as before."""
    api.sign_in(3)
    first = api.issue("A")
    second = api.issue("A")
    api.call_next(3)
    api.act(first["id"], "start")
    display = display_client(app)
    api.call_next(3)
    messages = received(display)
    assert [m["name"] for m in messages] == ["steps", "queue_updated"]
    frame = messages[0]["args"][0]
    assert [e["event"] for e in frame["events"]] == ["completed", "called"]
    done, called = frame["events"]
    assert (done["ticket"]["id"], called["ticket"]["id"]) == (first["id"], second["id"])
    assert called["version"] == done["version"] + 1 == frame["version"]
    assert all(set(e) == THIN_KEYS for e in frame["events"])
    assert frame["version"] == api.snapshot()["version"]
    # As the browser handles it (static/js/lib/live.js): the two steps, in order.
    assert [m["name"] for m in seen_as_pages(messages)] == ["completed", "called", "queue_updated"]


def test_versions_increase_by_one_per_thin_event(app: Flask, api: Api) -> None:
    api.sign_in(2)
    display = display_client(app)
    start = api.snapshot()["version"]
    for service in "ABC":
        api.issue(service)
    api.call_next(2)
    messages = received(display)
    versions = [m["args"][0]["version"] for m in thin(messages)]
    assert versions == [start + 1, start + 2, start + 3, start + 4]
    projected = [m["args"][0]["version"] for m in messages if m["name"] == "queue_updated"]
    assert projected == versions  # inline mode: one projection per version, after its event


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
        kiosk = find_kiosk(app.config["TEST_KIOSKS"]["demo"])
        engine.issue_ticket("demo", "A", engine.Origin(Channel.KIOSK, kiosk=kiosk.ref))
    monkeypatch.undo()
    assert received(display) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    # The next real command still works and numbers have no gap.
    assert api.issue("A")["label"] == "A001"
    assert [m["name"] for m in thin(received(display))] == ["issued"]


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
    assert [m["name"] for m in received(other)] == ["issued", "queue_updated"]


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
    api.sign_in(3)  # standard first, then fast
    api.issue("C")
    mine = api.issue("C")
    api.issue("A")
    watcher = socketio.test_client(app, auth={"ticket": mine["token"]})
    watcher.get_received()
    api.call_next(3)  # calls the C ticket ahead of mine
    updates = [m["args"][0]["ticket"] for m in received(watcher, "ticket")]
    assert updates and {t["id"] for t in updates} == {mine["id"]}  # only its own ticket
    order = [t["id"] for t in api.snapshot()["waiting"]]  # A001 (short) goes before mine
    assert updates[-1]["position"] == order.index(mine["id"]) == 1
    assert updates[-1]["is_next"] is False
    api.act(updates[-1]["id"] - 1, "start")
    quiet = api.client.post(  # a change that moves nothing of mine: no update
        "/api/v1/stores/demo/counters/3/sign-in", json={"takeover": True}, headers=api.headers
    )
    assert quiet.status_code == 200
    assert received(watcher, "ticket") == []


def test_live_ticket_updates_come_in_the_watchers_language(app: Flask, api: Api) -> None:
    api.issue("A")
    mine = api.issue("A")
    english = socketio.test_client(app, auth={"ticket": mine["token"], "lang": "en"})
    chinese = socketio.test_client(app, auth={"ticket": mine["token"]})
    api.call_next(1)
    en_view = [m["args"][0]["ticket"] for m in received(english, "ticket")][-1]
    zh_view = [m["args"][0]["ticket"] for m in received(chinese, "ticket")][-1]
    assert en_view["service_name"] == "Top-up & bill payment"
    assert zh_view["service_name"] == "缴费充值"
    assert en_view["position"] == zh_view["position"] == 0


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
    ticket = api.issue("A")
    messages = received(counter)
    assert [m["name"] for m in messages] == ["issued", "queue_updated"]
    waiting = messages[1]["args"][0]["waiting"]
    assert [t["label"] for t in waiting] == [ticket["label"]]


def test_the_browser_event_names_are_generated_from_the_server_module() -> None:
    shipped = (ROOT / "static/js/lib/events.js").read_text()
    assert shipped == js_module(), "run `make generate`"
    for name in EventName:
        assert f"'{name.value}'" in shipped


# --- what runs inside the lock, and how often the read side is computed ----------------------


def test_no_forecast_and_no_read_model_inside_a_write_transaction(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside: list[str] = []
    original_forecast = readmodel.forecast_banded
    original_build = readmodel.build

    def forecast(*args: Any, **kwargs: Any) -> Any:
        if core_db.in_write_transaction():
            inside.append("forecast")
        return original_forecast(*args, **kwargs)

    def build(*args: Any, **kwargs: Any) -> Any:
        if core_db.in_write_transaction():
            inside.append("build")
        return original_build(*args, **kwargs)

    monkeypatch.setattr(readmodel, "forecast_banded", forecast)
    monkeypatch.setattr(readmodel, "build", build)
    watcher_ticket = api.issue("C")
    socketio.test_client(app, auth={"ticket": watcher_ticket["token"]})
    tickets = [api.issue(s) for s in "ABCABD"]
    api.call_next(1)
    api.act(tickets[0]["id"], "start")
    api.act(tickets[0]["id"], "complete")
    api.call_next(3)
    api.act(tickets[2]["id"], "transfer", service="A")
    api.call_next(2)
    assert readmodel.CACHE.builds > 0  # the read side did run ...
    assert inside == []  # ... and never while a write transaction was open
    with app.test_request_context():
        core_db._write_intent.set(True)
        with pytest.raises(RuntimeError):
            readmodel.build(1, engine.now())
        core_db._write_intent.set(False)


def count_forecasts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = readmodel.forecast_banded

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(readmodel, "forecast_banded", counting)
    return calls


@pytest.mark.parametrize("delay", [None, 0.05], ids=["inline", "debounced"])
def test_a_printed_ticket_computes_at_most_one_forecast(
    app: Flask, client: FlaskClient, api: Api, monkeypatch: pytest.MonkeyPatch, delay: Any
) -> None:
    app.config["LIVE_PROJECTION_DELAY"] = delay
    api.sign_in(2)
    for service in "ABCD":
        api.issue(service)
    api.snapshot()  # a display has the current projection
    calls = count_forecasts(monkeypatch)
    published = PUBLISHER.projections_published
    answer = client.post(
        "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
    )
    assert answer.status_code == 201
    ticket = answer.json
    printed = client.get(ticket["print_url"])
    status = client.get(ticket["status_url"])
    assert printed.status_code == status.status_code == 200
    assert ticket["label"] in printed.get_data(as_text=True)
    if delay is not None:  # the publisher's own update follows; it reuses the same projection
        wait_for(lambda: PUBLISHER.projections_published > published and not PUBLISHER._scheduled)
    assert len(calls) == 1
    view = client.get(f"/api/v1/tickets/{ticket['token']}").json
    order = [t["id"] for t in api.snapshot()["waiting"]]  # the order the store will call
    assert view["position"] == order.index(ticket["id"]) and view["eta_minutes"] is not None
    assert len(calls) == 1


def test_a_burst_of_commands_costs_one_projection_update(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["LIVE_PROJECTION_DELAY"] = 0.3
    burst_over = threading.Event()
    # The debounce's wait ends when the burst is over, however slow the machine is.
    monkeypatch.setattr(PUBLISHER, "sleep", lambda _delay: burst_over.wait(10))
    display = display_client(app)
    api.snapshot()  # a display has the current projection: answers reuse it
    calls = count_forecasts(monkeypatch)
    issued = [api.issue(service) for service in "ABCDABCD"]
    burst_over.set()
    messages: list[dict[str, Any]] = []

    def projected() -> list[dict[str, Any]]:
        messages.extend(display.get_received())
        return [m for m in messages if m["name"] == "queue_updated"]

    updates = wait_for(projected)
    assert [m["name"] for m in thin(messages)] == ["issued"] * len(issued)  # each at once
    assert len(updates) == 1 and len(calls) == 1  # one projection for the whole burst
    assert updates[0]["args"][0]["version"] == messages[len(issued) - 1]["args"][0]["version"]
    lanes = {lane["lane"]: lane["waiting"] for lane in updates[0]["args"][0]["lanes"]}
    assert lanes["fast"] == 4 and lanes["standard"] == 4


def test_a_store_is_projected_at_most_once_per_interval(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands a little more than the debounce apart (a busy hall's pace) do not each cost a
    projection: the next one waits until the interval since the last one began has passed."""
    app.config["LIVE_PROJECTION_DELAY"] = 0.05
    app.config["LIVE_PROJECTION_INTERVAL"] = 60.0  # far longer than this test can take
    waits: list[float] = []
    go = threading.Event()

    def sleep(delay: float) -> None:
        waits.append(delay)
        go.wait(10)

    monkeypatch.setattr(PUBLISHER, "sleep", sleep)
    display = display_client(app)
    published = PUBLISHER.projections_published
    api.issue("A")
    go.set()  # the first waits the debounce only
    wait_for(lambda: PUBLISHER.projections_published == published + 1 and not PUBLISHER.pending)
    go.clear()
    api.issue("B")
    api.issue("C")  # joins the one already scheduled
    assert waits[0] == pytest.approx(0.05)
    assert len(waits) == 2 and 59.0 < waits[1] <= 60.0  # the rest of the interval
    go.set()
    wait_for(lambda: PUBLISHER.projections_published == published + 2 and not PUBLISHER.pending)
    updates = [m for m in display.get_received() if m["name"] == "queue_updated"]
    assert len(updates) == 2
    assert sum(lane["waiting"] for lane in updates[-1]["args"][0]["lanes"]) == 3


# --- SQL statements per command (deterministic guards of speed) ---------------------------------


def test_sql_statements_per_command(
    app: Flask, api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_db, "_dispatchers", [])  # publishing is not the command's
    for _ in range(300 // 3):  # a long queue: the counts must not grow with it
        for service in "ABC":
            clock.advance(seconds=2.5)  # within the kiosk's print limit
            api.issue(service)
    api.sign_in(1)
    with app.test_request_context():
        kiosk = find_kiosk(app.config["TEST_KIOSKS"]["demo"])
        from backend.staff.models import User

        clerk = db.session.scalar(select(User).where(User.username == "tester"))
        assert kiosk is not None
        origin = engine.Origin(Channel.KIOSK, kiosk=kiosk.ref)  # as the API reads the kiosk
        engine.issue_ticket("demo", "A", origin)  # warm caches
        with core_db.StatementCounter(db.engine) as issue:
            engine.issue_ticket("demo", "B", origin)
        with core_db.StatementCounter(db.engine) as call:
            result = engine.call_next("demo", 1, clerk)
        assert result.ticket is not None
        engine.start_ticket(result.ticket.id, clerk)
        with core_db.StatementCounter(db.engine) as call_again:  # completes the open visit too
            engine.call_next("demo", 1, clerk)
        db.session.remove()
    assert issue.count <= 10, issue.statements
    # The kiosk read to authenticate the request is not read again under the lock.
    assert not [s for s in issue.statements if "FROM kiosk" in s], issue.statements
    assert call.count <= 12, call.statements
    assert call_again.count <= 12, call_again.statements  # the target for any call


def test_a_kiosk_ticket_reads_the_kiosk_once(app: Flask, api: Api) -> None:
    """The kiosk is read to authenticate the request, not again under the store lock (the write
    transaction's start expires what was read before it)."""
    api.issue("A")  # warm caches
    with app.app_context():
        engine_ = db.engine
    with core_db.StatementCounter(engine_) as issue:
        api.issue("B")
    assert [s for s in issue.statements if "FROM kiosk" in s] == [
        next(s for s in issue.statements if "FROM kiosk" in s and "token_hash =" in s)
    ], issue.statements


def test_aged_estimates_are_republished_without_any_command(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    served = api.issue("D")  # broadband: a long visit under way at the only open counter
    api.call_next(2)
    api.act(served["id"], "start")
    mine = api.issue("A")
    before = api.client.get(f"/api/v1/tickets/{mine['token']}").json
    issued = clock.now()
    watcher = socketio.test_client(app, auth={"ticket": mine["token"]})
    display = display_client(app)
    with app.app_context():
        assert PUBLISHER.refresh_stale() == 0  # fresh: nothing to do
        clock.advance(minutes=10)  # time moves, nothing happens in the hall
        assert PUBLISHER.refresh_stale() == 1
    updates = [m["args"][0] for m in display.get_received() if m["name"] == "queue_updated"]
    assert len(updates) == 1
    (view,) = [m["args"][0]["ticket"] for m in received(watcher, "ticket")]
    assert view["id"] == mine["id"]
    # The visit aged: the call is expected minutes sooner (the point; the sampled range's upper
    # end moves with single draws of a long visit's tail).
    called_then = datetime.fromisoformat(before["eta_call_at"]) - issued
    called_now = datetime.fromisoformat(view["eta_call_at"]) - clock.now()
    assert called_now < called_then - timedelta(minutes=5)


def test_a_status_page_is_not_resent_an_estimate_that_only_wobbled() -> None:
    """The sampled range moves by a minute between versions; a page is sent a new estimate
    when it moved by 2 minutes (or 15 % of its upper end) from what the page shows."""
    from backend.live.publisher import _eta_moved

    assert not _eta_moved((10, 12), (11, 13))  # a wobble
    assert _eta_moved((10, 12), (12, 12))  # two minutes later
    assert _eta_moved((10, 12), (10, 10))
    assert not _eta_moved((40, 60), (42, 68))  # long waits: 15 % of 60 = 9 minutes
    assert _eta_moved((40, 60), (40, 69))
    assert _eta_moved(None, (3, 5)) and _eta_moved((3, 5), None)  # known or not: always sent
    assert not _eta_moved(None, None)


def test_the_sampled_band_is_computed_once_in_its_lifetime_not_once_per_command(
    api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command gets a fresh point run; the sampled runs (most of a projection's cost) are
    redone only when their band has aged (30 s), staffing changes or nobody it knows is first."""
    from backend.policy import eta

    sampled: list[int] = []
    original = eta._sampled

    def counting(*args: Any, **kwargs: Any) -> Any:
        sampled.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(eta, "_sampled", counting)
    api.sign_in(1)
    api.issue("A")
    before = len(sampled)
    for _ in range(10):  # ten tickets in ten seconds: the band of the first is kept
        clock.advance(seconds=1)
        api.issue("A")
    assert len(sampled) == before
    clock.advance(seconds=eta.BAND_MAX_AGE.total_seconds())
    api.issue("A")
    assert len(sampled) == before + 1  # aged: sampled anew, once
    api.sign_in(2)  # another counter opens: the band's shape changed
    assert len(sampled) == before + 2


def test_a_projection_reads_in_full_only_the_tickets_that_changed(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next version's projection keeps the last one's rows of unchanged tickets (the same
    objects), reads the changed ones afresh, and reads everything again when the services or
    counters change (a row names its service's code and its counter's number)."""
    from backend.models import Store, User
    from backend.policy import Role
    from backend.stores import configure

    from .factories import create_user

    manager_id = create_user(app, "boss", role=Role.MANAGER)

    for service in "ABCAB":
        api.issue(service)
    first = api.call_next(1)["ticket"]
    with app.app_context():
        store_id = db.session.scalar(select(Ticket.store_id).where(Ticket.id == first["id"]))
        before = readmodel.projection(store_id)
    parsed: list[int] = []
    original = readmodel._row

    def counting(ticket: Any, *args: Any) -> Any:
        parsed.append(ticket.id)
        return original(ticket, *args)

    monkeypatch.setattr(readmodel, "_row", counting)
    second = api.call_next(2)["ticket"]
    with app.app_context():
        after = readmodel.projection(store_id)
    assert after.version > before.version
    assert after.active[second["id"]].status == "called"
    unchanged = [i for i in before.active if i not in (first["id"], second["id"])]
    assert unchanged and all(after.active[i] is before.active[i] for i in unchanged)
    active_parsed = [i for i in parsed if i in after.active]
    assert second["id"] in active_parsed and not set(unchanged) & set(active_parsed)

    with app.app_context():
        store, manager = db.session.get(Store, store_id), db.session.get(User, manager_id)
        assert store is not None and manager is not None
        values = configure.service_values(store, "A")
        configure.save_service("demo", manager, "A", {**values, "prefix": "Z"}, create=False)
        renamed = readmodel.projection(store_id)
    assert renamed.store.config_version > after.store.config_version
    assert all(renamed.active[i] is not after.active[i] for i in unchanged)
