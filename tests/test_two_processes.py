"""The scale tier as it is deployed: two server processes (gunicorn with gevent-websocket's
worker, as `make serve` starts them) on two ports, sharing one PostgreSQL database and one Redis
(Socket.IO's message queue, the rate limits, the projection lease). What one process does reaches
the screens connected to the other; a limit counted by one is counted by both; each version of a
store's projection is published once, by one of them, to the displays of both."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from . import factories
from .conftest import FAST_PASSWORD_HASH, PG_SERVER, REDIS_URL, scale_only
from .e2e.conftest import free_port, opening_hours_now, wait_for_port

pytestmark = scale_only("two processes share PostgreSQL and Redis: the scale tier")

ROOT = Path(__file__).resolve().parents[1]
WAIT_S = 20.0


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll until `check` returns something truthy (a positive signal), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Display:
    """A display's socket on one process, recording every event it receives."""

    url: str
    auth: dict[str, Any] = field(default_factory=lambda: {"store": "demo", "role": "display"})
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(
            self.url,
            auth=self.auth,
            transports=["websocket"],
            wait_timeout=10,
        )

    def _record(self, name: str, payload: dict[str, Any]) -> None:
        # A command's several thin events come as one `steps` frame: kept as the page sees them.
        seen = factories.as_seen([{"name": name, "args": [payload]}])
        with self.lock:
            self.events += [(m["name"], m["args"][0]) for m in seen]

    def named(self, name: str) -> list[dict[str, Any]]:
        with self.lock:
            return [payload for event, payload in self.events if event == name]

    def close(self) -> None:
        self.client.disconnect()


class Deployment:
    """`python -m backend prepare` once, then two gunicorn processes on the same data."""

    def __init__(self, directory: Path, database: str) -> None:
        prefix = f"hq2p-{os.urandom(4).hex()}"
        self.directory = directory
        self.env = {
            **os.environ,
            "DATABASE_URL": database,
            "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
            "SOCKETIO_CHANNEL": prefix,  # the test's own channel on the shared Redis
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
            "SECRET_KEY": "two-process-secret",
            "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
            "PYTHONUNBUFFERED": "1",
            # A debounce longer than a burst of commands, so that both processes have an update
            # pending for the same newest version: only the lease keeps it from going out twice.
            "LIVE_PROJECTION_DELAY": "1.5",
        }
        clock_start = opening_hours_now()
        if clock_start:
            self.env["HALLQUEUE_CLOCK_START"] = clock_start
        self.processes: list[subprocess.Popen[str]] = []
        self.urls: list[str] = []

    def prepare(self) -> str:
        done = self._run([sys.executable, "-m", "backend", "prepare"])
        found = re.search(r"http://\S+?(/s/demo/kiosk/register/\S+)", done)
        assert found, done
        return found.group(1)  # the path: the printed link names no port of ours

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def token(self, username: str) -> str:
        out = self._run(
            [sys.executable, "-m", "flask", "--app", "backend.app", "create-token", username]
        )
        return out.strip().splitlines()[-1]

    def start(self, count: int) -> None:
        for index in range(count):
            port = free_port()
            log = self.directory / f"server-{index}.log"
            with log.open("w") as out:
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "--worker-class",
                        "geventwebsocket.gunicorn.workers.GeventWebSocketWorker",
                        "--workers",
                        "1",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--no-control-socket",
                        "--graceful-timeout",
                        "5",
                        "backend.wsgi:app",
                    ],
                    cwd=ROOT,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            self.processes.append(process)
            wait_for_port(port, process, log)
            url = f"http://127.0.0.1:{port}"
            wait_for(lambda u=url: _healthy(u), f"{url}/healthz")
            self.urls.append(url)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.directory.glob("server-*.log")))


def _healthy(url: str) -> bool:
    try:
        response = requests.get(f"{url}/healthz", timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.json()["message_queue"] == "ok"


def _live(url: str) -> dict[str, int]:
    """The process's live-update figures from /healthz (pending, published)."""
    return requests.get(f"{url}/healthz", timeout=5).json()["live_updates"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, str]]:
    name = f"hq_2p_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    database = factories.fresh_postgres_database(PG_SERVER, name)
    deployment = Deployment(tmp_path_factory.mktemp("two-processes"), database)
    kiosk_link = deployment.prepare()
    deployment.start(2)
    try:
        yield deployment, kiosk_link
    finally:
        deployment.stop()
        factories.drop_postgres_database(PG_SERVER, name)
    assert "Traceback" not in deployment.logs(), deployment.logs()


@pytest.fixture(scope="module")
def kiosk(deployment: tuple[Deployment, str]) -> requests.Session:
    """The store's kiosk, registered once: its cookie is good at either process."""
    processes, path = deployment
    session = requests.Session()
    response = session.get(processes.urls[0] + path, timeout=10)
    assert response.status_code == 200, response.text
    assert session.cookies, "the registration link set no kiosk cookie"
    return session


@pytest.fixture(scope="module")
def clerk(deployment: tuple[Deployment, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployment[0].token('clerk1')}"}


@pytest.fixture
def displays(deployment: tuple[Deployment, str]) -> Iterator[list[Display]]:
    screens = [Display(url) for url in deployment[0].urls]
    try:
        yield screens
    finally:
        for screen in screens:
            screen.close()


def issue(kiosk: requests.Session, url: str, service: str = "A") -> dict[str, Any]:
    response = kiosk.post(
        f"{url}/api/v1/stores/demo/tickets", json={"service": service}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def call_next(url: str, clerk: dict[str, str], counter: int) -> dict[str, Any]:
    base = f"{url}/api/v1/stores/demo/counters/{counter}"
    signed = requests.post(f"{base}/sign-in", json={"takeover": True}, headers=clerk, timeout=10)
    assert signed.status_code == 200, signed.text
    response = requests.post(f"{base}/call-next", headers=clerk, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_call_made_through_one_process_reaches_the_displays_of_both(
    deployment: tuple[Deployment, str],
    kiosk: requests.Session,
    clerk: dict[str, str],
    displays: list[Display],
) -> None:
    first, second = deployment[0].urls
    ticket = issue(kiosk, first)
    called = call_next(second, clerk, 2)
    assert called["ticket"]["id"] == ticket["id"]
    for screen in displays:
        announced = wait_for(
            lambda s=screen: [e for e in s.named("called") if e["ticket"]["id"] == ticket["id"]],
            f"the call at the display on {screen.url}",
        )
        assert announced[0]["ticket"]["label"] == ticket["label"]
        assert announced[0]["counter"] == 2
        # The issue made at the first process was announced at both too, before the call.
        issued = [e for e in screen.named("issued") if e["ticket"]["id"] == ticket["id"]]
        assert len(issued) == 1 and issued[0]["version"] < announced[0]["version"]


def test_each_version_is_projected_once_for_the_displays_of_both_processes(
    deployment: tuple[Deployment, str], kiosk: requests.Session, displays: list[Display]
) -> None:
    """A burst of commands through both processes, inside the projection's debounce: each
    process schedules an update, but a version goes out once (the Redis lease), and the newest
    reaches every display, whichever process published it."""
    urls = deployment[0].urls
    wait_for(lambda: all(_live(url)["pending"] == 0 for url in urls), "both processes idle")
    published_before = sum(_live(url)["published"] for url in urls)
    # Count only what this burst brings (a late update of the last test may still be on its way).
    base = requests.get(f"{urls[0]}/api/v1/stores/demo/snapshot", timeout=5).json()["version"]
    tickets = [issue(kiosk, urls[i % 2], "AB"[i % 2]) for i in range(12)]
    ids = {t["id"] for t in tickets}
    for screen in displays:
        issued = wait_for(
            lambda s=screen: (lambda got: got if set(got) == ids else None)(
                {
                    e["ticket"]["id"]: e["version"]
                    for e in s.named("issued")
                    if e["ticket"]["id"] in ids
                }
            ),
            f"the 12 issues at {screen.url}",
        )
    newest = max(issued.values())  # the version the last of the burst committed
    for screen in displays:
        wait_for(
            lambda s=screen: any(e["version"] >= newest for e in s.named("queue_updated")),
            f"the newest projection (version {newest}) at {screen.url}",
        )
    # Both processes done with what they had pending (each had an update scheduled) ...
    wait_for(lambda: all(_live(url)["pending"] == 0 for url in urls), "both processes to be idle")
    # ... both displays got the same updates, from whichever process held each version's lease,
    # and the processes together published each version once.
    seen = [
        [e["version"] for e in screen.named("queue_updated") if e["version"] > base]
        for screen in displays
    ]
    assert seen[0] == seen[1], seen
    published = sum(_live(url)["published"] for url in urls) - published_before
    assert published == len(seen[0]), (published, seen)
    assert len(seen[0]) == len(set(seen[0])), f"a version was published twice: {seen[0]}"
    assert seen[0] == sorted(seen[0])
    last = displays[0].named("queue_updated")[-1]
    assert last["version"] == newest
    assert sum(lane["waiting"] for lane in last["lanes"]) >= len(ids), last["lanes"]


def test_a_status_page_on_one_process_hears_a_call_made_through_the_other(
    deployment: tuple[Deployment, str], kiosk: requests.Session, clerk: dict[str, str]
) -> None:
    """The page is counted in the shared watcher registry: whichever process projects the new
    version sends the view to it, and builds none for the tickets nobody watches."""
    first, second = deployment[0].urls
    tickets = [issue(kiosk, first, "A") for _ in range(3)]
    mine = tickets[-1]
    page = Display(second, auth={"ticket": mine["token"], "lang": "en"})
    try:
        wait_for(lambda: all(_live(url)["pending"] == 0 for url in (first, second)), "idle")
        before = sum(_live(url)["ticket_views"] for url in (first, second))
        seen = len(page.named("ticket"))  # the views of the issue's own projection
        called = call_next(first, clerk, 1)  # the fast lane's oldest: ahead of mine
        assert called["ticket"]["id"] != mine["id"]
        views = wait_for(
            lambda: [
                v["ticket"]
                for v in page.named("ticket")[seen:]
                if v["ticket"]["id"] == mine["id"] and v["version"] >= called["ticket"]["version"]
            ],
            "the moved ticket's view at its page on the other process",
        )
        snapshot = requests.get(f"{second}/api/v1/stores/demo/snapshot", timeout=5).json()
        order = [t["id"] for t in snapshot["waiting"]]
        assert views[-1]["position"] == order.index(mine["id"])
        assert views[-1]["store_name"] == "Demo Business Hall"  # the page's language
        # Every view the two processes built went to this page, the only one open (the last
        # may still be on its way; an aged projection re-published meanwhile adds to both).
        wait_for(
            lambda: (
                sum(_live(url)["ticket_views"] for url in (first, second)) - before
                == len(page.named("ticket")) - seen
            ),
            "as many views received as the processes built",
        )
    finally:
        page.close()


def test_the_phone_join_limit_is_counted_across_both_processes(
    deployment: tuple[Deployment, str],
) -> None:
    """Joining from a phone is limited per client address (5 a minute): the count lives in Redis,
    so alternating between the processes does not double it."""
    urls = deployment[0].urls
    answers = []
    for attempt in range(7):
        url = urls[attempt % 2]
        phone = requests.Session()  # a new phone each time: one ticket per phone
        page = phone.get(f"{url}/s/demo/join", timeout=10)
        assert page.status_code == 200
        response = phone.post(
            f"{url}/api/v1/stores/demo/tickets",
            json={"service": "A", "channel": "remote"},
            timeout=10,
        )
        answers.append((response.status_code, response.json().get("error")))
    statuses = [status for status, _ in answers]
    assert statuses[:5] == [201] * 5, answers
    assert statuses[5:] == [429, 429], answers
    assert {error for status, error in answers if status == 429} == {"rate_limited"}
