"""Race tests on a real SQLite file: concurrent counters and kiosks never collide."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Counter, Store, Ticket, TicketEvent
from backend.policy import Lane

from .conftest import kiosk_headers, make_user, sqlite_only, token_for

# On the scale tier, tests/test_race_processes.py races 4 processes × 4 threads instead.
pytestmark = sqlite_only("the scale tier races processes (tests/test_race_processes.py)")

THREADS = 8
TICKETS = 2000


def run_threads(target: Any, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def runner(index: int) -> None:
        try:
            barrier.wait()
            target(index)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def unlimited_kiosks(app: Flask) -> None:
    """The clock stands still in tests: 2,000 prints would all fall in one minute. And the live
    updates are debounced as in production, so a burst of commands costs a few projections."""
    app.config["LIVE_PROJECTION_DELAY"] = 0.25
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        store.kiosk_rate_per_minute = 0
        store.public_vip = True  # this test's kiosks print VIP numbers too
        db.session.commit()


def add_counters(app: Flask, total: int) -> None:
    profiles = [[Lane.FAST], [Lane.STANDARD, Lane.FAST], [Lane.VIP, Lane.STANDARD]]
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        existing = {c.number for c in store.counters}
        for number in range(1, total + 1):
            if number not in existing:
                lanes = [lane.value for lane in profiles[number % len(profiles)]]
                db.session.add(Counter(store=store, number=number, lanes=lanes))
        db.session.commit()


def test_eight_kiosks_issue_2000_distinct_gapless_labels(app: Flask) -> None:
    per_thread = TICKETS // THREADS
    statuses: list[int] = []

    unlimited_kiosks(app)

    def kiosk(index: int) -> None:
        client = app.test_client()
        for _ in range(per_thread):
            response = client.post(
                "/api/v1/stores/demo/tickets", json={"service": "A"}, headers=kiosk_headers(app)
            )
            statuses.append(response.status_code)
            if response.status_code != 201:
                raise AssertionError(response.get_data(as_text=True))

    errors = run_threads(kiosk, THREADS)
    assert errors == []
    assert statuses == [201] * TICKETS
    with app.app_context():
        rows = db.session.execute(select(Ticket.label, Ticket.number)).all()
    labels = [label for label, _ in rows]
    assert len(labels) == len(set(labels)) == TICKETS
    assert sorted(number for _, number in rows) == list(range(1, TICKETS + 1))  # no gaps
    assert all(label == f"A{number:03d}" for label, number in rows)


def test_eight_counters_call_2000_tickets_each_exactly_once(app: Flask) -> None:
    add_counters(app, THREADS)
    clerks = []
    for number in range(1, THREADS + 1):
        make_user(app, f"clerk{number}", "demo")
        headers = {"Authorization": f"Bearer {token_for(app, f'clerk{number}')}"}
        signed = app.test_client().post(
            f"/api/v1/stores/demo/counters/{number}/sign-in", json={}, headers=headers
        )
        assert signed.status_code == 200
        clerks.append(headers)
    unlimited_kiosks(app)
    setup = app.test_client()
    services = ["A", "B", "C", "D", "E", "V"]
    for n in range(TICKETS):  # 2,000 waiting: more than a day's work, so staff issue them
        response = setup.post(
            "/api/v1/stores/demo/tickets",
            json={"service": services[n % len(services)], "channel": "staff"},
            headers=clerks[0],
        )
        assert response.status_code == 201
    called: list[tuple[int, int]] = []  # (counter, ticket id)
    failures: list[str] = []

    def counter(index: int) -> None:
        client = app.test_client()
        number = index + 1
        while True:
            response = client.post(
                f"/api/v1/stores/demo/counters/{number}/call-next", headers=clerks[index]
            )
            if response.status_code == 409 and response.json["error"] == "still_called":
                # The clerk serves the customer called before calling the next one.
                ticket_id = response.json["ticket"]
                start = client.post(f"/api/v1/tickets/{ticket_id}/start", headers=clerks[index])
                if start.status_code != 200:
                    failures.append(start.get_data(as_text=True))
                    return
                continue
            if response.status_code != 200:
                failures.append(response.get_data(as_text=True))
                return
            body = response.json
            if body["ticket"] is None:
                return
            called.append((number, body["ticket"]["id"]))

    errors = run_threads(counter, THREADS)
    assert errors == [] and failures == []
    ids = [ticket_id for _, ticket_id in called]
    assert len(ids) == len(set(ids)) == TICKETS
    with app.app_context():
        call_events = db.session.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "call")
        )
        # Every call auto-completed the ticket its counter held before, the last one too.
        completes = db.session.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "complete")
        )
        still_waiting = db.session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.status == "waiting")
        )
    assert call_events == TICKETS
    assert completes == TICKETS  # the final, empty call completes what each counter held
    assert still_waiting == 0
    per_counter = Tally(number for number, _ in called)
    assert set(per_counter) == set(range(1, THREADS + 1))  # every counter got work
