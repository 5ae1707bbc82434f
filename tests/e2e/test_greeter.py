"""The greeter's tablet in a real browser: floor staff issue a priority-care ticket with a note,
the policy calls it first at a counter of its lane, and the clerk sees why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, new_page, shot
from .test_counter import issue, settled, terminal, wait_for

pytestmark = pytest.mark.browser


def test_the_greeter_issues_a_priority_care_ticket_that_is_called_first(
    browser: Browser, live_server: LiveServer
) -> None:
    walk_ins = [issue(live_server, "C"), issue(live_server, "C")]  # standard business, earlier

    greeter = new_page(browser, 1024, 768, locale="zh-CN")
    greeter.goto(f"{live_server.url}/login?next=/s/demo/greeter")
    greeter.fill("#username", "clerk1")
    greeter.fill("#password", live_server.passwords["clerk1"])
    greeter.keyboard.press("Enter")
    greeter.wait_for_url(re.compile(r"^[^?]*/s/demo/greeter"))
    assert axe_violations(greeter) == []
    greeter.locator(".g-level-care").click()
    expect(greeter.locator('input[value="priority_care"]')).to_be_checked()
    greeter.fill("#greeter-note", "行动不便，请安排座位")
    shot(greeter, "greeter-zh")
    greeter.locator('button[name="service"][value="C"]').click()
    expect(greeter.locator("#greeter-result")).to_be_visible()
    label = greeter.locator("#result-label").inner_text()
    assert label.startswith("C") and label not in [t["label"] for t in walk_ins]
    expect(greeter.locator("#result-level")).to_contain_text("爱心优先")
    expect(greeter.locator("#result-wait")).to_contain_text("下一位即叫到")
    shot(greeter, "greeter-issued-zh")
    # The next customer starts as everyone else: the level and the note are cleared.
    expect(greeter.locator('input[name="level"][value="normal"]')).to_be_checked()
    expect(greeter.locator("#greeter-note")).to_have_value("")

    clerk = terminal(browser, live_server, "clerk2", 3)  # counter 3: standard first
    assert (
        wait_for(
            lambda: next(
                c["clerk"]
                for c in live_server.get("/stores/demo/snapshot")["counters"]
                if c["number"] == 3
            ),
            "李明",
        )
        == "李明"
    )
    expect(clerk.locator(".w-reason").first).to_contain_text("爱心优先")
    settled(clerk)
    clerk.keyboard.press("F1")
    expect(clerk.locator("#current-label")).to_have_text(label)
    expect(clerk.locator("#current-care")).to_be_visible()
    expect(clerk.locator("#current-note")).to_contain_text("行动不便")
    shot(clerk, "counter-priority-care")


def test_the_greeter_page_in_english(browser: Browser, live_server: LiveServer) -> None:
    page = new_page(browser, 1024, 768, locale="en-US")
    page.goto(f"{live_server.url}/login?next=/s/demo/greeter")
    page.fill("#username", "manager")
    page.fill("#password", live_server.passwords["manager"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^[^?]*/s/demo/greeter"))
    page.goto(f"{live_server.url}/s/demo/greeter?lang=en")
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1")).to_have_text("Greeter")
    expect(page.locator(".g-levels")).to_contain_text("Priority care")
    assert axe_violations(page) == []
    shot(page, "greeter-en")
