"""Security headers on every page and every JSON answer, no inline script anywhere, customer text
escaped, sockets only from the site's own pages, and real pages that run under the policy in a
browser without a single violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.app import create_app
from backend.core.web import CONTENT_SECURITY_POLICY
from backend.policy import Role

from .conftest import FAST_PASSWORD_HASH, PASSWORD, make_user
from .factories import Factory
from .test_api_bookings import SLOT_10, set_store
from .test_api_tickets import extract_csrf

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [ROOT / "backend/templates", *ROOT.glob("*/templates")]
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def sign_in(app: Flask, client: FlaskClient, role: Role = Role.CLERK) -> None:
    make_user(app, f"headers-{role.value}", "demo", role)
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": f"headers-{role.value}", "password": PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 302


@pytest.fixture
def pages(app: Flask, client: FlaskClient, make: Factory) -> dict[str, str]:
    """One URL of every kind of page, with what it needs (a ticket, a booking, a manager)."""
    ticket = make.ticket("A")
    booking = make.appointment(SLOT_10)
    sign_in(app, client, Role.MANAGER)
    return {
        "index": "/",
        "login": "/login",
        "kiosk": "/s/demo/kiosk",
        "ticket print": f"/s/demo/kiosk/ticket/{ticket['token']}",
        "status": ticket["status_url"],
        "join": "/s/demo/join",
        "book": "/s/demo/book",
        "booking": booking["manage_url"],
        "check-in": "/s/demo/kiosk/check-in",
        "display": "/s/demo/display",
        "counter": "/s/demo/counter?counter=1",
        "poster": "/s/demo/poster?size=a5",
        "manager console": "/s/demo/manage",
        "manager store": "/s/demo/manage/store",
        "manager services": "/s/demo/manage/services",
        "manager service": "/s/demo/manage/services/A",
        "manager counters": "/s/demo/manage/counters",
        "manager counter": "/s/demo/manage/counters/1",
        "manager audit": "/s/demo/manage/audit",
        "manager floor": "/s/demo/manage/floor",
        "manager floor state": "/s/demo/manage/floor/state",
        "not found page": "/s/nowhere/display",
    }


class TestHeaders:
    def test_the_policy_runs_only_the_sites_own_script_files(self) -> None:
        policy = directives(CONTENT_SECURITY_POLICY)
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"]  # see docs/security.md
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["connect-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]

    def test_every_page_carries_them(self, client: FlaskClient, pages: dict[str, str]) -> None:
        for name, url in pages.items():
            response = client.get(url)
            assert response.status_code in (200, 302, 404), (name, response.status_code)
            self.assert_headers(response, name)

    @pytest.mark.parametrize(
        "url",
        [
            "/api/v1/stores/demo/snapshot",
            "/api/v1/stores/demo/services",
            "/api/openapi.json",
            "/api/v1/tickets/not-a-token",
            "/healthz",
            "/static/css/app.css",
            "/static/js/pages/base.js",
        ],
    )
    def test_every_json_answer_and_file_carries_them(self, client: FlaskClient, url: str) -> None:
        with client.get(url) as response:
            self.assert_headers(response, url)

    def test_errors_carry_them(self, client: FlaskClient) -> None:
        self.assert_headers(client.post("/api/v1/stores/demo/tickets", data="{"), "bad json")
        self.assert_headers(client.delete("/s/demo/display"), "405")

    @staticmethod
    def assert_headers(response: Any, name: str) -> None:
        headers = response.headers
        assert headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, name
        assert headers.get("Referrer-Policy") == "same-origin", name
        assert headers.get("X-Content-Type-Options") == "nosniff", name
        assert headers.get("X-Frame-Options") == "DENY", name


class TestNoInlineScript:
    SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)

    def inline_code(self, html: str) -> list[str]:
        """The <script> elements a CSP without 'unsafe-inline' would refuse to run."""
        found = []
        for attributes, body in self.SCRIPT.findall(html):
            if "src=" in attributes or 'type="application/json"' in attributes:
                assert "src=" not in attributes or not body.strip(), attributes
                continue
            found.append(body.strip()[:80])
        return found

    def test_no_rendered_page_has_any(self, client: FlaskClient, pages: dict[str, str]) -> None:
        for name, url in pages.items():
            html = client.get(url, follow_redirects=True).get_data(as_text=True)
            assert self.inline_code(html) == [], name
            assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler in {name}"
            assert "javascript:" not in html, name

    def test_no_template_has_any(self) -> None:
        templates = [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]
        assert len(templates) > 10
        for path in templates:
            text = path.read_text()
            assert self.inline_code(text) == [], path
            assert not re.search(r"\son[a-z]+\s*=\s*[\"']", text), path

    def test_no_browser_module_writes_markup_or_evaluates_text(self) -> None:
        """Customer text reaches the page through textContent (lib/dom.js) only."""
        sinks = re.compile(
            r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write"
            r"|\beval\(|new Function"
        )
        modules = list((ROOT / "static/js").rglob("*.js"))
        assert len(modules) > 10
        for path in modules:
            assert not sinks.search(path.read_text()), path

    def test_text_from_the_database_cannot_become_markup(
        self, app: Flask, client: FlaskClient, make: Factory
    ) -> None:
        """Names end up in titles, headings and the pages' JSON data blocks: a name that tries
        to close the data block or open a tag stays text (autoescape, tojson)."""
        attack = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
        set_store(app, name_zh="厅" + attack, name_en="Hall" + attack)
        ticket = make.ticket("A")
        for url in (
            "/s/demo/display",
            "/s/demo/kiosk",
            "/s/demo/book",
            "/s/demo/join",
            ticket["status_url"],
            "/s/demo/display?lang=en",
        ):
            html = client.get(url).get_data(as_text=True)
            assert "alert" in html, url  # the name is there…
            assert "<script>alert" not in html and "<img src=x" not in html, url  # …as text
            assert self.inline_code(html) == [], url


class TestSocketOrigins:
    def test_a_page_of_another_site_cannot_open_a_socket(self, client: FlaskClient) -> None:
        response = client.get(HANDSHAKE, headers={"Origin": "https://evil.example"})
        assert response.status_code == 400

    def test_the_sites_own_pages_can(self, client: FlaskClient) -> None:
        response = client.get(HANDSHAKE, headers={"Origin": "http://localhost"})
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost"

    def test_a_client_that_is_not_a_browser_sends_no_origin(self, client: FlaskClient) -> None:
        assert client.get(HANDSHAKE).status_code == 200

    def test_with_a_public_base_url_that_origin_too(self, tmp_path: Path) -> None:
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'o.db'}",
                "SECRET_KEY": "x",
                "PUBLIC_BASE_URL": "https://queue.example.com/",
                "SOCKETIO_EXTRA_ORIGINS": "http://10.0.0.5:5000",
                "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
            }
        )
        client = app.test_client()

        def status(origin: str) -> int:
            return client.get(HANDSHAKE, headers={"Origin": origin}).status_code

        assert status("https://queue.example.com") == 200
        assert status("http://10.0.0.5:5000") == 200
        assert status("http://localhost") == 200  # the host itself: a display on the server
        assert status("https://queue.example.com.evil.example") == 400
        assert status("https://evil.example") == 400


# --- in a real browser -------------------------------------------------------------------------


# 10:00 on a weekday in Shanghai: the demo hall is open whatever the hour the test runs at.
OPEN_HALL = "2026-11-26T02:00:00+00:00"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    from .e2e.conftest import LiveServer

    server = LiveServer(tmp_path, clock_start=OPEN_HALL)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from .e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Recorded in the page before any of its own scripts run (init scripts are not subject to CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


@pytest.mark.browser
def test_pages_run_under_the_policy_without_a_violation(chromium: Any, served: Any) -> None:
    from playwright.sync_api import expect

    from .e2e.conftest import new_page, register_kiosk

    console: list[str] = []

    def watch(page: Any) -> Any:
        page.add_init_script(RECORD_VIOLATIONS)
        page.on(
            "console",
            lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        return page

    def violations(page: Any) -> list[str]:
        return list(page.evaluate("window.__csp"))

    seen: dict[str, list[str]] = {}
    kiosk = watch(new_page(chromium, 1080, 1920, locale="zh-CN"))
    register_kiosk(kiosk, served)
    expect(kiosk.locator('[data-service="A"]')).to_be_visible()
    seen["kiosk"] = violations(kiosk)
    kiosk.locator('[data-service="A"]').click()
    kiosk.wait_for_url(re.compile(r"/s/demo/kiosk/ticket/"))
    seen["ticket"] = violations(kiosk)
    token = kiosk.url.rsplit("/", 1)[1]

    display = watch(new_page(chromium, 1920, 1080, locale="zh-CN"))
    display.goto(f"{served.url}/s/demo/display")
    expect(display.locator("body")).to_be_visible()

    status = watch(new_page(chromium, 390, 844, locale="zh-CN"))
    status.goto(f"{served.url}/t/{token}")
    expect(status.locator("#label")).to_have_text("A001")

    counter = watch(new_page(chromium, 1366, 768, locale="zh-CN"))
    counter.goto(f"{served.url}/login?next=/s/demo/counter?counter=1")
    counter.fill("#username", "clerk1")
    counter.fill("#password", served.passwords["clerk1"])
    counter.click("button[type=submit]")
    counter.wait_for_url(re.compile(r"/s/demo/counter"))
    expect(counter.locator("#call-next")).to_be_visible()
    counter.click("#call-next")
    expect(display.locator("body")).to_contain_text("A001")  # the socket reached the display
    expect(status.locator("#label")).to_have_text("A001")

    for name, page in (("display", display), ("status", status), ("counter", counter)):
        seen[name] = violations(page)
    for name, url in (
        ("book", "/s/demo/book"),
        ("join", "/s/demo/join"),
        ("check-in", "/s/demo/kiosk/check-in"),
    ):
        page = watch(new_page(chromium))
        page.goto(f"{served.url}{url}")
        page.wait_for_load_state("networkidle")
        seen[name] = violations(page)

    poster = watch(new_page(chromium))
    poster.goto(f"{served.url}/login?next=/s/demo/poster")
    poster.fill("#username", "manager")
    poster.fill("#password", served.passwords["manager"])
    poster.click("button[type=submit]")
    poster.wait_for_url(re.compile(r"/s/demo/poster"))
    expect(poster.locator(".poster-qr svg")).to_be_visible()
    assert poster.pdf(prefer_css_page_size=True)[:4] == b"%PDF"  # still printable (@page)
    seen["poster"] = violations(poster)
    assert seen == {name: [] for name in seen}, seen
    assert console == []
