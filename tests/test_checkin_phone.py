"""Check-in at the kiosk by mobile number (today's bookings listed masked, one tapped), and the
early arrival's two ways on: an appointment ticket called at its slot time, or a walk-in ticket
now. The engine's side with an injected clock: an early arrival is called at the slot, not
before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from backend.core.clock import ManualClock
from backend.policy import CounterView, Lane, QueueItem, QueuePolicy, choose_next
from backend.policy.eta import CounterLoad, forecast

from .conftest import Api
from .factories import NAME, PHONE, Factory, kiosk_headers

CHECK_IN = "/api/v1/stores/demo/check-in"
TODAY_10 = "2026-11-26T02:00:00Z"  # 10:00 today in Shanghai (now is 09:00)
TODAY_11 = "2026-11-26T03:00:00Z"
TOMORROW_10 = "2026-11-27T02:00:00Z"


def at(clock: ManualClock, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, 11, 26, hour - 8, minute, tzinfo=UTC))


def post(client: FlaskClient, lang: str = "zh", headers: Any = None, **body: Any) -> Any:
    head = kiosk_headers(client.application) if headers is None else headers
    return client.post(CHECK_IN, json=body, headers=head | {"Accept-Language": lang})


def bookings_of(client: FlaskClient, phone: str = PHONE, **extra: Any) -> Any:
    return post(client, phone=phone, **extra)


class TestByPhone:
    def test_todays_booking_listed_masked_then_checked_in_once(
        self, client: FlaskClient, make: Factory, clock: ManualClock
    ) -> None:
        booking = make.appointment(TODAY_10)
        at(clock, 9, 50)
        listed = bookings_of(client, phone="139 1234 5678")  # typed with spaces: the same number
        assert listed.status_code == 200
        [row] = listed.json["bookings"]
        assert row["time"] == "10:00" and row["name_masked"] == "王**"
        assert row["service"] == "C" and row["service_name_zh"] and row["service_name_en"]
        assert row["service_name_zh"] != row["service_name_en"] and not row["checked_in"]
        text = listed.get_data(as_text=True)
        token = booking["manage_url"].rsplit("/", 1)[1]
        for secret in (NAME, PHONE, booking["code"], token, "5678"):
            assert secret not in text
        assert row["choice"] not in (booking["code"], token)
        first = bookings_of(client, booking=row["choice"])
        assert first.status_code == 201
        ticket = first.json
        assert ticket["lane"] == "appointment" and ticket["label"] == "Y001" and ticket["print_url"]
        for secret in (NAME, PHONE):
            assert secret not in first.get_data(as_text=True)
        again = bookings_of(client, booking=row["choice"])  # a second tap: the same ticket
        assert again.status_code == 200 and again.json["id"] == ticket["id"]
        assert again.json["label"] == "Y001"
        view = client.get(f"/api/v1/bookings/{token}").json
        assert view["status"] == "checked_in" and view["ticket"]["label"] == "Y001"
        relisted = bookings_of(client).json["bookings"]
        assert [r["checked_in"] for r in relisted] == [True]

    def test_the_kiosk_page_carries_nothing_personal(
        self, client: FlaskClient, make: Factory
    ) -> None:
        make.appointment(TODAY_10)
        page = client.get("/s/demo/kiosk/check-in", headers=kiosk_headers(client.application))
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and "phone-keypad" in html
        assert NAME not in html and PHONE not in html and "王*" not in html

    def test_another_day_is_named_and_not_counted_wrong(
        self, client: FlaskClient, make: Factory
    ) -> None:
        make.appointment(TOMORROW_10)
        answers = [bookings_of(client) for _ in range(6)]
        assert [a.status_code for a in answers] == [409] * 6  # never a 429: not a wrong attempt
        assert answers[0].json["error"] == "other_day"
        assert "11月27日 10:00" in answers[0].json["message"]
        english = post(client, "en", phone=PHONE).json
        assert "Nov 27 10:00" in english["message"] and english["date"] == "2026-11-27"

    def test_an_unknown_number_counts_as_a_wrong_attempt(
        self, client: FlaskClient, make: Factory
    ) -> None:
        booking = make.appointment(TODAY_10)
        codes = [bookings_of(client, phone="13800000000") for _ in range(5)]
        assert [c.status_code for c in codes] == [404] * 5
        assert codes[0].json["error"] == "unknown_phone"
        limited = bookings_of(client)  # even the right number, until the window passes
        assert limited.status_code == 429
        assert limited.json["message"].startswith("操作过于频繁")
        assert post(client, "en", code=booking["code"]).json["message"].startswith("Too many")

    def test_wrong_codes_and_wrong_numbers_share_the_limit(
        self, client: FlaskClient, make: Factory
    ) -> None:
        make.appointment(TODAY_10)
        answers = [post(client, code="ZZZZZ9") for _ in range(3)]
        answers += [bookings_of(client, phone="13800000000") for _ in range(2)]
        assert [a.status_code for a in answers] == [404] * 5
        assert bookings_of(client).status_code == 429

    def test_bad_input(self, client: FlaskClient, make: Factory) -> None:
        make.appointment(TODAY_10)
        cases = [
            ({"phone": "12345"}, 400, "bad_phone"),
            ({"phone": "12912345678"}, 400, "bad_phone"),
            ({"phone": "1391234\x005678"}, 400, "bad_text"),
            ({"phone": "1" * 5000}, 400, "bad_input"),
            ({"phone": "1" * 2_000_000}, 413, "request_entity_too_large"),
            ({"phone": PHONE, "code": "ABCDEF"}, 400, "bad_input"),
            ({"booking": "abc"}, 400, "bad_input"),
            ({"phone": PHONE, "early": "later"}, 400, "bad_input"),
            ({"phone": PHONE, "booking": "0" * 20}, 404, "unknown_booking"),
        ]
        for body, status, error in cases:
            response = post(client, **body)
            assert (response.status_code, response.json["error"]) == (status, error), body
            assert response.json["message"]

    def test_staff_check_in_by_phone_and_strangers_cannot(
        self, client: FlaskClient, make: Factory, api: Api, clock: ManualClock
    ) -> None:
        make.appointment(TODAY_10)
        at(clock, 9, 50)
        stranger = client.post(CHECK_IN, json={"phone": PHONE})
        assert stranger.status_code == 403 and stranger.json["error"] == "kiosk_not_registered"
        [row] = post(client, headers=api.headers, phone=PHONE).json["bookings"]
        ticket = post(client, headers=api.headers, phone=PHONE, booking=row["choice"])
        assert ticket.status_code == 201 and ticket.json["label"] == "Y001"


class TestEarly:
    def test_too_early_offers_two_ways(self, client: FlaskClient, make: Factory) -> None:
        booking = make.appointment(TODAY_11)  # now 09:00; the window opens at 10:45
        early = post(client, code=booking["code"])
        assert early.status_code == 409 and early.json["error"] == "too_early"
        assert early.json["time"] == "10:45" and early.json["slot_time"] == "11:00"
        options = early.json["options"]
        assert [o["early"] for o in options] == ["wait", "walk_in"]
        assert options[0]["title"] == "现在排队，到预约时间优先叫号"
        assert options[1]["title"] == "改为现场取号"
        english = post(client, "en", code=booking["code"]).json["options"]
        assert english[0]["title"] == "Take your place now: you will be called at your booked time"

    def test_waiting_early_is_called_at_the_slot_not_before(
        self, client: FlaskClient, make: Factory, api: Api, clock: ManualClock
    ) -> None:
        booking = make.appointment(TODAY_11)
        assert api.sign_in(3).status_code == 200
        [row] = bookings_of(client).json["bookings"]
        placed = bookings_of(client, booking=row["choice"], early="wait")
        assert placed.status_code == 201
        ticket = placed.json
        assert ticket["lane"] == "appointment" and ticket["label"] == "Y001"
        # The estimate is truthful: nobody else waits, yet the call comes at 11:00, not now.
        assert ticket["eta_minutes"] is not None and ticket["eta_minutes"][0] >= 120
        assert ticket["called_from"] == TODAY_11
        again = post(client, code=booking["code"], early="wait")  # the code path's answer
        assert again.status_code == 409 and again.json["error"] == "already_checked_in"
        at(clock, 10, 59)
        idle = api.call_next(3)
        assert idle["ticket"] is None  # nobody else waits, and it is not its time yet
        walk_in = api.issue("C")
        assert api.call_next(3)["ticket"]["id"] == walk_in["id"]  # someone else, not Y001
        at(clock, 11, 0)
        due = api.call_next(3)
        assert due["ticket"]["label"] == "Y001" and due["reason"] == "appointment_due"

    def test_a_walk_in_ticket_instead_uses_the_booking(
        self, client: FlaskClient, make: Factory, api: Api
    ) -> None:
        booking = make.appointment(TODAY_11)
        taken = post(client, code=booking["code"], early="walk_in")
        assert taken.status_code == 201
        ticket = taken.json
        assert ticket["lane"] == "standard" and ticket["label"].startswith("C")
        token = booking["manage_url"].rsplit("/", 1)[1]
        view = client.get(f"/api/v1/bookings/{token}").json
        assert view["status"] == "checked_in" and view["ticket"]["label"] == ticket["label"]
        called = api.call_next(3)  # an ordinary number: called in turn, now
        assert called["ticket"]["id"] == ticket["id"]
        api.act(ticket["id"], "start")
        assert api.act(ticket["id"], "complete").status_code == 200
        assert client.get(f"/api/v1/bookings/{token}").json["status"] == "done"

    def test_inside_the_window_early_changes_nothing(
        self, client: FlaskClient, make: Factory, clock: ManualClock
    ) -> None:
        booking = make.appointment(TODAY_10)
        at(clock, 9, 50)
        ticket = post(client, code=booking["code"], early="walk_in")
        assert ticket.status_code == 201 and ticket.json["lane"] == "appointment"


T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def test_policy_holds_an_early_arrival_until_its_slot() -> None:
    slot = T0 + timedelta(minutes=60)
    early = QueueItem(1, Lane.APPOINTMENT, T0, "C", due_at=slot, service_lane=Lane.STANDARD,
                      waits_for_slot=True)  # fmt: skip
    counter = CounterView(3, (Lane.STANDARD, Lane.APPOINTMENT))
    policy = QueuePolicy()
    assert choose_next(counter, [early], policy, slot - timedelta(seconds=1)).ticket_id is None
    walk_in = QueueItem(2, Lane.STANDARD, T0 + timedelta(minutes=5), "C")
    assert choose_next(counter, [early, walk_in], policy, T0 + timedelta(minutes=10)).ticket_id == 2
    assert choose_next(counter, [early], policy, slot).ticket_id == 1
    # An in-window check-in (not held) may still be taken early by an idle counter, as before.
    in_window = QueueItem(3, Lane.APPOINTMENT, T0, "C", due_at=slot, service_lane=Lane.STANDARD)
    assert choose_next(counter, [in_window], policy, T0).ticket_id == 3
    # The estimate waits for the slot too: an idle counter, yet the call is an hour away.
    waits = forecast([early], [CounterLoad(counter, T0)], policy, T0, samples=0)
    assert waits[1].point == 60
