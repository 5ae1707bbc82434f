"""A real server on a free port, started the way `make run` starts it, and Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from ..conftest import FAST_PASSWORD_HASH

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[str], log: Path, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


class LiveServer:
    """The app as `make run` starts it, on a free port and a file database; it can be stopped
    and started again on the same port and data (a restart, or the server going away)."""

    def __init__(self, directory: Path, clock_start: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{directory / 'live.db'}",
            "SECRET_KEY": "browser-test-secret",
            "PYTHONUNBUFFERED": "1",
            # The seeded staff's passwords: scrypt would cost each server start ~0.3 s.
            "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
        }
        if clock_start:
            self.env["HALLQUEUE_CLOCK_START"] = clock_start
        self.process: subprocess.Popen[str] | None = None
        self.passwords: dict[str, str] = {}
        self.kiosk_url = ""
        self._tokens: dict[str, str] = {}
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        log = self.directory / f"server-{self.runs}.log"
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend", "run", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            wait_for_port(self.port, self.process, log)
        except RuntimeError:
            self.stop()  # a server that did not come up is not left running behind the test
            raise
        if self.runs == 1:
            text = log.read_text()
            self.passwords = dict(re.findall(r"^\s+(clerk\d|manager)\s+(\S+)$", text, re.M))
            found = re.search(r"(http://\S+/s/demo/kiosk/register/\S+)", text)
            assert found and set(self.passwords) == {"clerk1", "clerk2", "manager"}, text
            self.kiosk_url = found.group(1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def flask(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "backend.app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def token(self, username: str) -> str:
        if username not in self._tokens:
            self._tokens[username] = self.flask("create-token", username).splitlines()[-1]
        return self._tokens[username]

    def staff(self, username: str, path: str, **body: object) -> dict:
        """A staff API call with a bearer token (what an integration or a test clerk does)."""
        response = requests.post(
            f"{self.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=10,
        )
        assert response.status_code < 300, response.text
        return response.json()

    def get(self, path: str) -> dict:
        response = requests.get(f"{self.url}/api/v1{path}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


STORE_ZONE = ZoneInfo("Asia/Shanghai")  # the seeded demo store's


def opening_hours_now() -> str | None:
    """A moment the demo store (09:00-18:00 every day) is open, to start the server at: the hall
    refuses walk-in and phone tickets outside its hours, and a browser test should not depend on
    the hour it runs at. Real time when the hall is open now, else the next 10:00 there."""
    now = datetime.now(STORE_ZONE)
    if clock_time(9, 30) <= now.time() <= clock_time(16, 30):
        return None
    day = now.date() if now.time() < clock_time(9, 30) else now.date() + timedelta(days=1)
    return datetime.combine(day, clock_time(10, 0), STORE_ZONE).isoformat()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, clock_start=opening_hours_now())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (scripts/ensure-chromium.sh)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# The contexts the running test opened (new_page), closed when it ends: a page left open keeps
# its renderer and its socket reconnecting to a server already stopped, and hundreds of them
# slowed every later test of the worker.
_OPEN_CONTEXTS: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def _close_pages() -> Iterator[None]:
    yield
    while _OPEN_CONTEXTS:
        # The browser may have gone first (a crash): nothing left to close then.
        with contextlib.suppress(PlaywrightError):
            _OPEN_CONTEXTS.pop().close()


def new_page(browser: Browser, width: int = 1280, height: int = 800, **kwargs: object) -> Page:
    # The tests evaluate their own scripts in the page (string conditions, the injected axe-core),
    # which the pages' CSP rightly forbids; the CSP itself is checked in test_security_headers.
    context = browser.new_context(  # type: ignore[misc]
        viewport={"width": width, "height": height}, bypass_csp=True, **kwargs
    )
    _OPEN_CONTEXTS.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)  # shared by xdist workers: every name is one test's own
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """Run axe-core (installed from npm, injected from disk) on the page."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it with npm")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
        for v in result["violations"]
        if v["impact"] in impacts
    ]


def register_kiosk(page: Page, server: LiveServer) -> None:
    page.goto(server.kiosk_url)
    page.wait_for_url(f"{server.url}/s/demo/kiosk")
