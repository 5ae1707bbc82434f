"""The manager console in a real browser at 1366×768: log in, land on the console, correct a
wrong field (the error is next to it and the focus on it), add a service that the kiosk API issues
at once, change a counter's profile, read it all in the change log; no console page has an
accessibility violation, in either language."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from .conftest import ARTIFACTS, LiveServer, axe_violations, new_page, register_kiosk, shot

pytestmark = pytest.mark.browser

PAGES = (
    "/s/demo/manage",
    "/s/demo/manage/store",
    "/s/demo/manage/services",
    "/s/demo/manage/services/A",
    "/s/demo/manage/services/C",  # with outcome codes of its own
    "/s/demo/manage/counters",
    "/s/demo/manage/counters/2",
    "/s/demo/manage/audit",
)


def console(browser: Browser, server: LiveServer) -> Page:
    page = new_page(browser, 1366, 768, locale="zh-CN")
    page.goto(f"{server.url}/login")
    page.fill("#username", "manager")
    page.fill("#password", server.passwords["manager"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/s/demo/manage$"))
    return page


def test_a_manager_sets_up_a_service_and_a_counter(
    browser: Browser, live_server: LiveServer
) -> None:
    page = console(browser, live_server)
    expect(page.locator("h1")).to_have_text("管理后台")
    page.get_by_role("link", name="业务", exact=True).click()
    page.get_by_role("link", name="新增业务").click()

    page.fill("#code", "G")
    page.fill("#name_zh", "国际漫游")
    page.fill("#name_en", "Roaming")
    page.fill("#prefix", "g")  # lower case: refused
    page.fill("#expected_minutes", "4")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#prefix-error")).to_contain_text("大写字母")
    expect(page.locator("#prefix")).to_be_focused()
    shot(page, "manager-service-error")

    page.fill("#prefix", "G")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".m-flash")).to_have_text("已保存。")
    expect(page.locator("table")).to_contain_text("国际漫游")

    ticket = requests.post(
        f"{live_server.url}/api/v1/stores/demo/tickets",
        json={"service": "G", "channel": "staff"},
        headers={"Authorization": f"Bearer {live_server.token('manager')}"},
        timeout=10,
    )
    assert ticket.status_code == 201 and ticket.json()["label"] == "G001", ticket.text

    page.get_by_role("link", name="窗口", exact=True).click()
    page.get_by_role("link", name="修改 1 号窗口").click()
    page.select_option("#lane_1", "standard")
    page.select_option("#lane_2", "fast")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".m-flash")).to_have_text("已保存。")
    row = page.locator("tr", has_text="1 号窗口")
    expect(row).to_contain_text("1. 普通")
    expect(row).to_contain_text("2. 快速通道")

    page.get_by_role("link", name="操作记录").click()
    entries = page.locator("tbody.m-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("窗口已修改")  # newest first
    expect(entries.nth(1)).to_contain_text("已新增业务")
    shot(page, "manager-audit")


def test_every_console_page_is_accessible_in_both_languages(
    browser: Browser, live_server: LiveServer
) -> None:
    page = console(browser, live_server)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    seen = {}
    for lang in ("zh", "en"):
        for path in PAGES:
            page.goto(f"{live_server.url}{path}?lang={lang}")
            html_lang = "en" if lang == "en" else "zh-CN"
            expect(page.locator("html")).to_have_attribute("lang", html_lang)
            # Nothing wider than the window at 1366×768.
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366, path
            seen[f"{lang} {path}"] = axe_violations(page)
            if path.endswith(("/services/C", "/counters/2", "/counters")):
                page.screenshot(
                    path=str(
                        ARTIFACTS
                        / f"manager-{path.split('manage/')[1].replace('/', '-')}-{lang}.png"
                    ),
                    full_page=True,
                )
    assert seen == {name: [] for name in seen}, seen
    assert console_errors == []


def test_the_display_and_the_kiosk_follow_a_change_live(
    browser: Browser, live_server: LiveServer
) -> None:
    display = new_page(browser, 1920, 1080, locale="zh-CN")
    display.goto(f"{live_server.url}/s/demo/display")
    expect(display.locator("#ticker-track")).to_contain_text("快速通道")
    display.evaluate("window.__noReload = true")
    kiosk = new_page(browser, 1080, 1920, locale="zh-CN")
    register_kiosk(kiosk, live_server)
    expect(kiosk.locator("#services")).to_contain_text("缴费充值")
    kiosk.evaluate("window.__noReload = true")

    page = console(browser, live_server)
    page.goto(f"{live_server.url}/s/demo/manage/store")
    page.fill("#notices_zh", "今天 17:00 提前关门")
    page.locator(".m-form-foot").get_by_role("button", name="保存").click()
    expect(page.locator(".m-flash")).to_have_text("已保存。")
    page.goto(f"{live_server.url}/s/demo/manage/services/new")
    page.fill("#code", "G")
    page.fill("#name_zh", "国际漫游")
    page.fill("#name_en", "Roaming")
    page.fill("#prefix", "G")
    page.fill("#expected_minutes", "4")
    page.locator(".m-form-foot").get_by_role("button", name="保存").click()
    expect(page.locator(".m-flash")).to_have_text("已保存。")

    # Without a reload (the marker survives) and long before the minute's safety-net resync.
    expect(display.locator("#ticker-track")).to_have_text("今天 17:00 提前关门", timeout=5_000)
    expect(kiosk.locator("#services")).to_contain_text("国际漫游", timeout=5_000)
    assert display.evaluate("window.__noReload") is True
    assert kiosk.evaluate("window.__noReload") is True
