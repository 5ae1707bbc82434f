"""The console's holidays and special days, the time zone and the booking rules, through HTTP as a
browser sends the forms: a change takes effect on the next booking, check-in or kiosk ticket; the
bookings a change leaves outside the hours are shown before anything is saved and then cancelled
with a message or moved, in one transaction with the day, audited; the customer's page says what
the store did; invalid input shows the field's error and changes nothing; clerks get 403, a
manager of another store 404; a stale form and a booking made meanwhile are caught; and a booking
racing the manager's closing of its day is never left on a closed day unannounced."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.bookings.models import Appointment
from backend.extensions import db, socketio
from backend.policy import AppointmentStatus, Role
from backend.stores.models import Service, Store
from tests.factories import Factory, booking_body, check_in, issue_ticket, kiosk_headers
from tests.test_manager import (
    audit_count,
    csrf_of,
    field_error,
    form_of,
    login,
    store_row,
    submit,
)

DAYS = "/s/demo/manage/days"
TODAY = "2026-11-26"  # the clock fixture: Thursday 09:00 in Shanghai
TOMORROW = "2026-11-27"
AFTER = "2026-11-28"
AT_10_TOMORROW = "2026-11-27T02:00:00Z"
AT_14_TOMORROW = "2026-11-27T06:00:00Z"
AT_10_AFTER = "2026-11-28T02:00:00Z"
PHONES = ("13900000001", "13900000002", "13900000003", "13900000004")


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def manager(app: Flask, make: Factory) -> FlaskClient:
    """The demo store's manager, logged in on a client of their own."""
    make.user("boss", "demo", Role.MANAGER)
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    return client


def day_form(client: FlaskClient, url: str = DAYS) -> dict[str, Any]:
    """The add-a-day form's fields as the page offers them (closed, as the page preselects)."""
    fields = form_of(client.get(url).get_data(as_text=True))
    return fields | {"kind": "closed"}


def post_day(client: FlaskClient, url: str = DAYS, **changes: Any) -> Any:
    data = day_form(client, url)
    data.update({k: str(v) for k, v in changes.items() if v is not None})
    return client.post(url, data=data)


def decide(client: FlaskClient, page: Any, decision: str, url: str = DAYS, **changes: Any) -> Any:
    """Answer a decision page (its hidden fields, suggestions and messages as shown)."""
    data = form_of(page.get_data(as_text=True))
    data.update({k: str(v) for k, v in changes.items()})
    data["decision"] = decision
    return client.post(url, data=data)


def booked(make: Factory, start: str, service: str = "C", phone: str = PHONES[0]) -> dict:
    return make.appointment(start, service=service, phone=phone)


def token_of(booking: dict[str, Any]) -> str:
    return str(booking["manage_url"]).rsplit("/", 1)[1]


def appointment(app: Flask, code: str) -> dict[str, Any]:
    with app.app_context():
        row = db.session.scalar(select(Appointment).where(Appointment.code == code))
        assert row is not None
        return {c.name: getattr(row, c.name) for c in Appointment.__table__.columns}


def entries(app: Flask, store: str = "demo") -> list[AuditEntry]:
    with app.app_context():
        store_id = db.session.scalar(select(Store.id).where(Store.code == store))
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.store_id == store_id).order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def slots(client: FlaskClient, day: str, service: str = "C") -> dict[str, int]:
    response = client.get(f"/api/v1/stores/demo/slots?service={service}&date={day}")
    assert response.status_code == 200, response.json
    return {s["time"]: s["free"] for s in response.json["slots"]}


def service_row(app: Flask, code: str, store: str = "demo") -> dict[str, Any]:
    with app.app_context():
        row = db.session.scalar(
            select(Service).join(Store).where(Store.code == store, Service.code == code)
        )
        assert row is not None
        return {c.name: getattr(row, c.name) for c in Service.__table__.columns}


def codes_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-booking="([A-Z0-9]+)"', html)


# --- closing a day -------------------------------------------------------------------------------


def test_closing_a_day_without_bookings_takes_effect_on_the_next_booking(
    app: Flask, manager: FlaskClient, client: FlaskClient
) -> None:
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    display.get_received()
    version = store_row(app)["version"]
    assert slots(client, TOMORROW)["10:00"] == 1

    response = post_day(manager, first=TOMORROW)
    assert response.status_code == 302
    page = manager.get(DAYS).get_data(as_text=True)
    assert "已保存" in page and f'data-day="{TOMORROW}"' in page

    row = store_row(app)
    assert row["closed_dates"] == [TOMORROW] and row["version"] == version + 1
    events = [e for e in display.get_received() if e["name"] == "settings_changed"]
    assert [e["args"][0]["version"] for e in events] == [version + 1]
    display.disconnect()
    day = client.get(f"/api/v1/stores/demo/slots?service=C&date={TOMORROW}").json
    assert day["closed"] is True and day["slots"] == []
    refused = client.post(
        "/api/v1/stores/demo/appointments", json=booking_body(AT_10_TOMORROW, phone=PHONES[1])
    )
    assert refused.status_code == 400 and refused.json["error"] == "no_such_slot"
    (entry,) = entries(app)
    assert (entry.action, entry.target) == ("days_closed", TOMORROW)
    assert entry.before == {"days": {TOMORROW: None}} and entry.after == {"days": {TOMORROW: []}}
    log = manager.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    assert "Days closed" in log and f"{TOMORROW} closed" in log and "usual hours" in log


def test_a_closed_today_stops_the_kiosk_and_staff_still_issue(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    assert issue_ticket(manager, "A")["label"] == "A001"
    assert post_day(manager, first=TODAY).status_code == 302
    refused = manager.post(
        "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
    )
    assert refused.status_code == 409 and refused.json["error"] == "store_closed"
    staff = manager.post(
        "/api/v1/stores/demo/tickets",
        json={"service": "A", "channel": "staff"},
        headers=make.staff("desk"),
    )
    assert staff.status_code == 201 and staff.json["label"] == "A002"
    # Open again: the kiosk issues on the next tap.
    assert post_day(manager, first=TODAY, kind="usual").status_code == 302
    assert issue_ticket(manager, "A")["label"] == "A003"
    assert [e.action for e in entries(app)] == ["days_closed", "days_usual"]


def test_a_run_of_holidays_is_closed_at_once_and_listed(
    app: Flask, manager: FlaskClient, client: FlaskClient
) -> None:
    response = post_day(manager, first="2026-12-01", last="2026-12-03")
    assert response.status_code == 302
    assert store_row(app)["closed_dates"] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    page = manager.get(DAYS + "?lang=en").get_data(as_text=True)
    assert page.count('data-day="2026-12-0') == 3 and "Closed all day" in page
    info = client.get("/api/v1/stores/demo/booking").json
    shut = [d["date"] for d in info["days"] if not d["open"]]
    assert shut == ["2026-12-01", "2026-12-02", "2026-12-03"]
    log = manager.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    assert "2026-12-01 – 2026-12-03 closed" in log


# --- special hours -------------------------------------------------------------------------------


def test_special_hours_shorten_the_day_for_bookings_and_the_kiosk(
    app: Flask, manager: FlaskClient, client: FlaskClient, clock: Any
) -> None:
    response = post_day(manager, first=TODAY, kind="special", start="09:00", end="11:00")
    assert response.status_code == 302
    assert store_row(app)["special_hours"] == {TODAY: [["09:00", "11:00"]]}
    today = slots(client, TODAY)
    assert min(today) == "09:30" and max(today) == "10:45"  # lead 30 min; the last ends at 11:00
    assert slots(client, TOMORROW)["17:45"] == 1  # other days keep their hours
    assert issue_ticket(manager, "A")["label"] == "A001"
    hours = manager.get("/api/v1/stores/demo/snapshot").json["store"]["hours"]
    assert hours["open"] is True and hours["closes_at"] == "2026-11-26T03:00:00Z"  # the display's
    clock.set(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))  # 11:00
    refused = manager.post(
        "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
    )
    assert refused.status_code == 409 and refused.json["error"] == "store_closed"
    page = manager.get(DAYS).get_data(as_text=True)
    assert "09:00–11:00" in page
    (entry,) = entries(app)
    assert entry.action == "days_special"
    assert entry.after == {"days": {TODAY: [["09:00", "11:00"]]}}


def test_a_special_day_may_open_a_day_the_week_keeps_closed(
    app: Flask, manager: FlaskClient, client: FlaskClient
) -> None:
    assert submit(manager, "/s/demo/manage/store", **{"hours-6-open": None}).status_code == 302
    sunday = "2026-11-29"
    assert client.get(f"/api/v1/stores/demo/slots?service=C&date={sunday}").json["closed"]
    response = post_day(manager, first=sunday, kind="special", start="10:00", end="12:00")
    assert response.status_code == 302
    times = list(slots(client, sunday))
    assert times[0] == "10:00" and times[-1] == "11:45" and len(times) == 8


# --- bookings on a day that closes ----------------------------------------------------------------


@pytest.fixture
def two_bookings(make: Factory) -> list[dict[str, Any]]:
    """Plan change at 10:00 and broadband at 14:00 tomorrow, two customers."""
    return [
        booked(make, AT_10_TOMORROW, "C", PHONES[0]),
        booked(make, AT_14_TOMORROW, "D", PHONES[1]),
    ]


def test_closing_a_day_with_bookings_shows_them_and_saves_nothing(
    app: Flask, manager: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    before = store_row(app)
    page = post_day(manager, url=DAYS + "?lang=en", first=TOMORROW)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Bookings on the days you are changing: 2" in html
    assert codes_listed(html) == [b["code"] for b in two_bookings]
    assert "139****0001" in html and "139****0002" in html and "13900000001" not in html
    assert "Plan change" in html and "10:00–10:15" in html and "14:00" in html
    # A free time of the same service on the next open day is suggested for each.
    fields = form_of(html)
    assert (fields["moves-0-day"], fields["moves-0-time"]) == (AFTER, "10:00")
    assert (fields["moves-1-day"], fields["moves-1-time"]) == (AFTER, "14:00")
    assert store_row(app) == before and audit_count(app) == 0
    assert all(appointment(app, b["code"])["status"] == "booked" for b in two_bookings)


def test_the_manager_cancels_them_with_a_message_the_customers_read(
    app: Flask, manager: FlaskClient, client: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    page = post_day(manager, first=TOMORROW)
    response = decide(
        manager,
        page,
        "cancel",
        message_zh="门店明天停电，预约已取消。",
        message_en="A power cut tomorrow: your booking is cancelled.",
    )
    assert response.status_code == 302
    assert "已保存" in manager.get(DAYS).get_data(as_text=True)
    assert store_row(app)["closed_dates"] == [TOMORROW]
    for booking in two_bookings:
        row = appointment(app, booking["code"])
        assert (row["status"], row["store_action"]) == ("cancelled", "cancelled")
        assert row["closed_at"] is not None
    (entry,) = entries(app)
    assert entry.action == "days_closed" and entry.after is not None
    assert entry.after["cancelled"] == [
        f"{two_bookings[0]['code']} {TOMORROW} 10:00",
        f"{two_bookings[1]['code']} {TOMORROW} 14:00",
    ]
    assert "门店明天停电" in entry.after["message"]

    token = token_of(two_bookings[0])
    zh = client.get(f"/b/{token}?lang=zh").get_data(as_text=True)
    assert "门店已取消此预约" in zh and "门店明天停电，预约已取消。" in zh
    en = client.get(f"/b/{token}?lang=en").get_data(as_text=True)
    assert "The store cancelled this appointment." in en
    assert "A power cut tomorrow: your booking is cancelled." in en and "停电" not in en
    view = client.get(f"/api/v1/bookings/{token}?lang=en").json
    assert view["by_store"] == "cancelled" and view["can_cancel"] is False
    assert view["store_message"] == "A power cut tomorrow: your booking is cancelled."
    # The code no longer checks in, and the slot and the phone's day are free again elsewhere.
    assert check_in(client, two_bookings[0]["code"]).json["error"] in ("cancelled", "unknown_code")
    log = manager.get("/s/demo/manage/audit?lang=en").get_data(as_text=True)
    assert "Bookings cancelled" in log and two_bookings[1]["code"] in log


def test_a_message_in_one_language_reaches_customers_of_both(
    app: Flask, manager: FlaskClient, client: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    page = post_day(manager, first=TOMORROW)
    assert (
        decide(manager, page, "cancel", message_zh="明天休息。", message_en="").status_code == 302
    )
    view = client.get(f"/api/v1/bookings/{token_of(two_bookings[0])}?lang=en").json
    assert view["store_message"] == "明天休息。"


def test_the_manager_moves_them_to_the_times_picked(
    app: Flask,
    manager: FlaskClient,
    client: FlaskClient,
    clock: Any,
    two_bookings: list[dict[str, Any]],
) -> None:
    page = post_day(manager, first=TOMORROW)
    response = decide(manager, page, "move", **{"moves-1-time": "15:00"}, message_en="")
    assert response.status_code == 302
    assert store_row(app)["closed_dates"] == [TOMORROW]
    first, second = (appointment(app, b["code"]) for b in two_bookings)
    assert first["status"] == second["status"] == "booked"
    assert first["slot_start"] == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert first["day"] == date(2026, 11, 28) and first["store_action"] == "moved"
    assert first["moved_from"] == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    assert second["slot_start"] == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # 15:00
    assert slots(client, AFTER)["10:00"] == 0 and slots(client, AFTER, "D")["15:00"] == 0

    token = token_of(two_bookings[0])
    html = client.get(f"/b/{token}?lang=en").get_data(as_text=True)
    assert "The store moved your appointment to the time below." in html
    assert f"It was on {TOMORROW} at 10:00." in html
    view = client.get(f"/api/v1/bookings/{token}").json
    assert (view["date"], view["time"], view["by_store"]) == (AFTER, "10:00", "moved")
    assert (view["moved_from_date"], view["moved_from_time"]) == (TOMORROW, "10:00")
    (entry,) = entries(app)
    assert entry.after is not None
    assert entry.after["moved"][0] == f"{two_bookings[0]['code']} {TOMORROW} 10:00 → {AFTER} 10:00"
    # The moved booking checks in on its new day.
    clock.set(datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    assert check_in(client, two_bookings[0]["code"]).status_code == 201
    # The customer moves it again themselves: the store's notice is gone.
    moved = client.post(
        f"/api/v1/bookings/{token_of(two_bookings[1])}/move", json={"start": "2026-11-28T08:00:00Z"}
    )
    assert moved.status_code == 200 and moved.json["by_store"] is None


def test_a_move_that_does_not_fit_is_refused_next_to_its_field_and_nothing_changes(
    app: Flask, manager: FlaskClient, make: Factory, two_bookings: list[dict[str, Any]]
) -> None:
    taken = booked(make, AT_10_AFTER, "C", PHONES[2])  # C's only place at 10:00 the day after
    before = store_row(app)
    page = post_day(manager, url=DAYS + "?lang=en", first=TOMORROW)
    assert form_of(page.get_data(as_text=True))["moves-0-time"] == "10:15"  # the next free one
    for time_text, reason in (
        ("10:00", "This time is fully booked."),
        ("10:07", "There is no such time on that day."),
        ("25:00", "A time like 14:30."),
    ):
        response = decide(
            manager, page, "move", **{"moves-0-day": AFTER, "moves-0-time": time_text}
        )
        assert response.status_code == 422, time_text
        html = response.get_data(as_text=True)
        assert reason in field_error(html, "moves-0-time"), time_text
        assert codes_listed(html) == [b["code"] for b in two_bookings]
    closed = decide(manager, page, "move", **{"moves-0-day": TOMORROW, "moves-0-time": "11:00"})
    assert "The store is closed on that day." in field_error(
        closed.get_data(as_text=True), "moves-0-time"
    )
    past = decide(manager, page, "move", **{"moves-0-day": "2026-11-25", "moves-0-time": "11:00"})
    assert "This time has passed." in field_error(past.get_data(as_text=True), "moves-0-time")
    assert store_row(app) == before and audit_count(app) == 0
    assert appointment(app, two_bookings[0]["code"])["slot_start"] == datetime(
        2026, 11, 27, 2, 0, tzinfo=UTC
    )
    assert appointment(app, taken["code"])["status"] == "booked"


def test_two_bookings_moved_to_one_last_place_are_refused(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    first = booked(make, AT_10_TOMORROW, "C", PHONES[0])
    second = booked(make, "2026-11-27T02:15:00Z", "C", PHONES[1])
    page = post_day(manager, url=DAYS + "?lang=en", first=TOMORROW)
    same = {"moves-0-day": AFTER, "moves-0-time": "10:00", "moves-1-day": AFTER}
    response = decide(manager, page, "move", **same, **{"moves-1-time": "10:00"})
    assert response.status_code == 422
    assert "fully booked" in field_error(response.get_data(as_text=True), "moves-1-time")
    assert audit_count(app) == 0
    assert {appointment(app, b["code"])["day"] for b in (first, second)} == {date(2026, 11, 27)}


def test_a_tampered_decision_changes_nothing(
    app: Flask, manager: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    """Booking ids that are not the ones shown, a forged fingerprint, a huge index: a clear
    answer, nothing written."""
    before = store_row(app)
    page = post_day(manager, url=DAYS + "?lang=en", first=TOMORROW)
    forged = decide(manager, page, "move", **{"moves-0-booking": "x", "moves-1-booking": "99999"})
    assert forged.status_code == 422
    assert "Some of the new times do not fit" in forged.get_data(as_text=True)
    seen = decide(manager, page, "cancel", seen="0" * 16)
    assert seen.status_code == 409
    assert codes_listed(seen.get_data(as_text=True)) == [b["code"] for b in two_bookings]
    assert store_row(app) == before and audit_count(app) == 0
    # An extra entry at a huge index names no booking: the two shown move as suggested.
    huge = decide(manager, page, "move", **{"moves-99999999999999999999-day": AFTER})
    assert huge.status_code == 302
    assert {appointment(app, b["code"])["day"] for b in two_bookings} == {date(2026, 11, 28)}


def test_keeping_the_day_open_changes_nothing(
    app: Flask, manager: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    before = store_row(app)
    page = post_day(manager, first=TOMORROW)
    response = decide(manager, page, "keep")
    assert response.status_code == 302
    assert "没有任何修改" in manager.get(DAYS).get_data(as_text=True)
    assert store_row(app) == before and audit_count(app) == 0
    assert all(appointment(app, b["code"])["store_action"] is None for b in two_bookings)


def test_cancelling_needs_a_message_and_an_overlong_one_is_refused(
    app: Flask, manager: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    before = store_row(app)
    page = post_day(manager, url=DAYS + "?lang=en", first=TOMORROW)
    empty = decide(manager, page, "cancel", message_zh=" ", message_en="")
    assert empty.status_code == 422
    assert "Please tell the customers why" in field_error(
        empty.get_data(as_text=True), "message_zh"
    )
    long = decide(manager, page, "cancel", message_en="x" * 501)
    assert long.status_code == 422
    assert "500" in field_error(long.get_data(as_text=True), "message_en")
    odd = decide(manager, page, "shred")
    assert odd.status_code == 422
    assert store_row(app) == before and audit_count(app) == 0


def test_shorter_hours_list_only_the_bookings_they_leave_out(
    app: Flask, manager: FlaskClient, client: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    page = post_day(manager, first=TOMORROW, kind="special", start="09:00", end="12:00")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and codes_listed(html) == [two_bookings[1]["code"]]
    # The 14:00 broadband booking: the nearest time left on its own day is suggested.
    fields = form_of(html)
    assert (fields["moves-0-day"], fields["moves-0-time"]) == (TOMORROW, "11:40")
    response = decide(manager, page, "move", **{"moves-0-day": TOMORROW, "moves-0-time": "11:00"})
    assert response.status_code == 302
    assert store_row(app)["special_hours"] == {TOMORROW: [["09:00", "12:00"]]}
    assert appointment(app, two_bookings[0]["code"])["store_action"] is None  # 10:00 fits
    moved = appointment(app, two_bookings[1]["code"])
    assert moved["slot_start"] == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert "11:00" in slots(client, TOMORROW, "D") and "12:00" not in slots(client, TOMORROW, "D")


def test_going_back_to_shorter_usual_hours_asks_about_bookings_in_the_extra_hours(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    assert post_day(manager, first=TOMORROW, kind="special", start="09:00", end="20:00").status_code
    late = booked(make, "2026-11-27T11:00:00Z", "C", PHONES[0])  # 19:00
    page = post_day(manager, first=TOMORROW, kind="usual")
    assert page.status_code == 200 and codes_listed(page.get_data(as_text=True)) == [late["code"]]
    assert decide(manager, page, "cancel").status_code == 302  # the default message
    assert store_row(app)["special_hours"] == {}
    row = appointment(app, late["code"])
    assert row["status"] == "cancelled" and row["store_message_zh"].startswith("很抱歉")
    assert [e.action for e in entries(app)] == ["days_special", "days_usual"]


def test_a_booking_made_while_the_manager_decides_is_listed_not_lost(
    app: Flask, manager: FlaskClient, make: Factory, two_bookings: list[dict[str, Any]]
) -> None:
    page = post_day(manager, first=TOMORROW)
    late = booked(make, "2026-11-27T08:00:00Z", "C", PHONES[2])  # 16:00, booked meanwhile
    again = decide(manager, page, "cancel")
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert "预约有变动" in html
    assert codes_listed(html) == [two_bookings[0]["code"], two_bookings[1]["code"], late["code"]]
    assert audit_count(app) == 0 and store_row(app)["closed_dates"] == []
    assert decide(manager, again, "cancel").status_code == 302
    assert {appointment(app, b["code"])["status"] for b in (*two_bookings, late)} == {"cancelled"}


def test_a_second_click_on_a_decision_changes_nothing_more(
    app: Flask, manager: FlaskClient, two_bookings: list[dict[str, Any]]
) -> None:
    page = post_day(manager, first=TOMORROW)
    assert decide(manager, page, "cancel").status_code == 302
    again = decide(manager, page, "cancel")
    assert again.status_code == 302
    assert "没有任何修改" in manager.get(DAYS).get_data(as_text=True)
    assert audit_count(app) == 1


# --- invalid input, roles, stale forms -----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "zh", "en"),
    [
        ({"first": "2026-11-25"}, "first", "已经过去", "This day is past."),
        ({"first": ""}, "first", "请填写", "Please fill this in."),
        ({"first": "2026-02-30"}, "first", "日期", "date"),
        ({"first": "9" * 40}, "first", "日期", "date"),
        ({"first": "2027-12-31"}, "first", "太远", "too far ahead"),
        ({"first": TOMORROW, "last": TODAY}, "last", "不能早于", "cannot be before"),
        ({"first": TOMORROW, "last": "2027-01-10"}, "last", "31", "At most 31 days"),
        (
            {"first": TOMORROW, "kind": "special"},
            "end",
            "开门和关门时间",
            "opening and the closing",
        ),
        (
            {"first": TOMORROW, "kind": "special", "start": "12:00", "end": "10:00"},
            "end",
            "关门时间须晚于开门时间",
            "Closing must be after",
        ),
        ({"first": TOMORROW, "kind": "sometimes"}, "kind", "不是有效的选择", "Not a valid choice"),
    ],
)
def test_invalid_days_show_the_field_error_and_change_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, str], field: str, zh: str, en: str
) -> None:
    before = store_row(app)
    for lang, text in (("zh", zh), ("en", en)):
        response = post_day(manager, url=f"{DAYS}?lang={lang}", **changes)
        assert response.status_code == 422, changes
        assert text in field_error(response.get_data(as_text=True), field), (lang, changes)
    assert store_row(app) == before and audit_count(app) == 0


def test_a_nul_byte_in_a_day_is_refused_and_changes_nothing(
    app: Flask, manager: FlaskClient
) -> None:
    before = store_row(app)
    response = post_day(manager, url=DAYS + "?lang=en", first="2026-11-27\x00")
    assert response.status_code == 400
    assert "characters that are not allowed" in response.get_data(as_text=True)
    assert store_row(app) == before and audit_count(app) == 0


def test_an_open_weekday_without_times_is_a_field_error_not_a_crash(
    app: Flask, manager: FlaskClient
) -> None:
    """The weekly hours' form has the same check as a special day's (an empty time used to end
    the field's checks early, and saving then failed)."""
    before = store_row(app)
    response = submit(manager, "/s/demo/manage/store?lang=en", **{"hours-3-end": ""})
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), "hours-3-end")
    assert "Give the opening and the closing time." in error
    assert store_row(app) == before


def test_a_clerk_gets_403_and_changes_no_day(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo", Role.CLERK)
    login(client, "desk")
    assert client.get(DAYS).status_code == 403
    token = csrf_of(client, "/s/demo/counter")
    response = client.post(DAYS, data={"csrf_token": token, "first": TOMORROW, "kind": "closed"})
    assert response.status_code == 403
    assert store_row(app)["closed_dates"] == [] and audit_count(app) == 0


def test_a_manager_of_demo_cannot_see_or_close_days_of_other(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.appointment(AT_10_TOMORROW, store="other")
    assert manager.get("/s/other/manage/days").status_code == 404
    data = day_form(manager) | {"first": TOMORROW}
    response = manager.post("/s/other/manage/days", data=data)
    assert response.status_code == 404 and "示范营业厅" not in response.get_data(as_text=True)
    assert store_row(app, "other")["closed_dates"] == [] and audit_count(app, "other") == 0
    # An admin closes other's day (and sees its booking first).
    make.user("root", None, Role.ADMIN)
    admin = app.test_client()
    login(admin, "root")
    page = post_day(admin, url="/s/other/manage/days", first=TOMORROW)
    assert page.status_code == 200 and len(codes_listed(page.get_data(as_text=True))) == 1
    assert decide(admin, page, "cancel", url="/s/other/manage/days").status_code == 302
    assert store_row(app, "other")["closed_dates"] == [TOMORROW]
    assert store_row(app)["closed_dates"] == []


def test_a_stale_days_form_never_undoes_what_another_manager_saved(
    app: Flask, manager: FlaskClient, make: Factory
) -> None:
    make.user("deputy", "demo", Role.MANAGER)
    deputy = app.test_client()
    login(deputy, "deputy")
    opened = day_form(manager)  # I open the page …
    assert post_day(deputy, first=TOMORROW, kind="special", start="09:00", end="12:00").status_code
    response = manager.post(DAYS, data=opened | {"first": TOMORROW})  # … and close the same day
    assert response.status_code == 302
    assert "其他人刚刚保存了这些设置" in manager.get(DAYS).get_data(as_text=True)
    row = store_row(app)
    assert row["closed_dates"] == [] and row["special_hours"] == {TOMORROW: [["09:00", "12:00"]]}
    assert [e.action for e in entries(app)] == ["days_special"]


# --- the time zone -------------------------------------------------------------------------------


def test_the_time_zone_list_starts_with_shanghai(manager: FlaskClient) -> None:
    html = manager.get("/s/demo/manage/store").get_data(as_text=True)
    zones = re.findall(r'<option (?:selected )?value="([A-Za-z_/+-]+/[A-Za-z_/+-]+)"', html)
    assert zones[0] == "Asia/Shanghai" and "Asia/Urumqi" in zones and "Europe/Berlin" in zones
    assert zones[1:] == sorted(zones[1:])
    assert 'selected value="Asia/Shanghai"' in html or 'value="Asia/Shanghai" selected' in html


def test_a_new_time_zone_keeps_bookings_at_their_local_time(
    app: Flask, manager: FlaskClient, client: FlaskClient, make: Factory
) -> None:
    booking = booked(make, AT_10_TOMORROW)
    response = submit(manager, "/s/demo/manage/store", timezone="Asia/Urumqi")
    assert response.status_code == 302
    assert store_row(app)["timezone"] == "Asia/Urumqi"
    row = appointment(app, booking["code"])
    assert row["slot_start"] == datetime(2026, 11, 27, 4, 0, tzinfo=UTC)  # 10:00 at UTC+6
    view = client.get(f"/api/v1/bookings/{token_of(booking)}").json
    assert (view["date"], view["time"]) == (TOMORROW, "10:00")
    # The hall's day now runs on the new clock: 09:00 in Shanghai is 07:00 there, before opening.
    refused = manager.post(
        "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
    )
    assert refused.status_code == 409 and refused.json["error"] == "store_closed"
    (entry,) = entries(app)
    assert entry.before == {"timezone": "Asia/Shanghai"}
    assert entry.after == {"timezone": "Asia/Urumqi", "bookings_kept": 1}


def test_the_time_zone_is_refused_while_tickets_are_open(app: Flask, manager: FlaskClient) -> None:
    ticket = issue_ticket(manager, "A")
    before = store_row(app)
    response = submit(manager, "/s/demo/manage/store?lang=en", timezone="Asia/Tokyo")
    assert response.status_code == 422
    error = field_error(response.get_data(as_text=True), "timezone")
    assert "no ticket is waiting or being served" in error
    after = store_row(app)
    assert after == before and audit_count(app) == 0
    assert manager.get(f"/api/v1/tickets/{ticket['token']}").json["status"] == "waiting"


def test_an_unknown_time_zone_is_refused(app: Flask, manager: FlaskClient) -> None:
    before = store_row(app)
    response = submit(manager, "/s/demo/manage/store?lang=en", timezone="Mars/Olympus")
    assert response.status_code == 422
    assert "Not a valid choice" in field_error(response.get_data(as_text=True), "timezone")
    assert store_row(app) == before


# --- booking rules -------------------------------------------------------------------------------


def test_capacity_per_slot_is_each_services_own(
    app: Flask, manager: FlaskClient, client: FlaskClient, make: Factory
) -> None:
    assert service_row(app, "C")["slot_capacity"] == 1
    booked(make, AT_10_TOMORROW, "C", PHONES[0])
    booked(make, AT_10_TOMORROW, "D", PHONES[1])  # another service's own place at 10:00
    assert slots(client, TOMORROW)["10:00"] == 0
    response = submit(manager, "/s/demo/manage/services/C", slot_capacity=3)
    assert response.status_code == 302
    assert slots(client, TOMORROW)["10:00"] == 2 and slots(client, TOMORROW)["11:00"] == 3
    booked(make, AT_10_TOMORROW, "C", PHONES[2])
    booked(make, AT_10_TOMORROW, "C", PHONES[3])
    full = client.post(
        "/api/v1/stores/demo/appointments", json=booking_body(AT_10_TOMORROW, phone="13900000009")
    )
    assert full.status_code == 409 and full.json["error"] == "slot_taken"
    (entry,) = entries(app)
    assert (entry.action, entry.before, entry.after) == (
        "service_updated",
        {"slot_capacity": 1},
        {"slot_capacity": 3},
    )
    listing = manager.get("/s/demo/manage/services?lang=en").get_data(as_text=True)
    assert "15 min · 3 per slot" in listing


def test_a_new_slot_length_and_bookable_flag_apply_to_the_next_request(
    app: Flask, manager: FlaskClient, client: FlaskClient
) -> None:
    response = submit(manager, "/s/demo/manage/services/C", slot_minutes=30)
    assert response.status_code == 302
    day = slots(client, TOMORROW)
    assert list(day)[:3] == ["09:00", "09:30", "10:00"] and "09:15" not in day
    assert submit(manager, "/s/demo/manage/services/A", bookable="y").status_code == 302
    codes = [s["code"] for s in client.get("/api/v1/stores/demo/booking").json["services"]]
    assert "A" in codes
    assert submit(manager, "/s/demo/manage/services/C", bookable=None).status_code == 302
    refused = client.post("/api/v1/stores/demo/appointments", json=booking_body(AT_10_TOMORROW))
    assert refused.status_code == 400 and refused.json["error"] == "unknown_service"


@pytest.mark.parametrize(
    ("changes", "field", "en"),
    [
        ({"slot_capacity": 0}, "slot_capacity", "Between 1 and 50"),
        ({"slot_capacity": "9" * 30}, "slot_capacity", "Between 1 and 50"),
        ({"slot_minutes": 4}, "slot_minutes", "Between 5 and 240"),
        ({"slot_minutes": "half"}, "slot_minutes", "integer"),
    ],
)
def test_invalid_booking_rules_of_a_service_change_nothing(
    app: Flask, manager: FlaskClient, changes: dict[str, Any], field: str, en: str
) -> None:
    before = service_row(app, "C")
    response = submit(manager, "/s/demo/manage/services/C?lang=en", **changes)
    assert response.status_code == 422
    assert en in field_error(response.get_data(as_text=True), field)
    assert service_row(app, "C") == before and audit_count(app) == 0


def test_the_stores_booking_rules_apply_to_the_next_booking_and_check_in(
    app: Flask, manager: FlaskClient, client: FlaskClient, make: Factory, clock: Any
) -> None:
    booking = booked(make, "2026-11-26T02:00:00Z")  # 10:00 today
    response = submit(
        manager,
        "/s/demo/manage/store",
        booking_horizon_days=3,
        booking_lead_minutes=90,
        checkin_early_minutes=5,
        bookings_per_phone_per_day=2,
    )
    assert response.status_code == 302
    assert len(client.get("/api/v1/stores/demo/booking").json["days"]) == 3
    assert min(slots(client, TODAY)) == "10:30"  # now 09:00 + 90 minutes
    second = client.post(
        "/api/v1/stores/demo/appointments", json=booking_body("2026-11-26T04:00:00Z")
    )
    assert second.status_code == 201  # the same phone's second booking of the day
    clock.set(datetime(2026, 11, 26, 1, 50, tzinfo=UTC))  # 09:50: 10 minutes early
    early = check_in(client, booking["code"])
    assert early.status_code == 409 and early.json["time"] == "09:55"
    clock.set(datetime(2026, 11, 26, 1, 55, tzinfo=UTC))
    assert check_in(client, booking["code"]).status_code == 201


# --- a booking racing the closing of its day ------------------------------------------------------


ROUNDS = 6


def test_a_booking_racing_the_closing_of_its_day_is_listed_or_refused(
    app: Flask, manager: FlaskClient
) -> None:
    """Round after round a customer books a day while the manager closes it, each from their own
    client and thread on the real database. Either the booking lands first, and the manager's
    save lists it instead of closing the day (then cancels it with a message), or the day closes
    first and the booking is refused. Never a booking left on a closed day nobody was told of."""
    for round_ in range(ROUNDS):
        day = date(2026, 12, 1) + timedelta(days=round_)
        start = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC).isoformat()
        opened = day_form(manager) | {"first": day.isoformat()}
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        # Every other round the customer starts a little later (the manager's request does more
        # before it takes the store's lock): both orders come up, both are checked.
        head_start = 0.0 if round_ % 2 else 0.03

        def customer(
            start: str = start,
            head_start: float = head_start,
            barrier: threading.Barrier = barrier,
            results: dict[str, Any] = results,
        ) -> None:
            phone = app.test_client()
            barrier.wait()
            time.sleep(head_start)
            body = booking_body(start.replace("+00:00", "Z"), phone=PHONES[0])
            results["booking"] = phone.post("/api/v1/stores/demo/appointments", json=body)

        def closing(
            opened: dict[str, Any] = opened,
            barrier: threading.Barrier = barrier,
            results: dict[str, Any] = results,
        ) -> None:
            barrier.wait()
            results["closing"] = manager.post(DAYS, data=opened)

        threads = [threading.Thread(target=customer), threading.Thread(target=closing)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        booking, closing_page = results["booking"], results["closing"]
        if booking.status_code == 201:
            code = booking.json["code"]
            if closing_page.status_code == 302:  # closed before? then the booking had no slot
                pytest.fail(f"booked {code} on a day closed at the same moment")
            assert closing_page.status_code == 200
            assert codes_listed(closing_page.get_data(as_text=True)) == [code]
            assert day.isoformat() not in store_row(app)["closed_dates"]
            assert decide(manager, closing_page, "cancel").status_code == 302
            row = appointment(app, code)
            assert (row["status"], row["store_action"]) == ("cancelled", "cancelled")
        else:
            assert booking.status_code == 400 and booking.json["error"] == "no_such_slot"
            assert closing_page.status_code == 302
        assert day.isoformat() in store_row(app)["closed_dates"]
        with app.app_context():
            left = db.session.scalars(
                select(Appointment).where(
                    Appointment.day == day, Appointment.status == AppointmentStatus.BOOKED
                )
            ).all()
        assert left == []


# --- the migration -------------------------------------------------------------------------------


def test_the_migration_gives_each_service_its_stores_former_capacity(tmp_path: Path) -> None:
    from flask_migrate import downgrade, upgrade

    from backend.app import MIGRATIONS_DIR, create_app
    from backend.stores.seed import seed_demo

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrated.db'}",
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "x",
        }
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        seed_demo(with_staff=False)
        db.session.execute(db.text("UPDATE service SET slot_capacity = 3"))
        db.session.commit()
        downgrade(directory=MIGRATIONS_DIR, revision="66eef0f58bcb")
        assert db.session.execute(db.text("SELECT appointment_counters FROM store")).scalar() == 3
        db.session.execute(db.text("UPDATE store SET appointment_counters = 2"))
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR)
        capacities = db.session.execute(db.text("SELECT DISTINCT slot_capacity FROM service"))
        assert [row[0] for row in capacities] == [2]
        db.session.remove()
        db.engine.dispose()
