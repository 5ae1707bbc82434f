"""Web Push in Chromium: the status page registers its service worker (/sw.js, scope /) and, with
the notifications permission granted, subscribes; the server sends the call to the subscription;
the service worker shows it.

What is exercised and what is not: Chromium's own push service (its registration with the
vendor's servers) cannot be reached here, and Playwright's contexts are incognito, where Chromium
refuses `pushManager.subscribe` outright. So the real `subscribe` is tried once (the page must say
that notifications could not be turned on, not pretend), and then the browser's push service is
stood in for: an init script makes `pushManager.subscribe`/`getSubscription` return a
subscription whose endpoint is a push service this test runs and whose keys the test made. All the
rest is real: the page's click, the permission, its POST to the server, the server's outbox and
background sender after the clerk's call, the VAPID-signed aes128gcm request reaching the test's
push service (decrypted here with the subscription's key), that payload delivered to the real
service worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`), and the
notification it shows (`registration.getNotifications()`), in the page's language."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, Page, expect

from backend.messaging.push import b64url

from .conftest import LiveServer, axe_violations, new_page, opening_hours_now, shot
from .test_customer import clerk_calls, kiosk_page, take_ticket

pytestmark = pytest.mark.browser


class PushService:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.arrived = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service.bodies.append(body)
                service.arrived.set()
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/push/phone-1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def push_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, clock_start=opening_hours_now())
    server.env["PUSH_ALLOW_HTTP"] = "1"  # the test's push service speaks plain http
    server.start()
    try:
        yield server
    finally:
        server.stop()


# A stand-in for the browser's push service registration (see the module's docstring): the
# subscription the page gets, with the endpoint and keys the test made.
STAND_IN = """
(() => {
  const sub = %s;
  const made = {
    endpoint: sub.endpoint,
    toJSON: () => sub,
    unsubscribe: async () => true,
  };
  let subscribed = false;
  PushManager.prototype.subscribe = async function (options) {
    if (!options || !options.applicationServerKey) throw new Error('no key');
    window.__pushKeyLength = new Uint8Array(options.applicationServerKey).length;
    subscribed = true;
    return made;
  };
  PushManager.prototype.getSubscription = async function () { return subscribed ? made : null; };
})();
"""


def phone(browser: Browser, server: LiveServer, lang: str = "zh") -> Page:
    page = new_page(
        browser,
        390,
        844,
        locale="zh-CN" if lang == "zh" else "en-US",
        is_mobile=True,
        has_touch=True,
    )
    page.context.grant_permissions(["notifications"], origin=server.url)
    return page


def worker_ready(page: Page) -> dict[str, Any]:
    return page.evaluate(  # type: ignore[no-any-return]
        """async () => {
          const r = await navigator.serviceWorker.ready;
          return { scope: r.scope, script: r.active && r.active.scriptURL };
        }"""
    )


class Keys:
    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.json = {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> str:
        return http_ece.decrypt(  # type: ignore[no-any-return]
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        ).decode()


def test_headless_chromium_refuses_a_real_subscription_and_the_page_says_so(
    browser: Browser, push_server: LiveServer
) -> None:
    token = take_ticket(kiosk_page(browser, push_server), "A")
    page = phone(browser, push_server, "en")
    page.goto(f"{push_server.url}/t/{token}?lang=en")
    expect(page.locator("#push-box")).to_be_visible()
    registered = worker_ready(page)
    assert registered == {"scope": f"{push_server.url}/", "script": f"{push_server.url}/sw.js"}
    page.locator("#push-on").click()
    expect(page.locator("#push-msg")).to_have_text(
        "Notifications could not be turned on in this browser."
    )
    expect(page.locator("#push-on")).to_be_visible()  # still off: nothing claims otherwise
    expect(page.locator("#push-off")).to_be_hidden()


@pytest.mark.parametrize(
    ("lang", "title", "body", "on_text"),
    [
        ("zh", "您的号码 A001 到了", "请到 1 号窗口", "已为此号码开启通知。"),
        (
            "en",
            "Your number A001 is called",
            "Please go to counter 1",
            "Notifications are on for this number.",
        ),
    ],
)
def test_the_page_subscribes_and_the_worker_shows_the_call(
    browser: Browser,
    push_server: LiveServer,
    push_service: PushService,
    lang: str,
    title: str,
    body: str,
    on_text: str,
) -> None:
    token = take_ticket(kiosk_page(browser, push_server), "A")
    keys = Keys(push_service.url)
    page = phone(browser, push_server, lang)
    page.add_init_script(STAND_IN % json.dumps(keys.json))
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    page.goto(f"{push_server.url}/t/{token}?lang={lang}")
    expect(page.locator("#push-box")).to_be_visible()
    assert worker_ready(page)["scope"] == f"{push_server.url}/"
    assert axe_violations(page) == []
    shot(page, f"push-status-off-{lang}")

    with page.expect_response(lambda r: "/push-subscription" in r.url) as answer:
        page.locator("#push-on").click()
    assert answer.value.status == 201
    assert page.evaluate("window.__pushKeyLength") == 65  # the served VAPID key, decoded
    expect(page.locator("#push-msg")).to_have_text(on_text)
    expect(page.locator("#push-off")).to_be_visible()
    shot(page, f"push-status-on-{lang}")
    assert axe_violations(page) == []

    called = clerk_calls(push_server)  # the server's background sender takes it from here
    assert called["ticket"]["label"] == "A001"
    assert push_service.arrived.wait(20), "the server never posted to the push service"
    sent = [json.loads(keys.decrypt(b)) for b in push_service.bodies]
    note = next(n for n in sent if n["title"] == title)
    assert note["body"] == body and note["url"] == f"/t/{token}"

    (registration,) = [
        r for r in registrations if r["scopeURL"] == f"{push_server.url}/" and not r["isDeleted"]
    ][:1]
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": push_server.url,
            "registrationId": registration["registrationId"],
            "data": json.dumps(note, ensure_ascii=False),
        },
    )
    page.wait_for_function(
        """async (title) => {
          const r = await navigator.serviceWorker.ready;
          return (await r.getNotifications()).some((n) => n.title === title);
        }""",
        arg=title,
    )
    shown = page.evaluate(
        """async () => {
          const r = await navigator.serviceWorker.ready;
          return (await r.getNotifications()).map(
            (n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url }));
        }"""
    )
    assert {"title": title, "body": body, "tag": note["tag"], "url": f"/t/{token}"} in shown

    page.locator("#banner-ok").click()  # the page's own call banner, then stop notifications
    with page.expect_response(lambda r: "/push-subscription" in r.url) as stopped:
        page.locator("#push-off").click()
    assert stopped.value.status == 200 and stopped.value.request.method == "DELETE"
    expect(page.locator("#push-on")).to_be_visible()


def test_the_booking_page_names_its_reminders_in_both_languages(
    browser: Browser, push_server: LiveServer
) -> None:
    import requests

    from ..factories import booking_body

    info = push_server.get("/stores/demo/booking")
    day = next(
        d["date"] for d in info["days"] if d["open"] and d["date"] != info["days"][0]["date"]
    )
    slots = push_server.get(f"/stores/demo/slots?service=C&date={day}")["slots"]
    made = requests.post(
        f"{push_server.url}/api/v1/stores/demo/appointments",
        json=booking_body(slots[0]["start"]),
        timeout=10,
    )
    assert made.status_code == 201, made.text
    token = made.json()["manage_url"].rstrip("/").split("/")[-1]
    for lang, words in (("zh", "如在下方开启通知"), ("en", "if you turn notifications on below")):
        page = phone(browser, push_server, lang)
        page.goto(f"{push_server.url}/b/{token}?lang={lang}")
        expect(page.locator("#reminder-push-off")).to_contain_text(words)
        expect(page.locator("#reminder-calendar")).to_be_visible()
        expect(page.locator("#push-on")).to_be_visible()
        assert axe_violations(page) == []
        page.locator("#push-box").scroll_into_view_if_needed()
        shot(page, f"push-booking-{lang}")


@pytest.fixture
def sms_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A store that sends SMS (to a provider address nobody answers: no SMS leaves the test)."""
    server = LiveServer(tmp_path, clock_start=opening_hours_now())
    server.env.update(
        {
            "SMS_PROVIDER": "aliyun",
            "SMS_ACCESS_KEY_ID": "test",
            "SMS_ACCESS_KEY_SECRET": "test",
            "SMS_SIGN_NAME": "test",
            "SMS_TEMPLATE_CONFIRMATION": "SMS_1",
            "SMS_TEMPLATE_REMINDER": "SMS_2",
            "SMS_TEMPLATE_ALMOST": "SMS_3",
            "SMS_ENDPOINT": "http://127.0.0.1:9/",
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("lang", "consent_error"),
    [("zh", "请同意将您的手机号用于这条短信。"), ("en", "Please agree to the use of your number")],
)
def test_a_remote_joiner_may_leave_a_number_for_the_almost_sms(
    browser: Browser, sms_server: LiveServer, lang: str, consent_error: str
) -> None:
    page = phone(browser, sms_server, lang)
    page.goto(f"{sms_server.url}/s/demo/join?lang={lang}")
    expect(page.locator("#sms-box")).to_be_visible()
    assert axe_violations(page) == []
    page.locator("#sms-phone").fill("13912345678")
    page.locator('[data-service="C"]').click()  # without the consent ticked: refused, kept
    expect(page.locator("#message")).to_contain_text(consent_error)
    assert "null" not in page.locator("#message").inner_text()
    assert sms_server.get("/stores/demo/snapshot")["waiting"] == []
    page.locator("#sms-consent").check()
    shot(page, f"join-sms-{lang}")
    page.locator('[data-service="C"]').click()
    page.wait_for_url(lambda url: "/t/" in url)
    expect(page.locator("#label")).to_have_text("C001")
