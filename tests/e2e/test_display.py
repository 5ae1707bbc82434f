"""The waiting-area display in a real browser: fast, in order, heard, never stale."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import ARTIFACTS, LiveServer, new_page, shot

pytestmark = pytest.mark.browser

# A speechSynthesis that records what it is handed and "speaks" each text for 150 ms,
# noting any overlap; the test browser has no audio.
SPEECH_STUB = """
(() => {
  const spoken = [];
  window.__spoken = spoken;
  window.__overlaps = 0;
  const voices = [
    {lang: 'zh-CN', name: 'stub-zh', voiceURI: 'stub-zh', localService: true, default: true},
    {lang: 'en-US', name: 'stub-en', voiceURI: 'stub-en', localService: true, default: false},
  ];
  const synth = {
    speaking: false, pending: false, paused: false,
    getVoices: () => voices,
    speak(u) {
      if (!u.text.trim()) return;  // the silent unlock utterance
      if (synth.speaking) window.__overlaps += 1;
      spoken.push({text: u.text, lang: u.lang});
      synth.speaking = true;
      setTimeout(() => { synth.speaking = false; if (u.onend) u.onend({}); }, 150);
    },
    cancel() { synth.speaking = false; }, pause() {}, resume() {},
    addEventListener() {}, removeEventListener() {},
  };
  Object.defineProperty(window, 'speechSynthesis', {value: synth, configurable: true});
  window.SpeechSynthesisUtterance = class {
    constructor(text) { this.text = text; this.lang = ''; this.voice = null; }
  };
})();
"""

# Records every label shown in the now-calling panel, with the time it appeared.
LABEL_WATCH = """
(() => {
  window.__shown = [];
  const start = () => {
    const el = document.getElementById('now-label');
    new MutationObserver(() => {
      window.__shown.push({label: el.textContent.trim(), at: Date.now()});
    }).observe(el, {childList: true, characterData: true, subtree: true});
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
"""


def display_page(
    browser: Browser, server: LiveServer, query: str = "", width: int = 1920, height: int = 1080
) -> Page:
    page = new_page(browser, width, height, locale="zh-CN")
    page.add_init_script(SPEECH_STUB)
    page.add_init_script(LABEL_WATCH)
    page.goto(f"{server.url}/s/demo/display{query}")
    overlay = page.locator("#sound-overlay")
    if overlay.is_visible():
        overlay.click()
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#lanes [data-lane='fast']")).to_be_visible()  # the snapshot is in
    page.evaluate("window.__noReload = true")
    return page


def issue(server: LiveServer, service: str = "A") -> dict:
    return server.staff("clerk1", "/stores/demo/tickets", service=service, channel="staff")


def call(server: LiveServer, counter: int, clerk: str = "clerk1") -> dict:
    server.staff(clerk, f"/stores/demo/counters/{counter}/sign-in", takeover=True)
    return server.staff(clerk, f"/stores/demo/counters/{counter}/call-next")


def test_a_call_reaches_two_displays_fast(browser: Browser, live_server: LiveServer) -> None:
    first, second = display_page(browser, live_server), display_page(browser, live_server)
    issue(live_server)
    sent = time.time() * 1000
    call(live_server, 2)
    latencies = []
    for page in (first, second):
        expect(page.locator("#now-label")).to_have_text("A001")
        expect(page.locator("#now-counter")).to_contain_text("2")
        expect(page.locator('.counter-panel[data-counter="2"] .current')).to_have_text("A001")
        shown = page.evaluate("window.__shown.find(s => s.label === 'A001').at")
        latencies.append(shown - sent)
    # Measured, not asserted (shared machines are noisy): written for the closing note.
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "display-latency.json").write_text(json.dumps({"call_to_display_ms": latencies}))
    print(f"call-to-display latency (ms): {latencies}")


def test_quick_calls_are_shown_and_announced_in_order(
    browser: Browser, live_server: LiveServer
) -> None:
    page = display_page(browser, live_server)
    for service in ("A", "A", "C"):
        issue(live_server, service)
    calls = [
        (call(live_server, counter, clerk)["ticket"]["label"], counter)
        for counter, clerk in ((1, "clerk1"), (3, "clerk2"), (2, "manager"))
    ]
    assert sorted(label for label, _ in calls) == ["A001", "A002", "C001"]
    digits = str.maketrans("0123456789", "零一二三四五六七八九")
    page.wait_for_function("window.__spoken.length >= 6", timeout=30_000)
    spoken = page.evaluate("window.__spoken")
    expected = []
    for label, counter in calls:  # in the order the counters called them
        expected += [
            f"请 {label[0]}{label[1:].translate(digits)} 号 到 {counter} 号窗口",
            f"Number {label}, please go to counter {counter}",
        ]
    assert [s["text"] for s in spoken] == expected
    assert [s["lang"][:2] for s in spoken] == ["zh", "en"] * 3
    assert page.evaluate("window.__overlaps") == 0
    shown = [s["label"] for s in page.evaluate("window.__shown") if s["label"] != "—"]
    in_order = [label for i, label in enumerate(shown) if i == 0 or shown[i - 1] != label]
    assert in_order == [label for label, _ in calls]
    recent = page.locator("#recent li")
    expect(recent).to_have_count(3)
    expect(recent.first).to_contain_text(calls[-1][0])


def test_recall_repeats_the_announcement(browser: Browser, live_server: LiveServer) -> None:
    page = display_page(browser, live_server)
    issue(live_server)
    ticket = call(live_server, 1)["ticket"]
    page.wait_for_function("window.__spoken.length >= 2", timeout=20_000)
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/recall")
    page.wait_for_function("window.__spoken.length >= 4", timeout=20_000)
    texts = [s["text"] for s in page.evaluate("window.__spoken")]
    assert texts[2:4] == texts[0:2]


def test_missed_numbers_and_paused_counters(browser: Browser, live_server: LiveServer) -> None:
    page = display_page(browser, live_server)
    issue(live_server)
    ticket = call(live_server, 1)["ticket"]
    live_server.staff("clerk1", f"/tickets/{ticket['id']}/no-show")
    expect(page.locator('#missed [data-label="A001"]')).to_be_visible()
    live_server.staff("clerk1", "/stores/demo/counters/1/pause", reason="break")
    expect(page.locator('.counter-panel[data-counter="1"][data-status="paused"]')).to_be_visible()
    expect(page.locator("#lanes [data-lane='fast'] .waiting")).to_have_text("0")
    issue(live_server)
    expect(page.locator("#lanes [data-lane='fast'] .waiting")).to_have_text("1")


def test_a_version_gap_reloads_the_snapshot(browser: Browser, live_server: LiveServer) -> None:
    page = display_page(browser, live_server)
    snapshots: list[str] = []
    page.on("request", lambda r: snapshots.append(r.url) if "/snapshot" in r.url else None)
    issue(live_server)
    expect(page.locator("#lanes [data-lane='fast'] .waiting")).to_have_text("1")
    assert snapshots == []  # in-order events are applied without a reload
    # A change the display never heard of (as after a lost event): versions jump ahead.
    db_file = live_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE store SET version = version + 5 WHERE code = 'demo'")
    standard = page.locator("#lanes [data-lane='standard'] .waiting")
    issue(live_server, "C")
    expect(standard).to_have_text("1")
    # One reload, not one per event from now on: the next event, in order again, is applied
    # as it comes (a display still behind would fetch a second snapshot to show it).
    issue(live_server, "C")
    expect(standard).to_have_text("2")
    assert len(snapshots) == 1
    assert page.evaluate("window.__noReload === true")


def test_server_stop_and_restart(browser: Browser, live_server: LiveServer) -> None:
    page = display_page(browser, live_server)
    live_server.stop()
    expect(page.locator("#offline")).to_be_visible(timeout=15_000)
    shot(page, "display-offline")
    live_server.start()
    expect(page.locator("#offline")).to_be_hidden(timeout=20_000)
    issue(live_server)
    call(live_server, 3)
    expect(page.locator("#now-label")).to_have_text("A001")
    assert page.evaluate("window.__noReload === true")


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_screenshots_at_three_sizes(browser: Browser, live_server: LiveServer, theme: str) -> None:
    for service in ("A", "C", "V", "B"):
        issue(live_server, service)
    call(live_server, 1)
    call(live_server, 4, "clerk2")
    for width, height in ((1920, 1080), (1280, 720), (1080, 1920)):
        page = display_page(browser, live_server, f"?theme={theme}", width, height)
        expect(page.locator("#now-label")).not_to_have_text("—")
        # The calling number is readable from 8 metres: at least 10% of the screen height.
        box = page.locator("#now-label").bounding_box()
        assert box is not None and box["height"] >= 0.1 * height
        shot(page, f"display-{theme}-{width}x{height}")
        page.context.close()


def test_a_display_filtered_to_some_counters(browser: Browser, live_server: LiveServer) -> None:
    page = display_page(browser, live_server, "?counters=1,2")
    expect(page.locator(".counter-panel[data-counter]")).to_have_count(2)
    issue(live_server, "C")
    issue(live_server, "A")
    elsewhere = call(live_server, 3, "clerk2")["ticket"]["label"]  # not this display's counter
    here = call(live_server, 1)["ticket"]["label"]
    expect(page.locator("#now-label")).to_have_text(here)
    expect(page.locator("#now-counter")).to_contain_text("1")
    # Calls are shown in order, each for a while, and the other counter's came first: with this
    # counter's on screen, the other one would have had its turn already.
    shown = {s["label"] for s in page.evaluate("window.__shown")}
    assert here in shown and elsewhere not in shown
