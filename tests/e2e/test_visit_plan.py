"""A visit for several services in a real browser: at the kiosk a customer chooses 补换卡 then 业务
办理, takes one number, the printed ticket and the phone show the plan, and when counter 1
completes the first part the phone shows the second without a reload; counter 3 calls it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, new_page, register_kiosk, shot
from .test_walking_skeleton import login, mark_loaded

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_two_services_one_number_at_the_kiosk(
    browser: Browser, live_server: LiveServer, lang: str
) -> None:
    base = live_server.url
    kiosk = new_page(browser, 1080, 1920, locale="zh-CN")
    register_kiosk(kiosk, live_server)
    if lang == "en":
        kiosk.goto(f"{base}/s/demo/kiosk?lang=en")
    kiosk.locator("#multi-toggle").click()
    expect(kiosk.locator("#multi-bar")).to_be_visible()
    expect(kiosk.locator("#multi-take")).to_be_disabled()
    kiosk.locator('[data-service="B"]').click()
    kiosk.locator('[data-service="C"]').click()
    expect(kiosk.locator('[data-service="B"]')).to_have_attribute("aria-pressed", "true")
    expect(kiosk.locator('[data-service="B"] .service-order')).to_have_text("1")
    expect(kiosk.locator('[data-service="C"] .service-order')).to_have_text("2")
    names = {"zh": ("补换卡", "业务办理"), "en": ("SIM card replacement", "Plan change")}[lang]
    expect(kiosk.locator("#multi-chosen")).to_contain_text(f"{names[0]} → {names[1]}")
    # A fourth choice is refused kindly; touching a chosen one again removes it.
    kiosk.locator('[data-service="A"]').click()
    kiosk.locator('[data-service="D"]').click()
    expect(kiosk.locator("#message")).to_be_visible()
    kiosk.locator('[data-service="A"]').click()
    expect(kiosk.locator('[data-service="A"] .service-order')).to_have_count(0)
    assert axe_violations(kiosk) == []
    shot(kiosk, f"kiosk-several-{lang}")
    # In large text the choice reads the same, and every button stays at least 64 px.
    kiosk.locator("#large-text").click()
    expect(kiosk.locator("#multi-chosen")).to_contain_text(names[1])
    small = kiosk.evaluate(
        """() => [...document.querySelectorAll('#multi button, #services button')]
             .filter((b) => b.offsetParent !== null)
             .map((b) => b.getBoundingClientRect())
             .filter((r) => r.width < 64 || r.height < 64).length"""
    )
    assert small == 0
    shot(kiosk, f"kiosk-several-large-{lang}")
    kiosk.locator("#large-text").click()
    kiosk.locator("#multi-take").click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    label = kiosk.locator("#label").inner_text().strip()
    assert label.startswith("B")
    parts = kiosk.locator(".plan-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0)).to_contain_text(names[0])
    expect(parts.nth(1)).to_contain_text(names[1])
    shot(kiosk, f"kiosk-several-ticket-{lang}")
    token = kiosk.url.rsplit("/", 1)[1]

    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{base}/t/{token}?lang={lang}")
    expect(phone.locator("#plan-box")).to_be_visible()
    expect(phone.locator(".plan-part.is-current")).to_contain_text(names[0])
    mark_loaded(phone)
    assert axe_violations(phone) == []
    shot(phone, f"status-several-{lang}")

    counter = new_page(browser, 1366, 768, locale="zh-CN")
    login(counter, live_server, "clerk1", "/s/demo/counter?counter=1")
    counter.locator("#call-next").click()
    expect(counter.locator("#current-label")).to_have_text(label)
    expect(counter.locator("#current-plan .plan-part")).to_have_count(2)
    counter.locator("#start").click()
    counter.locator("#complete").click()
    counter.locator('#complete-dialog [data-outcome="done"]').click()
    expect(counter.locator("#current-label")).not_to_have_text(label)

    # The phone follows: the first part done, waiting for the second.
    expect(phone.locator(".plan-part.is-current")).to_contain_text(names[1])
    expect(phone.locator(".plan-part.is-done")).to_contain_text(names[0])
    expect(phone.locator("#status")).to_have_attribute("data-status", "waiting")
    expect(phone.locator("#service")).to_have_text(names[1])
    assert phone.evaluate("window.__noReload === true"), "the page was reloaded"
    live_server.staff("clerk2", "/stores/demo/counters/3/sign-in", takeover=True)
    nxt = live_server.staff("clerk2", "/stores/demo/counters/3/call-next")
    assert nxt["ticket"]["label"] == label and nxt["ticket"]["service"] == "C"
    expect(phone.locator("#status")).to_have_attribute("data-status", "called")


def test_the_greeter_issues_one_number_for_two_services(
    browser: Browser, live_server: LiveServer
) -> None:
    greeter = new_page(browser, 1024, 768, locale="zh-CN")
    login(greeter, live_server, "clerk1", "/s/demo/greeter")
    greeter.select_option("#greeter-then-1", "C")
    assert axe_violations(greeter) == []
    greeter.locator('button[name="service"][value="B"]').click()
    expect(greeter.locator("#greeter-result")).to_be_visible()
    parts = greeter.locator("#result-plan .plan-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0)).to_contain_text("补换卡")
    expect(parts.nth(1)).to_contain_text("业务办理")
    shot(greeter, "greeter-several-zh")
    expect(greeter.locator("#greeter-then-1")).to_have_value("")  # the next customer: one service
    label = greeter.locator("#result-label").inner_text()
    ticket = next(
        t for t in live_server.get("/stores/demo/snapshot")["waiting"] if t["label"] == label
    )
    assert ticket["service"] == "B"
