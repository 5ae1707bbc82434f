"""Priority care (爱心) and VIP set by staff who issue a ticket for a customer: the policy calls
a priority-care customer first at the counters of its lane, and says why."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from backend.core.clock import ManualClock

from .conftest import Api
from .factories import kiosk_headers


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


def test_the_store_can_switch_the_priority_care_rule_off(app: Flask, api: Api) -> None:
    from backend.extensions import db
    from backend.models import Store

    with app.app_context():
        store = db.session.scalar(db.select(Store).where(Store.code == "demo"))
        assert store is not None
        store.priority_care = False
        db.session.commit()
    first = api.issue("C")
    staff_issue(api, "C", level="priority_care")
    answer = api.call_next(3)
    assert answer["ticket"]["label"] == first["label"] and answer["reason"] != "priority_care"


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
