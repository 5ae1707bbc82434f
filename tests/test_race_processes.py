"""Races between processes, as several server processes of one deployment make them: 4
processes × 4 threads issue 4,000 tickets (distinct labels, no gaps), then call next at 16
counters until the queue is empty (each ticket called exactly once). Each process is its own
interpreter with its own app, connection pool and caches; only the database is shared. On the
scale tier (PostgreSQL's row lock on the store); the embedded tier races threads on one SQLite
file (tests/test_race.py), as one process serves a single hall."""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter as Tally
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Store, Ticket, TicketEvent

from .conftest import MORNING, scale_only, tier_config
from .factories import bearer, create_token, create_user
from .test_race import add_counters

pytestmark = scale_only("processes of one deployment share PostgreSQL: the scale tier")

PROCESSES = 4
THREADS = 4
TICKETS = 4000
SERVICES = ["A", "B", "C", "D", "E", "V"]
COUNTERS = PROCESSES * THREADS


def _worker_app(config: dict[str, Any]) -> Flask:
    from backend.app import create_app
    from backend.core.clock import ManualClock

    return create_app({**config, "CLOCK": ManualClock(MORNING)})


def _run_threads(target: Any) -> list[str]:
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def runner(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as exc:  # reported to the parent, which asserts on it
            errors.append(repr(exc))

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def issuing_process(
    config: dict[str, Any], process: int, headers: list[dict[str, str]], out: Any
) -> None:
    """THREADS staff terminals of one process issue their share of the tickets."""
    app = _worker_app(config)
    per_thread = TICKETS // COUNTERS
    failures: list[str] = []

    def terminal(index: int) -> None:
        slot = process * THREADS + index
        client = app.test_client()
        for n in range(per_thread):
            response = client.post(
                "/api/v1/stores/demo/tickets",
                json={"service": SERVICES[(slot + n) % len(SERVICES)], "channel": "staff"},
                headers=headers[slot],
            )
            if response.status_code != 201:
                failures.append(response.get_data(as_text=True))
                return

    errors = _run_threads(terminal)
    _finish(app)
    out.put({"errors": errors, "failures": failures})


def calling_process(
    config: dict[str, Any], process: int, headers: list[dict[str, str]], out: Any
) -> None:
    """THREADS counters of one process call next (serving each customer first) until no one
    is left."""
    app = _worker_app(config)
    called: list[tuple[int, int]] = []
    failures: list[str] = []

    def counter(index: int) -> None:
        slot = process * THREADS + index
        number, auth = slot + 1, headers[slot]
        client = app.test_client()
        url = f"/api/v1/stores/demo/counters/{number}"
        signed = client.post(f"{url}/sign-in", json={}, headers=auth)
        if signed.status_code != 200:
            failures.append(signed.get_data(as_text=True))
            return
        while True:
            response = client.post(f"{url}/call-next", headers=auth)
            if response.status_code == 409 and response.json["error"] == "still_called":
                start = client.post(
                    f"/api/v1/tickets/{response.json['ticket']}/start", headers=auth
                )
                if start.status_code != 200:
                    failures.append(start.get_data(as_text=True))
                    return
                continue
            if response.status_code != 200:
                failures.append(response.get_data(as_text=True))
                return
            if response.json["ticket"] is None:
                return
            called.append((number, response.json["ticket"]["id"]))

    errors = _run_threads(counter)
    _finish(app)
    out.put({"errors": errors, "failures": failures, "called": called})


def _finish(app: Flask) -> None:
    from backend.live.publisher import PUBLISHER

    PUBLISHER.wait_idle(30)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_processes(target: Any, config: dict[str, Any], headers: list[dict[str, str]]) -> list[Any]:
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate servers
    out = context.Queue()
    processes = [
        context.Process(target=target, args=(config, index, headers, out))
        for index in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    results = []
    for _ in processes:
        try:
            results.append(out.get(timeout=900))
        except queue.Empty:
            break
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * PROCESSES, results
    assert len(results) == PROCESSES
    return results


def prepare_store(app: Flask) -> list[dict[str, str]]:
    """16 counters of three lane profiles, a clerk with a token for each."""
    add_counters(app, COUNTERS)
    headers = []
    for number in range(1, COUNTERS + 1):
        create_user(app, f"racer{number}", "demo")
        headers.append(bearer(create_token(app, f"racer{number}")))
    return headers


def test_four_processes_issue_then_call_4000_tickets(
    app: Flask, tmp_path: Path, database_url: str | None
) -> None:
    headers = prepare_store(app)
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret",
        # The write side is under test: live updates debounced longer than in production, so a
        # 4,000-ticket queue is projected a few times, not four times a second in each process.
        "LIVE_PROJECTION_DELAY": 5.0,
        "API_VALIDATE_RESPONSES": "raise",
        **tier_config(tmp_path, database_url),
    }

    issued = run_processes(issuing_process, config, headers)
    assert [r["errors"] for r in issued] == [[]] * PROCESSES
    assert [r["failures"] for r in issued] == [[]] * PROCESSES
    with app.app_context():
        rows = db.session.execute(select(Ticket.service_id, Ticket.label, Ticket.number)).all()
    assert len(rows) == TICKETS
    assert len({label for _, label, _ in rows}) == TICKETS  # distinct labels
    by_service: dict[int, list[int]] = {}
    for service, _, number in rows:
        by_service.setdefault(service, []).append(number)
    for numbers in by_service.values():  # each service's numbers run 1..n with no gap
        assert sorted(numbers) == list(range(1, len(numbers) + 1))

    calls = run_processes(calling_process, config, headers)
    assert [r["errors"] for r in calls] == [[]] * PROCESSES
    assert [r["failures"] for r in calls] == [[]] * PROCESSES
    called = [pair for r in calls for pair in r["called"]]
    ids = [ticket_id for _, ticket_id in called]
    assert len(ids) == len(set(ids)) == TICKETS  # each ticket called exactly once
    with app.app_context():
        events = dict(
            db.session.execute(
                select(TicketEvent.action, func.count())
                .where(TicketEvent.action.in_(["call", "complete"]))
                .group_by(TicketEvent.action)
            ).all()
        )
        waiting = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status == "waiting")
        )
        version = db.session.scalar(select(Store.version).where(Store.code == "demo"))
    assert events == {"call": TICKETS, "complete": TICKETS}
    assert waiting == 0
    assert set(Tally(number for number, _ in called)) == set(range(1, COUNTERS + 1))
    assert version >= 3 * TICKETS  # issue, call and complete each moved the store's version
