"""The display read across the hall: every text at least 32 px (the clock's date aside) at
1920×1080 and 1080×1920, nothing clipped, in Chinese and English, with a busy hall on screen
(several calls, an appointment among them, missed numbers, every lane, a notice)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from .conftest import STORE_ZONE, LiveServer, axe_violations, new_page, opening_hours_now, shot

pytestmark = pytest.mark.browser

MIN_PX = 32.0
NOTICE_ZH = "今日 12:00-13:00 宽带业务暂停办理，请先办理其他业务"
NOTICE_EN = "Broadband service is paused today from 12:00 to 13:00"

# Every visible text node: its element's computed font size, and whether the element (or the
# row it sits in) shows all of its content.
MEASURE = """
() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!text) continue;
    const el = node.parentElement;
    if (!el || el.closest('script, style, [hidden], .sound-overlay, .ticker')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
    if (!rects.length) continue;
    const box = el.getBoundingClientRect();
    out.push({
      text, id: el.id, cls: el.className, px: parseFloat(style.fontSize),
      cut: el.scrollWidth > el.clientWidth + 1 && style.overflow !== 'visible',
      outside: rects.some((r) => r.right > innerWidth + 1 || r.bottom > innerHeight + 1 ||
        r.left < -1 || r.top < -1),
      top: box.top,
    });
  }
  return out;
}
"""

# The recent calls' rows and the missed numbers: each row's content fits its box.
ROWS = """
() => [...document.querySelectorAll(
  '#recent li, #missed li, .counter-panel, .lane-card, .now-body, .d-panel')]
  .filter((li) => getComputedStyle(li).visibility !== 'hidden')
  .map((li) => ({
    text: li.textContent.trim(), sw: li.scrollWidth, cw: li.clientWidth,
    // how far its visible children reach past its own box (cut by its overflow: hidden)
    out: Math.max(0, ...[...li.children]
      .filter((c) => getComputedStyle(c).display !== 'none')
      .map((c) => {
        const a = c.getBoundingClientRect(), b = li.getBoundingClientRect();
        return Math.max(a.bottom - b.bottom, b.top - a.top, a.right - b.right, b.left - a.left);
      })),
    kids: [...li.children].map((c) => ({
      text: c.textContent, sw: c.scrollWidth, cw: c.clientWidth,
    })),
  }))
"""


@pytest.fixture(params=[4], ids=["4-counters"])
def busy_hall(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    # An hour the hall is open (the browser's own clock must agree: missed numbers expire by it).
    start = opening_hours_now()
    server = LiveServer(tmp_path, clock_start=start)
    server.day = (datetime.fromisoformat(start) if start else datetime.now(STORE_ZONE)).date()
    server.start()
    db_file = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "UPDATE store SET booking_lead_minutes = 0, checkin_early_minutes = 30, "
            "notices_zh = ?, notices_en = ?, "
            "version = version + 1, config_version = config_version + 1 WHERE code = 'demo'",
            (NOTICE_ZH, NOTICE_EN),
        )
        for number in range(5, request.param + 1):  # a bigger hall: more counters, two rows
            conn.execute(
                "INSERT INTO counter (store_id, number, name_zh, name_en, lanes, services, "
                "reserved, status, recent_request_ids, archived) SELECT store_id, ?, '', '', "
                "lanes, services, reserved, status, '[]', 0 FROM counter WHERE number = 1",
                (number,),
            )
    try:
        fill_the_hall(server)
        yield server
    finally:
        server.stop()


def issue(server: LiveServer, service: str) -> dict:
    return server.staff("manager", "/stores/demo/tickets", service=service, channel="staff")


def call_next(server: LiveServer, counter: int, clerk: str) -> dict:
    server.staff(clerk, f"/stores/demo/counters/{counter}/sign-in", takeover=True)
    return server.staff(clerk, f"/stores/demo/counters/{counter}/call-next")


# The booking's slot begins at least this long after the fill starts (it takes seconds); check-in
# opens 30 min ahead (the fixture's store setting), so a slot up to 3 + 15 min ahead checks in.
DUE_MARGIN = timedelta(minutes=3)


def appointment_ticket(server: LiveServer) -> dict:
    """A checked-in booking whose slot begins a few minutes from now, so that no counter calls it
    as due while the hall is filled (with the slot just beginning, counter 2 called it first and
    the fill marked it missed: seen once, at 11:15 by the real clock)."""
    day = server.day.isoformat()  # type: ignore[attr-defined]
    slots = server.get(f"/stores/demo/slots?service=C&date={day}")["slots"]
    started = server.env.get("HALLQUEUE_CLOCK_START")
    now = datetime.fromisoformat(started) if started else datetime.now(STORE_ZONE)
    start = next(
        s["start"] for s in slots if datetime.fromisoformat(s["start"]) >= now + DUE_MARGIN
    )
    booked = requests.post(
        f"{server.url}/api/v1/stores/demo/appointments",
        json={
            "service": "C",
            "start": start,
            "name": "王小明",
            "phone": "13912345678",
            "consent": True,
        },
        timeout=10,
    )
    assert booked.status_code == 201, booked.text
    kiosk = server.kiosk_url.rstrip("/").rsplit("/", 1)[-1]
    checked = requests.post(
        f"{server.url}/api/v1/stores/demo/check-in",
        json={"code": booked.json()["code"]},
        headers={"X-Kiosk-Token": kiosk},
        timeout=10,
    )
    assert checked.status_code == 201, checked.text
    return checked.json()


def fill_the_hall(server: LiveServer) -> None:
    """Eight calls (one an appointment, three recalled, two missed), people waiting in every lane,
    a counter nobody is signed in at."""
    appointment = appointment_ticket(server)
    for service in ("A", "A", "A", "B", "C", "C", "D", "V", "A", "B", "C", "E", "V", "A"):
        issue(server, service)
    missed = []
    for counter, clerk in ((1, "clerk1"), (2, "clerk2")):
        ticket = call_next(server, counter, clerk)["ticket"]
        server.staff(clerk, f"/tickets/{ticket['id']}/no-show")
        missed.append(ticket["label"])
    for counter, clerk in ((1, "clerk1"), (2, "clerk2"), (4, "manager")):
        ticket = call_next(server, counter, clerk)["ticket"]
        server.staff(clerk, f"/tickets/{ticket['id']}/start")
        server.staff(clerk, f"/tickets/{ticket['id']}/complete")
    server.staff("manager", "/stores/demo/counters/3/sign-in", takeover=True)
    server.staff("manager", f"/tickets/{appointment['id']}/call", counter=3)
    server.staff("manager", f"/tickets/{appointment['id']}/recall")
    for counter, clerk in ((1, "clerk1"), (2, "clerk2")):
        ticket = call_next(server, counter, clerk)["ticket"]
        server.staff(clerk, f"/tickets/{ticket['id']}/recall")
    # Counter 4 is left without a clerk (the manager moved to 3): its lane says so.


def open_display(browser: Browser, server: LiveServer, lang: str, width: int, height: int) -> Page:
    page = new_page(browser, width, height, locale="zh-CN" if lang == "zh" else "en-US")
    page.emulate_media(reduced_motion="reduce")  # the ticker stands still to be measured
    page.goto(f"{server.url}/s/demo/display?lang={lang}")
    overlay = page.locator("#sound-overlay")
    if overlay.is_visible():
        overlay.click()
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#lanes [data-lane='appointment']")).to_be_visible()
    expect(page.locator("#recent li")).to_have_count(8)
    expect(page.locator("#missed li")).to_have_count(2)
    expect(page.locator("#ticker")).to_be_visible()
    page.wait_for_timeout(0)  # one frame for the layout (clipRecent) to settle
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return page


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 1920)])
def test_every_text_is_big_and_whole(
    browser: Browser, busy_hall: LiveServer, lang: str, width: int, height: int
) -> None:
    page = open_display(browser, busy_hall, lang, width, height)
    shot(page, f"display-readable-{lang}-{width}x{height}")
    texts = page.evaluate(MEASURE)
    assert any(t["text"].startswith("Y001") for t in texts)  # the appointment is on screen
    small = [t for t in texts if t["px"] < MIN_PX and t["id"] != "clock-date"]
    assert small == [], small
    cut = [t for t in texts if t["cut"] or t["outside"]]
    assert cut == [], cut
    rows = page.evaluate(ROWS)
    assert len(rows) >= 8 + 2 + 4 + 4 + 1
    too_wide = [r for r in rows if r["sw"] > r["cw"] + 1 or r["out"] > 1]
    assert too_wide == [], too_wide
    kids = [k for r in rows for k in r["kids"] if k["sw"] > k["cw"] + 1]
    assert kids == [], kids
    # The newest calls are shown whole (rows that do not fit are left out, never cut).
    shown = page.locator("#recent li:not(.is-clipped)")
    assert shown.count() >= 5
    ticker = page.locator("#ticker-track")
    ticker_px = float(
        ticker.evaluate("el => parseFloat(getComputedStyle(el.parentElement).fontSize)")
    )
    assert ticker_px >= 40  # a notice read at 5 m: ≥ 40 px at this size
    assert axe_violations(page) == []
    page.context.close()


@pytest.mark.parametrize("busy_hall", [8], indirect=True, ids=["8-counters"])
@pytest.mark.parametrize("lang", ["en"])
def test_a_bigger_hall_stays_readable(browser: Browser, busy_hall: LiveServer, lang: str) -> None:
    page = open_display(browser, busy_hall, lang, 1920, 1080)
    expect(page.locator(".counter-panel[data-counter]")).to_have_count(8)
    shot(page, f"display-readable-8-counters-{lang}-1920x1080")
    texts = page.evaluate(MEASURE)
    assert [t for t in texts if t["px"] < MIN_PX and t["id"] != "clock-date"] == []
    assert [t for t in texts if t["cut"] or t["outside"]] == []
    rows = page.evaluate(ROWS)
    assert [r for r in rows if r["sw"] > r["cw"] + 1 or r["out"] > 1] == []
    label = page.locator("#now-label").bounding_box()
    assert label is not None and label["height"] >= 0.1 * 1080
    assert page.locator("#recent li:not(.is-clipped)").count() >= 3
    page.context.close()
