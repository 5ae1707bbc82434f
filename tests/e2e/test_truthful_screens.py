"""What the hall is told, in a real browser: the display's big panel shows only numbers being
called, counters nobody is signed in at are "not open", no estimate is made up without a staffed
counter, "you are next" only for the policy's next call, and the kiosk closes outside hours."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from .conftest import LiveServer, new_page, register_kiosk, shot
from .test_counter import settled, terminal
from .test_display import display_page, issue

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The server lives as if it were 22:00 on a Tuesday in Shanghai (the hall: 09:00-18:00).
NIGHT = "2026-12-01T22:00:00+08:00"
# 17:20 there: still open, within an hour of closing.
EVENING = "2026-12-01T17:20:00+08:00"


def sign_in(server: LiveServer, clerk: str, counter: int) -> None:
    server.staff(clerk, f"/stores/demo/counters/{counter}/sign-in", takeover=True)


def call_next(server: LiveServer, clerk: str, counter: int) -> dict:
    ticket = server.staff(clerk, f"/stores/demo/counters/{counter}/call-next")["ticket"]
    assert ticket is not None
    return ticket


def now_calling(server: LiveServer) -> list[str]:
    return [c["label"] for c in server.get("/stores/demo/snapshot")["now_calling"]]


def big_panel(page: Page) -> str:
    return page.locator("#now-label").inner_text().strip()


def shown_since(page: Page, mark: int) -> set[str]:
    """Every label the big panel showed since `mark` (the display test's label watch)."""
    return {s["label"] for s in page.evaluate("window.__shown")[mark:]}


def shown_count(page: Page) -> int:
    return int(page.evaluate("window.__shown.length"))


def recent(page: Page, label: str, status: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#recent li[data-label="{label}"][data-status="{status}"]')


def test_the_big_panel_shows_only_numbers_being_called(
    browser: Browser, live_server: LiveServer
) -> None:
    page = display_page(browser, live_server)
    for service in ("A", "A", "C"):
        issue(live_server, service)
    sign_in(live_server, "clerk1", 1)
    sign_in(live_server, "clerk2", 3)

    # Called: on the panel.
    first = call_next(live_server, "clerk1", 1)
    assert first["label"] == "A001"
    expect(page.locator("#now-label")).to_have_text("A001")
    assert now_calling(live_server) == ["A001"]

    # No-show: off the panel at once, marked missed in the recent list.
    live_server.staff("clerk1", f"/tickets/{first['id']}/no-show")
    expect(recent(page, "A001", "no_show")).to_be_visible()
    expect(page.locator('#missed [data-label="A001"]')).to_be_visible()
    mark = shown_count(page)
    assert big_panel(page) == "—"
    expect(recent(page, "A001", "no_show")).to_contain_text("过号")
    assert now_calling(live_server) == []

    # Called, then started and parked: serving is not calling, and parking does not bring it back.
    second = call_next(live_server, "clerk1", 1)
    expect(page.locator("#now-label")).to_have_text(second["label"])
    live_server.staff("clerk1", f"/tickets/{second['id']}/start")
    expect(recent(page, second["label"], "serving")).to_be_visible()
    assert big_panel(page) == "—"
    live_server.staff("clerk1", f"/tickets/{second['id']}/park")
    expect(recent(page, second["label"], "parked")).to_be_visible()
    assert big_panel(page) == "—"
    after_park = shown_count(page)

    # Pause: the counter says so; nothing it had comes back to the panel.
    live_server.staff("clerk1", "/stores/demo/counters/1/pause", reason="break")
    expect(page.locator('.counter-panel[data-counter="1"][data-status="paused"]')).to_be_visible()
    assert big_panel(page) == "—"
    assert "A001" not in shown_since(page, mark)
    assert second["label"] not in shown_since(page, after_park)

    # Another counter calls: that number (and only it) is being called.
    third = call_next(live_server, "clerk2", 3)
    assert third["label"] == "C001"
    expect(page.locator("#now-label")).to_have_text("C001")
    assert now_calling(live_server) == ["C001"]
    shot(page, "truth-display-called-after-missed")

    # A reload opens on what is called now, not on the last number called or a missed one.
    page.reload()
    expect(page.locator('#missed [data-label="A001"]')).to_be_visible()  # the snapshot is in
    expect(page.locator("#now-label")).to_have_text("C001")
    assert shown_since(page, 0) <= {"—", "C001"}

    # Filtered to the fast lane: C001 is not this display's; the missed A001 never shows either.
    fast = display_page(browser, live_server, "?lanes=fast")
    expect(fast.locator('#missed [data-label="A001"]')).to_be_visible()
    expect(fast.locator(f'#recent li[data-label="{second["label"]}"]')).to_be_visible()
    assert big_panel(fast) == "—"
    assert shown_since(fast, 0) <= {"—"}

    # C001 served: the panel empties; a recall is marked as the second call.
    live_server.staff("clerk2", f"/tickets/{third['id']}/recall")
    expect(recent(page, "C001", "called")).to_contain_text("第 2 次呼叫")
    live_server.staff("clerk2", f"/tickets/{third['id']}/start")
    expect(recent(page, "C001", "serving")).to_be_visible()
    expect(recent(page, "C001", "serving")).not_to_contain_text("第 2 次呼叫")
    assert big_panel(page) == "—"
    shot(page, "truth-display-nothing-called")


@pytest.mark.parametrize(
    ("lang", "not_open", "paused"),
    [("zh", "暂未开放", "暂停服务"), ("en", "Not open now", "Closed")],
)
def test_counters_nobody_is_signed_in_at_show_not_open(
    browser: Browser, live_server: LiveServer, lang: str, not_open: str, paused: str
) -> None:
    page = display_page(browser, live_server, f"?lang={lang}")
    panels = page.locator(".counter-panel[data-counter]")
    expect(panels).to_have_count(4)
    for number in (1, 2, 3, 4):
        panel = page.locator(f'.counter-panel[data-counter="{number}"]')
        expect(panel).to_have_attribute("data-status", "closed")
        expect(panel).to_contain_text(not_open)
    # Nobody serves any lane: no lane card makes up a wait.
    for lane in ("fast", "standard"):
        expect(page.locator(f"#lanes [data-lane='{lane}'] .lane-eta")).not_to_contain_text("0–1")
    shot(page, f"truth-display-not-open-{lang}")

    sign_in(live_server, "clerk1", 1)
    one = page.locator('.counter-panel[data-counter="1"]')
    expect(one).to_have_attribute("data-status", "open")
    expect(one).not_to_contain_text(not_open)
    expect(page.locator('.counter-panel[data-counter="2"]')).to_contain_text(not_open)
    live_server.staff("clerk1", "/stores/demo/counters/1/pause", reason="break")
    expect(one).to_have_attribute("data-status", "paused")
    expect(one).to_contain_text(paused)
    expect(one).not_to_contain_text(not_open)


def kiosk_page(browser: Browser, server: LiveServer) -> Page:
    page = new_page(browser, 1080, 1920, locale="zh-CN")
    register_kiosk(page, server)
    return page


def test_the_kiosk_says_no_counter_instead_of_a_made_up_wait(
    browser: Browser, live_server: LiveServer
) -> None:
    kiosk = kiosk_page(browser, live_server)
    fast = kiosk.locator('[data-service="A"] .service-info')
    standard = kiosk.locator('[data-service="C"] .service-info')
    expect(fast).to_contain_text("暂无窗口办理")
    expect(standard).to_contain_text("暂无窗口办理")
    for info in (fast, standard):
        expect(info).not_to_contain_text("0–1")
    # VIP is issued by staff: not offered on the public kiosk.
    expect(kiosk.locator('[data-service="V"]')).to_have_count(0)
    shot(kiosk, "truth-kiosk-no-counter")

    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/s/demo/join")
    expect(phone.locator('[data-service="A"] .service-info')).to_contain_text("暂无窗口办理")

    # A clerk signs in at counter 1 (fast lane): the fast lane gets an estimate, live.
    sign_in(live_server, "clerk1", 1)
    expect(fast).to_contain_text(re.compile(r"约 \d+(–\d+)? 分钟"))
    expect(fast).not_to_contain_text("暂无窗口办理")
    shot(kiosk, "truth-kiosk-estimate")

    # The ticket printed for it carries the estimate and the expected call time.
    kiosk.locator('[data-service="A"]').click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    expect(kiosk.locator("#eta")).to_contain_text("约")
    expect(kiosk.locator("#eta-at")).to_contain_text(re.compile(r"预计 \d\d:\d\d 前后"))


def test_you_are_next_only_for_the_policys_next_call(
    browser: Browser, live_server: LiveServer
) -> None:
    sign_in(live_server, "clerk1", 1)  # counter 1: the fast lane first (it helps the others)
    standard = issue(live_server, "D")  # first in the standard lane...
    fast = issue(live_server, "A")
    issue(live_server, "A")  # ...but counter 1 calls both fast-lane numbers before it

    def phone(ticket: dict) -> Page:
        page = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
        page.goto(f"{live_server.url}/t/{ticket['token']}")
        expect(page.locator("#status")).to_have_attribute("data-status", "waiting")
        return page

    def next_ids() -> set[int]:
        snap = live_server.get("/stores/demo/snapshot")
        staffed = {c["number"] for c in snap["counters"] if c["status"] == "open"}
        return {
            q["next"]["ticket_id"]
            for q in snap["counter_queues"]
            if q["counter"] in staffed and q["next"]["ticket_id"] is not None
        }

    d_page, a_page = phone(standard), phone(fast)
    assert next_ids() == {fast["id"]}
    expect(a_page.locator("#next-notice")).to_contain_text("您是下一位")
    expect(d_page.locator("#position")).to_have_text("2")  # in the order the store calls
    expect(d_page.locator("#next-notice")).to_be_hidden()
    shot(d_page, "truth-status-not-next")

    # Counter 4 (VIP and standard: no fast lane of its own) opens: D001 is its next call now.
    sign_in(live_server, "clerk2", 4)
    expect(d_page.locator("#next-notice")).to_contain_text("您是下一位")
    assert next_ids() == {fast["id"], standard["id"]}
    expect(d_page.locator("#counters-list [data-counter='4']")).to_have_attribute(
        "data-status", "open"
    )
    expect(d_page.locator("#counters-list [data-counter='3']")).to_have_attribute(
        "data-status", "closed"
    )
    # Counter 1 calls A001: A001 is called (no longer "next"), D001 still is at counter 4.
    assert call_next(live_server, "clerk1", 1)["id"] == fast["id"]
    expect(a_page.locator("#status")).to_have_attribute("data-status", "called")
    expect(a_page.locator("#next-notice")).to_be_hidden()
    expect(d_page.locator("#next-notice")).to_contain_text("您是下一位")
    assert standard["id"] in next_ids()
    shot(d_page, "truth-status-next")


@pytest.fixture
def night_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, clock_start=NIGHT)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("lang", "closed", "opens"),
    [("zh", "营业厅现已停止营业", "09:00 开始营业"), ("en", "closed", "09:00")],
)
def test_the_kiosk_is_closed_at_night(
    browser: Browser, night_server: LiveServer, lang: str, closed: str, opens: str
) -> None:
    kiosk = kiosk_page(browser, night_server)
    kiosk.goto(f"{night_server.url}/s/demo/kiosk?lang={lang}")
    expect(kiosk.locator("#closed")).to_be_visible()
    expect(kiosk.locator("#closed")).to_contain_text(closed)
    expect(kiosk.locator("#closed-next")).to_contain_text(opens)
    expect(kiosk.locator("#services")).to_be_hidden()
    expect(kiosk.locator("#checkin-link")).to_be_hidden()
    shot(kiosk, f"truth-kiosk-closed-{lang}")

    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{night_server.url}/s/demo/join?lang={lang}")
    expect(phone.locator("#hall-closed")).to_be_visible()
    expect(phone.locator("#hall-next")).to_contain_text("09:00")
    expect(phone.locator("#services")).to_be_hidden()
    shot(phone, f"truth-join-closed-{lang}")
    # Staff can still issue a ticket (a customer let in at the door).
    assert issue(night_server, "A")["label"] == "A001"


def store_day(server: LiveServer) -> str:
    """The store's date on the server's clock: the moment it was started at (the tests start it
    at 10:00 when the real hour is outside the hall's), else today. Read without a command: a
    ticket issued here would make the kiosk refetch its services, and that refetch could land
    after the holiday below is set, closing the kiosk before its tap."""
    start = server.env.get("HALLQUEUE_CLOCK_START")
    moment = datetime.fromisoformat(start) if start else datetime.now(SHANGHAI)
    return moment.astimezone(SHANGHAI).date().isoformat()


def test_a_refused_tap_says_why_and_the_kiosk_closes_and_opens_again(
    browser: Browser, live_server: LiveServer
) -> None:
    kiosk = kiosk_page(browser, live_server)
    expect(kiosk.locator('[data-service="A"]')).to_be_visible()
    today = store_day(live_server)
    db_file = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:  # a holiday set while this kiosk still shows open
        conn.execute("UPDATE store SET closed_dates = ? WHERE code = 'demo'", (f'["{today}"]',))

    kiosk.locator('[data-service="A"]').click()
    refusal = kiosk.locator("#refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("营业厅现已停止营业")
    expect(kiosk.locator("#closed")).to_be_visible()
    assert "/kiosk/ticket/" not in kiosk.url
    shot(kiosk, "truth-kiosk-refused")
    kiosk.locator("#refusal-ok").click()
    expect(refusal).to_be_hidden()
    expect(kiosk.locator("#closed")).to_be_visible()

    # The holiday is lifted: the next store event brings the buttons back, no reload by hand.
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE store SET closed_dates = '[]' WHERE code = 'demo'")
    issue(live_server, "B")
    expect(kiosk.locator('[data-service="A"]')).to_be_visible()
    expect(kiosk.locator("#closed")).to_be_hidden()
    # The refused tap made no ticket: the only one waiting is the staff's.
    assert [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]] == ["B001"]


def test_the_counter_never_serves_a_customer_only_called_and_transfers_where_served(
    browser: Browser, live_server: LiveServer
) -> None:
    other = terminal(browser, live_server, "clerk2", 3)
    page = terminal(browser, live_server, "clerk1", 1)
    for terminal_page in (page, other):
        settled(terminal_page)
    missed = issue(live_server, "A")
    moved = issue(live_server, "A")

    # F1 with a customer only called (perhaps still walking over): asked, never completed.
    page.keyboard.press("F1")
    expect(page.locator("#current-label")).to_have_text("A001")
    settled(page)
    page.keyboard.press("F1")
    dialog = page.locator("#called-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("标记过号 (F5)")
    expect(dialog).to_contain_text("再次呼叫 (F2)")
    expect(dialog).to_contain_text("开始办理 (F3)")
    shot(page, "truth-counter-still-called")
    page.keyboard.press("F5")
    expect(dialog).to_be_hidden()
    expect(page.locator("#current-label")).to_have_text("—")
    assert live_server.get(f"/tickets/{missed['token']}")["status"] == "no_show"

    # A transfer offers only the counters that serve the ticket's lane, marking those not open.
    settled(page)
    page.keyboard.press("F1")
    expect(page.locator("#current-label")).to_have_text("A002")
    settled(page)
    page.keyboard.press("F3")
    expect(page.locator("#current-status")).to_have_attribute("data-status", "serving")
    settled(page)
    page.keyboard.press("F6")
    expect(page.locator("#transfer-dialog")).to_be_visible()
    options = page.locator("#transfer-counter option")
    offered = {
        o.get_attribute("value"): o.inner_text().strip()
        for o in options.all()
        if o.get_attribute("value") and not o.is_disabled()
    }
    assert offered == {"2": "2号窗口 · 未开放", "3": "3号窗口"}  # counter 4: VIP and standard only
    page.select_option("#transfer-service", "D")  # broadband: the standard lane
    offered = [o.get_attribute("value") for o in options.all() if not o.is_disabled()]
    assert offered == ["", "2", "3", "4"]
    page.select_option("#transfer-service", "")
    page.select_option("#transfer-counter", "3")
    shot(page, "truth-counter-transfer")
    page.locator("#transfer-confirm").click()
    expect(page.locator("#transfer-dialog")).to_be_hidden()

    # The target counter lists it, marked for it; the sending counter does not show it as its own.
    row = other.locator(f'#waiting-list [data-id="{moved["id"]}"]')
    expect(row).to_contain_text("→ 3号窗口")
    expect(row).to_contain_text("下一位")
    shot(other, "truth-counter-transferred-here")
    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{live_server.url}/t/{moved['token']}")
    expect(phone.locator("#transfer-notice")).to_contain_text("3 号窗口")
    issue(live_server, "B")  # a later event: the sending counter's list is up to date
    expect(page.locator('#waiting-list [data-label="B001"]')).to_be_visible()
    expect(page.locator(f'#waiting-list [data-id="{moved["id"]}"]')).to_have_count(0)

    # Staff issue a VIP ticket for a customer from the counter page.
    page.select_option("#issue-service", "V")
    page.locator("#issue-ticket").click()
    expect(page.locator("#issue-result")).to_contain_text("V001")
    waiting = [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]]
    assert "V001" in waiting


def test_a_retried_tap_prints_one_ticket(browser: Browser, live_server: LiveServer) -> None:
    kiosk = kiosk_page(browser, live_server)
    keys: list[str | None] = []

    def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server makes the ticket...
            route.abort("connectionreset")  # ...and its answer never reaches the kiosk
        else:
            route.continue_()

    kiosk.route("**/api/v1/stores/demo/tickets*", lose_the_first_answer)
    kiosk.locator('[data-service="A"]').click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    expect(kiosk.locator("#label")).to_have_text("A001")
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]  # the same tap, the same key
    assert [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]] == ["A001"]

    kiosk.goto(f"{live_server.url}/s/demo/kiosk")
    kiosk.locator('[data-service="A"]').click()  # a new tap: a new key, a new ticket
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    expect(kiosk.locator("#label")).to_have_text("A002")
    assert len(keys) == 3 and keys[2] not in keys[:2]


@pytest.fixture
def evening_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, clock_start=EVENING)
    server.start()
    db_file = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:  # remote numbers are called once the customer is in
        conn.execute("UPDATE store SET remote_requires_arrival = 1 WHERE code = 'demo'")
    try:
        yield server
    finally:
        server.stop()


def test_the_phone_is_told_why_and_confirms_arrival(
    browser: Browser, evening_server: LiveServer
) -> None:
    server = evening_server
    phone = new_page(browser, 390, 844, locale="zh-CN", is_mobile=True, has_touch=True)
    phone.goto(f"{server.url}/s/demo/join")
    sign_in(server, "clerk2", 3)
    # 17:20, and the store stops phone numbers an hour before 18:00: the page says so inline.
    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE store SET remote_cutoff_minutes = 60 WHERE code = 'demo'")
    phone.locator('[data-service="C"]').click()
    message = phone.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("今日已停止取号")
    assert "/t/" not in phone.url
    shot(phone, "truth-join-closing-soon")

    with sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE store SET remote_cutoff_minutes = 30 WHERE code = 'demo'")
    phone.locator('[data-service="C"]').click()
    phone.wait_for_url(re.compile(r"/t/"))
    # Not called before the customer is here: the page asks, and makes up no wait.
    expect(phone.locator("#arrived")).to_be_visible()
    expect(phone.locator("#arrived")).to_have_text("我已到店")
    expect(phone.locator("#eta")).to_contain_text("请先确认到店")
    expect(phone.locator("#next-notice")).to_be_hidden()
    shot(phone, "truth-status-arrival")
    phone.locator("#arrived").click()
    expect(phone.locator("#arrive-box")).to_be_hidden()
    expect(phone.locator("#eta")).to_contain_text("约")
    expect(phone.locator("#next-notice")).to_contain_text("您是下一位")
    token = phone.url.rsplit("/", 1)[1].split("?")[0]
    assert server.get(f"/tickets/{token}")["arrival_required"] is False
