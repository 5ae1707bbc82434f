"""Priority care (爱心) and VIP set by staff who issue a ticket for a customer: the policy calls
a priority-care customer first at the counters of its lane, and says why."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.policy import Role

from .conftest import Api
from .factories import Factory, kiosk_headers
from .test_manager import login, submit


def staff_issue(api: Api, service: str, **body: Any) -> Any:
    return api.client.post(
        "/api/v1/stores/demo/tickets",
        json={"service": service, "channel": "staff", **body},
        headers=api.headers,
    )


def test_a_priority_care_ticket_is_called_first_with_its_reason(
    api: Api, clock: ManualClock
) -> None:
    older = [api.issue("C"), api.issue("C")]  # standard business, waiting longer
    clock.advance(seconds=30)
    made = staff_issue(api, "C", level="priority_care", note="Walks with a stick")
    clock.advance(seconds=1)
    assert made.status_code == 201, made.json
    cared = made.json
    assert cared["lane"] == "standard" and cared["position"] == 0  # the store calls them first
    answer = api.call_next(3)  # counter 3 serves the standard lane first
    assert answer["ticket"]["label"] == cared["label"]
    assert answer["reason"] == "priority_care"
    assert answer["message"].startswith("爱心优先")  # the reason, in the clerk's language
    snapshot = api.snapshot()
    counter = next(c for c in snapshot["counters"] if c["number"] == 3)
    assert [t["label"] for t in snapshot["waiting"]] == [t["label"] for t in older]
    detail = api.client.get("/api/v1/stores/demo/counters/3", headers=api.headers).json
    assert detail["current"]["priority_care"] is True
    assert detail["current"]["note"] == "Walks with a stick"
    assert counter["current"]["label"] == cared["label"]


def test_a_vip_level_puts_the_ticket_in_the_vip_lane(api: Api) -> None:
    made = staff_issue(api, "B", level="vip")
    assert made.status_code == 201, made.json
    assert made.json["lane"] == "vip" and made.json["service"] == "B"


def test_the_manager_switches_the_priority_care_rule_off_in_the_console(
    app: Flask, api: Api, make: Factory
) -> None:
    manager = app.test_client()
    make.user("boss", "demo", Role.MANAGER)
    assert login(manager, "boss").status_code == 302
    page = manager.get("/s/demo/manage/store").get_data(as_text=True)
    assert "爱心客户" in page and 'name="priority_care"' in page
    assert submit(manager, "/s/demo/manage/store", priority_care=None).status_code == 302
    first = api.issue("C")
    staff_issue(api, "C", level="priority_care")
    answer = api.call_next(3)
    assert answer["ticket"]["label"] == first["label"] and answer["reason"] != "priority_care"
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry is not None
        assert (entry.before, entry.after) == ({"priority_care": True}, {"priority_care": False})


def test_a_kiosk_or_a_phone_cannot_set_a_level_or_a_note(
    app: Flask, client: FlaskClient, api: Api
) -> None:
    for body in ({"level": "priority_care"}, {"level": "vip"}, {"note": "let me in first"}):
        refused = client.post(
            "/api/v1/stores/demo/tickets",
            json={"service": "B", **body},
            headers={**kiosk_headers(app), "Accept-Language": "en"},
        )
        assert refused.status_code == 403, refused.json
        assert refused.json["error"] == "staff_only"
        assert "staff" in refused.json["message"]
    assert api.snapshot()["waiting"] == []  # nothing was issued


def test_an_unknown_level_is_a_clear_400(api: Api) -> None:
    refused = staff_issue(api, "B", level="platinum")
    assert refused.status_code == 400
    assert api.snapshot()["waiting"] == []
