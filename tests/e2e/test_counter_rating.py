"""The rating at the counter in a real browser: after completing a visit the clerk opens the
rating page from the terminal and turns the tablet around; the customer taps the stars, may
write a comment, sees the thank-you and the page goes back to the terminal. Both languages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveServer, axe_violations, new_page, shot

pytestmark = pytest.mark.browser

THANKS = {"zh": "感谢您的评价", "en": "Thank you for your feedback!"}


def clerk_terminal(browser: Browser, server: LiveServer, lang: str) -> Page:
    page = new_page(browser, 1366, 1024, locale="zh-CN" if lang == "zh" else "en-US")
    target = f"/s/demo/counter?counter=1&lang={lang}"
    page.goto(f"{server.url}/login?next={target.replace('&', '%26')}")
    page.fill("#username", "clerk1")
    page.fill("#password", server.passwords["clerk1"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"^http://[^/]+/s/demo/counter\?"))
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_customer_rates_on_the_turned_tablet(
    browser: Browser, live_server: LiveServer, lang: str
) -> None:
    ticket = live_server.staff("clerk1", "/stores/demo/tickets", service="A", channel="staff")
    page = clerk_terminal(browser, live_server, lang)
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)
    live_server.staff("clerk1", "/stores/demo/counters/1/call-next")
    expect(page.locator("#current-label")).to_have_text(ticket["label"])
    expect(page.locator("#rate-at-counter")).to_be_hidden()  # not while a customer is served
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/complete")
    link = page.locator("#rate-at-counter")
    expect(link).to_be_visible()  # offered once the visit is complete
    link.click()
    page.wait_for_url(re.compile(r"^http://[^/]+/s/demo/counter/rate"))
    expect(page.locator(".r-visit")).to_contain_text(ticket["label"])
    assert axe_violations(page) == []
    page.locator('.r-star[data-stars="4"]').click()
    page.fill("#comment", "很耐心 patient")
    shot(page, f"counter-rate-{lang}")
    page.locator("#rate-submit").click()
    expect(page.locator("#rate-thanks")).to_contain_text(THANKS[lang])
    expect(page.locator(".r-thanks-stars")).to_have_text("★★★★☆")
    shot(page, f"counter-rate-thanks-{lang}")
    assert axe_violations(page) == []
    assert live_server.get(f"/tickets/{ticket['token']}")["feedback"] == {
        "stars": 4,
        "comment": "很耐心 patient",
    }
    page.locator("#rate-back").click()
    page.wait_for_url(re.compile(r"^http://[^/]+/s/demo/counter\?counter=1"))
    expect(page.locator("#current-label")).to_have_text("—")
    # Opened again, the same visit is not rated twice.
    page.goto(f"{live_server.url}/s/demo/counter/rate?counter=1&lang={lang}")
    expect(page.locator("#rate-done")).to_be_visible()
    expect(page.locator("#rate-form")).to_have_count(0)


def test_choosing_no_star_says_so(browser: Browser, live_server: LiveServer) -> None:
    ticket = live_server.staff("clerk1", "/stores/demo/tickets", service="B", channel="staff")
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)
    live_server.staff("clerk1", "/stores/demo/counters/1/call-next")
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/complete")
    page = clerk_terminal(browser, live_server, "en")
    page.goto(f"{live_server.url}/s/demo/counter/rate?counter=1&lang=en")
    page.locator("#rate-submit").click()
    expect(page.locator("#rate-stars-error")).to_have_text(
        "Please touch the stars to choose 1 to 5."
    )
    assert live_server.get(f"/tickets/{ticket['token']}")["feedback"] is None
