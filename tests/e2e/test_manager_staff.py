"""The console's staff and devices pages in a real browser at 1366×768: a manager adds a clerk
with a generated password (shown once), the clerk logs in with it and lands on the counter picker;
a kiosk is added and its set-up link shown once; both pages are accessible in both languages
(screenshots in test-artifacts/)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, new_page, shot
from .test_manager import console

pytestmark = pytest.mark.browser


def test_a_manager_creates_a_clerk_who_logs_in_at_the_counter_picker(
    browser: Browser, live_server: LiveServer
) -> None:
    page = console(browser, live_server)
    page.get_by_role("link", name="员工", exact=True).click()
    expect(page.locator("h1")).to_have_text("员工")
    page.get_by_role("link", name="添加账号").click()
    page.fill("#username", "neo")
    page.fill("#display_name", "李明")
    page.fill("#password", "short")  # too short: refused next to the field
    page.get_by_role("button", name="创建账号").click()
    expect(page.locator("#password-error")).to_contain_text("至少 8 个")
    expect(page.locator("#password")).to_be_focused()
    expect(page.locator("#password")).to_have_value("")  # a password is never sent back
    page.get_by_role("button", name="创建账号").click()  # empty now: one is generated
    expect(page.locator("h1")).to_have_text("账号 neo 已创建")
    password = page.locator("#secret").inner_text()
    assert len(password) >= 12
    shot(page, "manager-staff-password-once")
    page.get_by_role("link", name="完成").click()
    expect(page.locator("h1")).to_contain_text("李明")
    assert password not in page.content()

    clerk = new_page(browser, 1366, 768, locale="zh-CN")
    clerk.goto(f"{live_server.url}/login")
    clerk.fill("#username", "neo")
    clerk.fill("#password", password)
    clerk.keyboard.press("Enter")
    clerk.wait_for_url(re.compile(r"/s/demo/counter$"))
    expect(clerk.locator("h1")).to_have_text("选择您的窗口")
    expect(clerk.locator("a[data-counter]").first).to_be_visible()
    clerk.context.close()

    page.get_by_role("link", name="全部员工").click()
    row = page.locator("tr", has_text="neo")
    expect(row).to_contain_text("柜员")
    expect(row).not_to_contain_text("从未")  # seen: it logged in
    page.get_by_role("link", name="操作记录").click()
    expect(page.locator("tbody.m-entry").first).to_contain_text("账号已创建")
    page.context.close()


def test_the_staff_and_devices_pages_in_both_languages(
    browser: Browser, live_server: LiveServer
) -> None:
    page = console(browser, live_server)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/s/demo/manage/devices")
    page.fill("#name", "大厅 2 号机")
    page.get_by_role("button", name="添加取号机").click()
    expect(page.locator("h1")).to_have_text("取号机 大厅 2 号机 已添加")
    expect(page.locator("#setup-link")).to_contain_text("/s/demo/kiosk/register/")
    shot(page, "manager-kiosk-link-once")
    page.get_by_role("link", name="完成").click()
    expect(page.locator("tr", has_text="大厅 2 号机")).to_contain_text("从未")

    page.goto(f"{live_server.url}/s/demo/manage/staff")
    account = page.locator("tr", has_text="clerk1").get_by_role("link").get_attribute("href")
    seen = {}
    for lang in ("zh", "en"):
        for name, path in (
            ("staff", "/s/demo/manage/staff"),
            ("devices", "/s/demo/manage/devices"),
            ("account", str(account)),
            ("new", "/s/demo/manage/staff/new"),
        ):
            page.goto(f"{live_server.url}{path}?lang={lang}")
            expect(page.locator("html")).to_have_attribute(
                "lang", "en" if lang == "en" else "zh-CN"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366, path
            seen[f"{lang} {path}"] = axe_violations(page)
            shot(page, f"manager-{name}-{lang}")
    assert seen == {name: [] for name in seen}, seen
    assert errors == []
    page.context.close()
