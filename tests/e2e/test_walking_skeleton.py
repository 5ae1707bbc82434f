"""One ticket from kiosk to counter to display and phone, in a real browser, with no reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveServer, new_page, register_kiosk, shot

pytestmark = pytest.mark.browser


def login(page: Page, server: LiveServer, username: str, next_path: str) -> None:
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path.split("?")[0])))


def mark_loaded(page: Page) -> None:
    """A marker that a reload would wipe out: proves updates arrive live."""
    page.evaluate("window.__noReload = true")


def test_ticket_travels_kiosk_display_counter_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    base = live_server.url

    display = new_page(browser, 1920, 1080, locale="zh-CN")
    display.goto(f"{base}/s/demo/display")
    overlay = display.locator("#sound-overlay")
    if overlay.is_visible():
        overlay.click()
    mark_loaded(display)

    counter = new_page(browser, 1366, 768, locale="zh-CN")
    login(counter, live_server, "clerk1", "/s/demo/counter?counter=1")
    expect(counter.locator("#call-next")).to_be_visible()
    mark_loaded(counter)

    kiosk = new_page(browser, 1080, 1920, locale="zh-CN")
    register_kiosk(kiosk, live_server)
    shot(kiosk, "kiosk-home")
    kiosk.locator('[data-service="A"]').click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    label = kiosk.locator("#label").inner_text().strip()
    assert label == "A001"
    expect(kiosk.locator("svg").first).to_be_visible()
    shot(kiosk, "kiosk-ticket")
    token = kiosk.url.rsplit("/", 1)[1]

    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{base}/t/{token}")
    expect(phone.locator("#label")).to_have_text(label)
    expect(phone.locator("#position")).to_have_text("0")
    mark_loaded(phone)
    shot(phone, "status-waiting")

    # The new ticket reaches the counter's waiting list and the display's lane count live.
    expect(counter.locator(f'#waiting-list [data-label="{label}"]')).to_be_visible()
    expect(display.locator("#lanes")).to_contain_text("1")

    counter.locator("#call-next").click()
    expect(counter.locator("#current-label")).to_have_text(label)
    shot(counter, "counter-called")

    expect(display.locator("#now-label")).to_have_text(label)
    expect(display.locator("#now-counter")).to_contain_text("1")
    expect(display.locator('.counter-panel[data-counter="1"] .current')).to_have_text(label)
    expect(display.locator("#recent")).to_contain_text(label)
    display.wait_for_function("window.announcements && window.announcements.length >= 2")
    announcements = display.evaluate("window.announcements")
    assert announcements[:2] == ["请 A零零一 号 到 1 号窗口", "Number A001, please go to counter 1"]
    shot(display, "display-called")

    banner = phone.locator("#call-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("1")
    expect(phone.locator("#status")).to_have_attribute("data-status", "called")
    shot(phone, "status-called")

    counter.locator("#complete").click()
    counter.locator('#complete-dialog [data-outcome="done"]').click()
    expect(phone.locator("#status")).to_have_attribute("data-status", "done")
    expect(counter.locator("#current-label")).not_to_have_text(label)
    expect(display.locator('.counter-panel[data-counter="1"] .current')).not_to_have_text(label)

    for page in (display, counter, phone):
        assert page.evaluate("window.__noReload === true"), "the page was reloaded"
