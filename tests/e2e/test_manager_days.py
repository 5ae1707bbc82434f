"""Holidays in a real browser at 1366×768: a manager closes a day that customers have booked, is
shown the bookings before anything is saved, cancels them with a message, and the customers'
booking pages say that the store cancelled them, with the message in each customer's language.
The days pages have no accessibility violation in either language."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, new_page, shot
from .test_manager import console

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")


def store_today(server: LiveServer) -> date:
    """The store's date on the server's clock (started at 10:00 when the real hour is outside the
    hall's, else real time)."""
    start = server.env.get("HALLQUEUE_CLOCK_START")
    moment = datetime.fromisoformat(start) if start else datetime.now(SHANGHAI)
    return moment.astimezone(SHANGHAI).date()


def book(server: LiveServer, day: date, hour: int, phone: str, service: str = "C") -> dict:
    start = datetime.combine(day, clock_time(hour), SHANGHAI).isoformat()
    body = {"service": service, "start": start, "name": "王小明", "phone": phone, "consent": True}
    response = requests.post(f"{server.url}/api/v1/stores/demo/appointments", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_holiday_over_bookings_is_cancelled_with_a_message_the_customers_read(
    browser: Browser, live_server: LiveServer
) -> None:
    holiday = store_today(live_server) + timedelta(days=1)
    first = book(live_server, holiday, 10, "13900000001")
    second = book(live_server, holiday, 14, "13900000002", service="D")

    page = console(browser, live_server)
    page.get_by_role("link", name="节假日", exact=True).click()
    expect(page.locator("h1")).to_have_text("节假日与特殊营业日")
    shot(page, "manager-days-zh")
    page.fill("#first", holiday.isoformat())
    page.get_by_role("button", name="保存").click()

    # Nothing saved yet: the two bookings are listed, masked, with a suggested new time each.
    expect(page.locator("h1")).to_have_text("您要修改的日期上有 2 个预约")
    rows = page.locator("#affected tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(first["code"])
    expect(rows.nth(0)).to_contain_text("139****0001")
    expect(rows.nth(1)).to_contain_text(second["code"])
    expect(rows.nth(0).locator("input[name='moves-0-time']")).to_have_value("10:00")
    shot(page, "manager-days-decide-zh")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366

    page.fill("#message_zh", "明天门店设备检修，暂停营业，请改约其他时间。")
    page.fill("#message_en", "We are closed tomorrow for maintenance. Please book another day.")
    page.get_by_role("button", name="取消这些预约并通知客户").click()
    expect(page.locator(".m-flash")).to_have_text("已保存。")
    row = page.locator(f'tr[data-day="{holiday.isoformat()}"]')
    expect(row).to_contain_text("全天休息")
    expect(row.locator("td.num")).to_have_text("0")
    shot(page, "manager-days-list-zh")
    page.get_by_role("link", name="概览").click()
    expect(page.locator("#coming-days")).to_contain_text(holiday.isoformat())
    shot(page, "manager-overview-days-zh")

    # The customers' own pages, in each one's language.
    phone = new_page(browser, 390, 844, locale="zh-CN")
    phone.goto(f"{live_server.url}{first['manage_url']}")
    notice = phone.locator("#store-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("门店已取消此预约。")
    expect(notice).to_contain_text("明天门店设备检修，暂停营业，请改约其他时间。")
    expect(phone.locator("#booking-status")).to_have_text("已取消")
    expect(phone.locator("#cancel-booking")).to_be_hidden()
    shot(phone, "booking-cancelled-by-store-zh")
    other = new_page(browser, 390, 844, locale="en-US")
    other.goto(f"{live_server.url}{second['manage_url']}?lang=en")
    expect(other.locator("#store-notice")).to_contain_text("The store cancelled this appointment.")
    expect(other.locator("#store-message")).to_have_text(
        "We are closed tomorrow for maintenance. Please book another day."
    )
    shot(other, "booking-cancelled-by-store-en")

    # And the day cannot be booked any more.
    slots = live_server.get(f"/stores/demo/slots?service=C&date={holiday.isoformat()}")
    assert slots["closed"] is True and slots["slots"] == []
    page.locator(".m-nav").get_by_role("link", name="操作记录").click()
    expect(page.locator("tbody.m-entry").nth(0)).to_contain_text("已设休息日")
    expect(page.locator("tbody.m-entry").nth(0)).to_contain_text(first["code"])


def test_a_booking_the_store_moved_says_so_and_the_days_pages_are_accessible(
    browser: Browser, live_server: LiveServer
) -> None:
    day = store_today(live_server) + timedelta(days=2)
    booking = book(live_server, day, 15, "13900000003")
    page = console(browser, live_server)
    page.goto(f"{live_server.url}/s/demo/manage/days?lang=en")
    page.fill("#first", day.isoformat())
    page.locator("#kind-1").check()
    page.fill("#start", "09:00")
    page.fill("#end", "12:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Bookings on the days you are changing: 1")
    assert axe_violations(page) == []
    shot(page, "manager-days-decide-en")
    # The nearest free time left on its own day is suggested; the manager takes it.
    expect(page.locator("input[name='moves-0-day']")).to_have_value(day.isoformat())
    expect(page.locator("input[name='moves-0-time']")).to_have_value("11:45")
    page.get_by_role("button", name="Move them to the new times").click()
    expect(page.locator(".m-flash")).to_have_text("Saved.")
    expect(page.locator(f'tr[data-day="{day.isoformat()}"]')).to_contain_text("09:00–12:00")
    assert axe_violations(page) == []
    shot(page, "manager-days-en")

    phone = new_page(browser, 390, 844, locale="zh-CN")
    phone.goto(f"{live_server.url}{booking['manage_url']}")
    expect(phone.locator("#b-time")).to_contain_text("11:45")
    expect(phone.locator("#store-notice")).to_contain_text("门店已将您的预约改到下面的时间")
    expect(phone.locator("#store-notice")).to_contain_text("15:00")
    shot(phone, "booking-moved-by-store-zh")

    for lang in ("zh", "en"):
        page.goto(f"{live_server.url}/s/demo/manage/days?lang={lang}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        assert axe_violations(page) == [], lang
        page.goto(f"{live_server.url}/s/demo/manage/services/C?lang={lang}")
        assert axe_violations(page) == [], lang
        shot(page, f"manager-service-booking-rules-{lang}")
        page.goto(f"{live_server.url}/s/demo/manage/store?lang={lang}")
        expect(page.locator("#timezone")).to_have_value("Asia/Shanghai")
        page.locator("#timezone").scroll_into_view_if_needed()
        shot(page, f"manager-store-timezone-{lang}")
