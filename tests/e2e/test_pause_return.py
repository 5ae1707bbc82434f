"""A clerk pauses with a length on the counter terminal; the terminal and the waiting-area display
show the planned return in the store's clock time."""

from __future__ import annotations

from datetime import datetime

import pytest
from playwright.sync_api import Browser, expect

from .conftest import STORE_ZONE, LiveServer, shot
from .test_counter import settled, terminal
from .test_display import display_page

pytestmark = pytest.mark.browser


def test_a_pause_of_30_minutes_shows_its_return_on_the_counter_and_the_display(
    browser: Browser, live_server: LiveServer
) -> None:
    page = terminal(browser, live_server, "clerk1", 1)
    takeover = page.locator("#takeover-dialog")
    if takeover.is_visible():
        page.keyboard.press("Enter")
    settled(page)
    display = display_page(browser, live_server)
    page.keyboard.press("F7")
    reasons = page.locator("#pause-dialog")
    expect(reasons).to_be_visible()
    reasons.locator(".c-choice").first.click()
    lengths = page.locator("#pause-length-dialog")
    expect(lengths).to_be_visible()
    expect(lengths.locator(".c-choice")).to_have_count(4)  # 15, 30, 60 min and "not sure"
    # Large enough to hit at 1366x768: every choice at least 44 px high.
    for box in (b.bounding_box() for b in lengths.locator(".c-choice").all()):
        assert box is not None and box["height"] >= 44, box
    shot(page, "counter-pause-length-1366")
    lengths.locator("[data-minutes='30']").click()
    expect(lengths).to_be_hidden()
    expect(page.locator("#desk-state")).to_contain_text("回来")  # the answer is in

    counter = live_server.get("/stores/demo/snapshot")["counters"][0]
    assert counter["status"] == "paused" and counter["back_at"], counter
    back = datetime.fromisoformat(counter["back_at"].replace("Z", "+00:00"))
    hhmm = back.astimezone(STORE_ZONE).strftime("%H:%M")
    expect(page.locator("#desk-state")).to_contain_text(f"约 {hhmm} 回来")
    shot(page, "counter-paused-back-at-1366")
    panel = display.locator("#counters [data-counter='1']")
    expect(panel).to_have_attribute("data-status", "paused")
    expect(panel.locator(".c-back")).to_have_text(f"约 {hhmm} 回来")
    shot(display, "display-paused-back-at-1920")
    display.set_viewport_size({"width": 1366, "height": 768})
    expect(panel.locator(".c-back")).to_be_visible()
    shot(display, "display-paused-back-at-1366")
    page.set_viewport_size({"width": 1920, "height": 1080})
    shot(page, "counter-paused-back-at-1920")

    page.keyboard.press("F7")  # resume: the return time goes everywhere
    expect(panel).to_have_attribute("data-status", "open")
    expect(panel.locator(".c-back")).to_have_count(0)
    expect(page.locator("#desk-state")).to_be_hidden()
