"""The customer's side in a real browser: the kiosk in both languages, the phone following the
ticket live, cancel, rejoin, rating, the kiosk's limit and its offline banner; axe audits."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveServer, axe_violations, new_page, register_kiosk, shot

pytestmark = pytest.mark.browser


def kiosk_page(browser: Browser, server: LiveServer, locale: str = "zh-CN") -> Page:
    page = new_page(browser, 1080, 1920, locale=locale)
    register_kiosk(page, server)
    return page


def take_ticket(kiosk: Page, service: str) -> str:
    """Press a service on the kiosk; returns the ticket's token from the printed ticket page."""
    kiosk.locator(f'[data-service="{service}"]').click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    return kiosk.url.rsplit("/", 1)[1]


def phone_page(browser: Browser, server: LiveServer, token: str) -> Page:
    page = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    page.goto(f"{server.url}/t/{token}")
    return page


def clerk_calls(server: LiveServer, counter: int = 1) -> dict:
    server.staff("clerk1", f"/stores/demo/counters/{counter}/sign-in", takeover=True)
    return server.staff("clerk1", f"/stores/demo/counters/{counter}/call-next")


@pytest.mark.parametrize(
    ("locale", "lang", "heading", "service_name"),
    [
        ("zh-CN", "zh", "您的号码", "缴费充值"),
        ("en-US", "en", "Your number", "Top-up & bill payment"),
    ],
)
def test_take_a_ticket_in_each_language(
    browser: Browser,
    live_server: LiveServer,
    locale: str,
    lang: str,
    heading: str,
    service_name: str,
) -> None:
    kiosk = kiosk_page(browser, live_server, locale)
    kiosk.goto(f"{live_server.url}/s/demo/kiosk?lang={lang}")
    expect(kiosk.locator('[data-service="A"]')).to_contain_text(service_name)
    shot(kiosk, f"kiosk-home-{lang}")
    take_ticket(kiosk, "A")
    expect(kiosk.locator("#label")).to_have_text("A001")
    expect(kiosk.locator("body")).to_contain_text(heading)
    expect(kiosk.locator("svg").first).to_be_visible()
    shot(kiosk, f"kiosk-ticket-{lang}")


def test_landscape_kiosk_shows_every_service(browser: Browser, live_server: LiveServer) -> None:
    page = new_page(browser, 1920, 1080, locale="zh-CN")
    register_kiosk(page, live_server)
    for code in "ABCDE":
        expect(page.locator(f'[data-service="{code}"]')).to_be_in_viewport()
    expect(page.locator('[data-service="V"]')).to_have_count(0)  # VIP: issued by staff
    shot(page, "kiosk-home-landscape")


def test_status_page_follows_the_ticket_live(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    first = take_ticket(kiosk, "A")
    kiosk.goto(f"{live_server.url}/s/demo/kiosk")
    second = take_ticket(kiosk, "A")
    kiosk.goto(f"{live_server.url}/s/demo/kiosk")
    mine = take_ticket(kiosk, "A")
    phone = phone_page(browser, live_server, mine)
    expect(phone.locator("#position")).to_have_text("2")
    phone.evaluate("window.__noReload = true")
    shot(phone, "status-two-ahead")

    first_call = clerk_calls(live_server)  # A001 is called: one person ahead now
    expect(phone.locator("#position")).to_have_text("1")
    expect(phone.locator("#next-notice")).to_be_visible()
    expect(phone.locator("#next-notice")).not_to_contain_text("下一位")
    # Each customer called comes over and is served: calling the next one ends that visit.
    live_server.staff("clerk1", f"/tickets/{first_call['ticket']['id']}/start")
    second_call = clerk_calls(live_server)  # A002: I am next
    expect(phone.locator("#position")).to_have_text("0")
    expect(phone.locator("#next-notice")).to_contain_text("下一位")
    shot(phone, "status-next")

    live_server.staff("clerk1", f"/tickets/{second_call['ticket']['id']}/start")
    called = clerk_calls(live_server)
    assert called["ticket"]["label"] == "A003"
    expect(phone.locator("#call-banner")).to_be_visible()
    expect(phone.locator("#call-banner")).to_contain_text("1")
    phone.locator("#banner-ok").click()
    expect(phone.locator("#call-banner")).to_be_hidden()
    live_server.staff("clerk1", f"/tickets/{called['ticket']['id']}/recall")
    expect(phone.locator("#call-banner")).to_be_visible()  # shown again on recall
    assert phone.evaluate("window.__noReload === true")
    assert first != second != mine


def test_cancel_with_a_confirm_step(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    token = take_ticket(kiosk, "C")
    phone = phone_page(browser, live_server, token)
    phone.locator("#cancel").click()
    expect(phone.locator("#cancel-confirm")).to_be_visible()
    phone.locator("#cancel-keep").click()
    assert live_server.get(f"/tickets/{token}")["status"] == "waiting"
    phone.locator("#cancel").click()
    phone.locator("#cancel-confirm").click()
    expect(phone.locator("#status")).to_have_attribute("data-status", "cancelled")
    assert live_server.get(f"/tickets/{token}")["status"] == "cancelled"


def test_rejoin_after_a_missed_call_lands_n_places_behind(
    browser: Browser, live_server: LiveServer
) -> None:
    kiosk = kiosk_page(browser, live_server)
    token = take_ticket(kiosk, "A")
    for _ in range(4):
        kiosk.goto(f"{live_server.url}/s/demo/kiosk")
        take_ticket(kiosk, "A")
    phone = phone_page(browser, live_server, token)
    called = clerk_calls(live_server)
    assert called["ticket"]["label"] == "A001"
    live_server.staff("clerk1", f"/tickets/{called['ticket']['id']}/no-show")
    expect(phone.locator("#rejoin")).to_be_visible()
    shot(phone, "status-missed")
    phone.locator("#rejoin").click()
    expect(phone.locator("#status")).to_have_attribute("data-status", "waiting")
    places = live_server.get("/stores/demo/snapshot")["store"]["rejoin_places"]
    expect(phone.locator("#position")).to_have_text(str(places))
    order = [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]]
    assert order.index("A001") == places
    expect(phone.locator("#rejoin")).to_be_hidden()


def test_rating_after_service_is_saved(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    token = take_ticket(kiosk, "B")
    phone = phone_page(browser, live_server, token)
    called = clerk_calls(live_server)
    live_server.staff("clerk1", f"/tickets/{called['ticket']['id']}/complete")
    expect(phone.locator("#rating")).to_be_visible()
    phone.locator('#rating button[data-stars="4"]').click()
    phone.locator("#rating-comment").fill("办理很快 quick")
    phone.locator("#rating-submit").click()
    expect(phone.locator("#rating-thanks")).to_be_visible()
    shot(phone, "status-rated")
    assert live_server.get(f"/tickets/{token}")["feedback"] == {
        "stars": 4,
        "comment": "办理很快 quick",
    }


def test_the_kiosk_limit_says_so_kindly_and_prints_nothing(
    browser: Browser, live_server: LiveServer
) -> None:
    db_file = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE store SET kiosk_rate_per_minute = 2 WHERE code = 'demo'")
    kiosk = kiosk_page(browser, live_server)
    take_ticket(kiosk, "A")
    kiosk.goto(f"{live_server.url}/s/demo/kiosk")
    take_ticket(kiosk, "A")
    kiosk.goto(f"{live_server.url}/s/demo/kiosk")
    kiosk.locator('[data-service="A"]').click()
    expect(kiosk.locator("#message")).to_be_visible()
    expect(kiosk.locator("#message")).to_contain_text("稍候")
    assert "/kiosk/ticket/" not in kiosk.url
    shot(kiosk, "kiosk-rate-limited")
    assert [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]] == [
        "A001",
        "A002",
    ]


def test_offline_banner_appears_and_clears(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    expect(kiosk.locator("#offline")).to_be_hidden()
    live_server.stop()
    expect(kiosk.locator("#offline")).to_be_visible(timeout=15_000)
    shot(kiosk, "kiosk-offline")
    live_server.start()
    expect(kiosk.locator("#offline")).to_be_hidden(timeout=20_000)
    take_ticket(kiosk, "A")  # and it works again, without a reload by hand
    expect(kiosk.locator("#label")).to_have_text("A001")


def test_accessibility_audit(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    found = {"kiosk": axe_violations(kiosk)}
    token = take_ticket(kiosk, "A")
    found["ticket"] = axe_violations(kiosk)
    phone = phone_page(browser, live_server, token)
    expect(phone.locator("#label")).to_have_text("A001")
    found["status"] = axe_violations(phone)
    assert found == {"kiosk": [], "ticket": [], "status": []}


def test_the_kiosk_goes_back_home_when_left_alone(
    browser: Browser, live_server: LiveServer
) -> None:
    db_file = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE store SET kiosk_idle_seconds = 3 WHERE code = 'demo'")
    kiosk = kiosk_page(browser, live_server)
    take_ticket(kiosk, "A")
    expect(kiosk.locator("#countdown")).to_be_visible()
    kiosk.wait_for_url(f"{live_server.url}/s/demo/kiosk", timeout=15_000)
    expect(kiosk.locator('[data-service="A"]')).to_be_visible()


def test_join_the_queue_from_a_phone(browser: Browser, live_server: LiveServer) -> None:
    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/s/demo/join")
    phone.locator('[data-service="C"]').click()
    phone.wait_for_url(re.compile(r"/t/"))
    expect(phone.locator("#label")).to_have_text("C001")
    shot(phone, "join-status")
    phone.goto(f"{live_server.url}/s/demo/join")
    phone.locator('[data-service="A"]').click()  # a second ticket from the same phone
    message = phone.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("C001")
    assert [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]] == ["C001"]
