"""The console's complaint cases through HTTP, as a browser sends their forms: the inbox (overdue
first, filters, a clerk's own cases only), a case's page (note, owner, status along the allowed
moves only, the promised date only with a reason, a stale form refused with 409), the contact
masked but for its owner's audited request, the report's figures against hand-computed ones and
its CSV equal to its table, and the retention erasing contacts while the counts stay."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.bookings.commands import sweep
from backend.cases import commands as cases
from backend.cases.models import Case
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Store, User
from backend.policy import Role
from tests.factories import Factory
from tests.test_manager import login

from .conftest import Api
from .test_cases import COMPLAINT, complain

CASES = "/s/demo/manage/cases"


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def seen(html: str) -> str:
    found = re.search(r'<input type="hidden" name="seen" value="(\d+)">', html)
    assert found is not None, html
    return found[1]


def ids(app: Flask) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Case.id).order_by(Case.id)))


def row(app: Flask, case_id: int) -> Case:
    with app.app_context():
        found = db.session.get(Case, case_id)
        assert found is not None
        found.notes  # noqa: B018  (loaded before the session ends)
        db.session.expunge_all()
        return found


def user_id(app: Flask, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.username == name))
        assert found is not None
        return found


def inbox_numbers(html: str) -> list[str]:
    return re.findall(r'<tr(?: class="k-overdue")? data-case="([^"]+)"', html)


class TableReader(HTMLParser):
    """The text of each table's rows, by the table's data-table name."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.current = dict(attrs).get("data-table")
            if self.current:
                self.tables[self.current] = []
        elif tag == "tr" and self.current:
            self.tables[self.current].append([])
        elif tag in ("td", "th") and self.current:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.current and self.cell is not None:
            self.tables[self.current][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    reader = TableReader()
    reader.feed(html)
    return reader.tables


@pytest.fixture
def boss(app: Flask, make: Factory) -> FlaskClient:
    make.user("boss", "demo", Role.MANAGER)
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def post(client: FlaskClient, case_id: int, action: str, **data: Any) -> Any:
    html = client.get(f"{CASES}/{case_id}").get_data(as_text=True)
    body = {"csrf_token": csrf(html), "seen": seen(html), **data}
    return client.post(f"{CASES}/{case_id}/{action}", data=body)


class TestInbox:
    def test_overdue_first_and_marked_in_words_then_filters(
        self, app: Flask, api: Api, boss: FlaskClient, clock: ManualClock
    ) -> None:
        complain(api)  # Thursday, promised Sunday 11-29
        clock.advance(days=2)
        complain(api, COMPLAINT | {"category": "network"})  # Saturday, promised Tuesday 12-01
        clock.advance(days=2)  # Monday 11-30: the first is a day overdue
        complain(api)
        first, second, third = ids(app)
        assert login(boss, "boss").status_code == 302  # the session idled out over the days
        page = boss.get(CASES)
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert inbox_numbers(html) == [
            "TS-20261126-0001",
            "TS-20261128-0001",
            "TS-20261130-0001",
        ]
        overdue_row = re.search(r'<tr class="k-overdue" data-case="([^"]+)">(.*?)</tr>', html, re.S)
        assert overdue_row is not None and overdue_row[1] == "TS-20261126-0001"
        assert "逾期 1 天" in overdue_row[2]  # in words, not by colour alone
        assert html.count('class="k-overdue"') == 1
        english = boss.get(f"{CASES}?lang=en").get_data(as_text=True)
        assert "overdue by 1 day<" in english and "Not started" in english
        network = boss.get(f"{CASES}?category=network").get_data(as_text=True)
        assert inbox_numbers(network) == ["TS-20261128-0001"]
        late = boss.get(f"{CASES}?overdue=y").get_data(as_text=True)
        assert inbox_numbers(late) == ["TS-20261126-0001"]
        cases_ = {"status": "in_progress"}
        with app.app_context():
            boss_user = db.session.scalar(select(User).where(User.username == "boss"))
            cases.change_status("demo", third, boss_user, "in_progress")
            cases.assign_case("demo", second, boss_user, boss_user.id)
        moving = boss.get(CASES, query_string=cases_).get_data(as_text=True)
        assert inbox_numbers(moving) == ["TS-20261130-0001"]
        mine = boss.get(f"{CASES}?owner={user_id(app, 'boss')}").get_data(as_text=True)
        assert inbox_numbers(mine) == ["TS-20261128-0001"]
        bad = boss.get(f"{CASES}?status=lost&owner=99999999999999999999")
        assert bad.status_code == 422
        assert first  # the overdue one is the first row above

    def test_a_clerk_sees_only_their_own_cases_and_no_other_store(
        self, app: Flask, api: Api, make: Factory, client: FlaskClient
    ) -> None:
        complain(api)
        complain(api)
        mine, theirs = ids(app)
        ann = make.user("ann", "demo", Role.CLERK)
        make.user("ola", "other", Role.MANAGER)
        boss_id = make.user("boss", "demo", Role.MANAGER)
        with app.app_context():
            boss_user = db.session.get(User, boss_id)
            cases.assign_case("demo", mine, boss_user, ann)
            cases.assign_case("demo", theirs, boss_user, boss_id)
        assert login(client, "ann").status_code == 302
        html = client.get(CASES).get_data(as_text=True)
        assert inbox_numbers(html) == ["TS-20261126-0001"]
        assert client.get(f"{CASES}/{theirs}").status_code == 404
        assert client.get("/s/other/manage/cases").status_code == 404
        assert client.get(f"{CASES}/new").status_code == 403
        assert client.get(f"{CASES}/report").status_code == 403
        # A manager of another store learns nothing of this one's cases.
        other = app.test_client()
        assert login(other, "ola").status_code == 302
        assert other.get(CASES).status_code == 404
        assert other.get(f"/s/other/manage/cases/{mine}").status_code == 404


class TestCasePage:
    def test_manager_assigns_notes_and_moves_along_allowed_transitions_only(
        self, app: Flask, api: Api, boss: FlaskClient, make: Factory
    ) -> None:
        complain(api)
        (case_id,) = ids(app)
        clerk = make.user("ann", "demo", Role.CLERK)
        assert post(boss, case_id, "assign", owner=clerk).status_code == 302
        assert post(boss, case_id, "note", text="Called the billing team").status_code == 302
        html = boss.get(f"{CASES}/{case_id}").get_data(as_text=True)
        buttons = re.findall(r'name="status" value="([a-z_]+)"', html)
        assert buttons == ["in_progress", "resolved"]
        illegal = post(boss, case_id, "status", status="closed")
        assert illegal.status_code == 409
        assert "不能从" in illegal.get_data(as_text=True)  # the user's language (Chinese)
        english = boss.get(f"{CASES}/{case_id}?lang=en").get_data(as_text=True)
        body = {"csrf_token": csrf(english), "seen": seen(english), "status": "closed"}
        refused = boss.post(f"{CASES}/{case_id}/status?lang=en", data=body)
        assert refused.status_code == 409
        assert "cannot go from Not started to Closed, no follow-up" in refused.get_data(
            as_text=True
        )
        assert post(boss, case_id, "status", status="resolved").status_code == 302
        after = row(app, case_id)
        assert after.status == "resolved" and after.owner_id == clerk
        assert [n.kind for n in after.notes] == ["opened", "owner", "note", "status"]
        assert after.notes[2].text == "Called the billing team"
        timeline = boss.get(f"{CASES}/{case_id}?lang=en").get_data(as_text=True)
        assert "Called the billing team" in timeline and "Status changed" in timeline
        assert re.findall(r'name="status" value="([a-z_]+)"', timeline) == ["closed"]

    def test_a_stale_form_or_a_second_click_is_refused_and_done_once(
        self, app: Flask, api: Api, boss: FlaskClient
    ) -> None:
        complain(api)
        (case_id,) = ids(app)
        html = boss.get(f"{CASES}/{case_id}").get_data(as_text=True)
        form = {"csrf_token": csrf(html), "seen": seen(html), "text": "first"}
        assert boss.post(f"{CASES}/{case_id}/note", data=form).status_code == 302
        again = boss.post(f"{CASES}/{case_id}/note", data=form)  # the same form sent twice
        assert again.status_code == 409
        assert "已被修改" in again.get_data(as_text=True)
        stale = boss.post(f"{CASES}/{case_id}/status", data=form | {"status": "in_progress"})
        assert stale.status_code == 409
        after = row(app, case_id)
        assert [n.kind for n in after.notes] == ["opened", "note"] and after.status == "open"

    def test_the_promise_changes_only_with_a_reason(
        self, app: Flask, api: Api, boss: FlaskClient
    ) -> None:
        complain(api)
        (case_id,) = ids(app)
        nothing = post(boss, case_id, "promise", promised_by="2026-12-04", reason="  ")
        assert nothing.status_code == 422
        assert 'id="reason-error"' in nothing.get_data(as_text=True)
        past = post(boss, case_id, "promise", promised_by="2026-11-01", reason="late")
        assert past.status_code == 422
        assert row(app, case_id).promised_by == date(2026, 11, 29)
        ok = post(boss, case_id, "promise", promised_by="2026-12-04", reason="parts ordered")
        assert ok.status_code == 302
        after = row(app, case_id)
        assert after.promised_by == date(2026, 12, 4)
        assert after.notes[-1].text == "2026-11-29 → 2026-12-04: parts ordered"

    def test_the_contact_is_masked_but_for_its_owner_who_reveals_it_in_the_log(
        self, app: Flask, api: Api, boss: FlaskClient, make: Factory, client: FlaskClient
    ) -> None:
        complain(api)
        (case_id,) = ids(app)
        page = boss.get(f"{CASES}/{case_id}").get_data(as_text=True)
        assert "13812345678" not in page and "138****5678" in page
        assert "/reveal" not in page  # the manager does not own it
        refused = post(boss, case_id, "reveal")
        assert refused.status_code == 403
        ann = make.user("ann", "demo", Role.CLERK)
        assert post(boss, case_id, "assign", owner=ann).status_code == 302
        assert login(client, "ann").status_code == 302
        own = client.get(f"{CASES}/{case_id}").get_data(as_text=True)
        assert "13812345678" not in own and "/reveal" in own
        shown = client.post(f"{CASES}/{case_id}/reveal", data={"csrf_token": csrf(own)})
        assert shown.status_code == 200 and "13812345678" in shown.get_data(as_text=True)
        assert shown.headers["Cache-Control"] == "no-store"
        with app.app_context():
            logged = db.session.scalars(select(AuditEntry)).all()
            assert [(e.action, e.target, e.actor_id) for e in logged] == [
                ("case_contact_shown", "TS-20261126-0001", ann)
            ]
        # The owner clerk works on their case: a note, a move.
        assert post(client, case_id, "note", text="Rang back").status_code == 302
        assert post(client, case_id, "status", status="in_progress").status_code == 302
        assert post(client, case_id, "assign", owner=ann).status_code == 403


def test_a_case_opened_by_hand_is_promised_the_default_and_checks_its_input(
    app: Flask, boss: FlaskClient
) -> None:
    form_page = boss.get(f"{CASES}/new").get_data(as_text=True)
    assert 'value="2026-11-29"' in form_page  # Thursday + 3 working days
    base = {"csrf_token": csrf(form_page), "category": "device", "promised_by": "2026-11-29"}
    no_text = boss.post(f"{CASES}/new", data=base | {"description": ""})
    assert no_text.status_code == 422
    bad_phone = boss.post(
        f"{CASES}/new", data=base | {"description": "x", "consent": "y", "phone": "123"}
    )
    assert bad_phone.status_code == 422 and 'id="phone-error"' in bad_phone.get_data(as_text=True)
    assert ids(app) == []
    made = boss.post(
        f"{CASES}/new",
        data=base | {"description": "Screen broke", "consent": "y", "phone": "13900001111"},
    )
    assert made.status_code == 302
    (case_id,) = ids(app)
    opened = row(app, case_id)
    assert (opened.source, opened.category, opened.contact_phone) == (
        "console",
        "device",
        "13900001111",
    )
    assert opened.promised_by == date(2026, 11, 29)


def _answer(client: FlaskClient, ticket: dict[str, Any], stars: int) -> None:
    url = f"/api/v1/tickets/{ticket['id']}/case-answer"
    assert client.post(url, json={"token": ticket["token"], "stars": stars}).status_code == 201


def test_report_figures_equal_hand_computed_ones_and_the_csv_equals_the_table(
    app: Flask, api: Api, boss: FlaskClient, client: FlaskClient, clock: ManualClock
) -> None:
    """Four cases opened on Thursday 11-26 (promised Sunday 11-29) and one on 11-27 outside the
    range: billing A resolved the same day (on time, answered 4 stars), billing B resolved on
    Monday 11-30 (late, answered 2), network C left open (overdue on 12-02), billing D resolved
    on time (not answered)."""
    a, _ = complain(api)
    b, _ = complain(api)
    complain(api, COMPLAINT | {"category": "network"})
    complain(api)
    with app.app_context():
        boss_user = db.session.scalar(select(User).where(User.username == "boss"))
        first, second, _open, fourth = ids(app)
        cases.change_status("demo", first, boss_user, "resolved")
        cases.change_status("demo", fourth, boss_user, "resolved")
        cases.assign_case("demo", second, boss_user, boss_user.id)
    _answer(client, a, 4)
    clock.advance(days=1)
    complain(api)  # 11-27: outside the range
    clock.advance(days=3)  # Monday 11-30
    with app.app_context():
        boss_user = db.session.scalar(select(User).where(User.username == "boss"))
        cases.change_status("demo", second, boss_user, "resolved")
    _answer(client, b, 2)
    clock.advance(days=2)  # Wednesday 12-02
    assert login(boss, "boss").status_code == 302
    report = boss.get(f"{CASES}/report?from=2026-11-26&to=2026-11-26&lang=en")
    assert report.status_code == 200
    found = tables(report.get_data(as_text=True))
    header = [
        "Category",
        "Cases",
        "Resolved",
        "Resolved on time",
        "On-time rate",
        "Overdue now",
        "Follow-up answers",
        "Follow-up satisfaction (stars)",
    ]
    assert found["cases_by_category"] == [
        header,
        ["Billing", "3", "3", "2", "66.7%", "0", "2", "3.00"],
        ["Network", "1", "0", "0", "—", "1", "0", "—"],
        ["All cases", "4", "3", "2", "66.7%", "1", "2", "3.00"],
    ]
    assert found["cases_by_owner"][1:] == [
        ["Nobody yet", "3", "2", "2", "100.0%", "1", "1", "4.00"],
        ["boss", "1", "1", "0", "0.0%", "0", "1", "2.00"],
        ["All cases", "4", "3", "2", "66.7%", "1", "2", "3.00"],
    ]
    for name, rows in found.items():
        answer = boss.get(f"{CASES}/report/{name}.csv?from=2026-11-26&to=2026-11-26&lang=en")
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        raw = answer.get_data()
        assert raw.startswith("\ufeff".encode())
        assert list(csv.reader(io.StringIO(raw.decode("utf-8-sig")))) == rows
    assert boss.get(f"{CASES}/report/nothing.csv?from=2026-11-26&to=2026-11-26").status_code == 404
    assert boss.get(f"{CASES}/report?from=2026-11-30&to=2026-11-01").status_code == 422


def test_retention_erases_the_contact_and_keeps_the_counts(
    app: Flask, api: Api, boss: FlaskClient, clock: ManualClock
) -> None:
    complain(api)
    (case_id,) = ids(app)
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
    clock.advance(days=31)
    with app.app_context():
        sweep(store_id)
    assert login(boss, "boss").status_code == 302
    page = boss.get(f"{CASES}/{case_id}?lang=en").get_data(as_text=True)
    assert "138****5678" not in page and "Erased after the store" in page
    report = boss.get(f"{CASES}/report?from=2026-11-26&to=2026-11-26&lang=en")
    rows = tables(report.get_data(as_text=True))["cases_by_category"]
    assert rows[1][:2] == ["Billing", "1"] and rows[-1][:2] == ["All cases", "1"]
    erased = row(app, case_id)
    assert (erased.contact_phone, erased.contact_erased, erased.number) == (
        "",
        True,
        "TS-20261126-0001",
    )


def test_the_counter_complaint_answers_with_the_case_the_clerk_tells_the_customer(
    api: Api, client: FlaskClient
) -> None:
    """Through the API the counter page uses: the complete command's answer names the case and
    its promised date (the store's 3 working days), which the status page then shows."""
    ticket, done = complain(api)
    assert done.status_code == 200
    assert done.json["case"]["number"] == "TS-20261126-0001"
    assert done.json["case"]["promised_by"] == "2026-11-29"
    status_page = client.get(f"/t/{ticket['token']}").get_data(as_text=True)
    assert "TS-20261126-0001" in status_page and 'id="case-card"' in status_page
    assert "13812345678" not in status_page


def test_a_clerk_sees_only_their_own_ratings_anonymously(
    app: Flask, api: Api, client: FlaskClient, make: Factory, clock: ManualClock
) -> None:
    def visit(headers: dict[str, str], counter: int, stars: int, comment: str) -> None:
        clerk = Api(client, headers)
        ticket = clerk.issue("A")
        clerk.call_next(counter)
        assert clerk.act(ticket["id"], "complete").status_code == 200
        url = f"/api/v1/tickets/{ticket['id']}/feedback"
        body = {"token": ticket["token"], "stars": stars, "comment": comment}
        assert client.post(url, json=body).status_code == 201

    visit(api.headers, 1, 5, "Yesterday's thanks")
    clock.advance(days=1)  # Friday: yesterday's rating is not today's figure
    headers = make.staff("tester2", "demo")
    visit(api.headers, 1, 4, "Quick and kind")
    visit(api.headers, 1, 2, "")
    visit(headers, 2, 1, "Someone else's visit")
    panel = client.get("/api/v1/stores/demo/counters/1", headers=api.headers)
    assert panel.status_code == 200
    stats = panel.json["stats"]
    assert (stats["ratings"], stats["mean_stars"]) == (2, 3.0)
    assert stats["comments"] == [
        {"day": "2026-11-27", "stars": 4, "comment": "Quick and kind"},
        {"day": "2026-11-26", "stars": 5, "comment": "Yesterday's thanks"},
    ]
    labels = [key for c in stats["comments"] for key in c]
    assert set(labels) == {"day", "stars", "comment"}  # no ticket, no name, no time of day


def test_bad_input_on_the_case_pages_gets_a_clear_answer_and_changes_nothing(
    app: Flask, api: Api, boss: FlaskClient
) -> None:
    complain(api)
    (case_id,) = ids(app)
    for url in (f"{CASES}/0", f"{CASES}/{10**30}", f"{CASES}/{case_id + 1}"):
        assert boss.get(url).status_code == 404
    nul = post(boss, case_id, "note", text="bad\x00note")  # refused before any view runs
    assert nul.status_code == 400 and "请求中包含不允许的字符" in nul.get_data(as_text=True)
    long = post(boss, case_id, "note", text="x" * 1001)
    assert long.status_code == 422 and 'id="text-error"' in long.get_data(as_text=True)
    huge = post(boss, case_id, "note", text="ok", seen=str(10**30))
    assert huge.status_code == 422
    unknown = post(boss, case_id, "status", status="lost")
    assert unknown.status_code == 422
    followed = post(boss, case_id, "status", status="followed_up")  # only the customer does
    assert followed.status_code == 409
    stranger = post(boss, case_id, "assign", owner="999999")
    assert stranger.status_code == 422
    no_csrf = boss.post(f"{CASES}/{case_id}/note", data={"seen": "1", "text": "x"})
    assert no_csrf.status_code in (400, 422)
    after = row(app, case_id)
    assert [n.kind for n in after.notes] == ["opened"] and after.status == "open"


def test_the_case_page_shows_the_customers_answer_once_recorded(
    app: Flask, api: Api, boss: FlaskClient, client: FlaskClient
) -> None:
    ticket, _ = complain(api)
    (case_id,) = ids(app)
    assert post(boss, case_id, "status", status="resolved").status_code == 302
    before = boss.get(f"{CASES}/{case_id}?lang=en").get_data(as_text=True)
    assert 'id="case-answer"' not in before
    assert "/promise" not in before  # a resolved case's promise is kept as it was
    url = f"/api/v1/tickets/{ticket['id']}/case-answer"
    body = {"token": ticket["token"], "stars": 3, "comment": "Took a while"}
    assert client.post(url, json=body).status_code == 201
    page = boss.get(f"{CASES}/{case_id}?lang=en").get_data(as_text=True)
    answer = re.search(r'<dd id="case-answer">(.*?)</dd>', page, re.S)
    assert answer is not None and "3 of 5" in answer[1] and "Took a while" in answer[1]
    assert re.search(r'id="case-status">Followed up<', page)
    assert 'name="status"' not in page  # nothing left to move


def test_the_inbox_and_the_report_cost_the_same_statements_for_8_cases_as_for_2(
    app: Flask, api: Api, boss: FlaskClient, make: Factory
) -> None:
    from backend.core import db as core_db

    owners = [make.user(f"owner{i}", "demo", Role.CLERK) for i in range(4)]

    def statements(url: str) -> int:
        boss.get(url)  # warm: the session's last-seen write, caches
        with app.app_context(), core_db.StatementCounter(db.engine) as counter:
            response = boss.get(url)
        assert response.status_code == 200
        return counter.count

    def add_cases(n: int) -> None:
        for _ in range(n):
            complain(api)
        with app.app_context():
            boss_user = db.session.scalar(select(User).where(User.username == "boss"))
            for i, case_id in enumerate(db.session.scalars(select(Case.id).order_by(Case.id))):
                cases.assign_case("demo", case_id, boss_user, owners[i % len(owners)])

    report = f"{CASES}/report?from=2026-11-26&to=2026-11-26"
    add_cases(2)
    few = (statements(CASES), statements(report))
    add_cases(6)
    assert len(inbox_numbers(boss.get(CASES).get_data(as_text=True))) == 8
    assert (statements(CASES), statements(report)) == few
