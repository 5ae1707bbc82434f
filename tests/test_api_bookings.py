"""Booking over HTTP: slots, limits, the last slot under concurrency, manage links, check-in at
the kiosk, the queue honouring appointments, the no-show sweep, and privacy on public screens."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.bookings import commands as bookings
from backend.core.clock import ManualClock
from backend.extensions import db, socketio
from backend.models import Appointment, Store
from backend.policy import Role
from backend.policy.slots import CODE_ALPHABET

from .conftest import PASSWORD, Api, make_user
from .factories import NAME, PHONE, Factory, booking_body, check_in
from .test_api_tickets import extract_csrf

BOOK = "/api/v1/stores/demo/appointments"
TOMORROW = "2026-11-27"
# 10:00 tomorrow in Shanghai.
SLOT_10 = "2026-11-27T02:00:00Z"


def slots(client: FlaskClient, day: str = TOMORROW, service: str = "C") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/stores/demo/slots?service={service}&date={day}")
    assert response.status_code == 200, response.json
    return response.json["slots"]


def book(client: FlaskClient, start: str = SLOT_10, phone: str = PHONE, **extra: Any) -> Any:
    return client.post(BOOK, json=booking_body(start, phone=phone, **extra))


def set_store(app: Flask, **settings: Any) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        for key, value in settings.items():
            setattr(store, key, value)
        db.session.commit()


class TestBooking:
    def test_what_can_be_booked(self, client: FlaskClient) -> None:
        info = client.get("/api/v1/stores/demo/booking").json
        assert [s["code"] for s in info["services"]] == ["C", "D", "E"]  # standard business only
        assert len(info["days"]) == 14 and info["days"][0]["date"] == "2026-11-26"
        assert info["phone_pattern"] and info["consent_text"]
        assert info["busy"]["hours"] == [] and info["busy"]["advice"]  # no history yet

    def test_slots_of_a_day(self, client: FlaskClient) -> None:
        day = slots(client)
        assert day[0]["time"] == "09:00" and day[-1]["time"] == "17:45"
        assert len(day) == 36 and all(s["free"] == 1 for s in day)
        today = slots(client, "2026-11-26")
        assert today[0]["time"] == "09:30"  # lead time: now is 09:00

    def test_book_and_see_the_confirmation(self, client: FlaskClient) -> None:
        response = book(client)
        assert response.status_code == 201
        booking = response.json
        assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", booking["code"])
        assert booking["time"] == "10:00" and booking["date"] == TOMORROW
        assert booking["name_masked"] == "王**" and booking["phone_masked"] == "139****5678"
        assert NAME not in response.get_data(as_text=True)
        assert booking["checkin_from_time"] == "09:45" and booking["checkin_until_time"] == "10:30"
        page = client.get(booking["manage_url"] + "?new=1")
        assert page.status_code == 200 and booking["code"] in page.get_data(as_text=True)
        ics = client.get(booking["ics_url"])
        assert ics.mimetype == "text/calendar"
        assert "DTSTART:20261127T020000Z" in ics.get_data(as_text=True)
        assert slots(client)[4]["free"] == 0  # 10:00 is the fifth slot

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"phone": "12345"}, "bad_phone"),
            ({"phone": "12912345678"}, "bad_phone"),
            ({"consent": False}, "consent_required"),
            ({"name": "   "}, "bad_name"),
            ({"service": "A"}, "unknown_service"),  # top-ups are not bookable
            ({"start": "2026-11-26T01:15:00Z"}, "too_soon"),  # 09:15 today, lead 30 min
            ({"start": "2026-12-20T02:00:00Z"}, "outside_horizon"),
            ({"start": "2026-11-27T02:05:00Z"}, "no_such_slot"),
        ],
    )
    def test_bad_bookings(self, client: FlaskClient, change: dict[str, Any], error: str) -> None:
        response = book(client, **change)
        assert response.status_code == 400 and response.json["error"] == error
        assert response.json["message"]

    def test_one_booking_per_phone_per_day(self, client: FlaskClient) -> None:
        assert book(client).status_code == 201
        again = book(client, start="2026-11-27T03:00:00Z")
        assert again.status_code == 409 and again.json["error"] == "already_booked"
        assert book(client, start="2026-11-28T03:00:00Z").status_code == 201  # another day

    def test_a_taken_slot_answers_with_fresh_slots(self, client: FlaskClient) -> None:
        assert book(client).status_code == 201
        taken = book(client, phone="13800000000")
        assert taken.status_code == 409 and taken.json["error"] == "slot_taken"
        assert SLOT_10 not in {s["start"] for s in taken.json["slots"]}
        assert len(taken.json["slots"]) == 35

    def test_closed_days(self, app: Flask, client: FlaskClient) -> None:
        set_store(app, closed_dates=[TOMORROW])
        day = client.get(f"/api/v1/stores/demo/slots?service=C&date={TOMORROW}").json
        assert day == {"date": TOMORROW, "service": "C", "closed": True, "slots": []}
        info = client.get("/api/v1/stores/demo/booking").json
        assert next(d for d in info["days"] if d["date"] == TOMORROW)["open"] is False

    def test_cancel_then_rebook_and_move(self, client: FlaskClient) -> None:
        first = book(client).json
        token = first["manage_url"].rsplit("/", 1)[1]
        cancelled = client.post(f"/api/v1/bookings/{token}/cancel", json={})
        assert cancelled.json["status"] == "cancelled" and cancelled.json["can_cancel"] is False
        assert client.post(f"/api/v1/bookings/{token}/cancel", json={}).status_code == 409
        second = book(client).json  # the slot and the phone's day are free again
        token = second["manage_url"].rsplit("/", 1)[1]
        moved = client.post(
            f"/api/v1/bookings/{token}/move", json={"start": "2026-11-27T06:00:00Z"}
        )
        assert moved.status_code == 200 and moved.json["time"] == "14:00"
        assert moved.json["code"] == second["code"]
        free = {s["time"]: s["free"] for s in slots(client)}
        assert free["10:00"] == 1 and free["14:00"] == 0
        assert client.get("/api/v1/bookings/not-a-token").status_code == 404


def test_twenty_phones_race_for_the_last_slot(app: Flask) -> None:
    statuses: list[int] = []
    errors: list[str] = []
    barrier = threading.Barrier(20)

    def phone(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = book(client, phone=f"1390000{index:04d}")
        statuses.append(response.status_code)
        if response.status_code == 409:
            errors.append(response.json["error"])

    threads = [threading.Thread(target=phone, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 19
    assert errors == ["slot_taken"] * 19
    with app.app_context():
        assert db.session.query(Appointment).count() == 1


def checkin(client: FlaskClient, app: Flask, code: str) -> Any:
    return check_in(client, code)


@pytest.fixture
def booked(make: Factory) -> dict[str, Any]:
    """A booking for 10:00 today, made at 09:00."""
    return make.appointment("2026-11-26T02:00:00Z")


def at(clock: ManualClock, hour: int, minute: int = 0, second: int = 0) -> None:
    clock.set(datetime(2026, 11, 26, hour - 8, minute, second, tzinfo=UTC))


class TestCheckIn:
    def test_too_early(
        self, app: Flask, client: FlaskClient, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 9, 44, 59)
        early = checkin(client, app, booked["code"])
        assert early.status_code == 409 and early.json["error"] == "too_early"
        assert early.json["time"] == "09:45"

    def test_window_opens_on_time_and_code_case_does_not_matter(
        self, app: Flask, client: FlaskClient, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 9, 45)
        ticket = checkin(client, app, booked["code"].lower())
        assert ticket.status_code == 201
        assert ticket.json["lane"] == "appointment" and ticket.json["label"] == "Y001"
        assert ticket.json["channel"] == "appointment" and ticket.json["print_url"]
        again = checkin(client, app, booked["code"])
        assert again.status_code == 409 and again.json["error"] == "already_checked_in"
        token = booked["manage_url"].rsplit("/", 1)[1]
        view = client.get(f"/api/v1/bookings/{token}").json
        assert view["status"] == "checked_in" and view["ticket"]["label"] == "Y001"

    def test_late_but_inside_and_then_too_late(
        self, app: Flask, client: FlaskClient, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 10, 30, 1)
        late = checkin(client, app, booked["code"])
        assert late.status_code == 409 and late.json["error"] == "too_late"
        assert late.json["service"] == "C"  # offer a walk-in ticket for the same business
        at(clock, 10, 30)
        assert checkin(client, app, booked["code"]).status_code == 201

    def test_wrong_codes_are_limited(self, app: Flask, client: FlaskClient, booked: dict) -> None:
        codes = [checkin(client, app, "ZZZZZ9").status_code for _ in range(6)]
        assert codes == [404] * 5 + [429]
        assert checkin(client, app, booked["code"]).status_code == 429  # until the window passes

    def test_only_a_registered_kiosk(self, client: FlaskClient, booked: dict) -> None:
        response = client.post("/api/v1/stores/demo/check-in", json={"code": booked["code"]})
        assert response.status_code == 403


class TestQueue:
    def test_appointment_is_called_at_its_time_and_not_before(
        self, app: Flask, api: Api, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 9, 40)
        walk_ins = [api.issue("C"), api.issue("C")]
        at(clock, 9, 50)
        assert checkin(api.client, app, booked["code"]).status_code == 201
        at(clock, 9, 55)
        early = api.call_next(3)
        assert early["ticket"]["id"] == walk_ins[0]["id"]  # not before 10:00
        at(clock, 10, 0)
        due = api.call_next(3)
        assert due["ticket"]["label"] == "Y001" and due["reason"] == "appointment_due"
        assert api.call_next(3)["ticket"]["id"] == walk_ins[1]["id"]

    def test_a_counter_that_cannot_serve_it_does_not_take_it_first(
        self, app: Flask, api: Api, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 9, 50)
        checkin(api.client, app, booked["code"])
        walk_in = api.issue("A")
        at(clock, 10, 0)
        # Counter 1 serves only the fast lane: its own customer first, not the appointment.
        assert api.call_next(1)["ticket"]["id"] == walk_in["id"]

    def test_the_counter_sees_the_customer_masked(
        self, app: Flask, api: Api, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 10, 0)
        checkin(api.client, app, booked["code"])
        api.call_next(3)
        detail = api.client.get("/api/v1/stores/demo/counters/3", headers=api.headers).json
        assert detail["current"]["customer"] == {
            "name_masked": "王**",
            "phone_masked": "139****5678",
        }
        assert detail["current"]["due_at"] == "2026-11-26T02:00:00Z"

    def test_done_visit_closes_the_booking(
        self, app: Flask, api: Api, booked: dict, clock: ManualClock
    ) -> None:
        at(clock, 10, 0)
        ticket = checkin(api.client, app, booked["code"]).json
        api.call_next(3)
        api.act(ticket["id"], "complete")
        token = booked["manage_url"].rsplit("/", 1)[1]
        assert api.client.get(f"/api/v1/bookings/{token}").json["status"] == "done"


def test_no_show_sweep(app: Flask, client: FlaskClient, booked: dict, clock: ManualClock) -> None:
    at(clock, 10, 30)
    with app.app_context():
        assert bookings.sweep_all() == 0  # the window is still open
    at(clock, 10, 31)
    with app.app_context():
        assert bookings.sweep_all() == 1
    token = booked["manage_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/bookings/{token}").json["status"] == "no_show"
    assert checkin(client, app, booked["code"]).status_code == 409


def test_personal_data_is_erased_after_retention(
    app: Flask, client: FlaskClient, booked: dict, clock: ManualClock
) -> None:
    clock.advance(days=31)
    with app.app_context():
        bookings.sweep_all()
        row = db.session.scalar(select(Appointment))
        assert (row.name, row.phone, row.erased) == ("", "", True)
        assert row.service_id and row.slot_start  # statistics stay
    token = booked["manage_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/bookings/{token}").status_code == 404


def test_public_screens_never_carry_personal_data(
    app: Flask, api: Api, booked: dict, clock: ManualClock
) -> None:
    display = socketio.test_client(app, auth={"store": "demo", "role": "display"})
    kiosk = socketio.test_client(app, auth={"store": "demo", "role": "kiosk"})
    at(clock, 10, 0)
    ticket = checkin(api.client, app, booked["code"]).json
    watcher = socketio.test_client(app, auth={"ticket": ticket["token"]})
    api.issue("C")
    api.call_next(3)
    api.act(ticket["id"], "recall")
    api.act(ticket["id"], "no-show")
    payloads = [str(m) for c in (display, kiosk, watcher) for m in c.get_received()]
    assert len(payloads) > 5
    pages = [
        api.client.get("/s/demo/display").get_data(as_text=True),
        api.client.get("/s/demo/kiosk").get_data(as_text=True),
        api.client.get("/api/v1/stores/demo/snapshot").get_data(as_text=True),
        api.client.get(ticket["status_url"]).get_data(as_text=True),
    ]
    for text in payloads + pages:
        assert NAME not in text and PHONE not in text
        assert "王*" not in text and "5678" not in text


class TestPoster:
    def login(self, app: Flask, client: FlaskClient, role: Role) -> None:
        make_user(app, "poster-user", "demo", role)
        csrf = extract_csrf(client.get("/login").get_data(as_text=True))
        client.post(
            "/login", data={"username": "poster-user", "password": PASSWORD, "csrf_token": csrf}
        )

    def test_managers_print_the_poster(self, app: Flask, client: FlaskClient) -> None:
        self.login(app, client, Role.MANAGER)
        page = client.get("/s/demo/poster?size=a5")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "<svg" in html and "http://localhost/s/demo/book" in html
        png = client.get("/s/demo/poster/qr.png")
        assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"

    def test_not_for_clerks_or_strangers(self, app: Flask, client: FlaskClient) -> None:
        assert client.get("/s/demo/poster").status_code == 302
        self.login(app, client, Role.CLERK)
        assert client.get("/s/demo/poster").status_code == 403
        assert client.get("/s/demo/poster/qr.png").status_code == 403


def test_booking_pages_render(client: FlaskClient) -> None:
    assert client.get("/s/demo/book").status_code == 200
    assert client.get("/s/demo/kiosk/check-in").status_code == 200
    assert client.get("/b/nope").status_code == 404


def test_a_code_for_another_day_is_named_not_counted_wrong(app: Flask, client: FlaskClient) -> None:
    tomorrow = book(client).json
    answers = [checkin(client, app, tomorrow["code"]) for _ in range(6)]
    assert {a.status_code for a in answers} == {409}
    assert answers[0].json["error"] == "other_day" and answers[0].json["date"] == TOMORROW


def test_bookings_are_rate_limited_per_client(client: FlaskClient) -> None:
    day = slots(client)
    statuses = [
        book(client, start=day[i]["start"], phone=f"1390000{i:04d}").status_code for i in range(21)
    ]
    assert statuses == [201] * 20 + [429]


def test_quiet_hours_come_from_past_visits(app: Flask, client: FlaskClient) -> None:
    from backend.models import Service, Ticket
    from backend.policy import Lane

    with app.app_context():
        service = db.session.scalar(select(Service).where(Service.code == "A"))
        n = 0
        for days_ago in range(1, 8):
            day = datetime(2026, 11, 26, tzinfo=UTC).date() - timedelta(days=days_ago)
            # Busy at 11:00 and 15:00 local, quiet otherwise.
            for hour, count in ((9, 1), (10, 2), (11, 8), (12, 3), (15, 9), (16, 1), (17, 1)):
                for k in range(count):
                    n += 1
                    at = datetime(day.year, day.month, day.day, hour - 8, k, tzinfo=UTC)
                    db.session.add(
                        Ticket(
                            store_id=service.store_id,
                            service_id=service.id,
                            lane=Lane.FAST,
                            label=f"H{n:04d}",
                            number=n,
                            service_day=day,
                            issued_at=at,
                            queue_at=at,
                        )
                    )
        db.session.commit()
    busy = client.get("/api/v1/stores/demo/booking?lang=en").json["busy"]
    levels = {h["hour"]: h["level"] for h in busy["hours"]}
    assert levels[11] == "high" and levels[15] == "high" and levels[9] == "low"
    assert busy["advice"].startswith("Quiet hours:") and "16:00" in busy["advice"]


def test_the_booking_page_offers_joining_the_queue_now(app: Flask, client: FlaskClient) -> None:
    assert 'href="/s/demo/join"' in client.get("/s/demo/book").get_data(as_text=True)
    set_store(app, remote_join=False)
    assert 'href="/s/demo/join"' not in client.get("/s/demo/book").get_data(as_text=True)
