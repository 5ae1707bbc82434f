"""The ticket status page on a phone: letting a few go ahead (让号) moves the ticket and the page
shows its new place; after completion the rating card is in the first screen, in both languages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveServer, axe_violations, new_page, shot

pytestmark = pytest.mark.browser


def issue(server: LiveServer, service: str = "A") -> dict:
    return server.staff("clerk1", "/stores/demo/tickets", service=service, channel="staff")


def phone(browser: Browser, server: LiveServer, ticket: dict, lang: str) -> Page:
    page = new_page(
        browser,
        390,
        844,
        locale="zh-CN" if lang == "zh" else "en-US",
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{server.url}/t/{ticket['token']}?lang={lang}")
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_let_a_few_go_ahead_moves_the_ticket(
    browser: Browser, live_server: LiveServer, lang: str
) -> None:
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)
    mine = issue(live_server)
    others = [issue(live_server) for _ in range(4)]
    page = phone(browser, live_server, mine, lang)
    expect(page.locator("#position")).to_have_text("0")
    box = page.locator("#let-ahead-box")
    expect(box).to_be_visible()
    expect(box.locator("button[data-places]")).to_have_count(3)  # the store's limit
    box.scroll_into_view_if_needed()
    shot(page, f"status-let-ahead-{lang}")
    assert axe_violations(page) == []
    box.locator('button[data-places="2"]').click()
    expect(page.locator("#position")).to_have_text("2")
    message = "您已让 2 位先办。" if lang == "zh" else "You let 2 people go ahead."
    expect(page.locator("#action-msg")).to_have_text(message)
    expect(box).to_be_hidden()  # once per ticket
    page.locator("#action-msg").scroll_into_view_if_needed()
    shot(page, f"status-let-ahead-done-{lang}")
    order = [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]]
    assert order == [others[0]["label"], others[1]["label"], mine["label"]] + [
        o["label"] for o in others[2:]
    ]
    # The page follows the queue: one call later, one person fewer ahead.
    live_server.staff("clerk1", "/stores/demo/counters/1/call-next")
    expect(page.locator("#position")).to_have_text("1")


def test_nobody_behind_says_so(browser: Browser, live_server: LiveServer) -> None:
    mine = issue(live_server)
    other = issue(live_server)
    page = phone(browser, live_server, other, "en")
    expect(page.locator("#let-ahead-box")).to_be_visible()
    page.locator('#let-ahead-box button[data-places="1"]').click()
    expect(page.locator("#action-msg")).to_contain_text("Nobody is waiting behind you")
    expect(page.locator("#position")).to_have_text("1")
    assert mine["label"] == live_server.get("/stores/demo/snapshot")["waiting"][0]["label"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rating_card_is_in_the_first_screen(
    browser: Browser, live_server: LiveServer, lang: str
) -> None:
    ticket = issue(live_server, "B")
    page = phone(browser, live_server, ticket, lang)
    expect(page.locator("#status")).to_have_attribute("data-status", "waiting")
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)
    live_server.staff("clerk1", "/stores/demo/counters/1/call-next")
    expect(page.locator("#status")).to_have_attribute("data-status", "called")
    page.locator("#banner-ok").click()
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/complete")
    card = page.locator("#rating")
    expect(card).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    box = card.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + 120 <= 844  # its top and first stars in the first screen
    stars = page.locator('#rating button[data-stars="5"]').bounding_box()
    assert stars is not None and stars["y"] + stars["height"] <= 844
    expect(page.locator("#label")).to_be_visible()  # which visit is rated stays on screen
    shot(page, f"status-rating-first-screen-{lang}")
    assert axe_violations(page) == []
