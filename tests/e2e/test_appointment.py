"""Booking by QR poster to being called, in a real browser: the manager's poster, the phone
booking, the confirmation with its QR, the kiosk check-in, the counter calling it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, new_page, register_kiosk, shot

pytestmark = pytest.mark.browser

# The server lives as if it were 09:40 on a Thursday in Shanghai, whatever the hour of the run.
MORNING = "2026-11-26T01:40:00+00:00"


@pytest.fixture
def morning_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, clock_start=MORNING)
    server.start()
    db_file = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:  # a store that takes bookings for right now
        conn.execute("UPDATE store SET booking_lead_minutes = 0 WHERE code = 'demo'")
    try:
        yield server
    finally:
        server.stop()


def login(browser: Browser, server: LiveServer, username: str, next_path: str):  # type: ignore[no-untyped-def]
    page = new_page(browser, 1366, 900, locale="zh-CN")
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0])))
    return page


def test_poster_to_booking_to_check_in_to_counter(
    browser: Browser, morning_server: LiveServer
) -> None:
    server = morning_server
    poster = login(browser, server, "manager", "/s/demo/poster")
    expect(poster.locator("svg").first).to_be_visible()
    shot(poster, "poster-a4")
    book_url = f"{server.url}/s/demo/book"
    assert book_url in poster.content()  # the URL the poster's QR code carries

    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(book_url)  # what scanning the poster opens
    phone.locator('[data-service="C"]').click()
    phone.locator('[data-date="2026-11-26"]').click()
    first_slot = phone.locator("[data-slot]:not([disabled])").first
    expect(first_slot).to_be_visible()
    assert first_slot.get_attribute("data-slot") == "2026-11-26T01:45:00Z"  # 09:45
    first_slot.click()
    phone.fill("#name", "王小明")
    phone.fill("#phone", "13912345678")
    phone.locator("#consent").check()
    shot(phone, "book-filled")
    phone.locator("#book-submit").click()
    phone.wait_for_url(re.compile(r"/b/[^/?]+"))
    code = phone.locator("#code").inner_text().strip()
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{6}", code)
    expect(phone.locator("#code-qr svg")).to_be_visible()
    assert "王小明" not in phone.content() and "13912345678" not in phone.content()
    shot(phone, "booking-confirmation")

    kiosk = new_page(browser, 1080, 1920, locale="zh-CN")
    register_kiosk(kiosk, server)
    kiosk.locator("#checkin-link").click()
    kiosk.wait_for_url(re.compile(r"/kiosk/check-in"))
    kiosk.locator("#code-input").fill(code.lower())
    shot(kiosk, "kiosk-check-in")
    kiosk.locator("#checkin-submit").click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    expect(kiosk.locator("#label")).to_have_text("Y001")
    shot(kiosk, "kiosk-appointment-ticket")

    counter = login(browser, server, "clerk1", "/s/demo/counter?counter=3")
    expect(counter.locator("#call-next")).to_be_enabled()
    counter.locator("#call-next").click()
    expect(counter.locator("#current-label")).to_have_text("Y001")
    expect(counter.locator("body")).to_contain_text("王*")  # the clerk sees the name masked
    assert "王小明" not in counter.content()
    shot(counter, "counter-appointment")
    token = phone.url.split("/b/")[1].split("?")[0]
    assert server.get(f"/bookings/{token}")["status"] == "checked_in"
