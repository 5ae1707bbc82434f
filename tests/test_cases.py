"""Complaint cases: opened by the counter's complaint outcome (in the complete command) and by a
low rating, numbered per store and day, promised in working days, moved through their states,
answered once by the customer, their contact erased with the store's retention."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backend.bookings.commands import sweep
from backend.cases import commands as cases
from backend.cases.models import Case
from backend.cases.queries import CaseFilter, contact_of, inbox, report
from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.models import Store, User
from backend.policy import Role
from backend.policy.cases import CaseStatus, add_working_days
from backend.policy.slots import DEFAULT_HOURS, HallHours

from .conftest import Api, make_user

COMPLAINT = {
    "category": "billing",
    "description": "Charged twice for the November plan",
    "consent": True,
    "name": "张三",
    "phone": "13812345678",
}
THURSDAY = date(2026, 11, 26)  # the conftest clock's day (MORNING)


def complain(api: Api, body: dict[str, Any] | None = None, counter: int = 1) -> Any:
    ticket = api.issue("A")
    api.call_next(counter)
    return ticket, api.act(ticket["id"], "complete", outcome="complaint", case=body or COMPLAINT)


def close_sunday_and_monday(app: Flask) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        hours = dict(store.hours)
        hours["6"] = []  # Sundays closed
        store.hours = hours
        store.closed_dates = ["2026-11-30"]  # and this Monday a holiday
        db.session.commit()


def manager(app: Flask, name: str = "boss", store: str = "demo") -> User:
    make_user(app, name, store, Role.MANAGER)
    return db.session.scalar(select(User).where(User.username == name))


def test_working_days_skip_closed_weekdays_and_holidays() -> None:
    hours = dict(DEFAULT_HOURS) | {"6": []}
    hall = HallHours("Asia/Shanghai", hours, frozenset({date(2026, 11, 30)}))
    assert add_working_days(hall, THURSDAY, 3) == date(2026, 12, 1)
    assert add_working_days(hall, THURSDAY, 0) == THURSDAY
    never = HallHours("Asia/Shanghai", {}, frozenset())
    with pytest.raises(ValueError):
        add_working_days(never, THURSDAY, 1)


class TestFromTheCounter:
    def test_complaint_outcome_opens_a_case_promised_in_working_days(
        self, app: Flask, api: Api
    ) -> None:
        close_sunday_and_monday(app)
        ticket, done = complain(api)
        assert done.status_code == 200 and done.json["status"] == "done"
        _, second = complain(api)
        assert second.status_code == 200
        with app.app_context():
            first, other = db.session.scalars(select(Case).order_by(Case.id)).all()
            assert first.ticket_id == ticket["id"] and first.source == "counter"
            assert first.number == "TS-20261126-0001" and other.number == "TS-20261126-0002"
            # Thursday + 3 working days: Friday, Saturday, (Sunday, holiday Monday), Tuesday.
            assert first.promised_by == date(2026, 12, 1)
            assert (first.contact_name, first.contact_phone) == ("张三", "13812345678")
            assert first.status == CaseStatus.OPEN and [n.kind for n in first.notes] == ["opened"]

    def test_bad_case_input_completes_nothing(self, app: Flask, api: Api) -> None:
        bodies = [
            (COMPLAINT | {"phone": "12345"}, 400, "bad_phone"),
            (COMPLAINT | {"category": "weather"}, 400, "bad_category"),
            (COMPLAINT | {"description": "bad\x00text"}, 400, "bad_text"),
            (COMPLAINT | {"description": "x" * 1001}, 400, "bad_input"),
            (COMPLAINT | {"description": "   "}, 400, "description_required"),
            (COMPLAINT | {"consent": "maybe"}, 400, "bad_input"),
        ]
        ticket = api.issue("A")
        api.call_next(1)
        for body, status, code in bodies:
            answer = api.act(ticket["id"], "complete", outcome="complaint", case=body)
            assert answer.status_code == status, (body, answer.json)
            assert answer.json["message"]
            if code:
                assert answer.json["error"] == code
        wrong = api.act(ticket["id"], "complete", outcome="done", case=COMPLAINT)
        assert wrong.status_code == 400 and wrong.json["error"] == "case_not_complaint"
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        # The visit was not completed by any refused request: it still completes once.
        assert api.act(ticket["id"], "complete").json["status"] == "done"

    def test_without_consent_no_contact_is_kept(self, app: Flask, api: Api) -> None:
        _, done = complain(api, COMPLAINT | {"consent": False})
        assert done.status_code == 200
        with app.app_context():
            row = db.session.scalar(select(Case))
            assert (row.consent, row.contact_name, row.contact_phone) == (False, "", "")


class TestFromRatings:
    def rate(self, api: Api, client: FlaskClient, stars: int, comment: str) -> Any:
        ticket = api.issue("A")
        api.call_next(1)
        api.act(ticket["id"], "complete")
        url = f"/api/v1/tickets/{ticket['id']}/feedback"
        return client.post(url, json={"token": ticket["token"], "stars": stars, "comment": comment})

    def test_a_low_rating_with_a_comment_opens_a_case(
        self, app: Flask, api: Api, client: FlaskClient
    ) -> None:
        assert self.rate(api, client, 2, "Nobody explained the fee").status_code == 201
        assert self.rate(api, client, 1, "").status_code == 201  # no comment: nothing to follow
        assert self.rate(api, client, 3, "Slow").status_code == 201  # above the threshold
        with app.app_context():
            rows = db.session.scalars(select(Case)).all()
            assert [(r.source, r.description, r.category) for r in rows] == [
                ("rating", "Nobody explained the fee", "other")
            ]

    def test_threshold_zero_opens_none(self, app: Flask, api: Api, client: FlaskClient) -> None:
        with app.app_context():
            db.session.scalar(select(Store).where(Store.code == "demo")).case_rating_threshold = 0
            db.session.commit()
        assert self.rate(api, client, 1, "Terrible").status_code == 201
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Case)) == 0


class TestLifecycle:
    def test_overdue_first_then_by_promised_date(
        self, app: Flask, api: Api, clock: ManualClock
    ) -> None:
        complain(api)
        clock.advance(days=2)
        complain(api)
        clock.advance(days=2)  # Monday: the first (promised Sunday) is overdue
        complain(api)
        with app.app_context():
            boss = manager(app)
            store = db.session.scalar(select(Store).where(Store.code == "demo"))
            first, second, third = db.session.scalars(select(Case).order_by(Case.id)).all()
            second_id = second.id
            cases.change_promise(
                "demo",
                second_id,
                boss,
                date(2026, 11, 30) + timedelta(days=9),
                "waiting for the billing team",
            )
            db.session.rollback()
            ordered = [c.id for c in inbox(store)]
            assert ordered == [first.id, third.id, second_id]
            assert [c.id for c in inbox(store, CaseFilter(overdue=True))] == [first.id]
            reason = db.session.get(Case, second_id).notes[-1]
            assert reason.kind == "promise" and "waiting for the billing team" in reason.text

    def test_status_moves_and_the_follow_up_is_stored_once(
        self, app: Flask, api: Api, client: FlaskClient
    ) -> None:
        ticket, _ = complain(api)
        answer_url = f"/api/v1/tickets/{ticket['token']}"
        with app.app_context():
            boss = manager(app)
            case_id = db.session.scalar(select(Case.id))
            with pytest.raises(cases.Conflict) as illegal:
                cases.change_status("demo", case_id, boss, "followed_up")
            assert illegal.value.extra["error_code"] == "illegal_transition"
            with pytest.raises(cases.Conflict):
                cases.record_follow_up(ticket["token"], 4, "")  # not resolved yet
            cases.change_status("demo", case_id, boss, "in_progress")
            change = cases.change_status("demo", case_id, boss, "resolved")
            assert change.what == "status" and change.tell_customer is True
            cases.record_follow_up(ticket["token"], 4, "fixed")
            with pytest.raises(cases.Conflict) as again:
                cases.record_follow_up(ticket["token"], 1, "no")
            assert again.value.extra["error_code"] == "already_answered"
            row = db.session.get(Case, case_id)
            assert (row.follow_up_stars, row.follow_up_comment, row.status) == (
                4,
                "fixed",
                CaseStatus.FOLLOWED_UP,
            )
            tally = report(db.session.scalar(select(Store).where(Store.code == "demo"))).total
            assert (tally.cases, tally.resolved, tally.on_time, tally.satisfaction) == (
                1,
                1,
                1,
                4.0,
            )
        assert answer_url  # the token is the customer's only key

    def test_unknown_and_foreign_cases_are_not_found(self, app: Flask, api: Api) -> None:
        complain(api)
        with app.app_context():
            from backend.stores.seed import seed_demo  # noqa: F401  (demo is the only store)

            boss = manager(app)
            case_id = db.session.scalar(select(Case.id))
            for bad in (0, 10**30, case_id + 1000):
                with pytest.raises(cases.NotFound):
                    cases.add_note("demo", bad, boss, "hello")
            clerk = db.session.scalar(select(User).where(User.username == "tester"))
            with pytest.raises(cases.Forbidden):
                cases.add_note("demo", case_id, clerk, "hello")
            with pytest.raises(cases.BadInput):
                cases.add_note("demo", case_id, boss, "x" * 1001)
            with pytest.raises(cases.BadInput):
                cases.add_note("demo", case_id, boss, "nul\x00")


def test_contact_masked_for_other_staff_and_erased_with_retention_counts_kept(
    app: Flask, api: Api, clock: ManualClock
) -> None:
    complain(api)
    with app.app_context():
        boss = manager(app)
        clerk = db.session.scalar(select(User).where(User.username == "tester"))
        row = db.session.scalar(select(Case))
        assert contact_of(boss, row) == ("张三", "13812345678")
        assert contact_of(clerk, row) == ("张*", "138****5678")
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        db.session.rollback()
    clock.advance(days=29)
    with app.app_context():
        sweep(store_id)
        assert db.session.scalar(select(Case.contact_phone)) == "13812345678"
    clock.advance(days=2)
    with app.app_context():
        sweep(store_id)
        row = db.session.scalar(select(Case))
        assert (row.contact_name, row.contact_phone, row.contact_erased) == ("", "", True)
        assert (row.category, row.number) == ("billing", "TS-20261126-0001")
        assert db.session.scalar(select(func.count()).select_from(Case)) == 1


def test_the_status_page_shows_the_case_and_takes_one_answer_after_resolution(
    app: Flask, api: Api, client: FlaskClient
) -> None:
    ticket, _ = complain(api)
    view = client.get(f"/api/v1/tickets/{ticket['token']}").json
    assert view["case"] == {
        "number": "TS-20261126-0001",
        "status": "open",
        "promised_by": "2026-11-29",
        "can_answer": False,
        "answered": False,
    }
    assert "13812345678" not in str(view) and "张三" not in str(view)
    url = f"/api/v1/tickets/{ticket['id']}/case-answer"
    early = client.post(url, json={"token": ticket["token"], "stars": 5})
    assert early.status_code == 409 and early.json["error"] == "not_resolved"
    with app.app_context():
        boss = manager(app)
        cases.change_status("demo", db.session.scalar(select(Case.id)), boss, "resolved")
    assert client.get(f"/api/v1/tickets/{ticket['token']}").json["case"]["can_answer"] is True
    for bad in ({"token": ticket["token"], "stars": 9}, {"token": "nope", "stars": 3}):
        refused = client.post(url, json=bad)
        assert refused.status_code in (400, 404) and refused.json["message"]
    saved = client.post(url, json={"token": ticket["token"], "stars": 5, "comment": "ok"})
    assert saved.status_code == 201 and saved.json == {"stars": 5, "comment": "ok"}
    twice = client.post(url, json={"token": ticket["token"], "stars": 1})
    assert twice.status_code == 409 and twice.json["error"] == "already_answered"
    assert twice.json["message"]
    answered = client.get(f"/api/v1/tickets/{ticket['token']}").json["case"]
    assert (answered["status"], answered["answered"]) == ("followed_up", True)


def test_without_consent_the_status_page_shows_no_promised_date(
    api: Api, client: FlaskClient
) -> None:
    ticket, _ = complain(api, COMPLAINT | {"consent": False})
    case = client.get(f"/api/v1/tickets/{ticket['token']}").json["case"]
    assert case["number"] == "TS-20261126-0001" and case["promised_by"] is None


def test_an_open_status_page_hears_the_case_move(app: Flask, api: Api) -> None:
    """The case is on the ticket's view: a change of status or date reaches the open page at
    once (in its language), without a reload and without moving the queue."""
    ticket, _ = complain(api)
    page = socketio.test_client(app, auth={"ticket": ticket["token"], "lang": "en"})
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    page.get_received()
    display.get_received()
    with app.app_context():
        boss = manager(app)
        case_id = db.session.scalar(select(Case.id))
        cases.change_status("demo", case_id, boss, "resolved")
    views = [m["args"][0]["ticket"] for m in page.get_received() if m["name"] == "ticket"]
    assert [v["case"]["status"] for v in views] == ["resolved"]
    assert views[0]["case"]["can_answer"] is True
    assert views[0]["store_name"] == "Demo Business Hall"
    assert display.get_received() == []  # nothing in the queue moved: no store event
    with app.app_context():
        later = date(2026, 12, 4)
        cases.change_promise("demo", case_id, manager(app, "boss2"), later, "parts on order")
    views = [m["args"][0]["ticket"] for m in page.get_received() if m["name"] == "ticket"]
    assert [v["case"]["promised_by"] for v in views] == ["2026-12-04"]
