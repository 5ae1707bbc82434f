"""A counter's own name, the services it may serve, held for appointments; a service's own outcome
codes. The rules in the pure policy, then each through the console's forms and the next command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.extensions import db
from backend.policy import (
    CounterView,
    Lane,
    QueueItem,
    QueuePolicy,
    Reason,
    choose_next,
    may_call,
)
from backend.queue.models import Ticket
from backend.stores.models import Counter, Service
from tests.factories import Factory
from tests.test_manager import DEMO_COUNTER, audit_count, field_error, form_of, manager, submit

__all__ = ["manager"]  # the fixture, imported for this module's tests

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def item(ticket_id: int, lane: Lane, service: str, minutes_ago: int, **extra: Any) -> QueueItem:
    return QueueItem(ticket_id, lane, T0 - timedelta(minutes=minutes_ago), service, **extra)


# --- the policy ------------------------------------------------------------------------------


def test_a_counter_limited_to_some_services_skips_the_others_of_its_lanes() -> None:
    broadband = CounterView(5, (Lane.STANDARD,), services=frozenset({"D"}))
    plan = item(1, Lane.STANDARD, "C", 30)  # older, but not broadband
    line = item(2, Lane.STANDARD, "D", 5)
    decision = choose_next(broadband, [plan, line], QueuePolicy(), T0)
    assert decision.ticket_id == 2
    assert not may_call(broadband, plan, QueuePolicy(), T0)
    assert may_call(broadband, line, QueuePolicy(), T0)
    # Even idle, with work conservation, it helps only with what it may serve.
    assert choose_next(broadband, [plan], QueuePolicy(), T0).ticket_id is None


def test_a_customer_sent_to_a_limited_counter_is_served_there() -> None:
    broadband = CounterView(5, (Lane.STANDARD,), services=frozenset({"D"}))
    sent = item(1, Lane.STANDARD, "C", 1, only_counter=5)
    decision = choose_next(broadband, [sent], QueuePolicy(), T0)
    assert (decision.ticket_id, decision.reason) == (1, Reason.TRANSFERRED_HERE)


def test_a_counter_held_for_appointments_calls_booked_customers_only() -> None:
    held = CounterView(6, (Lane.APPOINTMENT, Lane.STANDARD), reserved=True)
    walk_in = item(1, Lane.STANDARD, "C", 40)
    booked = item(2, Lane.APPOINTMENT, "C", 1, due_at=T0 + timedelta(minutes=20))
    # Work conservation would let an idle counter take the walk-in: a held one waits.
    assert choose_next(held, [walk_in], QueuePolicy(), T0).ticket_id is None
    assert not may_call(held, walk_in, QueuePolicy(), T0)
    assert choose_next(held, [walk_in, booked], QueuePolicy(), T0).ticket_id == 2
    # The same counter not held takes the walk-in (its own lane).
    free = CounterView(6, (Lane.APPOINTMENT, Lane.STANDARD))
    assert choose_next(free, [walk_in], QueuePolicy(), T0).ticket_id == 1


# --- the counter form ------------------------------------------------------------------------


def counter_row(app: Flask, number: int) -> Counter:
    with app.app_context():
        row = db.session.scalar(select(Counter).where(DEMO_COUNTER, Counter.number == number))
        assert row is not None
        db.session.expunge(row)
        return row


def test_a_counters_name_services_and_hold_are_saved_logged_and_shown(
    app: Flask, manager: FlaskClient
) -> None:
    response = submit(
        manager,
        "/s/demo/manage/counters/3",
        name_zh="宽带专窗",
        name_en="Broadband desk",
        services="D",
    )
    assert response.status_code == 302
    row = counter_row(app, 3)
    assert (row.name_zh, row.name_en, row.services, row.reserved) == (
        "宽带专窗",
        "Broadband desk",
        ["D"],
        False,
    )
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry is not None and entry.action == "counter_updated"
        assert entry.before == {"name_zh": "", "name_en": "", "services": []}
        assert entry.after == {
            "name_zh": "宽带专窗",
            "name_en": "Broadband desk",
            "services": ["D"],
        }
    listing = manager.get("/s/demo/manage/counters?lang=en").get_data(as_text=True)
    assert "Broadband desk" in listing and "Only: D" in listing
    # The form opens again with what was saved.
    again = form_of(manager.get("/s/demo/manage/counters/3").get_data(as_text=True))
    assert (again["name_zh"], again["services"]) == ("宽带专窗", "D")
    # The counter terminal's header and the snapshot name it.
    terminal = manager.get("/s/demo/counter?counter=3&lang=zh").get_data(as_text=True)
    assert '<span class="c-desk-own">宽带专窗</span>' in terminal
    snapshot = manager.get("/api/v1/stores/demo/snapshot").json
    three = next(c for c in snapshot["counters"] if c["number"] == 3)
    assert (three["own_name_zh"], three["own_name_en"], three["reserved"]) == (
        "宽带专窗",
        "Broadband desk",
        False,
    )


def test_a_counter_limited_to_a_service_calls_only_it_on_the_next_command(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    plan = make.ticket("C")  # standard, the oldest
    line = make.ticket("D")  # broadband
    assert submit(manager, "/s/demo/manage/counters/3", services="D").status_code == 302
    headers = make.staff("desk")
    make.counter(headers, 3)
    called = manager.post("/api/v1/stores/demo/counters/3/call-next", headers=headers).json
    assert called["ticket"]["id"] == line["id"], called
    # The customer it may not serve is still waiting for another counter.
    with app.app_context():
        assert db.session.get(Ticket, plan["id"]).status == "waiting"


def test_a_held_counter_waits_for_appointments_instead_of_helping(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    response = submit(
        manager, "/s/demo/manage/counters/4", lane_1="appointment", lane_2="", reserved="y"
    )
    assert response.status_code == 302, field_error(response.get_data(as_text=True), "reserved")
    assert counter_row(app, 4).reserved is True
    walk_in = make.ticket("C")
    headers = make.staff("desk")
    make.counter(headers, 4)
    idle = manager.post("/api/v1/stores/demo/counters/4/call-next", headers=headers).json
    assert idle["ticket"] is None and idle["reason"] == "queue_empty", idle
    _, booked = make.checked_in("2026-11-26T02:00:00Z")
    called = manager.post("/api/v1/stores/demo/counters/4/call-next", headers=headers).json
    assert called["ticket"]["id"] == booked["id"] != walk_in["id"], called
    terminal = manager.get("/s/demo/counter?counter=4&lang=en").get_data(as_text=True)
    assert "Appointments only" in terminal


@pytest.mark.parametrize(
    ("changes", "field", "en"),
    [
        (
            {"reserved": "y"},  # counter 1 serves the fast lane only
            "reserved",
            "A counter held for appointments serves the appointment lane",
        ),
        ({"services": "Z"}, "services", "is not one of the choices"),
        ({"name_zh": "窗" * 41}, "name_zh", "40"),
    ],
)
def test_invalid_counter_settings_show_the_error_and_change_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, str], field: str, en: str
) -> None:
    before = counter_row(app, 1)
    response = submit(manager, "/s/demo/manage/counters/1?lang=en", **changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if field == "services":  # a list of checkboxes: its error is under the list
        assert en in html.split('id="services-hint"')[1].split("</fieldset>")[0]
    else:
        assert en in field_error(html, field)
    after = counter_row(app, 1)
    assert (after.name_zh, after.services, after.reserved, after.lanes) == (
        before.name_zh,
        before.services,
        before.reserved,
        before.lanes,
    )
    assert audit_count(app) == 0


# --- a service's own outcome codes -----------------------------------------------------------


def service_outcomes(app: Flask, code: str) -> list[dict[str, str]]:
    with app.app_context():
        service = db.session.scalar(
            select(Service).where(Service.code == code, Service.store.has(code="demo"))
        )
        assert service is not None
        return list(service.outcomes)


def test_a_services_outcome_codes_are_offered_and_accepted_at_the_counter(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    lines = "sim_ready, 已制卡, SIM ready\nsim_ordered，已订卡，SIM ordered"
    assert submit(manager, "/s/demo/manage/services/B", outcomes=lines).status_code == 302
    assert service_outcomes(app, "B") == [
        {"code": "sim_ready", "name_zh": "已制卡", "name_en": "SIM ready"},
        {"code": "sim_ordered", "name_zh": "已订卡", "name_en": "SIM ordered"},
    ]
    sim = make.ticket("B")
    headers = make.staff("desk")
    make.counter(headers, 1)
    api = "/api/v1/stores/demo"
    assert (
        manager.post(f"{api}/counters/1/call-next", headers=headers).json["ticket"]["id"]
        == (sim["id"])
    )
    panel = manager.get(f"{api}/counters/1?lang=en", headers=headers).json
    codes = [(o["code"], o["name"]) for o in panel["current"]["outcomes"]]
    assert codes[:4] == [
        ("done", "Done"),
        ("follow_up", "Needs a follow-up visit"),
        ("complaint", "Turned into a complaint"),
        ("referred", "Referred elsewhere"),
    ]
    assert codes[4:] == [("sim_ready", "SIM ready"), ("sim_ordered", "SIM ordered")]
    # Another service's code is not this ticket's.
    wrong = manager.post(
        f"/api/v1/tickets/{sim['id']}/complete?lang=en",
        json={"outcome": "plan_changed"},
        headers=headers,
    )
    assert wrong.status_code == 400 and wrong.json["error"] == "unknown_outcome", wrong.json
    done = manager.post(
        f"/api/v1/tickets/{sim['id']}/complete", json={"outcome": "sim_ready"}, headers=headers
    )
    assert done.status_code == 200, done.json
    with app.app_context():
        assert db.session.get(Ticket, sim["id"]).outcome == "sim_ready"


@pytest.mark.parametrize(
    ("text", "en"),
    [
        ("Plan, 改, Changed", "Line 1: write a code"),
        ("ok_1, 好", "Line 1: write a code"),
        ("a, 甲, A\n\ncomplaint, 投诉, Complaint", "Line 3: the code complaint is used already"),
        ("a, 甲, A\na, 乙, B", "Line 2: the code a is used already"),
        ("x, " + "长" * 41 + ", Long", "Line 1: a name has at most 40 characters"),
        ("\n".join(f"c{i}, 码{i}, Code {i}" for i in range(13)), "At most 12 codes"),
    ],
)
def test_bad_outcome_lines_show_the_error_and_change_nothing(
    app: Flask, manager: FlaskClient, text: str, en: str
) -> None:
    before = service_outcomes(app, "C")
    response = submit(manager, "/s/demo/manage/services/C?lang=en", outcomes=text)
    assert response.status_code == 422
    assert en in field_error(response.get_data(as_text=True), "outcomes")
    assert service_outcomes(app, "C") == before and audit_count(app) == 0
