"""Appointments for staff in a real browser: a clerk books for a caller, finds the booking by its
code, checks the customer in on their behalf, and the ticket appears in the counter's waiting
list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, shot
from .test_appointment import login, morning_server  # noqa: F401  (the 09:40 server fixture)
from .test_counter import terminal

pytestmark = pytest.mark.browser


def test_a_clerk_finds_a_booking_by_code_checks_in_and_the_counter_sees_it(
    browser: Browser,
    morning_server: LiveServer,  # noqa: F811
) -> None:
    server = morning_server
    page = login(browser, server, "clerk1", "/s/demo/appointments")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.select_option("#service", "C")
    page.fill("#day", "2026-11-26")
    page.fill("#time", "09:45")
    page.fill("#name", "王小明")
    page.fill("#phone", "13912345678")
    page.locator("#consent").check()
    page.get_by_role("button", name="预约", exact=True).click()
    flash = page.locator(".m-flash-ok")
    expect(flash).to_contain_text("已预约：签到码")
    code = re.search(r"[A-HJ-KM-NP-Z2-9]{6}", flash.inner_text())
    assert code is not None
    shot(page, "staff-bookings-zh")
    assert "王小明" not in page.content() and "13912345678" not in page.content()

    # The booking's own page: move to a free time or cancel, with a reason for the customer.
    page.locator(f'tr[data-code="{code[0]}"]').first.get_by_role("link", name="改约或取消").click()
    expect(page.locator("#sb-facts")).to_have_attribute("data-status", "booked")
    expect(page.locator("#slot optgroup").first).to_have_attribute("label", "2026-11-26")
    shot(page, "staff-booking-detail-zh")
    page.go_back()

    # A new search by the code, as the clerk at the desk would type it.
    page.fill("#q", code[0].lower())
    page.get_by_role("button", name="查找").click()
    found = page.locator(f'#sb-found tr[data-code="{code[0]}"]')
    expect(found).to_contain_text("139****5678")
    expect(found).to_contain_text("待签到")
    assert axe_violations(page) == []
    found.get_by_role("button", name="签到").click()
    expect(page.locator(".m-flash-ok")).to_contain_text("已签到：Y001 号已进入排队。")
    expect(page.locator(f'#sb-found tr[data-code="{code[0]}"]')).to_contain_text("Y001")

    english = login(browser, server, "clerk2", "/s/demo/appointments?lang=en")
    english.set_viewport_size({"width": 1366, "height": 768})
    english.locator(f'tr[data-code="{code[0]}"] a').first.click()
    expect(english.locator("#sb-state")).to_contain_text("Checked in · Y001")
    shot(english, "staff-booking-detail-en")
    english.go_back()
    expect(english.locator(f'tr[data-code="{code[0]}"]').first).to_contain_text("Checked in")
    shot(english, "staff-bookings-en")

    clerk = terminal(browser, server, "clerk2", 3)
    expect(clerk.locator("#waiting-list")).to_contain_text("Y001")
    shot(clerk, "staff-bookings-counter")
