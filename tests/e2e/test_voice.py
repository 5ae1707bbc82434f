"""The display's voice pack in a real browser: without the device's voices a call is read from
recorded clips, in the right order, and a mark on screen says which voice the hall hears."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from .conftest import ROOT, LiveServer, new_page, shot

pytestmark = pytest.mark.browser

PACK = ROOT / "static" / "voice" / "default"

# A speechSynthesis with the given voices (none: a Chromium without Chinese or English voices)
# that records what it is asked to say and "says" it for 150 ms.
SPEECH_STUB = """
(voices) => {
  window.__spoken = [];
  const synth = {
    speaking: false, pending: false, paused: false,
    getVoices: () => voices,
    speak(u) {
      if (!u.text.trim()) return;  // the silent unlock utterance
      window.__spoken.push(u.text);
      setTimeout(() => { if (u.onend) u.onend({}); }, 150);
    },
    cancel() {}, pause() {}, resume() {},
    addEventListener() {}, removeEventListener() {},
  };
  Object.defineProperty(window, 'speechSynthesis', {value: synth, configurable: true});
  window.SpeechSynthesisUtterance = class {
    constructor(text) { this.text = text; this.lang = ''; this.voice = null; }
  };
}
"""
ZH_VOICE = {"lang": "zh-CN", "name": "stub-zh", "voiceURI": "stub-zh", "localService": True}
EN_VOICE = {"lang": "en-US", "name": "stub-en", "voiceURI": "stub-en", "localService": True}

# A001 to counter 2, as the clips read it.
ZH_A001_2 = ["zh-qing", "zh-A", "zh-0", "zh-0", "zh-1", "zh-hao", "zh-dao", "zh-2"]
ZH_A001_2 += ["zh-hao-chuangkou"]
EN_A001_2 = ["en-number", "en-A", "en-0", "en-0", "en-1", "en-please-go-to-counter", "en-2"]


def voice_page(
    browser: Browser, server: LiveServer, query: str = "", voices: list[dict] | None = None
) -> Page:
    page = new_page(browser, 1920, 1080, locale="zh-CN")
    page.add_init_script(f"({SPEECH_STUB})({json.dumps(voices or [])})")
    page.goto(f"{server.url}/s/demo/display{query}")
    overlay = page.locator("#sound-overlay")
    if overlay.is_visible():
        overlay.click()
    # The snapshot is in (a loaded machine may take a while to serve and draw it).
    expect(page.locator("#lanes [data-lane='fast']")).to_be_visible(timeout=15_000)
    return page


def call_a001_at_2(server: LiveServer) -> None:
    server.staff("clerk1", "/stores/demo/tickets", service="A", channel="staff")
    server.staff("clerk1", "/stores/demo/counters/2/sign-in", takeover=True)
    label = server.staff("clerk1", "/stores/demo/counters/2/call-next")["ticket"]["label"]
    assert label == "A001"


def played(page: Page, count: int) -> list[str]:
    page.wait_for_function(f"window.voicePlayed.length >= {count}", timeout=30_000)
    return page.evaluate("window.voicePlayed")


def test_without_local_voices_a_call_plays_the_clips_in_order(
    browser: Browser, live_server: LiveServer
) -> None:
    page = voice_page(browser, live_server)
    mark = page.locator("#voice-mark")
    expect(mark).to_have_attribute("data-voice", "clips")
    expect(mark).to_have_text("语音：录音")
    call_a001_at_2(live_server)
    expected = ZH_A001_2 + EN_A001_2
    assert played(page, len(expected)) == expected
    assert page.evaluate("window.__spoken") == []  # no speech with a voice the device lacks
    assert page.evaluate("window.announcements.length") == 2
    shot(page, "display-voice-clips")


def test_voice_off_plays_nothing_and_says_so(browser: Browser, live_server: LiveServer) -> None:
    page = voice_page(browser, live_server, "?voice=off&lang=en")
    expect(page.locator("#voice-mark")).to_have_text("Voice: off")
    call_a001_at_2(live_server)
    # A second call is announced only once the first one's announcement has ended.
    live_server.staff("clerk2", "/stores/demo/tickets", service="A", channel="staff")
    live_server.staff("clerk2", "/stores/demo/counters/1/sign-in", takeover=True)
    live_server.staff("clerk2", "/stores/demo/counters/1/call-next")
    page.wait_for_function("window.announcements.length >= 4", timeout=30_000)
    assert page.evaluate("window.voicePlayed") == []
    assert page.evaluate("window.__spoken") == []


def test_the_device_voices_speak_when_it_has_them(
    browser: Browser, live_server: LiveServer
) -> None:
    page = voice_page(browser, live_server, voices=[ZH_VOICE, EN_VOICE])
    expect(page.locator("#voice-mark")).to_have_text("语音：系统")
    call_a001_at_2(live_server)
    page.wait_for_function("window.__spoken.length >= 2", timeout=30_000)
    assert page.evaluate("window.__spoken") == [
        "请 A零零一 号 到 2 号窗口",
        "Number A001, please go to counter 2",
    ]
    assert page.evaluate("window.voicePlayed") == []


def test_only_the_language_without_a_voice_uses_clips(
    browser: Browser, live_server: LiveServer
) -> None:
    page = voice_page(browser, live_server, voices=[EN_VOICE])
    mark = page.locator("#voice-mark")
    expect(mark).to_have_attribute("data-voice", "mixed")
    expect(mark).to_have_text("语音：录音 + 系统")
    call_a001_at_2(live_server)
    page.wait_for_function("window.__spoken.length >= 1", timeout=30_000)  # English comes second
    assert page.evaluate("window.voicePlayed") == ZH_A001_2
    assert page.evaluate("window.__spoken") == ["Number A001, please go to counter 2"]


def test_voice_clips_forces_the_clips_over_the_device_voices(
    browser: Browser, live_server: LiveServer
) -> None:
    page = voice_page(browser, live_server, "?voice=clips", voices=[ZH_VOICE, EN_VOICE])
    expect(page.locator("#voice-mark")).to_have_attribute("data-voice", "clips")
    call_a001_at_2(live_server)
    expected = ZH_A001_2 + EN_A001_2
    assert played(page, len(expected)) == expected
    assert page.evaluate("window.__spoken") == []


def test_every_clip_of_the_pack_is_served_as_audio(live_server: LiveServer) -> None:
    response = requests.get(f"{live_server.url}/static/voice/default/manifest.json", timeout=10)
    assert response.status_code == 200
    manifest = response.json()
    assert manifest == json.loads((PACK / "manifest.json").read_text())
    clips = manifest["clips"]
    # Every clip a call can need: the words, letters and digits, counters 1-99 as numbers.
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    wanted = {"zh-qing", "zh-hao", "zh-dao", "zh-hao-chuangkou", "zh-10", "en-number"}
    wanted |= {"en-please-go-to-counter"} | {f"en-{n}" for n in [*range(20), *range(20, 100, 10)]}
    wanted |= {f"{lang}-{c}" for lang in ("zh", "en") for c in [*letters, *"0123456789"]}
    assert wanted <= set(clips), sorted(wanted - set(clips))
    total = 0
    for name, clip in clips.items():
        assert clip["lang"] == name[:2] and 0.1 < clip["duration"] < 2, (name, clip)
        assert (PACK / clip["file"]).is_file(), name
        served = requests.get(f"{live_server.url}/static/voice/default/{clip['file']}", timeout=10)
        assert served.status_code == 200, name
        assert served.headers["Content-Type"].startswith("audio/"), served.headers
        assert served.content == (PACK / clip["file"]).read_bytes()
        total += len(served.content)
    assert total < 512 * 1024  # the whole pack stays small
