"""The manager console's live floor, the chain's overview and new stores, through HTTP as the
pages send them: each action's effect is checked on the engine (the next call, the counter's
state, the display's snapshot, the change log), each refusal changes nothing, and the floor's
Socket.IO room hears of a call made at a counter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.core import db as core_db
from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.policy import Role
from backend.queue.models import Ticket, TicketEvent
from backend.queue.serializers import iso
from backend.staff.models import User
from backend.stores import chain
from backend.stores.models import Counter, Service, Store
from tests.factories import Factory, bearer
from tests.test_manager import audit_count, csrf_of, field_error, login, store_row, submit

FLOOR = "/s/demo/manage/floor"
JSON = {"Accept": "application/json"}


class Floor:
    """A logged-in console user's floor: its state and its actions, as the page sends them."""

    def __init__(self, client: FlaskClient, store: str = "demo") -> None:
        self.client = client
        self.base = f"/s/{store}/manage/floor"
        self.csrf = csrf_of(client, "/login")

    def state(self, lang: str = "zh") -> dict[str, Any]:
        response = self.client.get(f"{self.base}/state?lang={lang}", headers=JSON)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json  # type: ignore[no-any-return]

    def post(self, path: str, lang: str = "zh", **fields: Any) -> Any:
        return self.client.post(
            f"{self.base}/{path}?lang={lang}",
            data={k: str(v) for k, v in fields.items()},
            headers=JSON | {"X-CSRFToken": self.csrf},
        )

    def counter(self, number: int) -> dict[str, Any]:
        return next(c for c in self.state()["counters"] if c["number"] == number)

    def lane(self, lane: str) -> dict[str, Any]:
        return next(x for x in self.state()["lanes"] if x["lane"] == lane)


@pytest.fixture
def boss(app: Flask, client: FlaskClient, make: Factory) -> Floor:
    """The demo store's manager on the floor."""
    make.user("boss", "demo", Role.MANAGER)
    assert login(client, "boss").status_code == 302
    return Floor(client)


def version(app: Flask, code: str = "demo") -> int:
    return int(store_row(app, code)["version"])


def ticket_row(app: Flask, ticket_id: int) -> Ticket:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket is not None
        db.session.expunge(ticket)
        return ticket


def user_id(app: Flask, username: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return int(found)


def counter_row(app: Flask, number: int, store: str = "demo") -> dict[str, Any]:
    with app.app_context():
        row = db.session.execute(
            select(Counter.status, Counter.lanes, Counter.clerk_id)
            .join(Store)
            .where(Store.code == store, Counter.number == number)
        ).one()
        return dict(row._mapping)


# --- who may see and act ------------------------------------------------------------------------

ACTIONS = (
    ("counters/2/pause", {"reason": "break"}),
    ("counters/2/reopen", {}),
    ("counters/1/profile", {"lane_1": "standard"}),
    ("call", {"ticket": 1, "counter": 1}),
    ("issue", {"service": "A"}),
    ("notices", {"notices_zh": "改了", "notices_en": "changed"}),
)


def test_a_clerk_gets_403_on_the_floor_and_changes_nothing(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.ticket("A")
    make.user("desk", "demo", Role.CLERK)
    login(client, "desk")
    floor = Floor(client)
    before = store_row(app)
    assert client.get(FLOOR).status_code == 403
    assert client.get(f"{FLOOR}/state", headers=JSON).status_code == 403
    for path, fields in ACTIONS:
        response = floor.post(path, **fields)
        assert response.status_code == 403, path
        assert response.json["error"] == "forbidden"
    assert store_row(app) == before and audit_count(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_a_manager_of_demo_can_neither_see_nor_change_other(
    app: Flask, boss: Floor, make: Factory
) -> None:
    theirs = make.ticket("A", store="other")
    make.counter(make.staff("desk", "other"), 1, store="other")
    other = Floor(boss.client, "other")
    before = store_row(app, "other")
    assert boss.client.get("/s/other/manage/floor").status_code == 404
    response = boss.client.get("/s/other/manage/floor/state", headers=JSON)
    assert response.status_code == 404 and "示范营业厅" not in response.get_data(as_text=True)
    for path, fields in ACTIONS:
        assert other.post(path, **fields).status_code == 404, path
    # Nor through demo's own floor, with other's ticket id.
    response = boss.post("call", ticket=theirs["id"], counter=1)
    assert response.status_code == 404
    assert store_row(app, "other") == before and audit_count(app, "other") == 0
    assert ticket_row(app, theirs["id"]).status == "waiting"


def test_anonymous_visitors_are_sent_to_the_login(client: FlaskClient) -> None:
    for url in (FLOOR, f"{FLOOR}/state", "/manage/stores/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_the_floor_is_first_in_the_console_and_linked_from_its_home(boss: Floor) -> None:
    home = boss.client.get("/s/demo/manage").get_data(as_text=True)
    nav = home[home.index('class="m-nav"') :]
    assert nav.index(FLOOR) < nav.index('href="/s/demo/manage"')
    assert f'href="{FLOOR}"' in home[home.index('class="m-grid"') :]
    page = boss.client.get(FLOOR + "?lang=en").get_data(as_text=True)
    assert "Live floor" in page and 'aria-current="page"' in page


# --- what the floor shows ------------------------------------------------------------------------


def test_the_state_is_true_to_the_engine(
    app: Flask, boss: Floor, make: Factory, clock: ManualClock
) -> None:
    desk = make.staff("desk")
    make.counter(desk, 2)
    first = make.ticket("A")
    second = make.ticket("A")
    make.ticket("C")
    counter = boss.counter(2)
    assert (counter["status"], counter["clerk"], counter["current"]) == ("open", "desk", None)
    assert counter["next"] == first["label"]

    client = boss.client
    called = client.post("/api/v1/stores/demo/counters/2/call-next", headers=desk).json
    assert called["ticket"]["id"] == first["id"]
    clock.advance(minutes=2)
    assert client.post(f"/api/v1/tickets/{first['id']}/start", headers=desk).status_code == 200
    current = boss.counter(2)["current"]
    assert current["id"] == first["id"] and current["status"] == "serving"
    assert current["started_at"] == "2026-11-26T01:02:00Z"  # the server's, not the page's
    assert current["called_at"] == "2026-11-26T01:00:00Z"
    assert current["expected_minutes"] == 3.0

    # A no-show is never shown as being served.
    client.post(f"/api/v1/tickets/{first['id']}/complete", headers=desk)
    client.post("/api/v1/stores/demo/counters/2/call-next", headers=desk)
    assert boss.counter(2)["current"]["id"] == second["id"]
    assert client.post(f"/api/v1/tickets/{second['id']}/no-show", headers=desk).status_code == 200
    assert boss.counter(2)["current"] is None
    # A closed counter never shows a clerk.
    assert client.post("/api/v1/stores/demo/counters/2/sign-out", headers=desk).status_code == 200
    state = boss.state()
    assert {(c["number"], c["status"], c["clerk"]) for c in state["counters"]} == {
        (1, "closed", None),
        (2, "closed", None),
        (3, "closed", None),
        (4, "closed", None),
    }
    assert state["now"] == "2026-11-26T01:02:00Z"
    assert state["store"]["wait_target_minutes"] == 20


def test_lanes_say_who_waits_how_long_and_which_has_no_open_counter(
    app: Flask, boss: Floor, make: Factory, clock: ManualClock
) -> None:
    oldest = make.ticket("C")
    clock.advance(minutes=5)
    make.ticket("D")
    make.ticket("A")
    standard = boss.lane("standard")
    assert (standard["waiting"], standard["oldest_label"]) == (2, oldest["label"])
    assert standard["oldest_issued_at"] == "2026-11-26T01:00:00Z"
    # Nobody signed in anywhere: nobody serves either lane, and nobody would help.
    assert (standard["unserved"], standard["helped"], standard["eta_minutes"]) == (2, 0, None)
    assert standard["eta_reason"] == "no_staffed_counter"

    make.counter(make.staff("desk"), 1)  # fast only, helps the standard lane when idle
    standard, fast = boss.lane("standard"), boss.lane("fast")
    assert (fast["unserved"], fast["staffed_counters"]) == (0, [1])
    assert (standard["unserved"], standard["helped"], standard["staffed_counters"]) == (2, 2, [])
    assert standard["eta_minutes"] is not None
    # The waiting list in the order the store calls them (the counters' own order).
    order = [t["label"] for t in boss.client.get("/api/v1/stores/demo/snapshot").json["waiting"]]
    assert [t["label"] for t in boss.state()["waiting"]] == order and len(order) == 3


# --- pause and reopen ----------------------------------------------------------------------------


def test_pausing_and_reopening_a_counter_from_the_floor(
    app: Flask, boss: Floor, make: Factory
) -> None:
    desk = make.staff("desk")
    make.counter(desk, 1)
    make.ticket("A")
    response = boss.post("counters/1/pause", lang="en", reason="training")
    assert response.status_code == 200 and response.json["message"] == "Counter 1 paused."
    assert counter_row(app, 1)["status"] == "paused"
    state = boss.counter(1)
    assert (state["status"], state["pause_reason"], state["clerk"]) == (
        "paused",
        "training",
        "desk",
    )
    call = boss.client.post("/api/v1/stores/demo/counters/1/call-next", headers=desk).json
    assert (call["ticket"], call["reason"]) == (None, "counter_paused")
    assert boss.post("counters/1/pause", reason="break").status_code == 200  # again: no harm

    assert boss.post("counters/1/reopen").status_code == 200
    assert counter_row(app, 1)["status"] == "open"
    call = boss.client.post("/api/v1/stores/demo/counters/1/call-next", headers=desk).json
    assert call["ticket"]["label"] == "A001"


def test_a_pause_from_the_floor_can_say_when_the_counter_is_back(
    app: Flask, boss: Floor, make: Factory, clock: ManualClock
) -> None:
    """As at the counter terminal: 15/30/60 min or not sure; the floor, the display and the
    estimate count the counter back at that time, and "not sure" promises none."""
    desk = make.staff("desk")
    make.counter(desk, 1)
    assert boss.post("counters/1/pause", reason="break", minutes="30").status_code == 200
    back = clock.now() + timedelta(minutes=30)
    assert boss.counter(1)["back_at"] == iso(back)
    assert boss.post("counters/1/pause", reason="break").status_code == 200  # not sure
    assert boss.counter(1)["back_at"] is None


@pytest.mark.parametrize(
    ("path", "fields", "status", "field"),
    [
        ("counters/1/pause", {"reason": "break", "minutes": "45"}, 422, "minutes"),
        ("counters/1/pause", {"reason": "break", "minutes": "9" * 30}, 422, "minutes"),
        ("counters/1/pause", {"reason": "lunch"}, 422, "reason"),
        ("counters/1/pause", {"reason": "x" * 5000}, 422, "reason"),
        ("counters/99/pause", {"reason": "break"}, 404, None),
        ("counters/99/reopen", {}, 404, None),
        ("counters/99999999999/reopen", {}, 404, None),
    ],
)
def test_bad_counter_actions_change_nothing(
    app: Flask, boss: Floor, path: str, fields: dict[str, Any], status: int, field: str | None
) -> None:
    before = store_row(app)
    response = boss.post(path, lang="en", **fields)
    assert response.status_code == status
    assert response.json["message"]
    if field:
        assert "Not a valid choice" in response.json["fields"][field][0]
    assert store_row(app) == before


# --- calling a ticket to a counter ---------------------------------------------------------------


def test_a_manager_calls_a_waiting_ticket_to_a_free_counter(
    app: Flask, boss: Floor, make: Factory
) -> None:
    desk = make.staff("desk")
    make.counter(desk, 3)
    make.ticket("C")
    chosen = make.ticket("A")
    response = boss.post("call", lang="en", ticket=chosen["id"], counter=3)
    assert response.status_code == 200, response.json
    assert response.json["message"] == f"{chosen['label']} called to counter 3."
    status = boss.client.get(f"/api/v1/tickets/{chosen['token']}").json
    assert (status["status"], status["counter"]) == ("called", 3)
    # The clerk there serves it: it is their current customer, and the visit is theirs.
    panel = boss.client.get("/api/v1/stores/demo/counters/3", headers=desk).json
    assert panel["current"]["id"] == chosen["id"]
    assert ticket_row(app, chosen["id"]).clerk_id == user_id(app, "desk")
    with app.app_context():
        event = db.session.scalar(
            select(TicketEvent).where(
                TicketEvent.ticket_id == chosen["id"], TicketEvent.action == "call"
            )
        )
        assert event is not None and event.actor_id == user_id(app, "boss")

    # A second click calls nobody else and changes nothing.
    at = version(app)
    again = boss.post("call", lang="en", ticket=chosen["id"], counter=3)
    assert again.status_code == 409 and version(app) == at


def test_a_call_to_a_counter_that_cannot_take_it_is_refused(
    app: Flask, boss: Floor, make: Factory
) -> None:
    desk, other_desk = make.staff("desk"), make.staff("desk2")
    make.counter(desk, 2)
    make.counter(other_desk, 3)
    first, waiting = make.ticket("A"), make.ticket("A")
    boss.client.post("/api/v1/stores/demo/counters/2/call-next", headers=desk)  # 2 is busy
    assert boss.post("counters/3/pause", reason="break").status_code == 200
    at = version(app)
    refusals = {
        1: ("counter_closed", "Nobody is signed in at counter 1."),
        2: ("counter_busy", f"Counter 2 is busy with {first['label']}."),
        3: ("counter_paused", "Counter 3 is paused."),
    }
    for number, (code, message) in refusals.items():
        response = boss.post("call", lang="en", ticket=waiting["id"], counter=number)
        assert response.status_code == 409, number
        assert (response.json["error"], response.json["message"]) == (code, message)
    zh = boss.post("call", ticket=waiting["id"], counter=1)
    assert zh.json["message"] == "1 号窗口没有柜员签到。"
    assert boss.post("call", ticket=waiting["id"], counter=42).status_code == 404
    assert boss.post("call", ticket=10**6, counter=2).status_code == 404
    for fields, field in (
        ({"ticket": 2**40, "counter": 2}, "ticket"),
        ({"ticket": "A002", "counter": 2}, "ticket"),
        ({"ticket": waiting["id"], "counter": 0}, "counter"),
        ({"ticket": waiting["id"]}, "counter"),
    ):
        response = boss.post("call", lang="en", **fields)
        assert response.status_code == 422, fields
        assert field in response.json["fields"], response.json
    assert version(app) == at
    assert ticket_row(app, waiting["id"]).status == "waiting"


# --- issuing for a customer ----------------------------------------------------------------------


def test_a_ticket_issued_on_the_floor_is_a_staff_ticket_and_never_twice(
    app: Flask, boss: Floor
) -> None:
    response = boss.post("issue", lang="en", service="V", request_key="key-1")  # VIP: staff only
    assert response.status_code == 201, response.json
    label = response.json["ticket"]["label"]
    assert label == "V001" and response.json["message"].startswith("Issued V001.")
    again = boss.post("issue", service="V", request_key="key-1")  # the same click, resent
    assert again.status_code == 201 and again.json["ticket"]["label"] == "V001"
    with app.app_context():
        tickets = db.session.execute(select(Ticket.label, Ticket.channel)).all()
    assert [(t.label, str(t.channel)) for t in tickets] == [("V001", "staff")]
    assert [t["label"] for t in boss.state()["waiting"]] == ["V001"]


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"service": "nope"}, 400, None),
        ({"service": "A" * 33}, 422, "service"),
        ({"service": ""}, 422, "service"),
        ({"service": "A", "request_key": "not a key!"}, 422, "request_key"),
    ],
)
def test_bad_issue_input_issues_nothing(
    app: Flask, boss: Floor, fields: dict[str, Any], status: int, field: str | None
) -> None:
    response = boss.post("issue", lang="en", **fields)
    assert response.status_code == status, response.json
    assert response.json["message"]
    if field:
        assert response.json["fields"][field]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_nul_byte_is_refused_before_the_floor_sees_it(app: Flask, boss: Floor) -> None:
    response = boss.post("notices", notices_zh="坏\x00了", notices_en="")
    assert response.status_code == 400
    assert audit_count(app) == 0


# --- notices to the displays -------------------------------------------------------------------


def test_a_notice_posted_on_the_floor_reaches_the_displays(app: Flask, boss: Floor) -> None:
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    display.get_received()
    loaded = boss.state()["notices"]["loaded"]
    response = boss.post(
        "notices",
        lang="en",
        loaded=loaded,
        notices_zh=" 17:00 提前关门 \n\n",
        notices_en="Closing at 5 pm",
    )
    assert response.status_code == 200 and response.json == {"message": "Saved.", "changed": True}
    snapshot = boss.client.get("/api/v1/stores/demo/snapshot?lang=zh").json["store"]
    assert snapshot["notices"] == ["17:00 提前关门"]
    english = boss.client.get("/api/v1/stores/demo/snapshot?lang=en").json["store"]
    assert english["notices"] == ["Closing at 5 pm"]
    names = [m["name"] for m in display.get_received()]
    assert "settings_changed" in names
    display.disconnect()
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "notices_changed"
        assert entry.after == {"notices_zh": "17:00 提前关门", "notices_en": "Closing at 5 pm"}
    log = boss.client.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    assert "Display notices changed" in log

    # The same again: nothing written. A form opened before that change: refused.
    fresh = boss.state()["notices"]["loaded"]
    same = boss.post(
        "notices", loaded=fresh, notices_zh="17:00 提前关门", notices_en="Closing at 5 pm"
    )
    assert same.json["changed"] is False and audit_count(app) == 1
    stale = boss.post("notices", lang="en", loaded=loaded, notices_zh="旧的", notices_en="old")
    assert stale.status_code == 409 and stale.json["error"] == "changed_meanwhile"
    assert audit_count(app) == 1 and store_row(app)["notices_zh"] == "17:00 提前关门"


def test_an_overlong_notice_is_a_field_error_in_the_users_language(app: Flask, boss: Floor) -> None:
    before = store_row(app)
    for lang, text in (("en", "between 0 and 1000 characters"), ("zh", "1000")):
        response = boss.post("notices", lang=lang, notices_zh="长" * 1001, notices_en="")
        assert response.status_code == 422
        assert text in response.json["fields"]["notices_zh"][0]
    assert store_row(app) == before and audit_count(app) == 0


# --- a counter's profile -------------------------------------------------------------------------


def test_a_profile_changed_on_the_floor_changes_whom_the_counter_calls_next(
    app: Flask, boss: Floor, make: Factory
) -> None:
    make.ticket("A")  # fast, the oldest: what counter 1 (fast only) calls today
    plan = make.ticket("C")  # standard
    loaded = boss.counter(1)["profile_loaded"]
    response = boss.post("counters/1/profile", lang="en", loaded=loaded, lane_1="standard")
    assert response.status_code == 200, response.json
    assert response.json["message"] == "Counter 1 now serves: Standard."
    assert counter_row(app, 1)["lanes"] == ["standard"]
    assert boss.counter(1)["lanes"] == ["standard"]
    desk = make.staff("desk")
    make.counter(desk, 1)
    called = boss.client.post("/api/v1/stores/demo/counters/1/call-next", headers=desk).json
    assert called["ticket"]["id"] == plan["id"]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "counter_updated" and entry.target == "1"
        assert (entry.before, entry.after) == ({"lanes": ["fast"]}, {"lanes": ["standard"]})


def test_bad_or_stale_profiles_change_nothing(app: Flask, boss: Floor, make: Factory) -> None:
    loaded = boss.counter(1)["profile_loaded"]
    duplicate = boss.post(
        "counters/1/profile", lang="en", loaded=loaded, lane_1="fast", lane_2="fast"
    )
    assert duplicate.status_code == 422
    assert duplicate.json["fields"]["lane_2"] == ["This lane is listed already."]
    unknown = boss.post("counters/1/profile", lang="en", loaded=loaded, lane_1="express")
    assert unknown.status_code == 422 and "lane_1" in unknown.json["fields"]
    assert boss.post("counters/77/profile", loaded=loaded, lane_1="fast").status_code == 404
    # Someone changed counter 1 on the counters page since the floor showed it.
    assert submit(boss.client, "/s/demo/manage/counters/1", lane_2="vip").status_code == 302
    stale = boss.post("counters/1/profile", lang="en", loaded=loaded, lane_1="standard")
    assert stale.status_code == 409 and stale.json["error"] == "changed_meanwhile"
    assert counter_row(app, 1)["lanes"] == ["fast", "vip"]
    assert audit_count(app) == 1


# --- the wait target ---------------------------------------------------------------------------


def test_the_wait_target_is_a_store_setting_audited_and_on_the_floor(
    app: Flask, boss: Floor
) -> None:
    response = submit(boss.client, "/s/demo/manage/store", wait_target_minutes=15)
    assert response.status_code == 302
    assert boss.state()["store"]["wait_target_minutes"] == 15
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None
        assert (entry.before, entry.after) == (
            {"wait_target_minutes": 20},
            {"wait_target_minutes": 15},
        )
    wrong = submit(boss.client, "/s/demo/manage/store?lang=en", wait_target_minutes=241)
    assert wrong.status_code == 422
    assert "Between 0 and 240" in field_error(wrong.get_data(as_text=True), "wait_target_minutes")
    assert store_row(app)["wait_target_minutes"] == 15


# --- live --------------------------------------------------------------------------------------


def test_the_floor_hears_of_a_call_made_at_a_counter(
    app: Flask, boss: Floor, client: FlaskClient, make: Factory
) -> None:
    floor = socketio.test_client(
        app, auth={"store": "demo", "role": "floor"}, flask_test_client=client
    )
    assert floor.is_connected()
    floor.get_received()
    ticket = make.ticket("A")
    desk = make.staff("desk")
    make.counter(desk, 1)
    floor.get_received()
    assert client.post("/api/v1/stores/demo/counters/1/call-next", headers=desk).status_code == 200
    messages = floor.get_received()
    names = [m["name"] for m in messages]
    assert names[0] == "called" and "queue_updated" in names
    update = next(m["args"][0] for m in messages if m["name"] == "queue_updated")
    (counter,) = [c for c in update["counters"] if c["number"] == 1]
    assert counter["current"]["id"] == ticket["id"]
    assert update["version"] == boss.state()["version"]  # what the floor then loads
    floor.disconnect()


def test_the_floor_room_is_for_managers_of_the_store(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo", Role.CLERK)
    make.user("boss", "demo", Role.MANAGER)
    clerk, boss = app.test_client(), app.test_client()
    login(clerk, "desk")
    login(boss, "boss")
    refused = (
        (clerk, "demo"),  # a clerk has the counter's room, not the floor's
        (boss, "other"),
        (client, "demo"),  # nobody logged in
    )
    for who, store in refused:
        socket = socketio.test_client(
            app, auth={"store": store, "role": "floor"}, flask_test_client=who
        )
        assert not socket.is_connected(), store
    allowed = socketio.test_client(
        app, auth={"store": "demo", "role": "floor"}, flask_test_client=boss
    )
    assert allowed.is_connected()
    allowed.disconnect()


# --- the chain ---------------------------------------------------------------------------------


@pytest.fixture
def admin(app: Flask, make: Factory) -> FlaskClient:
    make.user("root", None, Role.ADMIN)
    client = app.test_client()
    assert login(client, "root").status_code == 302
    return client


def rows_of(html: str) -> dict[str, str]:
    """Each store's row of the overview, by code."""
    rows: dict[str, str] = {}
    for part in html.split('<tr data-code="')[1:]:
        code, rest = part.split('"', 1)
        rows[code] = rest.split("</tr>", 1)[0]
    return rows


def test_the_admin_sees_every_store_now(
    app: Flask, admin: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    make.ticket("C")
    clock.advance(minutes=7)
    make.ticket("A")
    make.ticket("A", store="other")
    make.counter(make.staff("desk"), 2)
    with app.app_context():
        other = db.session.scalar(select(Store).where(Store.code == "other"))
        assert other is not None
        other.hours = {str(day): [] for day in range(7)}  # closed every day
        db.session.commit()
    html = admin.get("/manage?lang=en").get_data(as_text=True)
    rows = rows_of(html)
    assert set(rows) == {"demo", "other"}
    demo = rows["demo"]
    assert 'href="/s/demo/manage/floor"' in demo
    assert 'data-sort="2">2<' in demo  # waiting
    assert 'data-sort="7">7 min<' in demo  # the longest wait
    assert 'data-sort="1">1 / 4' in demo  # counters with a clerk, of all
    assert "Open until 18:00" in demo  # the store's own clock
    assert 'data-sort="1">1<' in rows["other"] and "Closed now" in rows["other"]
    assert 'data-sort="0">0 / 4' in rows["other"]
    assert "data-sortable" in html


def test_the_overview_follows_each_store_live(
    app: Flask, admin: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    """The administrators' room gets a store's line after each of its projections, with the
    figures the page's table shows (computed from the projection, equal to the overview's)."""
    make.ticket("C")
    socket = socketio.test_client(app, auth={"role": "chain"}, flask_test_client=admin)
    assert socket.is_connected()
    socket.get_received()
    clock.advance(minutes=3)
    make.ticket("A", store="other")
    make.counter(make.staff("desk"), 2)
    lines = [m["args"][0] for m in socket.get_received() if m["name"] == "chain_store"]
    assert lines, "no chain_store line"
    assert {line["code"] for line in lines} == {"demo", "other"}
    latest = {line["code"]: line for line in lines}
    loaded = admin.get("/manage/stores.json").json
    assert loaded["moment"] == clock.now().isoformat()
    for line in loaded["stores"]:
        assert latest[line["code"]] == line, line["code"]  # the same figures either way
    demo, other = latest["demo"], latest["other"]
    assert (demo["waiting"], demo["longest_wait_minutes"], demo["staffed"], demo["counters"]) == (
        1,
        3,
        1,
        4,
    )
    assert (other["waiting"], other["longest_wait_minutes"], other["staffed"]) == (1, 0, 0)
    assert demo["open"] is True and demo["closes_at_local"] == "18:00"
    socket.disconnect()


def test_only_administrators_join_the_chains_room(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("boss", "demo", Role.MANAGER)
    make.user("desk", "demo", Role.CLERK)
    boss, desk = app.test_client(), app.test_client()
    login(boss, "boss")
    login(desk, "desk")
    for who in (boss, desk, client):
        socket = socketio.test_client(app, auth={"role": "chain"}, flask_test_client=who)
        assert not socket.is_connected()
    refused = boss.get("/manage/stores.json?lang=en")
    assert refused.status_code == 403 and b"oldest_issued_at" not in refused.data
    anonymous = client.get("/manage/stores.json")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_managers_and_clerks_do_not_get_the_chain(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("boss", "demo", Role.MANAGER)
    make.user("desk", "demo", Role.CLERK)
    manager, clerk = app.test_client(), app.test_client()
    login(manager, "boss")
    login(clerk, "desk")
    assert manager.get("/manage").headers["Location"] == "/s/demo/manage"
    assert manager.get("/manage/stores/new").status_code == 403
    assert clerk.get("/manage").status_code == 403
    assert clerk.get("/manage/stores/new").status_code == 403


def test_the_overview_costs_the_same_statements_for_50_stores_as_for_2(
    app: Flask, admin: FlaskClient, make: Factory
) -> None:
    def statements() -> int:
        admin.get("/manage")  # warm: the session's last-seen write, caches
        with app.app_context(), core_db.StatementCounter(db.engine) as counter:
            response = admin.get("/manage")
        assert response.status_code == 200
        return counter.count

    make.ticket("A")
    few = statements()
    headers = bearer(make.token("root"))
    with app.app_context():
        for n in range(48):
            chain.create_store(
                None, f"hall-{n:02d}", f"{n} 号厅", f"Hall {n}", "Asia/Shanghai", "demo"
            )
        db.session.remove()
    for n in range(0, 48, 4):
        response = admin.post(
            f"/api/v1/stores/hall-{n:02d}/tickets",
            json={"service": "A", "channel": "staff"},
            headers=headers,
        )
        assert response.status_code == 201
    many = statements()
    assert len(rows_of(admin.get("/manage").get_data(as_text=True))) == 50
    assert many == few, (few, many)
    assert many <= 8


# --- a new store -------------------------------------------------------------------------------


def test_an_admin_creates_a_store_from_a_template(app: Flask, admin: FlaskClient) -> None:
    with app.app_context():
        demo = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert demo is not None
        demo.max_wait_minutes = 44
        db.session.commit()
    response = submit(
        admin,
        "/manage/stores/new",
        code="xian-1",
        name_zh="西安一厅",
        name_en="Xi'an Hall 1",
        timezone="Asia/Shanghai",
        template="demo",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/s/xian-1/manage"
    row = store_row(app, "xian-1")
    assert (row["name_zh"], row["max_wait_minutes"], row["notices_zh"]) == ("西安一厅", 44, "")
    with app.app_context():
        store_id = row["id"]
        services = db.session.scalars(
            select(Service.code).where(Service.store_id == store_id).order_by(Service.sort_order)
        ).all()
        counters = db.session.execute(
            select(Counter.number, Counter.lanes, Counter.clerk_id).where(
                Counter.store_id == store_id
            )
        ).all()
    assert services == ["A", "B", "C", "D", "E", "V"]
    assert sorted((c.number, tuple(c.lanes), c.clerk_id) for c in counters) == [
        (1, ("fast",), None),
        (2, ("fast", "standard"), None),
        (3, ("standard", "fast"), None),
        (4, ("vip", "standard"), None),
    ]
    log = admin.get("/s/xian-1/manage/audit?lang=en").get_data(as_text=True)
    assert "Store created" in log and "root" in log and "demo" in log
    # It works at once: a staff ticket there, its own numbers.
    ticket = admin.post(
        "/api/v1/stores/xian-1/tickets",
        json={"service": "C", "channel": "staff"},
        headers={"X-CSRFToken": csrf_of(admin, "/manage")},
    )
    assert ticket.status_code == 201 and ticket.json["label"] == "C001"


@pytest.mark.parametrize(
    ("changes", "field", "en"),
    [
        ({"code": "demo"}, "code", "This code is taken."),
        ({"code": "Big Hall"}, "code", "lower-case letters"),
        ({"code": "x" * 33}, "code", "lower-case letters"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone: Mars/Olympus."),
        ({"name_en": ""}, "name_en", "Please fill this in."),
        ({"template": "nowhere"}, "template", "Not a valid choice"),
    ],
)
def test_bad_new_stores_are_field_errors_and_create_nothing(
    app: Flask, admin: FlaskClient, changes: dict[str, Any], field: str, en: str
) -> None:
    values = {"code": "new-hall", "name_zh": "新厅", "name_en": "New hall"} | changes
    response = submit(admin, "/manage/stores/new?lang=en", **values)
    assert response.status_code == 422
    assert en in field_error(response.get_data(as_text=True), field)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Store)) == 2


def test_an_empty_store(app: Flask, admin: FlaskClient) -> None:
    response = submit(admin, "/manage/stores/new", code="empty-1", name_zh="空厅", name_en="Empty")
    assert response.status_code == 302
    row = store_row(app, "empty-1")
    assert row["timezone"] == "Asia/Shanghai" and row["hours"]  # the model's defaults
    with app.app_context():
        services = select(func.count()).select_from(Service).where(Service.store_id == row["id"])
        assert db.session.scalar(services) == 0
    overview = rows_of(admin.get("/manage").get_data(as_text=True))["empty-1"]
    assert 'data-sort="0">0 / 0' in overview and 'data-sort="-1">—<' in overview


def test_an_action_without_the_csrf_token_is_refused(app: Flask, boss: Floor) -> None:
    before = store_row(app)
    response = boss.client.post(f"{FLOOR}/counters/1/pause", data={"reason": "break"}, headers=JSON)
    assert response.status_code == 400 and response.json["error"] == "csrf_failed"
    assert store_row(app) == before and counter_row(app, 1)["status"] == "open"


def test_a_paused_counter_shows_its_return_only_while_it_is_to_come(
    boss: Floor, make: Factory, clock: ManualClock
) -> None:
    desk = make.staff("desk")
    make.counter(desk, 2)
    pause = "/api/v1/stores/demo/counters/2/pause"
    assert (
        boss.client.post(pause, json={"reason": "break", "minutes": 15}, headers=desk).status_code
        == 200
    )
    back = (clock.now() + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    assert boss.counter(2)["back_at"] == back
    clock.advance(minutes=16)
    make.ticket("A")  # a new version, projected at the new moment
    counter = boss.counter(2)
    assert counter["status"] == "paused" and counter["back_at"] is None
