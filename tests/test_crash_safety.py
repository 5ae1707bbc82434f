"""Crash safety: the real server (`python -m backend run`) SIGKILLed ten times under load and
restarted on the same database and port, while two kiosks issue tickets with Idempotency-Keys
and two counters call, start and complete them. Every request that got no answer is sent again,
unchanged, once the server is back. Then the database is read: nothing acknowledged is lost,
nothing is made twice, no number is reused or skipped, no ticket is in a state the engine could
not have left it in, and the store's version counts the events; and after the last restart the
snapshot holds exactly the queue the database holds, while a display that stayed connected
through the kills (it reconnects by itself) and one that connects anew both see the next call
live, the version continuing from the snapshot's without a gap.

SQLite file on the sqlite tier; a fresh PostgreSQL database (with Redis for Socket.IO's message
queue and the rate limits) on the scale tier."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import socketio
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from backend.live.events import STORE_EVENTS
from backend.policy import AT_COUNTER, TRANSITIONS, Action, TicketStatus, format_label
from backend.queue.models import DailySequence, Ticket, TicketEvent
from backend.staff.models import User
from backend.stores.models import Counter, Store

from . import factories
from .conftest import FAST_PASSWORD_HASH, PG_SERVER, REDIS_URL, TIER

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261202
KILLS = 10
LOAD_SECONDS = (0.2, 1.5)  # load between two kills, drawn from the seeded random
ISSUERS = 2
CLERKS = {1: "clerk1", 2: "clerk2"}  # counter number -> the clerk signed in there
# The services the kiosks print, weighted: mostly fast business, some standard.
SERVICES = ("A", "A", "A", "B", "B", "C")
REQUEST_TIMEOUT_S = 30.0
START_TIMEOUT_S = 60.0
WAIT_S = 30.0
# Tickets waiting (as the clients count them) above which the kiosks pause: beyond some hundred,
# the estimate passes closing time and the kiosks are refused (after_closing).
MAX_WAITING = 100
# The answers that refuse a ticket without making one (the hall's own rules, not failures).
REFUSALS = {"after_closing", "closing_soon", "store_closed", "rate_limited"}
STORE_ZONE = ZoneInfo("Asia/Shanghai")  # the seeded demo store's


def quiet_port() -> int:
    """A free port below the kernel's ephemeral range: no client socket ever gets it as its own
    source port, so the clients' reconnections while the server is down can never connect the
    port to itself (TCP's self-connect) and keep the restarted server from binding it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in random.SystemRandom().sample(range(20000, max(low, 20001)), 50):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll until `check` returns something truthy (a positive signal), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    """The app as `make run` starts it, on one port and one database; killed and started again.
    Its clock starts on a morning the hall is open and keeps running across restarts."""

    def __init__(self, directory: Path, database_url: str) -> None:
        self.directory = directory
        self.port = quiet_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        prefix = f"hqcrash-{os.urandom(4).hex()}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "crash-test-secret",
            "PYTHONUNBUFFERED": "1",
            "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
        }
        if TIER == "scale":
            self.env |= {
                "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
                "SOCKETIO_CHANNEL": prefix,
                "RATELIMIT_STORAGE_URI": REDIS_URL,
                "RATELIMIT_KEY_PREFIX": prefix,
            }
        today = datetime.now(STORE_ZONE).date()
        self.morning = datetime.combine(today, clock_time(9, 30), STORE_ZONE)
        self.began = time.monotonic()
        self.process: subprocess.Popen[str] | None = None
        self.runs = 0
        self.up = threading.Event()  # set while a started server is known to listen
        # Each run's clock starts here: a moment before it, another process made it.
        self.clock_starts: dict[int, datetime] = {}

    def _clock_env(self) -> dict[str, str]:
        moment = self.morning.timestamp() + (time.monotonic() - self.began)
        self.clock_starts[self.runs] = start = datetime.fromtimestamp(moment, STORE_ZONE)
        return {**self.env, "HALLQUEUE_CLOCK_START": start.isoformat()}

    def made_before_this_run(self, iso: str) -> bool:
        return datetime.fromisoformat(iso) < self.clock_starts[self.runs]

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self._clock_env(),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def prepare(self) -> str:
        """Migrate and seed (`python -m backend prepare`); the kiosk's registration path."""
        out = self._run("-m", "backend", "prepare")
        found = re.search(r"http://\S+?(/s/demo/kiosk/register/\S+)", out)
        assert found, out
        return found.group(1)  # the printed link names the default port, not ours

    def token(self, username: str) -> str:
        out = self._run("-m", "flask", "--app", "backend.app", "create-token", username)
        return out.strip().splitlines()[-1]

    def log(self, run: int) -> Path:
        return self.directory / f"server-{run}.log"

    def start(self) -> None:
        self.runs += 1
        log = self.log(self.runs)
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend", "run", "--port", str(self.port)],
                cwd=ROOT,
                env=self._clock_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{log.read_text()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    self.up.set()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"server did not start:\n{log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no handler runs, no transaction is finished, no buffer is flushed."""
        self.up.clear()
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def stop(self) -> None:
        self.up.clear()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


@dataclass
class Ledger:
    """What the clients sent and what the server acknowledged, per server run."""

    server: Server
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: set[str] = field(default_factory=set)
    # key: the acknowledged ticket's id, label and token (its holder's link), and its service
    issued: dict[str, tuple[int, str, str, str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # key: the refusal's code
    called: dict[int, int] = field(default_factory=dict)  # ticket id: counter number
    completed: set[int] = field(default_factory=set)
    current: dict[int, int | None] = field(default_factory=dict)  # counter: its ticket, per us
    unexpected: list[str] = field(default_factory=list)
    per_run: dict[int, Tally[str]] = field(default_factory=lambda: defaultdict(Tally))

    def waiting(self) -> int:
        with self.lock:
            return len(self.issued) - len(self.called)

    def count(self, what: str) -> None:
        with self.lock:
            self.per_run[self.server.runs][what] += 1

    def wrong(self, what: str, response: requests.Response) -> None:
        with self.lock:
            self.unexpected.append(f"{what}: {response.status_code} {response.text[:300]}")

    def send(
        self, session: requests.Session, path: str, kind: str, **kwargs: Any
    ) -> tuple[requests.Response, bool]:
        """POST until an answer arrives: a request that got none (the server was killed under
        it) goes again, unchanged, once the server is back. (answer, whether it was retried)"""
        retried = False
        deadline = time.monotonic() + 3 * START_TIMEOUT_S
        while True:
            try:
                response = session.post(self.server.url + path, timeout=REQUEST_TIMEOUT_S, **kwargs)
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                retried = True
                self.server.up.wait(START_TIMEOUT_S)
                time.sleep(0.02)  # a back-off between attempts, not a wait for an outcome
                continue
            if retried:
                self.count(f"{kind} retried")
            if response.status_code >= 500:
                self.wrong(f"{kind} {path}", response)
            return response, retried


class Issuer:
    """A kiosk printing tickets, each with its own Idempotency-Key; now and then it replays a
    key already answered, which must return the very same ticket."""

    def __init__(self, ledger: Ledger, cookies: Any, index: int, stop: threading.Event) -> None:
        self.ledger = ledger
        self.session = requests.Session()
        self.session.cookies.update(cookies)
        self.index = index
        self.stop = stop
        self.random = random.Random(SEED + index)
        self.made = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.ledger.waiting() > MAX_WAITING:
                    self.stop.wait(0.05)  # pacing: the counters catch up
                    continue
                self.issue_one()
                if self.ledger.issued and self.random.random() < 0.1:
                    self.replay()
        finally:
            self.session.close()

    def issue(self, key: str, service: str) -> tuple[dict[str, Any] | None, bool]:
        headers = {"Idempotency-Key": key}
        body = {"service": service}
        response, retried = self.ledger.send(
            self.session, "/api/v1/stores/demo/tickets", "issue", json=body, headers=headers
        )
        if response.status_code == 201:
            assert response.headers.get("Idempotency-Key") == key
            return response.json(), retried
        error = response.json().get("error") if response.status_code < 500 else None
        if response.status_code in (409, 429) and error in REFUSALS:
            with self.ledger.lock:
                self.ledger.refused[key] = str(error)
            return None, retried
        self.ledger.wrong(f"issue {key}", response)
        return None, retried

    def issue_one(self) -> dict[str, Any] | None:
        key = f"crash-{self.index}-{self.made}-{uuid.uuid4().hex[:8]}"
        self.made += 1
        service = self.random.choice(SERVICES)
        with self.ledger.lock:
            self.ledger.keys.add(key)
        ticket, retried = self.issue(key, service)
        if ticket is not None:
            with self.ledger.lock:
                made = (ticket["id"], ticket["label"], ticket["token"], service)
                self.ledger.issued[key] = made
            self.ledger.count("issued")
            if retried and self.ledger.server.made_before_this_run(ticket["issued_at"]):
                self.ledger.count("issue retried: made by the killed run")
        return ticket

    def replay(self) -> None:
        with self.ledger.lock:
            key = self.random.choice(sorted(self.ledger.issued))
            *made, service = self.ledger.issued[key]
        again, _ = self.issue(key, service)
        assert again is not None, key
        assert [again["id"], again["label"], again["token"]] == made, key
        self.ledger.count("replayed")


class Clerk:
    """A clerk at one counter: call next, then start and complete, or complete a customer only
    called, or start and let the next call complete the visit (as the terminal allows)."""

    def __init__(self, ledger: Ledger, counter: int, token: str, stop: threading.Event) -> None:
        self.ledger = ledger
        self.counter = counter
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.stop = stop
        self.random = random.Random(SEED * 10 + counter)

    def sign_in(self) -> None:
        path = f"/api/v1/stores/demo/counters/{self.counter}/sign-in"
        response, _ = self.ledger.send(self.session, path, "sign-in", json={"takeover": True})
        assert response.status_code == 200, response.text

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                ticket = self.call_next()
                if ticket is None:
                    self.stop.wait(0.05)  # nobody waits: the clerk looks up again shortly
                    continue
                self.serve(ticket)
        finally:
            self.session.close()

    def call_next(self) -> int | None:
        path = f"/api/v1/stores/demo/counters/{self.counter}/call-next"
        body = {"request_id": uuid.uuid4().hex}
        response, retried = self.ledger.send(self.session, path, "call-next", json=body)
        answer = response.json() if response.status_code < 500 else {}
        if retried and answer.get("reason") == "duplicate_request":
            self.ledger.count("call-next retried: made by the killed run")
        if response.status_code == 409 and answer.get("error") == "still_called":
            self.act(answer["ticket"], "start")
            return None
        if response.status_code != 200:
            self.ledger.wrong(f"call-next at {self.counter}", response)
            return None
        with self.ledger.lock:
            if answer["completed"] is not None:
                self.ledger.completed.add(answer["completed"]["id"])
            ticket = answer["ticket"]
            self.ledger.current[self.counter] = ticket["id"] if ticket else None
            if ticket is not None:
                self.ledger.called[ticket["id"]] = self.counter
        if ticket is not None:
            self.ledger.count("called")
        return ticket["id"] if ticket else None

    def act(self, ticket_id: int, action: str) -> None:
        """A start or complete; a retried one may find it already done (409 naming the status
        the first attempt left the ticket in)."""
        response, retried = self.ledger.send(
            self.session, f"/api/v1/tickets/{ticket_id}/{action}", action
        )
        reached = {"start": "serving", "complete": "done"}[action]
        ok = response.status_code == 200 or (
            retried and response.status_code == 409 and response.json().get("status") == reached
        )
        if not ok:
            self.ledger.wrong(f"{action} {ticket_id}", response)
        elif retried and response.status_code == 409:
            self.ledger.count(f"{action} retried: made by the killed run")
        if action == "complete" and ok:
            with self.ledger.lock:
                self.ledger.completed.add(ticket_id)
                self.ledger.current[self.counter] = None

    def serve(self, ticket_id: int) -> None:
        draw = self.random.random()
        if draw < 0.3:
            self.act(ticket_id, "complete")  # a quick question: done without starting
            return
        self.act(ticket_id, "start")
        if draw < 0.7:
            self.act(ticket_id, "complete")
        # else: the next call-next completes the visit being served


# --- the run -----------------------------------------------------------------------------------


@pytest.fixture
def crash_database(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: a SQLite file, or a fresh PostgreSQL database."""
    if TIER != "scale":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    name = f"hq_crash_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    url = factories.fresh_postgres_database(PG_SERVER, name)
    try:
        yield url
    finally:
        factories.drop_postgres_database(PG_SERVER, name)


@pytest.fixture
def server(tmp_path: Path, crash_database: str) -> Iterator[Server]:
    server = Server(tmp_path, crash_database)
    try:
        yield server
    finally:
        server.stop()


def unlimit_kiosks(database_url: str) -> None:
    """The kiosk print limit (tickets per kiosk per minute) off: the load prints far more."""
    engine = create_engine(database_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(Store.__table__.update().values(kiosk_rate_per_minute=0))
    engine.dispose()


def register_kiosk(server: Server, path: str) -> Any:
    """Follow the printed registration link as the kiosk's browser does: its cookie."""
    with requests.Session() as browser:
        response = browser.get(server.url + path, timeout=REQUEST_TIMEOUT_S)
        assert response.status_code == 200, response.text
        assert browser.cookies.get("kiosk_device"), "the registration link set no kiosk cookie"
        return browser.cookies.copy()


def drive_load(server: Server, ledger: Ledger, cookies: Any, tokens: dict[int, str]) -> None:
    """Two kiosks and two counters under load; the server killed at seeded random moments and
    started again each time; the clients retry what got no answer."""
    stop = threading.Event()
    clerks = [Clerk(ledger, number, tokens[number], stop) for number in CLERKS]
    for clerk in clerks:  # before any ticket: the counters' two versions come first
        clerk.sign_in()
    workers = [Issuer(ledger, cookies, index, stop) for index in range(ISSUERS)]
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # an assert in a client fails the test, not the thread
                errors.append(exc)
                stop.set()

        return run

    threads = [threading.Thread(target=guarded(w.run), daemon=True) for w in [*workers, *clerks]]
    chance = random.Random(SEED)
    for thread in threads:
        thread.start()
    for _ in range(KILLS):
        answered = _answered(ledger)
        wait_for(lambda a=answered: _answered(ledger) > a, "an answer since the last start")
        time.sleep(chance.uniform(*LOAD_SECONDS))  # the load's length: the kill's random moment
        server.kill()
        server.start()
    answered = _answered(ledger)
    wait_for(lambda: _answered(ledger) > answered, "an answer after the last restart")
    stop.set()
    for thread in threads:
        thread.join(3 * START_TIMEOUT_S)
        assert not thread.is_alive(), "a client is still waiting for an answer"
    if errors:
        raise errors[0]


def _answered(ledger: Ledger) -> int:
    with ledger.lock:
        return sum(sum(tally.values()) for tally in ledger.per_run.values())


def test_sigkill_under_load_loses_nothing_and_makes_nothing_twice(server: Server) -> None:
    began = time.monotonic()
    kiosk_path = server.prepare()
    unlimit_kiosks(server.database_url)
    tokens = {number: server.token(username) for number, username in CLERKS.items()}
    server.start()
    cookies = register_kiosk(server, kiosk_path)
    ledger = Ledger(server)
    live = Display(server, reconnect=True)
    try:
        drive_load(server, ledger, cookies, tokens)
        assert not ledger.unexpected, "\n".join(ledger.unexpected[:20])
        assert server.runs == KILLS + 1
        check_displays_resync(server, ledger, cookies, tokens, live)
    finally:
        live.client.disconnect()
    server.stop()
    rows = read_database(server.database_url)
    check_tickets(ledger, rows)
    check_states(ledger, rows)
    check_events_and_versions(rows)
    check_server_logs(server)
    print_summary(server, ledger, rows, time.monotonic() - began)


# --- the checks --------------------------------------------------------------------------------


@dataclass
class Rows:
    tickets: list[dict[str, Any]]
    events: list[dict[str, Any]]
    store: dict[str, Any]
    counters: dict[int, dict[str, Any]]  # by id
    sequences: list[dict[str, Any]]
    clerks: dict[str, int]  # username: id


def read_database(url: str) -> Rows:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:

        def all_of(table: Any, order: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(select(table).order_by(order)).mappings()]

        tickets = all_of(Ticket.__table__, Ticket.id)
        events = all_of(TicketEvent.__table__, TicketEvent.id)
        stores = all_of(Store.__table__, Store.id)
        counters = all_of(Counter.__table__, Counter.id)
        sequences = all_of(DailySequence.__table__, DailySequence.prefix)
        users = all_of(User.__table__, User.id)
    engine.dispose()
    assert len(stores) == 1, stores
    return Rows(
        tickets,
        events,
        stores[0],
        {c["id"]: c for c in counters},
        sequences,
        {u["username"]: u["id"] for u in users},
    )


def check_tickets(ledger: Ledger, rows: Rows) -> None:
    """Every acknowledged ticket exists once, as acknowledged; nothing else was made; numbers are
    distinct and gapless per prefix and day."""
    by_key: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for ticket in rows.tickets:
        by_key[ticket["idempotency_key"]].append(ticket)
    assert None not in by_key, "a ticket without the key its request carried"
    assert set(by_key) <= ledger.keys, "a ticket whose key no client sent"
    doubled = {key: len(found) for key, found in by_key.items() if len(found) != 1}
    assert not doubled, f"keys that made more than one ticket: {doubled}"
    lost = sorted(set(ledger.issued) - set(by_key))
    assert not lost, f"acknowledged tickets missing from the database: {lost[:10]}"
    for key, (*made, _service) in ledger.issued.items():
        row = by_key[key][0]
        assert [row["id"], row["label"], row["token"]] == made, key
    unacknowledged = sorted(set(by_key) - set(ledger.issued))
    assert not unacknowledged, f"tickets made for requests answered otherwise: {unacknowledged}"
    assert not set(ledger.refused) & set(by_key), "a refused request made a ticket"
    assert len({t["id"] for t in rows.tickets}) == len(rows.tickets) == len(ledger.issued)

    days = {(t["store_id"], t["service_day"]) for t in rows.tickets}
    assert len(days) == 1, days
    labels = [t["label"] for t in rows.tickets]
    assert len(set(labels)) == len(labels), "a label printed twice"
    numbers: dict[str, list[int]] = defaultdict(list)
    for ticket in rows.tickets:
        prefix = ticket["label"].rstrip("0123456789")
        assert ticket["label"] == format_label(prefix, ticket["number"]), ticket["label"]
        numbers[prefix].append(ticket["number"])
    last = {s["prefix"]: s["last_number"] for s in rows.sequences}
    for prefix, taken in numbers.items():
        assert sorted(taken) == list(range(1, len(taken) + 1)), f"gaps in {prefix}: {taken}"
        assert last[prefix] == len(taken), f"the {prefix} counter row moved without a ticket"
    queue_order = [t["queue_at"] for t in rows.tickets]
    assert all(a < b for a, b in pairwise(queue_order)), "queue_at"
    assert rows.store["last_queue_at"] == queue_order[-1]


def check_states(ledger: Ledger, rows: Rows) -> None:
    """No ticket in a state the engine could not have left it in; the counters agree."""
    counter_number = {cid: c["number"] for cid, c in rows.counters.items()}
    clerk_at = {c["number"]: c["clerk_id"] for c in rows.counters.values()}
    assert clerk_at == {1: rows.clerks["clerk1"], 2: rows.clerks["clerk2"], 3: None, 4: None}
    at_counter: dict[int, list[int]] = defaultdict(list)
    for ticket in rows.tickets:
        check_ticket_fields(ticket)
        if TicketStatus(ticket["status"]) in AT_COUNTER:
            at_counter[counter_number[ticket["counter_id"]]].append(ticket["id"])
        if ticket["counter_id"] is not None:
            number = counter_number[ticket["counter_id"]]
            assert ticket["clerk_id"] == clerk_at[number], ticket
    doubled = {n: ids for n, ids in at_counter.items() if len(ids) > 1}
    assert not doubled, f"two customers at one counter at once: {doubled}"
    for number in CLERKS:
        found = at_counter.get(number, [None])[0]
        assert found == ledger.current.get(number), f"counter {number}: {found}"

    called = {
        t["id"]: counter_number[t["counter_id"]]
        for t in rows.tickets
        if t["status"] != TicketStatus.WAITING
    }
    assert called == ledger.called, "the calls made differ from the calls acknowledged"
    done = {t["id"] for t in rows.tickets if t["status"] == TicketStatus.DONE}
    assert ledger.completed <= done, f"acknowledged completions lost: {ledger.completed - done}"


def check_ticket_fields(ticket: dict[str, Any]) -> None:
    status = TicketStatus(ticket["status"])
    where = ticket["label"], str(status)
    assert status in (TicketStatus.WAITING, *AT_COUNTER, TicketStatus.DONE), where
    times = [ticket[k] for k in ("issued_at", "called_at", "started_at", "finished_at")]
    present = [moment for moment in times if moment is not None]
    assert present == sorted(present), (where, times)
    if status == TicketStatus.WAITING:
        assert times[1:] == [None, None, None], where
        assert ticket["counter_id"] is None and ticket["clerk_id"] is None, where
        return
    assert ticket["counter_id"] is not None and times[1] is not None, where  # was called
    if status != TicketStatus.DONE:  # a visit may be completed with or without a start
        assert (times[2] is not None) == (status == TicketStatus.SERVING), where
    assert (times[3] is not None) == (status == TicketStatus.DONE), where
    assert (ticket["outcome"] == "done") == (status == TicketStatus.DONE), where


def check_events_and_versions(rows: Rows) -> None:
    """Each ticket's events are a walk through the state machine ending at its status; the
    store's version is one per event plus one per counter change (the two sign-ins), and each
    ticket's version is that of its last event."""
    trail: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in rows.events:
        trail[event["ticket_id"]].append(event)
    assert set(trail) == {t["id"] for t in rows.tickets}, "events of tickets that do not exist"
    for ticket in rows.tickets:
        events = trail[ticket["id"]]
        first = events[0]
        assert (first["action"], first["from_status"], first["to_status"]) == (
            Action.ISSUE,
            None,
            TicketStatus.WAITING,
        ), ticket["label"]
        for before, after in pairwise(events):
            assert after["from_status"] == before["to_status"], ticket["label"]
            move = (Action(after["action"]), TicketStatus(after["from_status"]))
            assert TRANSITIONS.get(move) == after["to_status"], (ticket["label"], move)
        assert events[-1]["to_status"] == ticket["status"], ticket["label"]
        calls = [e for e in events if e["action"] == Action.CALL]
        assert len(calls) == (ticket["status"] != TicketStatus.WAITING), ticket["label"]
        if calls:
            assert calls[0]["counter_id"] == ticket["counter_id"], ticket["label"]
    sign_ins = len(CLERKS)
    assert rows.store["version"] == len(rows.events) + sign_ins
    # The sign-ins took versions 1 and 2; then every event took the next one, in commit order.
    version_of_event = {e["id"]: sign_ins + rank for rank, e in enumerate(rows.events, 1)}
    for ticket in rows.tickets:
        assert ticket["version"] == version_of_event[trail[ticket["id"]][-1]["id"]], ticket


class Display:
    """A display's socket, recording what it receives. `reconnect`: it stays through the kills
    and comes back by itself, as the display page does."""

    def __init__(self, server: Server, *, reconnect: bool) -> None:
        self.server = server
        self.client = socketio.Client(
            reconnection=reconnect, reconnection_delay=0.1, reconnection_delay_max=0.5
        )
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.run = 0  # the server run it connected to last
        self.client.on("connect", self._connected)
        self.client.on("*", self._record)
        self.client.connect(
            server.url,
            auth={"store": "demo", "role": "display"},
            transports=["websocket"],
            wait_timeout=10,
        )

    def _connected(self) -> None:
        self.run = self.server.runs

    def _record(self, name: str, payload: dict[str, Any]) -> None:
        # A command's several thin events come as one `steps` frame: kept as the page sees them.
        seen = factories.as_seen([{"name": name, "args": [payload]}])
        self.seen += [(m["name"], m["args"][0]) for m in seen]

    def on_this_run(self) -> bool:
        return self.client.connected and self.run == self.server.runs

    def called(self, ticket_id: int) -> list[dict[str, Any]]:
        return [p for n, p in list(self.seen) if n == "called" and p["ticket"]["id"] == ticket_id]

    def versions_after(self, version: int) -> list[int]:
        """The versions of the thin store events received after `version`."""
        return sorted(
            p["version"] for n, p in list(self.seen) if n in STORE_EVENTS and p["version"] > version
        )


def check_snapshot(server: Server, ledger: Ledger) -> int:
    """The snapshot holds exactly the database's queue and counters; its version."""
    snapshot = requests.get(f"{server.url}/api/v1/stores/demo/snapshot", timeout=10).json()
    rows = read_database(server.database_url)
    waiting = {t["id"]: t["label"] for t in rows.tickets if t["status"] == "waiting"}
    shown = {t["id"]: t["label"] for t in snapshot["waiting"]}
    assert len(snapshot["waiting"]) == len(shown) and shown == waiting
    assert snapshot["version"] == rows.store["version"]
    current = {c["number"]: (c["current"] or {}).get("id") for c in snapshot["counters"]}
    assert current == {1: ledger.current.get(1), 2: ledger.current.get(2), 3: None, 4: None}
    return int(snapshot["version"])


def call_a_new_ticket(ledger: Ledger, cookies: Any, token: str) -> int:
    """A new ticket, called to counter 1 (its customer there first completed)."""
    stop = threading.Event()
    issuer = Issuer(ledger, cookies, ISSUERS, stop)
    clerk = Clerk(ledger, 1, token, stop)
    try:
        fresh = issuer.issue_one()
        assert fresh is not None, ledger.unexpected
        if ledger.current.get(1) is not None:
            clerk.act(ledger.current[1], "complete")
        path = f"/api/v1/tickets/{fresh['id']}/call"
        response, _ = ledger.send(clerk.session, path, "call", json={"counter": 1})
        assert response.status_code == 200, response.text
        ledger.called[fresh["id"]] = 1
        ledger.current[1] = fresh["id"]
        return int(fresh["id"])
    finally:
        issuer.session.close()
        clerk.session.close()


def check_displays_resync(
    server: Server, ledger: Ledger, cookies: Any, tokens: dict[int, str], live: Display
) -> None:
    """After the last restart: the display that stayed through the kills is back by itself, a
    new one connects; the snapshot holds exactly the database's queue, and both see the version
    continue from it without a gap, up to the next call, live."""
    wait_for(live.on_this_run, "the display's reconnection after the last restart")
    fresh = Display(server, reconnect=False)
    try:
        version = check_snapshot(server, ledger)
        ticket_id = call_a_new_ticket(ledger, cookies, tokens[1])
        for display in (live, fresh):
            called = wait_for(lambda d=display: d.called(ticket_id), "a live `called` event")[0]
            assert called["counter"] == 1
            thin = [v for v in display.versions_after(version) if v <= called["version"]]
            assert thin == list(range(version + 1, called["version"] + 1)), thin
    finally:
        fresh.client.disconnect()


def check_server_logs(server: Server) -> None:
    """No run of the server logged an unhandled error (a 500) or a failed projection."""
    for run in range(1, server.runs + 1):
        text = server.log(run).read_text()
        for marker in ("unhandled error", "projection update failed", "Traceback"):
            assert marker not in text, f"server run {run}:\n{text[-3000:]}"


def print_summary(server: Server, ledger: Ledger, rows: Rows, seconds: float) -> None:
    print(f"\n[{TIER}] {KILLS} kills, {server.runs} runs, {seconds:.1f} s")
    for run in sorted(ledger.per_run):
        print(f"  run {run:2d}: {dict(sorted(ledger.per_run[run].items()))}")
    print(f"  total: {dict(sorted(sum(ledger.per_run.values(), Tally()).items()))}")
    statuses = Tally(str(t["status"]) for t in rows.tickets)
    print(f"  tickets {len(rows.tickets)} {dict(statuses)}; refused {len(ledger.refused)}")
    print(f"  events {len(rows.events)}, version {rows.store['version']}")
