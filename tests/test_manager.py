"""The manager console: who may open it, and each settings form through HTTP as a browser sends it
(a valid change takes effect on the next command and is in the change log; an invalid one shows
the field's error in the user's language and changes nothing)."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.extensions import db, socketio
from backend.policy import Ordering, Role
from backend.stores.models import Counter, Service, Store
from backend.stores.settings import StoreSettings
from tests.factories import PASSWORD, Factory, issue_ticket, kiosk_headers

# A counter of the demo store (the other store's counters have the same numbers).
DEMO_COUNTER = Counter.store_id == select(Store.id).where(Store.code == "demo").scalar_subquery()

# --- helpers -------------------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The values a browser would send for the page's form with `method="post"` that has fields:
    text and number inputs, textareas, checked checkboxes, each select's chosen option."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._form: dict[str, Any] | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post":
            self._form = {"action": a.get("action", ""), "fields": {}}
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and "name" in a:
            self._input(a)
        elif tag == "select":
            self._select = a["name"]
            self._first_option = None
        elif tag == "option" and self._select:
            self._option(a)
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form["fields"][self._textarea] += data

    def _input(self, a: dict[str, str]) -> None:
        assert self._form is not None
        if a.get("type") == "checkbox":
            if "checked" in a:
                self._form["fields"][a["name"]] = a.get("value") or "y"
        elif a.get("type") != "submit":
            self._form["fields"][a["name"]] = a.get("value", "")

    def _option(self, a: dict[str, str]) -> None:
        assert self._form is not None and self._select is not None
        fields = self._form["fields"]
        if self._first_option is None:
            self._first_option = a.get("value", "")
            fields.setdefault(self._select, self._first_option)
        if "selected" in a:
            fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._form is not None and self._textarea is not None:
            # A browser drops the one line break that follows <textarea>.
            text = self._form["fields"][self._textarea]
            self._form["fields"][self._textarea] = text.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._form = None


def form_of(html: str) -> dict[str, Any]:
    """The fields of the page's editing form (the one with more than a CSRF token)."""
    reader = FormReader()
    reader.feed(html)
    forms = [f["fields"] for f in reader.forms if len(f["fields"]) > 1]
    assert forms, html
    return dict(forms[0])


def login(client: FlaskClient, username: str) -> Any:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]}
    )


def submit(client: FlaskClient, url: str, **changes: Any) -> Any:
    """Open the form page, change some fields as a user would (None: untick or clear), send it."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = form_of(page.get_data(as_text=True))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = str(value)
    return client.post(url, data=data)


def field_error(html: str, field_id: str) -> str:
    """The error text shown next to the field `field_id` (the input points at it)."""
    match = re.search(rf'<p class="m-error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert match is not None, f"no error next to {field_id}"
    assert re.search(rf'id="{re.escape(field_id)}"[^>]*aria-invalid="true"', html) or re.search(
        rf'aria-invalid="true"[^>]*id="{re.escape(field_id)}"', html
    ), f"{field_id} is not marked invalid"
    return match[1].strip()


def audit_count(app: Flask, store: str = "demo") -> int:
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == store))
        return db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.store_id == store_id)
        )


def store_row(app: Flask, code: str = "demo") -> dict[str, Any]:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == code))
        assert store is not None
        return {c.name: getattr(store, c.name) for c in Store.__table__.columns}


@pytest.fixture
def manager(app: Flask, client: FlaskClient, make: Factory) -> FlaskClient:
    """The demo store's manager, logged in on `client`."""
    make.user("boss", "demo", Role.MANAGER)
    assert login(client, "boss").status_code == 302
    return client


# --- who may open the console -----------------------------------------------------------------


def test_logging_in_lands_each_role_where_it_works(app: Flask, make: Factory) -> None:
    make.user("boss", "demo", Role.MANAGER)
    make.user("root", None, Role.ADMIN)
    make.user("desk", "demo", Role.CLERK)
    manager, admin, clerk = app.test_client(), app.test_client(), app.test_client()
    assert login(manager, "boss").headers["Location"] == "/manage"
    assert manager.get("/manage").headers["Location"] == "/s/demo/manage"
    console = manager.get("/s/demo/manage")
    assert console.status_code == 200
    assert "示范营业厅" in console.get_data(as_text=True)

    assert login(admin, "root").headers["Location"] == "/manage"
    stores = admin.get("/manage").get_data(as_text=True)
    assert "/s/demo/manage" in stores and "/s/other/manage" in stores
    assert admin.get("/s/other/manage").status_code == 200

    assert "/s/demo/counter" in login(clerk, "desk").headers["Location"]


def test_the_counter_page_links_managers_to_the_console(app: Flask, make: Factory) -> None:
    make.user("boss", "demo", Role.MANAGER)
    make.user("desk", "demo", Role.CLERK)
    manager, clerk = app.test_client(), app.test_client()
    login(manager, "boss")
    login(clerk, "desk")
    assert 'href="/s/demo/manage"' in manager.get("/s/demo/counter").get_data(as_text=True)
    assert 'href="/s/demo/manage"' not in clerk.get("/s/demo/counter").get_data(as_text=True)


CONSOLE_PAGES = (
    "/s/demo/manage",
    "/s/demo/manage/store",
    "/s/demo/manage/services",
    "/s/demo/manage/services/new",
    "/s/demo/manage/services/A",
    "/s/demo/manage/counters",
    "/s/demo/manage/counters/new",
    "/s/demo/manage/counters/1",
    "/s/demo/manage/audit",
)


def test_a_clerk_gets_403_everywhere_in_the_console(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo", Role.CLERK)
    login(client, "desk")
    assert client.get("/manage").status_code == 403
    for url in CONSOLE_PAGES:
        assert client.get(url).status_code == 403, url
    before = store_row(app)
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/s/demo/counter").get_data(as_text=True)
    )
    assert token is not None
    response = client.post("/s/demo/manage/store", data={"csrf_token": token[1], "name_zh": "改名"})
    assert response.status_code == 403
    assert store_row(app) == before and audit_count(app) == 0


def test_anonymous_visitors_are_sent_to_the_login(client: FlaskClient) -> None:
    for url in ("/manage", *CONSOLE_PAGES):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_a_manager_of_demo_cannot_see_or_change_other(app: Flask, manager: FlaskClient) -> None:
    for url in CONSOLE_PAGES:
        other = url.replace("/s/demo/", "/s/other/")
        response = manager.get(other)
        assert response.status_code == 404, other
        assert "示范营业厅" not in response.get_data(as_text=True)  # other's name, seeded alike
    # A form of demo's sent to other's address (a valid CSRF token of this session).
    data = form_of(manager.get("/s/demo/manage/store").get_data(as_text=True))
    data["name_zh"] = "被改了"
    before = store_row(app, "other")
    assert manager.post("/s/other/manage/store", data=data).status_code == 404
    service = form_of(manager.get("/s/demo/manage/services/A").get_data(as_text=True))
    assert manager.post("/s/other/manage/services/A", data=service).status_code == 404
    counter = form_of(manager.get("/s/demo/manage/counters/1").get_data(as_text=True))
    assert manager.post("/s/other/manage/counters/1", data=counter).status_code == 404
    assert manager.post("/s/other/manage/counters/1/retire", data=counter).status_code == 404
    assert store_row(app, "other") == before
    assert audit_count(app, "other") == 0
    assert manager.get("/s/nowhere/manage").status_code == 404


# --- the store and its rules ---------------------------------------------------------------------


def test_a_rule_change_takes_effect_on_the_next_command_and_is_logged(
    app: Flask, manager: FlaskClient
) -> None:
    vip = {"service": "V"}
    refused = manager.post("/api/v1/stores/demo/tickets", json=vip, headers=kiosk_headers(app))
    assert refused.status_code >= 400  # VIP is not self-declared at the kiosk by default
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    display.get_received()
    version = store_row(app)["version"]

    response = submit(manager, "/s/demo/manage/store", public_vip="y", max_wait_minutes=45)
    assert response.status_code == 302
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存" in page

    row = store_row(app)
    assert row["public_vip"] is True and row["max_wait_minutes"] == 45
    assert row["version"] == version + 1
    events = [e for e in display.get_received() if e["name"] == "settings_changed"]
    assert [e["args"][0]["version"] for e in events] == [version + 1]
    display.disconnect()
    assert issue_ticket(manager, "V")["label"] == "V001"

    log = manager.get("/s/demo/manage/audit").get_data(as_text=True)
    assert "门店与规则已修改" in log and "boss" in log
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "store_updated"
        assert entry.before == {"max_wait_minutes": 30, "public_vip": False}
        assert entry.after == {"max_wait_minutes": 45, "public_vip": True}


def test_the_deadline_order_and_its_settings_reach_the_call_policy(
    app: Flask, manager: FlaskClient
) -> None:
    page = manager.get("/s/demo/manage/store").get_data(as_text=True)
    assert "均衡（保证等候上限）" in page and "短业务优先的力度" in page
    response = submit(
        manager,
        "/s/demo/manage/store",
        ordering="deadline",
        fair_factor="1.5",
        fair_floor_minutes=8,
        ratio_power="1.5",
    )
    assert response.status_code == 302
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        policy = StoreSettings.of(store).policy()
    assert policy.ordering is Ordering.DEADLINE
    assert (policy.fair_factor, policy.fair_floor, policy.ratio_power) == (
        1.5,
        timedelta(minutes=8),
        1.5,
    )


def test_opening_hours_are_edited_per_weekday(app: Flask, manager: FlaskClient) -> None:
    response = submit(
        manager,
        "/s/demo/manage/store",
        **{"hours-6-open": None, "hours-5-start": "10:00", "hours-5-end": "16:30"},
    )
    assert response.status_code == 302
    hours = store_row(app)["hours"]
    assert hours["6"] == [] and hours["5"] == [["10:00", "16:30"]]
    assert hours["0"] == [["09:00", "18:00"]]
    log = manager.get("/s/demo/manage/audit").get_data(as_text=True)
    assert "星期日 休息" in log and "星期六 10:00–16:30" in log
    assert "星期一" not in log  # only the weekdays that changed


def test_display_notices_and_announcements_reach_the_snapshot(
    app: Flask, manager: FlaskClient
) -> None:
    response = submit(
        manager,
        "/s/demo/manage/store",
        notices_en="  Closed at noon on Friday  \n\n Bring your ID card ",
        announce_langs="en,zh",
    )
    assert response.status_code == 302
    store = manager.get("/api/v1/stores/demo/snapshot?lang=en").json["store"]
    assert store["notices"] == ["Closed at noon on Friday", "Bring your ID card"]
    assert store["announce_langs"] == ["en", "zh"]


def test_a_new_appointment_prefix_labels_the_next_check_in(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    response = submit(
        manager, "/s/demo/manage/store", appointment_prefix="YY", checkin_early_minutes=20
    )
    assert response.status_code == 302
    _, ticket = make.checked_in("2026-11-27T02:00:00Z")
    assert ticket["label"].startswith("YY"), ticket["label"]
    row = store_row(app)
    assert (row["appointment_prefix"], row["checkin_early_minutes"]) == ("YY", 20)


@pytest.mark.parametrize(
    ("changes", "field", "zh", "en"),
    [
        ({"vip_first": 3, "vip_window": 2}, "vip_first", "不能多于", "Cannot be more than"),
        ({"max_wait_minutes": 9999}, "max_wait_minutes", "0 到 240", "Between 0 and 240"),
        ({"kiosk_rate_per_minute": "many"}, "kiosk_rate_per_minute", "不是有效的整数", "integer"),
        ({"fair_factor": "nan"}, "fair_factor", "请输入数字", "Enter a number"),
        ({"ratio_power": "inf"}, "ratio_power", "请输入数字", "Enter a number"),
        ({"fair_factor": 0.5}, "fair_factor", "1 到 3", "Between 1 and 3"),
        ({"name_en": ""}, "name_en", "请填写", "Please fill this in"),
        (
            {"hours-2-end": "08:00"},
            "hours-2-end",
            "关门时间须晚于开门时间",
            "Closing must be after",
        ),
    ],
)
def test_invalid_rules_show_the_field_error_and_change_nothing(
    app: Flask,
    manager: FlaskClient,
    changes: dict[str, Any],
    field: str,
    zh: str,
    en: str,
) -> None:
    before = store_row(app)
    for lang, text in (("zh", zh), ("en", en)):
        url = f"/s/demo/manage/store?lang={lang}"
        response = submit(manager, url, **changes, name_zh="不该保存")
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert text in field_error(html, field)
        # Every other field is sent back as typed, and nothing is stored.
        assert 'value="不该保存"' in html
    assert store_row(app) == before and audit_count(app) == 0


def test_saving_a_stale_form_never_undoes_what_another_manager_saved(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("deputy", "demo", Role.MANAGER)
    deputy = app.test_client()
    login(deputy, "deputy")
    for url, theirs, mine, column in (
        ("/s/demo/manage/store", {"max_wait_minutes": 40}, {"recall_limit": 5}, "store"),
        ("/s/demo/manage/services/A", {"expected_minutes": 6}, {"prefix": "Q"}, "service"),
        ("/s/demo/manage/counters/1", {"lane_2": "standard"}, {"lane_2": "vip"}, "counter"),
    ):
        opened = form_of(manager.get(url).get_data(as_text=True))  # I open the form …
        assert submit(deputy, url, **theirs).status_code == 302  # … the deputy saves first
        before = audit_count(app)
        response = manager.post(url, data=opened | {k: str(v) for k, v in mine.items()})
        assert response.status_code == 302 and response.headers["Location"].startswith(url)
        page = manager.get(response.headers["Location"]).get_data(as_text=True)
        assert "其他人刚刚保存了这些设置" in page, column
        assert audit_count(app) == before, column  # nothing of mine was written
    row = store_row(app)
    assert (row["max_wait_minutes"], row["recall_limit"]) == (40, 3)
    with app.app_context():
        service = db.session.scalar(
            select(Service).join(Store).where(Store.code == "demo", Service.code == "A")
        )
        counter = db.session.scalar(select(Counter).where(DEMO_COUNTER, Counter.number == 1))
        assert service is not None and (service.expected_minutes, service.prefix) == (6, "A")
        assert counter is not None and counter.lanes == ["fast", "standard"]


# --- services ------------------------------------------------------------------------------------


def test_a_new_service_can_be_issued_at_the_kiosk_at_once(app: Flask, manager: FlaskClient) -> None:
    response = submit(
        manager,
        "/s/demo/manage/services/new",
        code="G",
        name_zh="国际漫游",
        name_en="Roaming",
        prefix="G",
        lane="fast",
        expected_minutes="4",
    )
    assert response.status_code == 302
    listed = manager.get("/api/v1/stores/demo/services").json["services"]
    assert "G" in [s["code"] for s in listed]
    ticket = issue_ticket(manager, "G")
    assert ticket["label"] == "G001" and ticket["lane"] == "fast"
    assert "国际漫游" in manager.get("/s/demo/manage/services").get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None and entry.action == "service_created" and entry.target == "G"
        assert entry.before is None and entry.after is not None and entry.after["prefix"] == "G"


def test_a_service_code_is_taken_once(app: Flask, manager: FlaskClient) -> None:
    response = submit(
        manager,
        "/s/demo/manage/services/new?lang=en",
        code="A",
        name_zh="重复",
        name_en="Twice",
        prefix="A",
        expected_minutes="4",
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "code") == "This code is taken."
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Service)) == 12
    assert audit_count(app) == 0


@pytest.mark.parametrize(
    ("changes", "field", "en"),
    [
        ({"prefix": "a1"}, "prefix", "One to four capital letters."),
        ({"expected_minutes": "0"}, "expected_minutes", "Between 0.5 and 240"),
        ({"name_zh": ""}, "name_zh", "Please fill this in."),
        ({"lane": "express"}, "lane", "Not a valid choice"),
    ],
)
def test_invalid_service_input_changes_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, Any], field: str, en: str
) -> None:
    with app.app_context():
        before = [
            (s.prefix, s.lane, s.expected_minutes, s.name_zh)
            for s in db.session.scalars(select(Service).order_by(Service.id))
        ]
    response = submit(manager, "/s/demo/manage/services/A?lang=en", **changes)
    assert response.status_code == 422
    assert en in field_error(response.get_data(as_text=True), field)
    with app.app_context():
        after = [
            (s.prefix, s.lane, s.expected_minutes, s.name_zh)
            for s in db.session.scalars(select(Service).order_by(Service.id))
        ]
    assert after == before and audit_count(app) == 0


def test_a_new_prefix_and_lane_apply_to_new_tickets_only(app: Flask, manager: FlaskClient) -> None:
    first = issue_ticket(manager, "A")
    assert (first["label"], first["lane"]) == ("A001", "fast")
    response = submit(manager, "/s/demo/manage/services/A", prefix="Q", lane="standard")
    assert response.status_code == 302
    second = issue_ticket(manager, "A")
    assert (second["label"], second["lane"]) == ("Q001", "standard")
    kept = manager.get(f"/api/v1/tickets/{first['token']}").json
    assert (kept["label"], kept["lane"]) == ("A001", "fast")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry))
        assert entry is not None
        assert entry.before == {"prefix": "A", "lane": "fast"}
        assert entry.after == {"prefix": "Q", "lane": "standard"}


def test_a_changed_expected_duration_changes_the_estimate(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.counter(make.staff("desk"), 3)  # standard first: it serves the plan changes below
    for _ in range(3):
        issue_ticket(manager, "C")

    def wait_for_c() -> list[int]:
        services = manager.get("/api/v1/stores/demo/services").json["services"]
        return next(s["eta_minutes"] for s in services if s["code"] == "C")

    before = wait_for_c()
    assert before is not None
    response = submit(manager, "/s/demo/manage/services/C", expected_minutes="40")
    assert response.status_code == 302
    after = wait_for_c()
    assert after[0] > before[1], (before, after)


def test_an_inactive_service_is_no_longer_issued(app: Flask, manager: FlaskClient) -> None:
    assert submit(manager, "/s/demo/manage/services/B", active=None).status_code == 302
    response = manager.post(
        "/api/v1/stores/demo/tickets", json={"service": "B"}, headers=kiosk_headers(app)
    )
    assert response.status_code >= 400


def test_a_services_description_and_group_reach_the_kiosk(app: Flask, manager: FlaskClient) -> None:
    changed = submit(
        manager,
        "/s/demo/manage/services/B",
        description_zh="补卡请带身份证原件",
        description_en="Bring your ID card",
        category="care",
    )
    assert changed.status_code == 302
    for lang, text, group in (
        ("zh", "补卡请带身份证原件", "咨询与投诉"),
        ("en", "Bring your ID card", "Help and complaints"),
    ):
        services = manager.get(f"/api/v1/stores/demo/services?lang={lang}").json["services"]
        service = next(s for s in services if s["code"] == "B")
        assert service["description"] == text and service["category"] == "care"
        assert service["category_name"].startswith(group)
    refused = submit(manager, "/s/demo/manage/services/B", category="nonsense")
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "category")


# --- counters -----------------------------------------------------------------------------------


def test_a_new_profile_changes_whom_call_next_picks(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    # Lanes strictly in the counter's order (the default order weighs short business first).
    assert submit(manager, "/s/demo/manage/store", ordering="profile").status_code == 302
    issue_ticket(manager, "A")  # fast, the oldest: what counter 1 (fast only) would call
    plan = issue_ticket(manager, "C")  # standard
    response = submit(manager, "/s/demo/manage/counters/1", lane_1="standard", lane_2="fast")
    assert response.status_code == 302
    headers = make.staff("desk")
    make.counter(headers, 1)
    called = manager.post("/api/v1/stores/demo/counters/1/call-next", headers=headers).json
    assert called["ticket"]["id"] == plan["id"], called
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry is not None and entry.action == "counter_updated"
        assert entry.before == {"lanes": ["fast"]}
        assert entry.after == {"lanes": ["standard", "fast"]}


def test_a_new_counter_can_be_signed_in_and_calls(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    vip = manager.post(
        "/api/v1/stores/demo/tickets",
        json={"service": "V", "channel": "staff"},
        headers=(headers := make.staff("greeter")),
    ).json
    response = submit(manager, "/s/demo/manage/counters/new", number=9, lane_1="vip")
    assert response.status_code == 302
    make.counter(headers, 9)
    called = manager.post("/api/v1/stores/demo/counters/9/call-next", headers=headers).json
    assert called["ticket"]["id"] == vip["id"]
    assert 9 in [c["number"] for c in manager.get("/api/v1/stores/demo/snapshot").json["counters"]]


@pytest.mark.parametrize(
    ("changes", "field", "en"),
    [
        ({"number": 2}, "number", "This number is taken."),
        ({"number": 0}, "number", "Between 1 and 999"),
        ({"lane_1": "fast", "lane_2": "fast"}, "lane_2", "This lane is listed already."),
    ],
)
def test_invalid_counter_input_changes_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, Any], field: str, en: str
) -> None:
    def counters() -> list[tuple[int, list[str], bool]]:
        with app.app_context():
            return [
                (c.number, c.lanes, c.archived)
                for c in db.session.scalars(select(Counter).order_by(Counter.id))
            ]

    before = counters()
    response = submit(manager, "/s/demo/manage/counters/1?lang=en", **changes)
    assert response.status_code == 422
    assert en in field_error(response.get_data(as_text=True), field)
    assert counters() == before and audit_count(app) == 0


def csrf_of(client: FlaskClient, url: str) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert token is not None
    return token[1]


def test_a_counter_with_history_is_archived_and_the_engine_ignores_it(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    ticket = issue_ticket(manager, "A")
    headers = make.staff("desk")
    make.counter(headers, 1)
    call = manager.post("/api/v1/stores/demo/counters/1/call-next", headers=headers)
    assert call.json["ticket"]["id"] == ticket["id"]
    for action in ("start", "complete"):
        assert (
            manager.post(f"/api/v1/tickets/{ticket['id']}/{action}", headers=headers).status_code
            == 200
        )
    token = csrf_of(manager, "/s/demo/manage/counters")
    # Not while the clerk is signed in there.
    manager.post("/s/demo/manage/counters/1/retire", data={"csrf_token": token})
    with app.app_context():
        assert (
            db.session.scalar(select(Counter.archived).where(DEMO_COUNTER, Counter.number == 1))
            is False
        )
    assert (
        manager.post("/api/v1/stores/demo/counters/1/sign-out", headers=headers).status_code == 200
    )

    response = manager.post("/s/demo/manage/counters/1/retire", data={"csrf_token": token})
    assert response.status_code == 302
    page = manager.get("/s/demo/manage/counters").get_data(as_text=True)
    assert "已归档" in page
    with app.app_context():
        counter = db.session.scalar(select(Counter).where(DEMO_COUNTER, Counter.number == 1))
        assert counter is not None and counter.archived and counter.lanes == []
    # Nobody signs in or is called there; the ticket it served still names it.
    sign_in = manager.post("/api/v1/stores/demo/counters/1/sign-in", json={}, headers=headers)
    assert sign_in.status_code == 404
    call = manager.post("/api/v1/stores/demo/counters/1/call-next", headers=headers)
    assert call.status_code == 404
    assert manager.get(f"/api/v1/tickets/{ticket['token']}").json["counter"] == 1
    # The hall's screens no longer list it; the day's calls made there still name it.
    snapshot = manager.get("/api/v1/stores/demo/snapshot").json
    assert 1 not in [c["number"] for c in snapshot["counters"]]
    assert [c["counter"] for c in snapshot["recent_calls"] if c["ticket_id"] == ticket["id"]] == [1]
    assert manager.get("/s/demo/manage/counters/1").status_code == 404
    picker = manager.get("/s/demo/counter").get_data(as_text=True)
    assert 'data-counter="1"' not in picker and 'data-counter="2"' in picker
    # A transfer to it is refused too.
    other = issue_ticket(manager, "A")
    make.counter(headers, 2)
    assert (
        manager.post("/api/v1/stores/demo/counters/2/call-next", headers=headers).status_code == 200
    )
    moved = manager.post(
        f"/api/v1/tickets/{other['id']}/transfer", json={"counter": 1}, headers=headers
    )
    assert moved.status_code >= 400
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEntry))]
    assert actions == ["counter_archived"]


def test_a_counter_without_history_is_deleted(app: Flask, manager: FlaskClient) -> None:
    assert submit(manager, "/s/demo/manage/counters/new", number=7).status_code == 302
    token = csrf_of(manager, "/s/demo/manage/counters")
    assert manager.post("/s/demo/manage/counters/7/retire", data={"csrf_token": token}).status_code
    with app.app_context():
        assert db.session.scalar(select(Counter).where(DEMO_COUNTER, Counter.number == 7)) is None
        actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["counter_created", "counter_deleted"]


# --- the change log ------------------------------------------------------------------------------


def test_the_change_log_lists_newest_first_and_only_this_store(
    app: Flask, manager: FlaskClient, clock: Any
) -> None:
    from datetime import timedelta

    submit(manager, "/s/demo/manage/services/A", expected_minutes="3.5")
    clock.set(clock.now() + timedelta(minutes=1))
    submit(manager, "/s/demo/manage/store", recall_limit=5)
    clock.set(clock.now() + timedelta(minutes=1))
    submit(manager, "/s/demo/manage/store")  # nothing changed: no entry
    html = manager.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    store_at = html.index("Store and rules changed")
    service_at = html.index("Service changed")
    assert store_at < service_at
    assert "3.5" in html and "Recalls before suggesting a no-show" in html
    assert audit_count(app) == 2
    with app.app_context():
        other = db.session.scalar(select(Store.id).where(Store.code == "other"))
        db.session.add(
            AuditEntry(
                store_id=other,
                at=clock.now(),
                actor_name="someone",
                action="store_updated",
                target="other",
                before={"name_en": "secret"},
                after={"name_en": "hidden"},
            )
        )
        db.session.commit()
    assert "secret" not in manager.get("/s/demo/manage/audit").get_data(as_text=True)
