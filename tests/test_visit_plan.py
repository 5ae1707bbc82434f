"""A visit for several services (补换卡 then 业务办理): one number; when a part is completed the
ticket waits for the next service with its label, its link and its first issue time (its place
for fairness); the phone shows the plan; cancelling ends the rest; the reports count each part;
bad plans are refused in the user's language; two clerks completing the same part at once send
it on once. On both tiers."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import Role
from backend.queue.models import Ticket, TicketEvent, VisitPart
from backend.reports.tables import build_report
from backend.stores.models import Counter, Store
from tests.conftest import Api
from tests.factories import Factory, staff_headers


def plan_of(view: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(p["step"], p["service"], p["state"]) for p in view["plan"]]


def ticket_row(app: Flask, ticket_id: int) -> Ticket:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket is not None
        db.session.expunge(ticket)
        return ticket


def parts(app: Flask, ticket_id: int) -> list[VisitPart]:
    with app.app_context():
        found = list(
            db.session.scalars(
                select(VisitPart).where(VisitPart.ticket_id == ticket_id).order_by(VisitPart.step)
            )
        )
        for part in found:
            db.session.expunge(part)
        return found


def test_one_number_for_two_services_and_the_plan_shown(make: Factory, api: Api) -> None:
    made = make.ticket("B", then=["C"])
    assert made["label"].startswith("B") and made["service"] == "B"
    assert plan_of(made) == [(1, "B", "current"), (2, "C", "next")]
    zh = api.client.get(f"/api/v1/tickets/{made['token']}?lang=zh").json
    en = api.client.get(f"/api/v1/tickets/{made['token']}?lang=en").json
    assert [p["service_name"] for p in zh["plan"]] == ["补换卡", "业务办理"]
    assert [p["service_name"] for p in en["plan"]] == ["SIM card replacement", "Plan change"]
    single = make.ticket("A")
    assert single["plan"] == []


def test_the_next_part_keeps_the_number_and_the_first_issue_time(
    app: Flask, make: Factory, api: Api, clock: ManualClock
) -> None:
    visit = make.ticket("B", then=["C"])
    clock.advance(minutes=1)
    later = make.ticket("C")  # plan change, issued after the visit's first issue
    first = ticket_row(app, visit["id"])
    called = api.call_next(1)  # counter 1: fast lane only
    assert called["ticket"]["id"] == visit["id"]
    assert api.act(visit["id"], "start").status_code == 200
    clock.advance(minutes=6)
    done = api.act(visit["id"], "complete", outcome="done")
    assert done.status_code == 200
    body = done.json
    assert (body["status"], body["service"], body["lane"]) == ("waiting", "C", "standard")
    assert body["label"] == visit["label"] and body["counter"] is None
    assert plan_of(body) == [(1, "B", "done"), (2, "C", "current")]
    row = ticket_row(app, visit["id"])
    assert row.issued_at == first.issued_at and row.queue_at == first.queue_at
    assert row.token == first.token and row.plan_step == 1 and row.part_at == clock.now()
    (part,) = parts(app, visit["id"])
    assert (part.step, part.outcome, part.finished_at) == (0, "done", clock.now())
    with app.app_context():
        plan_change = db.session.scalar(select(Ticket.service_id).where(Ticket.id == later["id"]))
        counter_1 = db.session.scalar(
            select(Counter.id).where(Counter.store_id == row.store_id, Counter.number == 1)
        )
    assert row.service_id == plan_change and part.service_id == first.service_id
    assert (part.queued_at, part.counter_id) == (first.issued_at, counter_1)
    assert part.called_at is not None and part.started_at is not None
    # Its place: the visit's first issue came before the later plan change's.
    status = api.client.get(f"/api/v1/tickets/{visit['token']}").json
    assert status["status"] == "waiting" and status["position"] == 0
    assert api.call_next(3)["ticket"]["id"] == visit["id"]
    assert api.act(visit["id"], "start").status_code == 200
    clock.advance(minutes=8)
    final = api.act(visit["id"], "complete", outcome="done").json
    assert final["status"] == "done"
    assert plan_of(final) == [(1, "B", "done"), (2, "C", "done")]
    assert len(parts(app, visit["id"])) == 1  # the last part is the ticket's row itself
    with app.app_context():
        moves = db.session.scalar(
            select(func.count())
            .select_from(TicketEvent)
            .where(TicketEvent.ticket_id == visit["id"], TicketEvent.action == "next_part")
        )
    assert moves == 1


def test_calling_next_at_the_counter_sends_the_visit_on_too(
    app: Flask, make: Factory, api: Api
) -> None:
    visit = make.ticket("B", then=["C"])
    api.call_next(2)  # counter 2: fast, then standard
    assert api.act(visit["id"], "start").status_code == 200
    other = make.ticket("A")
    # "Forgot to press complete": the next call ends the part, and the visit waits for C.
    assert api.call_next(2)["ticket"]["id"] == other["id"]
    row = ticket_row(app, visit["id"])
    assert (row.status, row.plan_step) == ("waiting", 1)
    (part,) = parts(app, visit["id"])
    assert part.outcome == "done"


def test_cancelling_ends_the_rest_of_the_plan(app: Flask, make: Factory, api: Api) -> None:
    visit = make.ticket("B", then=["C", "D"])
    assert plan_of(visit) == [(1, "B", "current"), (2, "C", "next"), (3, "D", "next")]
    answer = api.act(visit["id"], "cancel")
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    assert parts(app, visit["id"]) == []
    assert api.client.get(f"/api/v1/tickets/{visit['token']}").json["status"] == "cancelled"


def test_a_visit_of_three_goes_through_each_part(app: Flask, make: Factory, api: Api) -> None:
    visit = make.ticket("A", then=["B", "C"])
    for counter, service in ((1, "A"), (1, "B"), (3, "C")):
        called = api.call_next(counter)["ticket"]
        assert (called["id"], called["service"]) == (visit["id"], service)
        assert api.act(visit["id"], "start").status_code == 200
        api.act(visit["id"], "complete", outcome="done")
    assert ticket_row(app, visit["id"]).status == "done"
    assert [p.step for p in parts(app, visit["id"])] == [0, 1]


@pytest.mark.parametrize(
    ("then", "status", "code", "zh", "en"),
    [
        (["Z"], 400, "unknown_service", "未知业务", "Unknown service"),
        (["B"], 400, "plan_repeats", "同一业务", "Each service only once"),
        (["C", "C"], 400, "plan_repeats", "同一业务", "Each service only once"),
        (["V"], 403, "staff_issues_this_service", "工作人员", "ask our staff"),
    ],
)
def test_bad_plans_are_refused_in_the_user_s_language(
    app: Flask, api: Api, then: list[str], status: int, code: str, zh: str, en: str
) -> None:
    from tests.factories import kiosk_headers

    for lang, text in (("zh", zh), ("en", en)):
        answer = api.client.post(
            f"/api/v1/stores/demo/tickets?lang={lang}",
            json={"service": "B", "then": then},
            headers=kiosk_headers(app),
        )
        assert answer.status_code == status, answer.json
        assert answer.json["error"] == code and text in answer.json["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_more_than_three_services_and_bad_codes_are_refused(app: Flask, api: Api) -> None:
    from tests.factories import kiosk_headers

    for then in (["C", "D", "E"], ["C" * 33], [""], ["C\x00"], "C"):
        answer = api.client.post(
            "/api/v1/stores/demo/tickets?lang=en",
            json={"service": "B", "then": then},
            headers=kiosk_headers(app),
        )
        assert answer.status_code in (400, 422), (then, answer.json)
        assert answer.json["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_second_click_on_complete_sends_the_visit_on_once(
    app: Flask, make: Factory, api: Api
) -> None:
    visit = make.ticket("B", then=["C"])
    api.call_next(1)
    assert api.act(visit["id"], "start").status_code == 200
    assert api.act(visit["id"], "complete").status_code == 200
    again = api.act(visit["id"], "complete")
    assert again.status_code == 409 and again.json["status"] == "waiting"
    assert len(parts(app, visit["id"])) == 1


def test_two_clerks_completing_the_same_part_at_once_send_it_on_once(
    app: Flask, make: Factory, api: Api
) -> None:
    visit = make.ticket("B", then=["C"])
    api.call_next(1)
    assert api.act(visit["id"], "start").status_code == 200
    manager = staff_headers(app, "boss", "demo", Role.MANAGER)  # managers may step in
    results: list[int] = []
    barrier = threading.Barrier(2)

    def complete(headers: dict[str, str]) -> None:
        client = app.test_client()
        barrier.wait()
        answer = client.post(f"/api/v1/tickets/{visit['id']}/complete", headers=headers)
        results.append(answer.status_code)

    threads = [threading.Thread(target=complete, args=(h,)) for h in (api.headers, manager)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    assert len(parts(app, visit["id"])) == 1
    assert ticket_row(app, visit["id"]).plan_step == 1


def test_the_reports_count_each_part_for_its_own_service(
    app: Flask, make: Factory, api: Api, clock: ManualClock
) -> None:
    visit = make.ticket("B", then=["C"])
    clock.advance(minutes=2)
    api.call_next(1)  # waited 2 min for B
    assert api.act(visit["id"], "start").status_code == 200
    clock.advance(minutes=5)  # B served in 5 min
    api.act(visit["id"], "complete", outcome="done")
    clock.advance(minutes=3)
    api.call_next(3)  # waited 3 min for C, from the end of its first part
    assert api.act(visit["id"], "start").status_code == 200
    clock.advance(minutes=9)  # C served in 9 min
    api.act(visit["id"], "complete", outcome="follow_up")
    with app.test_request_context("/?lang=en"):
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        day: date = ticket_row(app, visit["id"]).service_day
        report = build_report(store, day, day, "en", clock.now())
    by_service = {row[0]: row[1:] for row in report.tables["by_service"].rows}
    # arrivals, called, wait mean, median, p90, within target, served, service mean, …
    sim = by_service["SIM card replacement"]
    plan = by_service["Plan change"]
    assert sim[:3] == [1, 1, pytest.approx(2.0)] and sim[6:8] == [1, pytest.approx(5.0)]
    assert plan[:3] == [1, 1, pytest.approx(3.0)] and plan[6:8] == [1, pytest.approx(9.0)]
    outcomes = {row[0]: row[1] for row in report.tables["outcomes"].rows}
    assert outcomes["Outcome: Done"] == 1 and outcomes["Outcome: Needs a follow-up visit"] == 1
    counters = {row[0]: row[1] for row in report.tables["by_counter"].rows}
    assert counters == {"Counter 1": 1, "Counter 3": 1}
    # Nobody was at a counter when it was issued: its first part had no estimate to promise;
    # the second part was never promised anything, and is not counted as "given no estimate".
    summary = dict(report.tables["summary"].rows)
    assert summary["Tickets issued"] == "2"
    assert summary["Estimate: tickets given no estimate"] == "1"


def test_a_transfer_changes_the_part_being_served_and_keeps_the_rest(
    app: Flask, make: Factory, api: Api
) -> None:
    visit = make.ticket("B", then=["C"])
    api.call_next(1)
    moved = api.act(visit["id"], "transfer", service="A")
    assert moved.status_code == 200
    assert plan_of(moved.json) == [(1, "A", "current"), (2, "C", "next")]
    assert api.call_next(1)["ticket"]["id"] == visit["id"]
    assert api.act(visit["id"], "start").status_code == 200
    after = api.act(visit["id"], "complete").json
    assert (after["status"], after["service"]) == ("waiting", "C")
    assert plan_of(after) == [(1, "A", "done"), (2, "C", "current")]
