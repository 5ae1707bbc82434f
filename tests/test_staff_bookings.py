"""Appointments for staff (/s/<store>/appointments), through HTTP as a browser sends the forms:
the list by day, service and slot; search by code or phone digits with masked names and phones;
check-in on the customer's behalf (a ticket in the queue), a booking for a caller (the phone
page's rules), a move or a cancel with a reason the customer's page shows in their language; each
audited; bad input, another store's clerk, a second click and a stale list change nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.bookings.models import Appointment
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Ticket
from backend.policy import Role
from tests.factories import Factory, check_in
from tests.test_manager import login

PAGE = "/s/demo/appointments"
TODAY_10 = "2026-11-26T02:00:00Z"  # the clock fixture: Thursday 2026-11-26 09:00 in Shanghai
TOMORROW_10 = "2026-11-27T02:00:00Z"
PHONE = "13900001234"


@pytest.fixture
def clerk(app: Flask, make: Factory) -> FlaskClient:
    make.user("desk", "demo", Role.CLERK)
    client = app.test_client()
    assert login(client, "desk").status_code == 302
    return client


@pytest.fixture
def booked(make: Factory) -> dict[str, Any]:
    return make.appointment(TODAY_10, phone=PHONE, name="王小明")


def at(clock: ManualClock, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, 11, 26, hour - 8, minute, tzinfo=UTC))


def row(app: Flask, code: str) -> Appointment:
    with app.app_context():
        found = db.session.scalar(select(Appointment).where(Appointment.code == code))
        assert found is not None
        db.session.expunge(found)
        return found


def booking_id(app: Flask, code: str) -> int:
    return row(app, code).id


def audit(app: Flask) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        db.session.expunge_all()
        return list(rows)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def seen_of(html: str, ident: int) -> str:
    """The `seen` of the booking's form on the page as shown."""
    found = re.search(
        rf'/appointments/{ident}/[a-z-]+[^"]*">\s*<input[^>]+value="([^"]+)">\s*'
        r'<input type="hidden" name="seen" value="([^"]+)"',
        html,
    )
    assert found is not None, html
    return found[2]


def post_check_in(client: FlaskClient, app: Flask, code: str, seen: str | None = None) -> Any:
    ident = booking_id(app, code)
    html = client.get(f"{PAGE}?q={code}").get_data(as_text=True)
    data = {"csrf_token": csrf(html), "seen": seen or seen_of(html, ident)}
    return client.post(f"{PAGE}/{ident}/check-in", data=data)


def detail_form(client: FlaskClient, app: Flask, code: str) -> tuple[int, str, dict[str, str]]:
    ident = booking_id(app, code)
    html = client.get(f"{PAGE}/{ident}").get_data(as_text=True)
    seen = re.search(r'name="seen" value="([^"]+)"', html)
    assert seen is not None, html
    return ident, html, {"csrf_token": csrf(html), "seen": seen[1]}


# --- the list and the search ---------------------------------------------------------------------


def test_the_list_groups_by_day_service_and_slot_with_counts_and_masks(
    app: Flask, clerk: FlaskClient, make: Factory, booked: dict
) -> None:
    make.appointment("2026-11-26T02:15:00Z", phone="13900005678", name="Li Lei")
    make.appointment(TOMORROW_10, phone="13900009999")
    html = clerk.get(f"{PAGE}?lang=en").get_data(as_text=True)
    assert "2026-11-26" in html and "2026-11-27" in html
    assert html.index("2026-11-26") < html.index("2026-11-27")
    assert "10:00–10:15" in html and "10:15–10:30" in html  # the slots, each with its count
    assert html.count("1 of 1 booked") == 3
    assert "139****1234" in html and "王*" in html and "L* L**" in html
    assert PHONE not in html and "王小明" not in html and "Li Lei" not in html
    assert booked["code"] in html and "Awaiting check-in" in html
    zh = clerk.get(f"{PAGE}?lang=zh").get_data(as_text=True)
    assert "待签到" in zh and "Awaiting check-in" not in zh


def test_search_by_code_and_by_last_four_digits(
    app: Flask, clerk: FlaskClient, make: Factory, booked: dict
) -> None:
    other = make.appointment(TOMORROW_10, phone="13900005678")
    by_code = clerk.get(f"{PAGE}?q={booked['code'].lower()}&lang=en").get_data(as_text=True)
    found = by_code[by_code.index('id="sb-found"') :].split("</table>")[0]
    assert booked["code"] in found and other["code"] not in found
    by_phone = clerk.get(f"{PAGE}?q=5678&lang=en").get_data(as_text=True)
    found = by_phone[by_phone.index('id="sb-found"') :].split("</table>")[0]
    assert other["code"] in found and booked["code"] not in found
    none = clerk.get(f"{PAGE}?q=0000&lang=en").get_data(as_text=True)
    assert "No booking from today on matches 0000." in none
    long = clerk.get(f"{PAGE}?q={'9' * 40}&lang=en")
    assert long.status_code == 200 and "At most 16 characters." in long.get_data(as_text=True)


# --- check-in ------------------------------------------------------------------------------------


def test_staff_check_in_makes_a_queued_ticket_and_a_second_click_is_refused(
    app: Flask, clerk: FlaskClient, booked: dict, clock: ManualClock
) -> None:
    at(clock, 9, 50)
    ident = booking_id(app, booked["code"])
    html = clerk.get(f"{PAGE}?q={booked['code']}").get_data(as_text=True)
    seen = seen_of(html, ident)
    response = clerk.post(f"{PAGE}/{ident}/check-in", data={"csrf_token": csrf(html), "seen": seen})
    assert response.status_code == 302
    now = row(app, booked["code"])
    assert now.status == "checked_in" and now.ticket_id is not None
    with app.app_context():
        ticket = db.session.get(Ticket, now.ticket_id)
        assert ticket is not None
        assert (ticket.status, ticket.lane, ticket.label) == ("waiting", "appointment", "Y001")
    page = clerk.get(PAGE).get_data(as_text=True)  # flashed in the language of the click
    assert "已签到：Y001 号已进入排队。" in page
    (entry,) = audit(app)
    assert entry.action == "booking_checked_in" and entry.after == {
        "status": "checked_in",
        "ticket": "Y001",
    }
    # The same form again (a second click): 409, the fresh state, no second ticket.
    again = clerk.post(
        f"{PAGE}/{ident}/check-in?lang=en", data={"csrf_token": csrf(html), "seen": seen}
    )
    assert again.status_code == 409
    text = again.get_data(as_text=True)
    assert "This booking changed meanwhile." in text and "Checked in · Y001" in text
    with app.app_context():
        assert db.session.query(Ticket).count() == 1
    assert len(audit(app)) == 1
    # The kiosk, too, says it is done.
    assert check_in(clerk, booked["code"]).json["error"] == "already_checked_in"


def test_a_list_gone_stale_at_the_kiosk_gets_409_and_no_double_check_in(
    app: Flask, clerk: FlaskClient, client: FlaskClient, booked: dict, clock: ManualClock
) -> None:
    at(clock, 9, 50)
    ident = booking_id(app, booked["code"])
    html = clerk.get(PAGE).get_data(as_text=True)
    seen = seen_of(html, ident)
    assert check_in(client, booked["code"]).status_code == 201  # at the kiosk meanwhile
    late = clerk.post(f"{PAGE}/{ident}/check-in", data={"csrf_token": csrf(html), "seen": seen})
    assert late.status_code == 409 and "已签到" in late.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Ticket).count() == 1
    assert audit(app) == []


def test_check_in_outside_the_window_is_refused_in_words(
    app: Flask, clerk: FlaskClient, booked: dict, clock: ManualClock
) -> None:
    at(clock, 9, 0)
    response = post_check_in(clerk, app, booked["code"])
    assert response.status_code == 409
    assert "09:45" in response.get_data(as_text=True)
    assert row(app, booked["code"]).status == "booked"


# --- booking for a caller ------------------------------------------------------------------------


def book_form(clerk: FlaskClient, **changes: str) -> dict[str, str]:
    html = clerk.get(PAGE).get_data(as_text=True)
    data = {
        "csrf_token": csrf(html),
        "service": "C",
        "day": "2026-11-27",
        "time": "10:00",
        "name": "张三",
        "phone": "13900004321",
        "consent": "y",
    }
    return data | changes


def test_book_for_a_caller_with_consent_by_phone_and_the_phone_limit(
    app: Flask, clerk: FlaskClient
) -> None:
    response = clerk.post(f"{PAGE}/book", data=book_form(clerk))
    assert response.status_code == 302
    with app.app_context():
        made = db.session.scalar(select(Appointment).where(Appointment.phone == "13900004321"))
        assert made is not None
        assert made.slot_start == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        assert made.name == "张三" and made.status == "booked"
        code = made.code
    assert code in response.headers["Location"]
    (entry,) = audit(app)
    assert entry.action == "booking_made" and entry.after is not None
    assert entry.after["consent"] == "by phone to staff" and entry.actor_name
    # The same phone again on that day: the per-phone limit, as on the phone's page.
    again = clerk.post(f"{PAGE}/book?lang=en", data=book_form(clerk, time="11:00"))
    assert again.status_code == 409
    assert "This number already has a booking on that day." in again.get_data(as_text=True)
    assert len(audit(app)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"consent": ""}, "Please ask the caller and confirm that they agreed."),
        ({"phone": "123"}, "Please enter a valid mobile number."),
        ({"time": "10:07"}, "There is no such time to book."),
        ({"day": "2027-13-40"}, "Not a valid date value."),
        ({"name": "x" * 300}, "At most 40 characters."),
        ({"service": "ZZ"}, "Not a valid choice."),
        ({"day": "2099-01-01"}, "This day cannot be booked."),
        ({"day": "0001-01-01"}, "This day cannot be booked."),
        ({"time": "25:00"}, "Not a valid time value."),
    ],
)
def test_bad_bookings_get_a_field_error_and_change_nothing(
    app: Flask, clerk: FlaskClient, changes: dict[str, str], message: str
) -> None:
    data = {k: v for k, v in book_form(clerk, **changes).items() if v}
    response = clerk.post(f"{PAGE}/book?lang=en", data=data)
    assert 400 <= response.status_code < 500
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Appointment).count() == 0
    assert audit(app) == []


# --- move and cancel -----------------------------------------------------------------------------


def test_staff_cancel_with_a_reason_the_customer_reads_in_their_language(
    app: Flask, clerk: FlaskClient, client: FlaskClient, booked: dict
) -> None:
    ident, _html, data = detail_form(clerk, app, booked["code"])
    data |= {"reason": "staff_unavailable", "note": "请改约。"}
    response = clerk.post(f"{PAGE}/{ident}/cancel", data=data)
    assert response.status_code == 302
    now = row(app, booked["code"])
    assert (now.status, now.store_action) == ("cancelled", "cancelled")
    token = booked["manage_url"].rsplit("/", 1)[1]
    en = client.get(f"/b/{token}?lang=en").get_data(as_text=True)
    assert "The store cancelled this appointment." in en
    assert "The staff for this service are not available at that time. 请改约。" in en
    zh = client.get(f"/b/{token}?lang=zh").get_data(as_text=True)
    assert "门店已取消此预约" in zh and "The staff" not in zh
    (entry,) = audit(app)
    assert entry.action == "booking_cancelled" and entry.target == booked["code"]
    assert entry.after == {"status": "cancelled", "reason": "staff_unavailable", "note": "请改约。"}
    # A second click: 409, nothing more written.
    again = clerk.post(f"{PAGE}/{ident}/cancel?lang=en", data=data)
    assert again.status_code == 409 and "changed meanwhile" in again.get_data(as_text=True)
    assert len(audit(app)) == 1


def test_staff_move_to_a_free_slot_and_the_customer_page_says_so(
    app: Flask, clerk: FlaskClient, client: FlaskClient, booked: dict
) -> None:
    ident, html, data = detail_form(clerk, app, booked["code"])
    assert 'value="2026-11-27T03:00:00+00:00"' in html  # tomorrow 11:00 is offered
    data |= {"slot": "2026-11-27T03:00:00+00:00", "reason": "customer_request", "note": ""}
    response = clerk.post(f"{PAGE}/{ident}/move", data=data)
    assert response.status_code == 302
    now = row(app, booked["code"])
    assert now.slot_start == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert now.moved_from == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    assert (now.status, now.store_action, str(now.day)) == ("booked", "moved", "2026-11-27")
    token = booked["manage_url"].rsplit("/", 1)[1]
    en = unescape(client.get(f"/b/{token}?lang=en").get_data(as_text=True))
    assert "It was on 2026-11-26 at 10:00." in en and "At the customer's request." in en
    zh = client.get(f"/b/{token}?lang=zh").get_data(as_text=True)
    assert "应客户要求" in zh
    (entry,) = audit(app)
    assert entry.action == "booking_moved"
    assert (entry.before, entry.after) == (
        {"slot": "2026-11-26 10:00"},
        {"slot": "2026-11-27 11:00", "reason": "customer_request"},
    )
    # The old form again (stale): 409 and the booking stays where it was moved.
    data["slot"] = "2026-11-27T04:00:00+00:00"
    assert clerk.post(f"{PAGE}/{ident}/move", data=data).status_code == 409
    assert row(app, booked["code"]).slot_start == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "slot",
    [
        "nonsense",
        "2026-11-27T03:00:00",
        "0001-01-01T00:00:00+14:00",
        "x" * 5000,
        "2026-11-27T03:07:00+00:00",
        "2099-01-01T02:00:00+00:00",
    ],
)
def test_a_bad_new_time_is_refused_and_changes_nothing(
    app: Flask, clerk: FlaskClient, booked: dict, slot: str
) -> None:
    ident, _html, data = detail_form(clerk, app, booked["code"])
    data |= {"slot": slot, "reason": "other"}
    response = clerk.post(f"{PAGE}/{ident}/move?lang=en", data=data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Choose a new time." in text or "cannot be booked" in text or "no such time" in text
    assert row(app, booked["code"]).slot_start == datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    assert audit(app) == []


def test_a_customer_cancel_meanwhile_makes_the_staff_form_stale(
    app: Flask, clerk: FlaskClient, client: FlaskClient, booked: dict
) -> None:
    ident, _html, data = detail_form(clerk, app, booked["code"])
    token = booked["manage_url"].rsplit("/", 1)[1]
    assert client.post(f"/api/v1/bookings/{token}/cancel").status_code == 200
    response = clerk.post(f"{PAGE}/{ident}/cancel?lang=en", data=data | {"reason": "other"})
    assert response.status_code == 409
    assert "Cancelled" in response.get_data(as_text=True)
    assert row(app, booked["code"]).store_action is None
    assert audit(app) == []


def test_an_unknown_reason_or_booking_is_refused(
    app: Flask, clerk: FlaskClient, booked: dict
) -> None:
    ident, _html, data = detail_form(clerk, app, booked["code"])
    bad = clerk.post(f"{PAGE}/{ident}/cancel?lang=en", data=data | {"reason": "whim"})
    assert bad.status_code == 400 and "Not a valid choice." in bad.get_data(as_text=True)
    assert clerk.get(f"{PAGE}/99999999").status_code == 404
    assert clerk.get(f"{PAGE}/{10**30}").status_code == 404
    assert row(app, booked["code"]).status == "booked"


# --- who may ------------------------------------------------------------------------------------


def test_a_clerk_of_another_store_can_neither_see_nor_change(
    app: Flask, make: Factory, booked: dict, clerk: FlaskClient
) -> None:
    from backend.stores.seed import seed_demo

    with app.app_context():
        seed_demo("north", with_staff=False)
    make.user("away", "north", Role.CLERK)
    other = app.test_client()
    assert login(other, "away").status_code == 302
    ident, _html, data = detail_form(clerk, app, booked["code"])
    assert other.get(PAGE).status_code == 403
    assert other.get(f"{PAGE}/{ident}").status_code == 403
    page = other.get("/s/north/appointments").get_data(as_text=True)
    assert booked["code"] not in page
    # Through their own store's address, another store's booking is unknown.
    assert other.get(f"/s/north/appointments/{ident}").status_code == 404
    own = {"csrf_token": csrf(page), "reason": "other"}  # a valid form of their own session
    refused = other.post(f"/s/north/appointments/{ident}/cancel", data=data | own)
    assert refused.status_code == 404
    assert row(app, booked["code"]).status == "booked"
    assert audit(app) == []


def test_logged_out_is_sent_to_log_in(client: FlaskClient, booked: dict) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert booked["code"] not in client.get(PAGE, follow_redirects=True).get_data(as_text=True)


def test_managers_and_admins_use_it_and_the_change_log_shows_staff_changes(
    app: Flask, make: Factory, booked: dict, clock: ManualClock
) -> None:
    make.user("boss", "demo", Role.MANAGER)
    make.user("root", None, Role.ADMIN)
    manager, admin = app.test_client(), app.test_client()
    assert login(manager, "boss").status_code == 302
    assert login(admin, "root").status_code == 302
    overview = manager.get("/s/demo/manage?lang=en").get_data(as_text=True)
    assert 'id="open-appointments" href="/s/demo/appointments"' in overview
    assert booked["code"] in admin.get(PAGE).get_data(as_text=True)
    at(clock, 9, 50)
    assert post_check_in(manager, app, booked["code"]).status_code == 302
    assert row(app, booked["code"]).status == "checked_in"
    log = manager.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    assert "Booking checked in by staff" in log and booked["code"] in log
