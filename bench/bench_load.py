"""Load on the real server stacks, each figure beside baselines of the same stack in the same run.

    .venv/bin/python bench/bench_load.py [--quick] [--stacks pg-gevent-2,…] [--budget 30]

Every stack is bench/_server.py (serving this checkout, or `--tree`; the app seeded,
`/bench/bare` and `/bench/broadcast` beside it) in one or two processes on 127.0.0.1: SQLite
(one process) or PostgreSQL + Redis (a fresh database `hq_bench_*`, dropped after; Redis as
Socket.IO's message queue, the rate limits and the projection lease, on channels and keys of
this run's own), in threading (Werkzeug) or gevent (pywsgi with gevent-websocket's handler)
mode. On one deployment of each stack, in turn:

1. the bare endpoint, closed loop (8 connections): requests per second, latency, CPU per request
   — the baseline of every CPU ratio;
2. tickets issued by the kiosk (`POST /api/v1/stores/demo/tickets`, the kiosk's token), closed
   loop (8 connections) from 0 to 300 waiting: tickets per second, p50/p99, CPU per ticket;
3. call-next at 8 counters at once, 8 clerks signed in, until the queue is empty: latency, CPU
   per call, each ticket called exactly once;
4. a steady 50 tickets per second for 60 s (open loop: latency from the moment each request
   was due), beside the bare endpoint at the same rate; the error count;

then, on a fresh deployment for each size,

5. the fan-out of a call to 200 / 1,000 / 2,000 displays (and a tenth as many ticket pages),
   from sending call-next to the `called` frame at every display, beside a bare broadcast of
   the same payload (`/bench/broadcast`); server CPU per call and per bare broadcast; with two
   processes, the screens split between both ports and the requests alternating; and how long
   the server takes to answer promptly again once every screen went away at once.

CPU is user + system time of the server processes (/proc/<pid>/stat), background threads
included, let settle 1 s after each batch so the debounced projection is counted; on PostgreSQL
also the database's own backends (`db_cpu_ms`). The machine is small and shared: read the
ratios, not the absolute figures. `--budget` bounds the run (default 30 min): no part starts in
its last 3 minutes, each part is bounded itself. Prints tables and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import Client, Swarm
from _http import Connection, Outcome, Request, closed_loop, open_loop, percentile, run_workers
from _http import timed as timed_request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER = HERE / "_server.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STORE = "demo"
HALL_TZ = ZoneInfo("Asia/Shanghai")  # the demo store's
PG_SERVER = os.environ.get("HALLQUEUE_BENCH_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HALLQUEUE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SETTLE = {"s": 1.0}  # background work let settle around a measured batch (--quick: 0.5 s)
COUNTERS = 8
CONCURRENCY = 8
SERVICES = ("A", "B", "C", "D", "E")  # the kiosk's public services (V is issued by staff)
FANOUT_COUNTER = 1  # fast lane only: it calls the service-A tickets in the order issued
STARTED = time.perf_counter()


@dataclass(frozen=True)
class Stack:
    database: str  # sqlite | postgresql
    mode: str  # threading | gevent
    processes: int


STACKS = {  # gevent first: within the budget, the scale profile is never the one left out
    "sqlite-gevent": Stack("sqlite", "gevent", 1),
    "pg-gevent-1": Stack("postgresql", "gevent", 1),
    "pg-gevent-2": Stack("postgresql", "gevent", 2),
    "sqlite-threading": Stack("sqlite", "threading", 1),
    "pg-threading-1": Stack("postgresql", "threading", 1),
    "pg-threading-2": Stack("postgresql", "threading", 2),
}
MARGIN_S = {False: 180.0, True: 20.0}  # no part starts this close to the end of the budget


@dataclass(frozen=True)
class Sizes:
    bare: int = 3000
    issued: int = 300  # 0 -> 300 waiting
    displays: tuple[int, ...] = (200, 1000, 2000)
    rounds: int = 8
    steady_rate: float = 50.0
    steady_s: float = 60.0
    steady_bare_s: float = 15.0
    steady_displays: int = 10
    batch_s: float = 60.0  # the most any closed-loop batch may take
    settle_s: float = 1.0


QUICK = Sizes(bare=300, issued=40, displays=(50,), rounds=2, steady_s=4.0, steady_bare_s=2.0,
              steady_displays=2, batch_s=15.0, settle_s=0.5)  # fmt: skip


def log(text: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.0f} s] {text}", file=sys.stderr, flush=True)


# --- a deployment of one stack -------------------------------------------------------------


def _clock_at() -> str:
    """10:00 in the demo store's time zone on a weekday, at this real moment (BENCH_CLOCK_AT):
    the hall is open whenever this runs, and every process tells the same time."""
    day = datetime.now(HALL_TZ).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return f"{datetime.combine(day, dt_time(10, 0), HALL_TZ).isoformat()}@{time.time()}"


def _pg(database: str = "test") -> Any:
    import psycopg

    url = PG_SERVER.rsplit("/", 1)[0] + f"/{database}"
    return psycopg.connect(url, autocommit=True)


@dataclass
class Deployment:
    name: str
    stack: Stack
    folder: Path
    tree: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    database: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    fanout_queue: list[dict[str, Any]] = field(default_factory=list)  # A tickets, oldest first

    def start(self) -> None:
        suffix = os.urandom(4).hex()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(self.tree),
            "SOCKETIO_ASYNC_MODE": self.stack.mode,
        }
        self.env.update(BENCH_DB_DIR=str(self.folder), BENCH_CLOCK_AT=_clock_at())
        for name in ("LIVE_PROJECTION_DELAY", "HALLQUEUE_CLOCK_START", "DATABASE_URL"):
            self.env.pop(name, None)  # the defaults the product ships with
        if self.stack.database == "postgresql":
            self.database = f"hq_bench_{suffix}"
            with _pg() as conn:
                conn.execute(f'CREATE DATABASE "{self.database}"')
            url = PG_SERVER.replace("postgresql://", "postgresql+psycopg://", 1)
            self.env["DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{self.database}"
            prefix = f"hq-bench-{suffix}"
            self.env.update(SOCKETIO_MESSAGE_QUEUE=REDIS_URL, SOCKETIO_CHANNEL=prefix)
            self.env.update(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
        for index in range(self.stack.processes):
            extra = {"BENCH_CLERKS": str(COUNTERS)} if index == 0 else {"BENCH_SEED": "0"}
            self._launch(index, extra)

    def _launch(self, index: int, extra: dict[str, str]) -> None:
        log_path = self.folder / f"server-{self.name}-{index}.log"
        proc = subprocess.Popen(
            [sys.executable, str(SERVER)],
            cwd=self.tree,
            env={**self.env, **extra},
            stdout=subprocess.PIPE,
            stderr=log_path.open("w"),
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                self.lines.append(json.loads(line))
                break
        else:
            tail = log_path.read_text()[-3000:]
            raise RuntimeError(f"the server ended before starting:\n{tail}")
        base = f"http://127.0.0.1:{self.lines[-1]['port']}"
        for _ in range(400):
            try:
                requests.get(base + "/bench/bare", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"{base} did not answer; see {log_path}")

    @property
    def ports(self) -> list[int]:
        return [line["port"] for line in self.lines]

    @property
    def secrets(self) -> dict[str, Any]:
        return self.lines[0]

    def cpu(self) -> float:
        return sum(_proc_cpu(line["pid"]) for line in self.lines)

    def db_cpu(self) -> dict[int, float]:
        """CPU seconds of each PostgreSQL backend serving this deployment's database."""
        if self.database is None:
            return {}
        with _pg() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
            ).fetchall()
        found = {}
        for (pid,) in rows:
            try:
                found[pid] = _proc_cpu(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        return found

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)  # a stalled threading server is killed
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.database:
            with _pg() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def public(self) -> list[dict[str, Any]]:
        keep = ("port", "pid", "mode", "tree", "backend")
        return [{k: line[k] for k in keep if k in line} for line in self.lines]


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


# --- requests ------------------------------------------------------------------------------


def kiosk_issue(deployment: Deployment, service: str) -> Request:
    token = deployment.secrets["kiosk"]
    path = f"/api/v1/stores/{STORE}/tickets"
    return Request("POST", path, {"service": service}, (("X-Kiosk-Token", token),), 201)


BARE = Request("GET", "/bench/bare")


def clerk(deployment: Deployment, index: int) -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {deployment.secrets['clerks'][index]}"),)


def counter_path(number: int, action: str) -> str:
    return f"/api/v1/stores/{STORE}/counters/{number}/{action}"


def sync_post(deployment: Deployment, port: int, path: str, index: int, body: Any = None) -> Any:
    response = requests.post(
        f"http://127.0.0.1:{port}{path}",
        json=body if body is not None else {},
        headers=dict(clerk(deployment, index)),
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return response.json()


def sign_all(deployment: Deployment, action: str) -> None:
    for index in range(COUNTERS):
        port = deployment.ports[index % len(deployment.ports)]
        body = {"takeover": True} if action == "sign-in" else {}
        sync_post(deployment, port, counter_path(index + 1, action), index, body)


# --- CPU around a batch ---------------------------------------------------------------------


@dataclass
class Meter:
    deployment: Deployment
    cpu: float = 0.0
    db: dict[int, float] = field(default_factory=dict)
    client: float = 0.0

    def __enter__(self) -> Meter:
        time.sleep(SETTLE["s"])
        self.cpu, self.db = self.deployment.cpu(), self.deployment.db_cpu()
        times = os.times()
        self.client = times.user + times.system
        return self

    def __exit__(self, *exc: object) -> None:
        times = os.times()
        self.client = times.user + times.system - self.client
        time.sleep(SETTLE["s"])
        self.cpu = self.deployment.cpu() - self.cpu
        after = self.deployment.db_cpu()
        self.db = {pid: value - self.db.get(pid, 0.0) for pid, value in after.items()}

    def per(self, count: int) -> dict[str, Any]:
        found: dict[str, Any] = {"cpu_ms": 1000 * self.cpu / count if count else None}
        found["client_cpu_ms"] = 1000 * self.client / count if count else None
        if self.deployment.database is not None:
            found["db_cpu_ms"] = 1000 * sum(self.db.values()) / count if count else None
        return found


def measured(deployment: Deployment, run: Any) -> dict[str, Any]:
    with Meter(deployment) as meter:
        outcome: Outcome = run()
    return {**outcome.summary(), **meter.per(len(outcome.latencies))}


def with_ratios(found: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    for key, base in (("cpu_ms", "cpu_ms"), ("p50_ms", "p50_ms"), ("p99_ms", "p99_ms")):
        if found.get(key) is not None and bare.get(base):
            found[f"{key.split('_')[0]}_ratio"] = found[key] / bare[base]
    return found


# --- 1-3: the bare endpoint, issue, call-next at 8 counters ----------------------------------


def bare_closed(deployment: Deployment, sizes: Sizes) -> dict[str, Any]:
    log(f"{deployment.name}: bare endpoint, {CONCURRENCY} connections")
    return measured(
        deployment,
        lambda: closed_loop(
            deployment.ports,
            lambda i: BARE,
            concurrency=CONCURRENCY,
            count=sizes.bare,
            seconds=sizes.batch_s,
        ),
    )


def issue_closed(deployment: Deployment, sizes: Sizes, bare: dict[str, Any]) -> dict[str, Any]:
    log(f"{deployment.name}: {sizes.issued} tickets, {CONCURRENCY} connections")
    found = measured(
        deployment,
        lambda: closed_loop(
            deployment.ports,
            lambda i: kiosk_issue(deployment, SERVICES[i % len(SERVICES)]),
            concurrency=CONCURRENCY,
            count=sizes.issued,
            seconds=sizes.batch_s,
        ),
    )
    return with_ratios(found, bare)


@dataclass
class Calls:
    """What the 8 counters did: call-next latencies, the tickets they called, what failed."""

    latencies: list[float] = field(default_factory=list)
    called: list[int] = field(default_factory=list)
    per_counter: Tally[int] = field(default_factory=Tally)
    starts: int = 0
    errors: Tally[str] = field(default_factory=Tally)
    seconds: float = 0.0


async def _serve_first(connection: Connection, ticket: int, auth: Any, calls: Calls) -> bool:
    """call-next met a customer only called: start serving them (as the clerk would)."""
    start = Request("POST", f"/api/v1/tickets/{ticket}/start", {}, auth)
    answer, _, error = await timed_request(connection, start)
    if answer is None or answer.status != 200:
        calls.errors[error or f"start: http {answer.status if answer else '?'}"] += 1
        return False
    calls.starts += 1
    return True


async def _counter(
    connection: Connection, deployment: Deployment, index: int, calls: Calls, limit: int
) -> None:
    """Counter index+1 calls next until nobody is left for it (bounded by `limit` requests)."""
    number, auth = index + 1, clerk(deployment, index)
    request = Request("POST", counter_path(number, "call-next"), {}, auth)
    for _ in range(limit):
        answer, latency, error = await timed_request(connection, request)
        if answer is None or answer.status not in (200, 409):
            calls.errors[error or f"http {answer.status if answer else '?'}"] += 1
            return
        body = answer.json()
        if answer.status == 409:
            if body.get("error") != "still_called":
                calls.errors[f"409 {body.get('error')}"] += 1
                return
            if not await _serve_first(connection, body["ticket"], auth, calls):
                return
            continue
        if body.get("ticket") is None:
            return  # nobody left that this counter serves
        calls.latencies.append(latency)
        calls.called.append(body["ticket"]["id"])
        calls.per_counter[number] += 1
    calls.errors["request limit"] += 1


def call_concurrently(deployment: Deployment, waiting: int) -> Calls:
    calls = Calls()
    limit = 3 * waiting + 10  # call, start, call, …: bounded whatever happens

    def worker(index: int) -> Any:
        return lambda connection: _counter(connection, deployment, index, calls, limit)

    started = time.perf_counter()
    run_workers(deployment.ports, [worker(index) for index in range(COUNTERS)])
    calls.seconds = time.perf_counter() - started
    return calls


def call_next_section(deployment: Deployment, waiting: int, bare: dict[str, Any]) -> dict[str, Any]:
    log(f"{deployment.name}: call-next at {COUNTERS} counters over {waiting} waiting")
    with Meter(deployment) as meter:
        calls = call_concurrently(deployment, waiting)
    done = len(calls.latencies)
    found: dict[str, Any] = {
        "waiting_before": waiting,
        "calls": done,
        "starts": calls.starts,
        "seconds": calls.seconds,
        "per_second": done / calls.seconds if calls.seconds else None,
        "errors": sum(calls.errors.values()),
        "error_kinds": dict(calls.errors),
        "called_twice": done - len(set(calls.called)),
        "per_counter": {str(k): v for k, v in sorted(calls.per_counter.items())},
        **meter.per(done),
    }
    for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
        found[name] = 1000 * percentile(calls.latencies, q) if calls.latencies else None
    return with_ratios(found, bare)


# --- 4: fan-out ------------------------------------------------------------------------------


@dataclass
class Rounds:
    latencies: list[float] = field(default_factory=list)
    round_max: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    pages: list[float] = field(default_factory=list)  # the called ticket's own page
    cpu: float = 0.0
    db: float = 0.0
    missing: int = 0
    count: int = 0

    def summary(self) -> dict[str, Any]:
        ms = [1000 * value for value in self.latencies]
        found: dict[str, Any] = {
            "rounds": self.count,
            "missing": self.missing,
            "answer_ms": 1000 * statistics.median(self.answers) if self.answers else None,
            "round_max_ms": [round(1000 * value, 1) for value in self.round_max],
            "cpu_ms": 1000 * self.cpu / self.count if self.count else None,
            "db_cpu_ms": 1000 * self.db / self.count if self.count else None,
            "page_ms": [round(1000 * value, 1) for value in self.pages],
        }
        for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
            found[name] = percentile(ms, q) if ms else None
        return found


@dataclass
class Screens:
    displays: Swarm
    pages: Swarm
    page_of: dict[int, Client]  # ticket id -> its status page

    def stop(self) -> None:
        self.displays.stop()
        self.pages.stop()


def _round(deployment: Deployment, screens: Screens, rounds: Rounds, send: Any) -> Any:
    """One request, timed to the `called` frame at every display, its CPU until all is quiet."""
    screens.displays.reset()
    screens.pages.reset()
    cpu, db = deployment.cpu(), sum(deployment.db_cpu().values())
    sent = time.perf_counter()
    answer = send()
    rounds.answers.append(time.perf_counter() - sent)
    screens.displays.wait_all(timeout=15)
    receipts = [moment - sent for moment in screens.displays.first_receipts()]
    rounds.latencies += receipts
    rounds.round_max.append(max(receipts, default=float("nan")))
    rounds.missing += len(screens.displays.clients) - len(receipts)
    time.sleep(0.3)  # the debounced projection (queue_updated, ticket updates) passes too
    screens.displays.wait_quiet(quiet=0.5, timeout=10)
    screens.pages.wait_quiet(quiet=0.3, timeout=5)
    called = answer.get("ticket") if isinstance(answer, dict) else None
    page = screens.page_of.get(called["id"]) if called else None
    if page is not None and "ticket" in page.firsts:
        rounds.pages.append(page.firsts["ticket"] - sent)
    rounds.cpu += deployment.cpu() - cpu
    rounds.db += sum(deployment.db_cpu().values()) - db
    rounds.count += 1
    return answer


def _issue_a(deployment: Deployment, count: int, sizes: Sizes) -> list[dict[str, Any]]:
    """`count` service-A tickets (the fan-out counter's lane), in the order they were issued."""
    outcome = closed_loop(
        deployment.ports,
        lambda i: kiosk_issue(deployment, "A"),
        concurrency=1,
        count=count,
        seconds=sizes.batch_s * 2,
        keep=True,
    )
    if outcome.error_count or len(outcome.answers) < count:
        raise RuntimeError(f"issuing for the fan-out failed: {outcome.errors}")
    return outcome.answers


def _connect(deployment: Deployment, displays: int, tickets: list[dict[str, Any]]) -> Screens:
    """`displays` displays and one status page per ticket, shared out between the ports."""
    screens = Screens(Swarm(), Swarm(), {})
    ports = deployment.ports
    try:
        for index, port in enumerate(ports):
            share = len(range(index, displays, len(ports)))
            screens.displays.connect_many(port, [{"store": STORE, "role": "display"}] * share)
        for index, ticket in enumerate(tickets):
            auth = {"ticket": ticket["token"], "lang": "zh"}
            page = screens.pages.connect_many(ports[index % len(ports)], [auth])[0]
            screens.page_of[ticket["id"]] = page
    except BaseException:
        screens.stop()
        raise
    return screens


def _call(deployment: Deployment, number: int) -> Any:
    """Counter 1's call-next, through the `number`-th port in turn (a customer the counter had
    only called is served first: only ever before the warm-up round)."""
    port = deployment.ports[number % len(deployment.ports)]
    url = f"http://127.0.0.1:{port}{counter_path(FANOUT_COUNTER, 'call-next')}"
    headers = dict(clerk(deployment, FANOUT_COUNTER - 1))
    response = requests.post(url, json={}, headers=headers, timeout=30)
    if response.status_code == 409 and response.json().get("error") == "still_called":
        _start(deployment, {"ticket": {"id": response.json()["ticket"]}})
        response = requests.post(url, json={}, headers=headers, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"call-next: {response.status_code} {response.text[:300]}")
    return response.json()


def _start(deployment: Deployment, answer: Any) -> None:
    """Serve the customer just called (untimed), so the next call-next goes straight through."""
    ticket = answer.get("ticket") if isinstance(answer, dict) else None
    if ticket:
        path = f"/api/v1/tickets/{ticket['id']}/start"
        sync_post(deployment, deployment.ports[0], path, FANOUT_COUNTER - 1)


def _broadcast(port: int, payload: Any) -> Any:
    response = requests.post(f"http://127.0.0.1:{port}/bench/broadcast", json=payload, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"broadcast: {response.status_code}")
    return response.json()


def fanout_cell(
    deployment: Deployment, displays: int, sizes: Sizes, recovery_limit_s: float = 120.0
) -> dict[str, Any]:
    """Rounds of a call-next, then a bare broadcast of the payload a call carries, in turn (with
    two processes, round i through the i-th port in turn). The ticket pages are those of the
    next tickets counter 1 calls, so that each round's called customer has one open."""
    pages = displays // 10
    log(f"{deployment.name}: fan-out to {displays} displays and {pages} ticket pages")
    queue = deployment.fanout_queue
    queue += _issue_a(deployment, max(0, max(pages, sizes.rounds + 2) + 2 - len(queue)), sizes)
    started = time.perf_counter()
    screens = _connect(deployment, displays, queue[:pages])
    connect_s = time.perf_counter() - started
    call, bare = Rounds(), Rounds()
    answers = []
    try:
        time.sleep(SETTLE["s"])
        answers.append(_round(deployment, screens, Rounds(), lambda: _call(deployment, 0)))
        payload = screens.displays.last_called_payload()
        events = screens.displays.event_counts()
        _start(deployment, answers[-1])
        for number in range(sizes.rounds):
            port = deployment.ports[number % len(deployment.ports)]
            answers.append(_round(deployment, screens, call, lambda n=number: _call(deployment, n)))
            _start(deployment, answers[-1])
            screens.displays.wait_quiet(quiet=0.3, timeout=5)
            _round(deployment, screens, bare, lambda p=port: _broadcast(p, payload))
    finally:
        screens.stop()
        recovery_s = recover(deployment, recovery_limit_s)
    called = {answer["ticket"]["id"] for answer in answers if answer.get("ticket")}
    queue[:] = [ticket for ticket in queue if ticket["id"] not in called]
    cell = _fanout_figures(displays, pages, connect_s, events, call, bare)
    cell["recovery_s"], cell["recovery_limit_s"] = recovery_s, recovery_limit_s
    return cell


def recover(deployment: Deployment, limit_s: float = 120.0) -> float | None:
    """Seconds until every process answers the bare endpoint within 0.5 s again, after all the
    screens went away at once (threading mode can stall for minutes then); None: not in
    `limit_s`."""
    started = time.perf_counter()
    for port in deployment.ports:
        while True:
            if time.perf_counter() - started > limit_s:
                return None
            sent = time.perf_counter()
            try:
                requests.get(f"http://127.0.0.1:{port}/bench/bare", timeout=2)
            except requests.RequestException:
                continue
            if time.perf_counter() - sent < 0.5:
                break
    return time.perf_counter() - started


def _fanout_figures(
    displays: int, pages: int, connect_s: float, events: dict[str, int], call: Rounds, bare: Rounds
) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "displays": displays,
        "pages": pages,
        "connect_s": connect_s,
        "events_per_call": {name: count / displays for name, count in events.items()},
        "call": call.summary(),
        "bare": bare.summary(),
    }
    c, b = cell["call"], cell["bare"]
    if c["p99_ms"] and b["p99_ms"]:
        cell["p99_ratio"] = c["p99_ms"] / b["p99_ms"]
        # The last display's receipt, median over the rounds: one noisy round weighs less.
        last = statistics.median(c["round_max_ms"]) / statistics.median(b["round_max_ms"])
        cell["last_display_ratio"] = last
    if c["cpu_ms"] and b["cpu_ms"]:
        cell["cpu_ratio"] = c["cpu_ms"] / b["cpu_ms"]
    return cell


# --- 5: a steady 50 tickets per second -------------------------------------------------------


def steady(deployment: Deployment, sizes: Sizes) -> dict[str, Any]:
    """The bare endpoint, then the kiosk, at `steady_rate` per second (open loop), with a few
    displays connected. The counters are signed out first: a staffed hall refuses a kiosk number
    once the day's wait would pass closing time (`after_closing`, the product's rule)."""
    rate = sizes.steady_rate
    sign_all(deployment, "sign-out")
    log(f"{deployment.name}: bare endpoint at {rate:.0f}/s for {sizes.steady_bare_s:.0f} s")
    bare = measured(
        deployment,
        lambda: open_loop(deployment.ports, lambda i: BARE, rate=rate, seconds=sizes.steady_bare_s),
    )
    screens = _connect(deployment, sizes.steady_displays, [])
    try:
        log(f"{deployment.name}: tickets at {rate:.0f}/s for {sizes.steady_s:.0f} s")
        found = measured(
            deployment,
            lambda: open_loop(
                deployment.ports,
                lambda i: kiosk_issue(deployment, SERVICES[i % len(SERVICES)]),
                rate=rate,
                seconds=sizes.steady_s,
            ),
        )
        screens.displays.wait_quiet(quiet=0.5, timeout=10)
        issued = [c.events.get("issued", 0) for c in screens.displays.clients]
    finally:
        screens.stop()
    found["rate"] = rate
    found["displays"] = sizes.steady_displays
    found["issued_frames_per_display"] = [min(issued, default=0), max(issued, default=0)]
    return {"bare": bare, "issue": with_ratios(found, bare)}


# --- one stack ---------------------------------------------------------------------------------


@dataclass
class Budget:
    """The run's time bound: no part (a stack's requests, one fan-out cell) starts within
    `margin_s` of its end; each part is bounded itself, so the run ends near the bound."""

    seconds: float
    margin_s: float
    skipped: list[str] = field(default_factory=list)

    def allows(self, what: str) -> bool:
        if time.perf_counter() - STARTED < self.seconds - self.margin_s:
            return True
        self.skipped.append(what)
        log(f"skipped (time budget): {what}")
        return False


def run_stack(
    name: str, stack: Stack, sizes: Sizes, folder: Path, tree: Path, budget: Budget
) -> dict[str, Any]:
    """Every section on one stack: the requests on one deployment of it, then each fan-out cell
    on a fresh one (threading mode can stall for minutes after 2,000 screens go away at once). A
    part that fails is noted and ends that part only."""
    result: dict[str, Any] = {"stack": name, **stack.__dict__, "load_average": [], "servers": []}
    result["fanout"] = []
    started = time.perf_counter()
    parts: list[tuple[str, Any]] = [("requests", _requests)]
    parts += [(f"fan-out {n}", lambda d, z, r, n=n: _fanout(d, z, r, n)) for n in sizes.displays]
    for label, part in parts:
        if not budget.allows(f"{name}: {label}"):
            continue
        deployment = Deployment(name, stack, folder, tree)
        try:
            deployment.start()
            result["servers"] += deployment.public()
            sign_all(deployment, "sign-in")
            part(deployment, sizes, result)
        except Exception as exc:
            result.setdefault("errors", []).append(f"{label}: {type(exc).__name__}: {exc}")
            log(f"{name}: FAILED {result['errors'][-1][:500]}")
        finally:
            deployment.stop()
    result["seconds"] = time.perf_counter() - started
    return result


def _requests(deployment: Deployment, sizes: Sizes, result: dict[str, Any]) -> None:
    load = result["load_average"]
    load.append(os.getloadavg()[0])
    result["bare"] = bare_closed(deployment, sizes)
    result["issue"] = issue_closed(deployment, sizes, result["bare"])
    waiting = result["issue"]["ok"]
    result["call_next"] = call_next_section(deployment, waiting, result["bare"])
    load.append(os.getloadavg()[0])
    result["steady"] = steady(deployment, sizes)
    load.append(os.getloadavg()[0])


def _fanout(deployment: Deployment, sizes: Sizes, result: dict[str, Any], displays: int) -> None:
    result["fanout"].append(fanout_cell(deployment, displays, sizes, recovery_limit_s=30.0))
    result["load_average"].append(os.getloadavg()[0])


# --- the report ----------------------------------------------------------------------------


def _f(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def print_stack(result: dict[str, Any]) -> None:
    load = ", ".join(f"{value:.1f}" for value in result["load_average"])
    print(f"\n## {result['stack']} ({result['seconds']:.0f} s, load average {load})")
    for error in result.get("errors", []):
        print(f"FAILED: {error}")
    print("run | per s | p50 / p99 / max ms | CPU ms per request (× bare) | errors")
    if "bare" in result:
        bare = result["bare"]
        print(f"bare, {CONCURRENCY} conn | {_f(bare['per_second'], 0)} | {_lat(bare)} | "
              f"{_f(bare['cpu_ms'], 2)} | {bare['errors']}")  # fmt: skip
    if "issue" in result:
        issue = result["issue"]
        print(f"issue 0→{issue['ok']} waiting | {_f(issue['per_second'])} | {_lat(issue)} | "
              f"{_cpu(issue)} | {_errors(issue)}")  # fmt: skip
    if "call_next" in result:
        calls = result["call_next"]
        print(f"call-next, {COUNTERS} counters | {_f(calls['per_second'])} | {_lat(calls)} | "
              f"{_cpu(calls)} | {_errors(calls)}; {calls['starts']} starts, called twice: "
              f"{calls['called_twice']}, per counter {calls['per_counter']}")  # fmt: skip
    if "steady" in result:
        sb, si = result["steady"]["bare"], result["steady"]["issue"]
        print(f"bare at {_f(si['rate'], 0)}/s | {_f(sb['per_second'])} | {_lat(sb)} | "
              f"{_f(sb['cpu_ms'], 2)} | {_errors(sb)}")  # fmt: skip
        print(f"issue at {_f(si['rate'], 0)}/s | {_f(si['per_second'])} | {_lat(si)} | "
              f"{_cpu(si)} | {_errors(si)}; issued frames per display "
              f"{si['issued_frames_per_display']}")  # fmt: skip
    print_fanout(result.get("fanout", []))


def print_fanout(cells: list[dict[str, Any]]) -> None:
    print("fan-out: displays + pages | call p50/p99/max | bare p50/p99/max | p99 × bare | "
          "last display × bare | CPU per call / per broadcast ms (×) | called page ms | "
          "recovery s")  # fmt: skip
    for cell in cells:
        c, b = cell["call"], cell["bare"]
        missing = f" MISSING {c['missing']}+{b['missing']}" if c["missing"] or b["missing"] else ""
        print(f"{cell['displays']} + {cell['pages']} | {_lat(c)} | {_lat(b)} | "
              f"{_f(cell.get('p99_ratio'), 2)} | {_f(cell.get('last_display_ratio'), 2)} | "
              f"{_f(c['cpu_ms'])} / {_f(b['cpu_ms'])} ({_f(cell.get('cpu_ratio'))}) | "
              f"{c['page_ms']} | {_recovery(cell)}{missing}", flush=True)  # fmt: skip


def _recovery(cell: dict[str, Any]) -> str:
    found = cell["recovery_s"]
    return f"> {cell['recovery_limit_s']:.0f}" if found is None else f"{found:.1f}"


def _errors(found: dict[str, Any]) -> str:
    return f"{found['errors']} {found['error_kinds']}" if found["errors"] else "0"


def _lat(found: dict[str, Any]) -> str:
    return f"{_f(found['p50_ms'])} / {_f(found['p99_ms'])} / {_f(found['max_ms'])}"


def _cpu(found: dict[str, Any]) -> str:
    text = f"{_f(found['cpu_ms'], 2)} ({_f(found.get('cpu_ratio'))}×)"
    if found.get("db_cpu_ms") is not None:
        text += f" + db {_f(found['db_cpu_ms'], 2)}"
    return text


def describe(tree: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        found = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return found.stdout.strip()

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"path": str(tree), "commit": git("rev-parse", "HEAD"), "dirty": dirty}


def raise_file_limit() -> int:
    """2,000 displays are 2,000 sockets here and as many in the server (which inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every run a few seconds: a smoke run")
    parser.add_argument("--stacks", default=",".join(STACKS), help="of: " + ", ".join(STACKS))
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout served")
    parser.add_argument(
        "--displays", help="fan-out sizes, e.g. 200,1000, or none (default: the sizes')"
    )
    parser.add_argument("--budget", type=float, default=30.0, help="minutes the run may take")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "load.json")
    args = parser.parse_args()
    args.stacks = args.stacks.split(",")
    unknown = [name for name in args.stacks if name not in STACKS]
    if unknown:
        parser.error(f"unknown stacks {unknown}; known: {', '.join(STACKS)}")
    return args


def main() -> None:
    args = parse_args()
    sizes = QUICK if args.quick else Sizes()
    if args.displays:
        counts = () if args.displays == "none" else tuple(map(int, args.displays.split(",")))
        sizes = Sizes(**{**sizes.__dict__, "displays": counts})
    SETTLE["s"] = sizes.settle_s
    report: dict[str, Any] = {
        "date": date.today().isoformat(),
        "quick": args.quick,
        "tree": describe(args.tree.resolve()),
        "sizes": sizes.__dict__,
        "file_limit": raise_file_limit(),
        "cores": os.cpu_count(),
        "budget_min": args.budget,
        "stacks": [],
    }
    budget = Budget(60 * args.budget, MARGIN_S[args.quick])
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        for name in args.stacks:
            found = run_stack(name, STACKS[name], sizes, Path(folder), args.tree.resolve(), budget)
            report["stacks"].append(found)
            print_stack(found)
    report["seconds"] = time.perf_counter() - STARTED
    report["skipped"] = budget.skipped
    for what in budget.skipped:
        print(f"skipped (time budget of {args.budget:.0f} min): {what}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{report['seconds']:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
