"""Complaint cases in a real browser: a clerk completes a visit as a complaint with the dialog's
case fields and is told the case number; the manager finds it in the console's inbox and resolves
it; the customer's ticket page shows the case and records the one follow-up answer. axe-core finds
nothing serious on the new screens, in both languages; screenshots at the sizes people use."""

from __future__ import annotations

import re
import sqlite3

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from .conftest import LiveServer, axe_violations, shot
from .test_counter import issue, settled, terminal
from .test_customer import phone_page
from .test_manager import console

pytestmark = pytest.mark.browser


def query(server: LiveServer, sql: str, *args: object) -> list[tuple]:
    db_file = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        return conn.execute(sql, args).fetchall()


def no_serious_findings(page: Page, name: str) -> None:
    assert axe_violations(page) == [], name


def both_languages(page: Page, name: str) -> None:
    """axe on the page in Chinese and in English (the page reloaded with ?lang=en)."""
    no_serious_findings(page, f"{name} zh")
    url = page.url
    page.goto(url + ("&" if "?" in url else "?") + "lang=en")
    shot(page, "cases-" + name.replace(" ", "-") + "-en")
    no_serious_findings(page, f"{name} en")
    page.goto(url + ("&" if "?" in url else "?") + "lang=zh")


def test_complaint_from_the_counter_to_the_customers_answer(
    browser: Browser, live_server: LiveServer
) -> None:
    ticket = issue(live_server, "A")
    (token,) = query(live_server, "SELECT token FROM ticket WHERE id = ?", ticket["id"])[0]
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)

    # The clerk serves the visit and completes it as a complaint.
    clerk = terminal(browser, live_server, "clerk1", 1)
    settled(clerk)
    clerk.keyboard.press("F1")
    expect(clerk.locator("#current-label")).to_have_text(ticket["label"])
    settled(clerk)
    clerk.keyboard.press("F3")
    expect(clerk.locator("#park")).to_be_enabled()
    settled(clerk)
    clerk.keyboard.press("F4")
    clerk.locator('#complete-dialog [data-outcome="complaint"]').click()
    dialog = clerk.locator("#case-dialog")
    expect(dialog).to_be_visible()
    expect(clerk.locator("#case-phone-box")).to_be_hidden()
    clerk.select_option("#case-category", "billing")
    clerk.fill("#case-description", "上月套餐费被重复扣除")
    clerk.check("#case-consent")
    expect(clerk.locator("#case-phone-box")).to_be_visible()
    clerk.locator("#case-confirm").click()  # no phone yet: asked for, nothing sent
    expect(clerk.locator("#case-error")).to_contain_text("手机号")
    clerk.fill("#case-phone", "12345")
    clerk.locator("#case-confirm").click()  # the server refuses the number: asked again
    expect(clerk.locator("#case-error")).to_be_visible()
    expect(dialog).to_be_visible()
    clerk.fill("#case-phone", "13812345678")
    shot(clerk, "cases-counter-dialog")
    no_serious_findings(clerk, "counter case dialog")
    clerk.locator("#case-confirm").click()
    expect(dialog).to_be_hidden()
    expect(clerk.locator("#message")).to_contain_text(re.compile(r"工单 TS-\d{8}-0001"))
    shot(clerk, "cases-counter-told")
    ((number, promised, source),) = query(
        live_server, "SELECT number, promised_by, source FROM complaint_case"
    )
    assert source == "counter"
    expect(clerk.locator("#message")).to_contain_text(number)

    # The customer's page names the case at once; no question before it is resolved.
    phone = phone_page(browser, live_server, token)
    expect(phone.locator("#case-card-number")).to_have_text(number)
    expect(phone.locator("#case-card-state")).to_have_text("我们已收到您的投诉，将尽快处理。")
    expect(phone.locator("#case-card-ask")).to_be_hidden()

    # The manager finds it in the inbox and resolves it.
    manager = console(browser, live_server)
    manager.get_by_role("link", name="工单", exact=True).click()
    row = manager.locator(f'tr[data-case="{number}"]')
    expect(row).to_contain_text("计费")
    expect(row).to_contain_text("窗口登记")
    expect(row).to_contain_text(str(promised))
    shot(manager, "cases-inbox")
    both_languages(manager, "inbox")
    row.get_by_role("link", name=number).click()
    expect(manager.locator("#case-contact")).to_contain_text("138****5678")
    expect(manager.locator("#case-contact")).not_to_contain_text("13812345678")
    manager.get_by_role("button", name="标记为已解决").click()
    expect(manager.locator("#case-status")).to_have_text("已解决")
    expect(manager.locator("#case-timeline")).to_contain_text("状态变更")
    shot(manager, "cases-case-page")
    both_languages(manager, "case page")

    # The customer comes back to their page: the case is read afresh, the one answer taken.
    phone.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    card = phone.locator("#case-card")
    expect(card).to_be_visible()
    expect(phone.locator("#case-card-number")).to_have_text(number)
    expect(phone.locator("#case-card-promised")).to_have_text(str(promised))
    expect(phone.locator("#case-card-state")).to_have_text("您的投诉已解决。")
    phone.locator("#case-card-send").click()  # no stars chosen: asked to choose
    expect(phone.locator("#case-card-word")).to_contain_text("1 到 5")
    phone.locator('[data-case-stars="4"]').click()
    card.scroll_into_view_if_needed()
    shot(phone, "cases-status-ask")
    no_serious_findings(phone, "status case card asking")
    phone.locator("#case-card-send").click()
    expect(phone.locator("#case-card-thanks")).to_be_visible()
    expect(phone.locator("#case-card-ask")).to_be_hidden()
    shot(phone, "cases-status-answered")
    assert query(live_server, "SELECT follow_up_stars, status FROM complaint_case") == [
        (4, "followed_up")
    ]
    phone.reload()  # answered once: the question is not asked again
    expect(phone.locator("#case-card-thanks")).to_be_visible()
    expect(phone.locator("#case-card-ask")).to_be_hidden()
    both_languages(phone, "status case card answered")


def test_the_case_report_and_opening_a_case_by_hand(
    browser: Browser, live_server: LiveServer
) -> None:
    manager = console(browser, live_server)
    manager.goto(f"{live_server.url}/s/demo/manage/cases/new")
    manager.select_option("#category", "network")
    manager.fill("#description", "家中宽带每晚掉线")
    manager.locator("button[type=submit].btn-primary").last.click()
    expect(manager.locator("#case-number")).to_contain_text("TS-")
    manager.goto(f"{live_server.url}/s/demo/manage/cases/report")
    table = manager.locator('table[data-table="cases_by_category"]')
    expect(table).to_contain_text("网络信号")
    shot(manager, "cases-report")
    both_languages(manager, "case report")
    # The console's header, now with Cases, stays one line at 1366 px in the longer language.
    manager.goto(f"{live_server.url}/s/demo/manage/cases?lang=en")
    nav = manager.locator(".m-nav").bounding_box()
    logout = manager.get_by_role("button", name="Log out").bounding_box()
    assert nav is not None and logout is not None
    assert abs((logout["y"] + logout["height"] / 2) - (nav["y"] + nav["height"] / 2)) < 8


def test_the_clerks_figures_show_their_ratings_at_1366(
    browser: Browser, live_server: LiveServer
) -> None:
    ticket = issue(live_server, "A")
    (token,) = query(live_server, "SELECT token FROM ticket WHERE id = ?", ticket["id"])[0]
    live_server.staff("clerk1", "/stores/demo/counters/1/sign-in", takeover=True)
    live_server.staff("clerk1", "/stores/demo/counters/1/call-next")
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/start")
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/complete")
    rated = requests.post(
        f"{live_server.url}/api/v1/tickets/{ticket['id']}/feedback",
        json={"token": token, "stars": 5, "comment": "讲解很清楚"},
        timeout=10,
    )
    assert rated.status_code == 201
    clerk = terminal(browser, live_server, "clerk1", 1)
    expect(clerk.locator("#stats-ratings")).to_contain_text("5 ★")
    expect(clerk.locator("#stats-comments")).to_contain_text("讲解很清楚")
    expect(clerk.locator("#stats-comments")).not_to_contain_text(ticket["label"])
    shot(clerk, "cases-counter-ratings")
    no_serious_findings(clerk, "counter figures")
    # The clerk's own cases, from the counter: the console shows them only that section.
    clerk.get_by_role("link", name="我的工单").click()
    expect(clerk.locator("h1")).to_have_text("我的工单")
    expect(clerk.locator(".m-nav a")).to_have_count(1)
    expect(clerk.locator("#case-inbox")).to_contain_text("暂无工单")
    shot(clerk, "cases-clerk-inbox")
    both_languages(clerk, "clerk inbox")
