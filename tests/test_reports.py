"""The console's reports: every figure against values computed by hand on a small history (with a
day boundary in the store's zone, a transfer and a rejoin), the promised estimate kept on each
ticket issued through the API and its accuracy, the CSV files against the page's tables, who may
see them, and bad ranges refused with a message."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.bookings.models import Appointment
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy import Action, AppointmentStatus, Lane, Role, TicketStatus
from backend.policy.stats import nearest_rank, net_score, summarize
from backend.queue.models import Ticket, TicketEvent
from backend.reports.tables import TABLE_NAMES, Report, build_report
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from tests.factories import Factory, kiosk_headers
from tests.test_manager import login

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
WEDNESDAY = date(2026, 11, 25)
REPORTS = "/s/demo/manage/reports"
RANGE = "from=2026-11-23&to=2026-11-24"


def local(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


# --- pure statistics ------------------------------------------------------------------------------


def test_statistics_by_hand() -> None:
    assert nearest_rank([30, 2, 4, 6, 8, 10], 0.9) == 30  # rank ceil(5.4) = 6
    assert nearest_rank([2, 4, 8, 10], 0.9) == 10  # rank ceil(3.6) = 4
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9  # rank 9 exactly
    assert nearest_rank([], 0.9) is None
    s = summarize([4, 10, 30, 6, 2, 8])
    assert (s.count, s.mean, s.median, s.p90) == (6, 10, 7, 30)
    assert net_score([5, 5, 4, 2]) == pytest.approx(0.25)
    assert net_score([3, 1]) == -1
    assert net_score([]) is None


# --- a small history, written as the engine would have left it ------------------------------------


@dataclass
class History:
    """Tickets and their event trails inserted directly (times to the minute, by hand)."""

    app: Flask
    numbers: dict[date, int] = field(default_factory=dict)

    def ids(self) -> tuple[dict[str, int], dict[int, int], dict[str, int]]:
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        services = {
            s.code: s.id for s in db.session.scalars(select(Service).where(Service.store == store))
        }
        counters = {
            c.number: c.id
            for c in db.session.scalars(select(Counter).where(Counter.store_id == store.id))
        }
        users = {u.username: u.id for u in db.session.scalars(select(User))}
        return services, counters, users

    def visit(
        self,
        service: str,
        issued: datetime,
        day: date,
        steps: list[tuple[int, Action, int | None]],
        *,
        lane: Lane,
        clerk: str | None = None,
        promise: tuple[float, int, int] | None = None,
        final_service: str | None = None,
    ) -> int:
        """A ticket issued at `issued` on service day `day`, then each (minutes after issue,
        action, counter number) of its trail; its row ends as the last step leaves it."""
        services, counters, users = self.ids()
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        number = self.numbers.get(day, 0) + 1
        self.numbers[day] = number
        ticket = Ticket(
            store_id=store_id,
            service_id=services[final_service or service],
            lane=lane,
            label=f"{service}{number:03d}",
            number=number,
            service_day=day,
            issued_at=issued,
            queue_at=issued,
            version=1,
        )
        if promise is not None:
            ticket.promised_minutes, ticket.promised_low, ticket.promised_high = promise
            ticket.promised_at = issued
        db.session.add(ticket)
        db.session.flush()
        status = TicketStatus.WAITING
        events = [(0, Action.ISSUE, None), *steps]
        after = {
            Action.ISSUE: TicketStatus.WAITING,
            Action.CALL: TicketStatus.CALLED,
            Action.START: TicketStatus.SERVING,
            Action.COMPLETE: TicketStatus.DONE,
            Action.NO_SHOW: TicketStatus.NO_SHOW,
            Action.CANCEL: TicketStatus.CANCELLED,
            Action.REJOIN: TicketStatus.WAITING,
            Action.TRANSFER: TicketStatus.WAITING,
        }
        for minutes, action, counter in events:
            at = issued + timedelta(minutes=minutes)
            before, status = status, after[action]
            db.session.add(
                TicketEvent(
                    ticket_id=ticket.id,
                    store_id=store_id,
                    at=at,
                    action=action.value,
                    from_status=None if action is Action.ISSUE else before.value,
                    to_status=status.value,
                    counter_id=counters[counter] if counter else None,
                )
            )
            if action is Action.CALL:
                ticket.called_at = at
                ticket.counter_id = counters[counter] if counter else None
            elif action is Action.START:
                ticket.started_at = at
            elif action in (Action.COMPLETE, Action.NO_SHOW, Action.CANCEL):
                ticket.finished_at = at
        ticket.status = status
        ticket.clerk_id = users[clerk] if clerk and ticket.counter_id else None
        if status == TicketStatus.DONE:
            ticket.outcome = "done"
        db.session.flush()
        return ticket.id

    def rate(self, ticket_id: int, stars: int, comment: str, at: datetime) -> None:
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket is not None
        db.session.add(
            Feedback(
                ticket_id=ticket.id,
                store_id=ticket.store_id,
                service_id=ticket.service_id,
                counter_id=ticket.counter_id,
                clerk_id=ticket.clerk_id,
                stars=stars,
                comment=comment,
                created_at=at,
            )
        )

    def book(self, slot: datetime, status: AppointmentStatus, ticket_id: int | None) -> None:
        services, _, _ = self.ids()
        store_id = db.session.scalar(select(Store.id).where(Store.code == "demo"))
        db.session.add(
            Appointment(
                store_id=store_id,
                service_id=services["C"],
                day=slot.astimezone(SHANGHAI).date(),
                slot_start=slot,
                slot_end=slot + timedelta(minutes=20),
                name="张三",
                phone="13800001234",
                code=f"K{len(self.numbers)}{slot.minute:02d}{slot.hour:02d}",
                status=status,
                created_at=slot - timedelta(days=1),
                ticket_id=ticket_id,
                checked_in_at=slot if ticket_id else None,
            )
        )


CALL, START, DONE, NO_SHOW, CANCEL, REJOIN, TRANSFER = (
    Action.CALL,
    Action.START,
    Action.COMPLETE,
    Action.NO_SHOW,
    Action.CANCEL,
    Action.REJOIN,
    Action.TRANSFER,
)


@pytest.fixture
def history(app: Flask, clock: ManualClock, make: Factory) -> dict[str, int]:
    """Monday and Tuesday in the demo store (Shanghai). Waits 4, 10, 30, 6, 2, 8 minutes; service
    3, 6, 12, 2, 3; one walk-away, one no-show at 23:50, a rejoin, a transfer; and a ticket at
    00:10 on Wednesday in Shanghai (Tuesday in UTC) that a Monday-Tuesday report leaves out."""
    make.user("amy", "demo")
    make.user("bob", "demo")
    clock.set(local(WEDNESDAY, 10, 0))
    with app.app_context():
        h = History(app)
        t = {}
        t["t1"] = h.visit(
            "A", local(MONDAY, 10, 0), MONDAY,
            [(4, CALL, 1), (5, START, 1), (8, DONE, 1)],
            lane=Lane.FAST, clerk="amy", promise=(5.0, 3, 7),
        )  # fmt: skip
        t["t2"] = h.visit(
            "A", local(MONDAY, 10, 20), MONDAY,
            [(10, CALL, 1), (10, START, 1), (16, DONE, 1)],
            lane=Lane.FAST, clerk="amy", promise=(6.0, 4, 9),
        )  # fmt: skip
        t["t3"] = h.visit(
            "C", local(MONDAY, 10, 30), MONDAY,
            [(30, CALL, 3), (31, START, 3), (43, DONE, 3)],
            lane=Lane.STANDARD, clerk="bob", promise=(25.0, 20, 35),
        )  # fmt: skip
        t["t4"] = h.visit(
            "C", local(MONDAY, 11, 5), MONDAY, [(5, CANCEL, None)], lane=Lane.STANDARD
        )
        t["t5"] = h.visit(  # 23:50 in Shanghai: Monday's, though 15:50 UTC
            "C", local(MONDAY, 23, 50), MONDAY,
            [(6, CALL, 2), (9, NO_SHOW, 2)],
            lane=Lane.STANDARD, clerk="bob",
        )  # fmt: skip
        t["t6"] = h.visit(  # missed its call, rejoined, served
            "A", local(TUESDAY, 9, 10), TUESDAY,
            [(2, CALL, 2), (5, NO_SHOW, 2), (8, REJOIN, None), (12, CALL, 2), (12, START, 2),
             (14, DONE, 2)],
            lane=Lane.FAST, clerk="amy", promise=(3.0, 2, 5),
        )  # fmt: skip
        t["t7"] = h.visit(  # a plan change sent on to the top-up service
            "C", local(TUESDAY, 9, 15), TUESDAY,
            [(8, CALL, 3), (9, START, 3), (15, TRANSFER, None), (20, CALL, 1), (20, START, 1),
             (23, DONE, 1)],
            lane=Lane.FAST, clerk="amy", final_service="A",
        )  # fmt: skip
        t["t8"] = h.visit(  # 00:10 Wednesday in Shanghai = 16:10 Tuesday UTC: not in the range
            "A", local(WEDNESDAY, 0, 10), WEDNESDAY,
            [(1, CALL, 1), (1, START, 1), (2, DONE, 1)],
            lane=Lane.FAST, clerk="amy", promise=(50.0, 40, 60),
        )  # fmt: skip
        h.rate(t["t1"], 5, "很好", local(MONDAY, 10, 9))
        h.rate(t["t2"], 4, "", local(MONDAY, 10, 37))
        h.rate(t["t3"], 2, "太慢了", local(MONDAY, 11, 14))
        h.rate(t["t6"], 5, "ok", local(TUESDAY, 9, 25))
        h.rate(t["t8"], 1, "out of range", local(WEDNESDAY, 0, 13))
        h.book(local(TUESDAY, 9, 5), AppointmentStatus.DONE, t["t6"])  # called 7 min late
        h.book(local(TUESDAY, 9, 20), AppointmentStatus.DONE, t["t7"])  # called 3 min late
        h.book(local(MONDAY, 15, 0), AppointmentStatus.NO_SHOW, None)
        h.book(local(MONDAY, 16, 0), AppointmentStatus.CANCELLED, None)
        h.book(local(WEDNESDAY, 16, 0), AppointmentStatus.BOOKED, None)  # out of the range
        db.session.commit()
    return t


def report(app: Flask, clock: ManualClock, lang: str = "en") -> Report:
    with app.test_request_context(f"/?lang={lang}"):
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        return build_report(store, MONDAY, TUESDAY, lang, clock.now())


def rows_of(rep: Report, name: str) -> dict[str, list[Any]]:
    return {str(row[0]): row[1:] for row in rep.tables[name].rows}


def test_the_figures_of_the_whole_range_by_hand(
    app: Flask, clock: ManualClock, history: dict[str, int]
) -> None:
    rep = report(app, clock)
    summary = dict(rep.tables["summary"].rows)
    assert summary["Tickets issued"] == "7"  # Wednesday's 00:10 ticket is not in
    assert summary["Called"] == "6"
    assert summary["Mean wait (min)"] == "10.0"  # (4+10+30+6+2+8)/6
    assert summary["Median wait"] == "7.0"  # (6+8)/2
    assert summary["90th percentile wait"] == "30.0"
    assert summary["Called within the 20 min target"] == "83.3%"  # 5 of 6
    assert summary["Served"] == "5"
    assert summary["Mean service (min)"] == "5.2"  # (3+6+12+2+3)/5
    assert summary["Ratings"] == "4"
    assert summary["Mean rating (stars)"] == "4.00"  # (5+4+2+5)/4
    assert summary["Score: share of 5 stars minus share of 1–3 stars"] == "+25"  # 2/4 - 1/4
    outcomes = rows_of(rep, "outcomes")
    assert outcomes["Tickets issued"] == [7, 1.0]
    assert outcomes["Served"] == [5, pytest.approx(5 / 7)]
    assert outcomes["No-show (called, did not come)"] == [1, pytest.approx(1 / 7)]
    assert outcomes["Cancelled"] == [1, pytest.approx(1 / 7)]
    assert outcomes["Walked away (left before any call)"] == [1, pytest.approx(1 / 7)]
    assert outcomes["Transferred at least once"] == [1, pytest.approx(1 / 7)]
    assert outcomes["Transfers"] == [1, None]
    assert outcomes["Rejoined after a missed call"] == [1, pytest.approx(1 / 7)]
    assert outcomes["Outcome: Done"] == [5, 1.0]


def test_a_service_s_own_outcome_is_counted_under_its_name(
    app: Flask, clock: ManualClock, history: dict[str, int]
) -> None:
    with app.app_context():
        ticket = db.session.get(Ticket, history["t3"])  # the plan change served on Monday
        assert ticket is not None
        ticket.outcome = "plan_changed"
        db.session.commit()
    outcomes = rows_of(report(app, clock), "outcomes")
    assert outcomes["Outcome: Done"] == [4, pytest.approx(4 / 5)]
    assert outcomes["Outcome: Plan changed"] == [1, pytest.approx(1 / 5)]
    assert rows_of(report(app, clock, "zh"), "outcomes")["结果：已变更套餐"][0] == 1


def test_the_groups_by_hand(app: Flask, clock: ManualClock, history: dict[str, int]) -> None:
    rep = report(app, clock)
    services = rows_of(rep, "by_service")
    # Top-up (A): t1, t2, t6 and the transferred t7; waits 4, 10, 2, 8; service 3, 6, 2, 3.
    top_up = services["Top-up & bill payment"]
    assert top_up == [4, 4, 6.0, 6.0, 10, 1.0, 4, 3.5, 3.0, 6]
    # Plan change (C): t3, t4 (walked away) and t5 (no-show); waits 30, 6; service 12.
    plan = next(v for k, v in services.items() if k != "Top-up & bill payment")
    assert plan == [3, 2, 18.0, 18.0, 30, 0.5, 1, 12.0, 12.0, 12]
    hours = rows_of(rep, "by_hour")
    assert list(hours) == ["09:00", "10:00", "11:00", "23:00"]
    assert hours["23:00"][:3] == [1, 1, 6.0]  # the 23:50 ticket is Monday's, at 23 h
    assert hours["10:00"][:5] == [3, 3, pytest.approx(44 / 3), 10.0, 30]
    weekdays = rows_of(rep, "by_weekday")
    assert list(weekdays) == ["Monday", "Tuesday"]
    assert weekdays["Monday"][:2] == [5, 4] and weekdays["Tuesday"][:2] == [2, 2]
    lanes = rows_of(rep, "by_lane")
    assert list(lanes) == ["Fast lane", "Standard"]
    assert lanes["Fast lane"][:3] == [4, 4, 6.0]
    counters = rows_of(rep, "by_counter")
    # The counter that called it last: 1 (t1, t2, t7), 2 (t5, t6), 3 (t3).
    assert {k: v[0] for k, v in counters.items()} == {
        "Counter 1": 3,
        "Counter 2": 2,
        "Counter 3": 1,
    }
    assert counters["Counter 1"][2] == pytest.approx((4 + 10 + 8) / 3)
    arrivals = rep.tables["heatmap_arrivals"]
    assert [c.label for c in arrivals.columns[1:]] == [f"{h:02d}" for h in range(9, 24)]
    heat = rows_of(rep, "heatmap_arrivals")
    assert heat["Monday"][10 - 9] == 3 and heat["Monday"][11 - 9] == 1
    assert heat["Monday"][23 - 9] == 1 and heat["Tuesday"][0] == 2
    assert sum(heat["Monday"]) + sum(heat["Tuesday"]) == 7
    waits = rows_of(rep, "heatmap_waits")
    assert waits["Tuesday"][0] == 5.0 and waits["Monday"][23 - 9] == 6.0
    assert waits["Monday"][11 - 9] is None  # arrivals, but nobody called
    assert waits["Monday"][12 - 9] is None


def test_clerks_ratings_comments_and_appointments_by_hand(
    app: Flask, clock: ManualClock, history: dict[str, int]
) -> None:
    rep = report(app, clock)
    clerks = rows_of(rep, "clerks")
    assert list(clerks) == ["amy", "bob"]  # by visits served
    assert clerks["amy"] == [4, 3.5, 3, pytest.approx(14 / 3)]
    assert clerks["bob"] == [1, 12.0, 1, 2.0]
    ratings = rep.tables["ratings"].rows
    assert [r[1] for r in ratings] == [2, 1, 0, 1, 0]  # 5, 4, 3, 2, 1 stars
    assert [r[2] for r in ratings] == [0.5, 0.25, 0.0, 0.25, 0.0]
    comments = rep.tables["comments"].rows
    assert [r[3] for r in comments] == ["ok", "太慢了", "很好"]  # newest first, none empty
    assert comments[0][0] == "2026-11-24 09:25"  # the store's time
    appointments = rows_of(rep, "appointments")
    assert appointments["Booked (slot begun, not cancelled)"][0] == 3
    assert appointments["Came (checked in): show rate"] == [2, pytest.approx(2 / 3)]
    assert appointments["Did not come"] == [1, pytest.approx(1 / 3)]
    assert appointments["Called within 5 min of the slot"] == [1, 0.5]
    assert appointments["Cancelled"] == [1, 0.25]


def test_estimate_accuracy_by_hand(app: Flask, clock: ManualClock, history: dict[str, int]) -> None:
    rep = report(app, clock)
    # Promised 5, 6, 25, 3; waited 4, 10, 30, 2: errors -1, +4, +5, -1.
    summary = dict(rep.tables["summary"].rows)
    assert summary["Estimate: mean absolute error (min)"] == "2.8"  # 11/4 = 2.75
    assert summary["Estimate: bias (min)"] == "+1.8"  # 7/4 = 1.75
    assert summary["Estimate: inside the promised range"] == "75.0%"  # t2 waited past 9
    assert summary["Estimate: tickets with a promise, called"] == "4"
    assert summary["Estimate: tickets given no estimate"] == "3"  # t4, t5, t7
    lanes = rows_of(rep, "accuracy_lane")
    assert lanes["Fast lane"] == [3, pytest.approx(2.0), pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert lanes["Standard"] == [1, 5.0, 5.0, 1.0]
    hours = rows_of(rep, "accuracy_hour")
    assert hours["09:00"] == [1, 1.0, -1.0, 1.0]
    assert hours["10:00"] == [3, pytest.approx(10 / 3), pytest.approx(8 / 3), pytest.approx(2 / 3)]


# --- the estimate kept on the ticket, through the API ---------------------------------------------


def promises(app: Flask) -> dict[int, tuple[Any, ...]]:
    with app.app_context():
        rows = db.session.execute(
            select(
                Ticket.id,
                Ticket.promised_minutes,
                Ticket.promised_low,
                Ticket.promised_high,
                Ticket.promised_at,
                Ticket.issued_at,
            )
        ).all()
        return {r[0]: tuple(r[1:]) for r in rows}


def test_the_first_answer_s_estimate_is_kept_once_and_its_accuracy_reported(
    app: Flask, client: FlaskClient, clock: ManualClock, make: Factory
) -> None:
    clock.set(local(MONDAY, 9, 30))
    alone = make.ticket("A")  # nobody at a counter: no estimate shown, none kept
    assert alone["eta_minutes"] is None
    headers = make.staff("amy")
    make.counter(headers, 1)  # fast lane only
    issued = []
    for _ in range(3):
        clock.advance(minutes=1)
        issued.append(make.ticket("A"))
    key = {"Idempotency-Key": "retry-1"} | kiosk_headers(app)
    clock.advance(minutes=1)
    first = client.post("/api/v1/stores/demo/tickets", json={"service": "A"}, headers=key)
    assert first.status_code == 201
    issued.append(first.json)
    kept = promises(app)
    assert kept[alone["id"]][:4] == (None, None, None, None)
    for t in issued:
        minutes, low, high, at, issued_at = kept[t["id"]]
        assert [low, high] == t["eta_minutes"]  # what the customer was shown
        assert low <= minutes <= high and at == issued_at  # shown at once, at issue
    clock.advance(minutes=2)
    again = client.post("/api/v1/stores/demo/tickets", json={"service": "A"}, headers=key)
    assert again.status_code == 201 and again.json["id"] == first.json["id"]
    assert promises(app)[first.json["id"]] == kept[first.json["id"]]  # the first promise stays
    # Serve them in order, a known number of minutes apart.
    calls = {}
    for _ in range(len(issued) + 1):
        clock.advance(minutes=3)
        called = client.post("/api/v1/stores/demo/counters/1/call-next", headers=headers).json
        ticket = called["ticket"]
        calls[ticket["id"]] = clock.now()
        clock.advance(minutes=1)
        assert (
            client.post(f"/api/v1/tickets/{ticket['id']}/start", headers=headers).status_code == 200
        )
        clock.advance(minutes=1)
        done = client.post(f"/api/v1/tickets/{ticket['id']}/complete", headers=headers)
        assert done.status_code == 200
    assert set(calls) == {alone["id"], *(t["id"] for t in issued)}
    errors, inside = [], 0
    for t in issued:
        minutes, low, high, at, _ = kept[t["id"]]
        actual = (calls[t["id"]] - at).total_seconds() / 60
        errors.append(actual - minutes)
        inside += low <= actual <= high
    clock.set(local(MONDAY, 12, 0))
    make.user("boss", "demo", Role.MANAGER)
    login(client, "boss")
    page = client.get(f"{REPORTS}?from=2026-11-23&to=2026-11-23&lang=en")
    assert page.status_code == 200
    figures = summary_of(page.get_data(as_text=True))
    assert figures["Estimate: mean absolute error (min)"] == f"{sum(map(abs, errors)) / 4:.1f}"
    assert figures["Estimate: bias (min)"] == f"{sum(errors) / 4:+.1f}"
    assert figures["Estimate: inside the promised range"] == f"{inside / 4 * 100:.1f}%"
    assert figures["Estimate: tickets with a promise, called"] == "4"
    assert figures["Estimate: tickets given no estimate"] == "1"


def test_a_checked_in_ticket_and_a_late_first_estimate_are_kept_as_promises(
    app: Flask, client: FlaskClient, clock: ManualClock, make: Factory
) -> None:
    clock.set(local(MONDAY, 9, 30))
    alone = make.ticket("A")  # nobody at a counter yet: no estimate shown, none kept
    assert alone["eta_minutes"] is None
    headers = make.staff("amy")
    make.counter(headers, 1)
    make.counter(headers, 2)
    clock.advance(minutes=5)
    status = client.get(f"/t/{alone['token']}?lang=en")  # the holder looks again: now told
    assert status.status_code == 200
    shown = client.get(f"/api/v1/tickets/{alone['token']}").json["eta_minutes"]
    minutes, low, high, at, issued_at = promises(app)[alone["id"]]
    assert [low, high] == shown and low <= minutes <= high
    assert at == clock.now() and at > issued_at  # kept when it was first shown, not at issue
    clock.advance(minutes=3)
    client.get(f"/t/{alone['token']}?lang=en")
    assert promises(app)[alone["id"]][3] == at  # the first one stays
    _, ticket = make.checked_in("2026-11-23T06:00:00Z")  # 14:00 in Shanghai
    assert ticket["eta_minutes"] is not None
    minutes, low, high, at, _ = promises(app)[ticket["id"]]
    assert [low, high] == ticket["eta_minutes"] and at == clock.now()


# --- the page, its CSV files and who may see them -------------------------------------------------


class Tables(HTMLParser):
    """The report page's tables (data-table) as their text rows, headings first."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs).get("data-table")
        if tag in ("table", "dl") and named:
            self.current = named
            self.tables[named] = []
        elif self.current and tag in ("tr", "div") and self.row is None:
            self.row = []
        elif self.current and self.row is not None and tag in ("td", "th", "dt", "dd"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.cell is not None and tag in ("td", "th", "dt", "dd"):
            assert self.row is not None
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif self.row is not None and tag in ("tr", "div") and self.current:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag in ("table", "dl"):
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def page_tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def summary_of(html: str) -> dict[str, str]:
    return {k: v for k, v in page_tables(html)["summary"]}


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())  # the BOM Excel needs for Chinese
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))


@pytest.fixture
def boss(app: Flask, client: FlaskClient, make: Factory) -> FlaskClient:
    make.user("boss", "demo", Role.MANAGER)
    assert login(client, "boss").status_code == 302
    return client


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_csv_has_exactly_the_page_s_table(
    boss: FlaskClient, history: dict[str, int], lang: str
) -> None:
    page = boss.get(f"{REPORTS}?{RANGE}&lang={lang}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = page_tables(html)
    assert set(shown) == set(TABLE_NAMES)
    for name in TABLE_NAMES:
        assert f"/s/demo/manage/reports/{name}.csv?from=2026-11-23&amp;to=2026-11-24" in html
        response = boss.get(f"{REPORTS}/{name}.csv?{RANGE}&lang={lang}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        rows = csv_rows(response.data)
        if name == "summary":  # shown as figures, not a table: no heading row on the page
            assert rows[1:] == shown[name]
        else:
            assert rows == shown[name], name
    heading = csv_rows(boss.get(f"{REPORTS}/by_service.csv?{RANGE}&lang={lang}").data)[0]
    assert heading[1] == {"zh": "取号数", "en": "Arrivals"}[lang]
    assert heading[0] == {"zh": "业务", "en": "Service"}[lang]


def test_the_page_defaults_to_the_last_seven_days_and_draws_from_its_series(
    boss: FlaskClient, clock: ManualClock, history: dict[str, int]
) -> None:
    clock.set(local(TUESDAY, 18, 0))
    html = boss.get(f"{REPORTS}?lang=en").get_data(as_text=True)
    assert 'value="2026-11-18"' in html and 'value="2026-11-24"' in html
    config = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html)
    assert config is not None
    import json

    series = json.loads(config[1])["reports"]
    assert series["waits_by_hour"]["labels"] == ["09:00", "10:00", "11:00", "23:00"]
    assert series["waits_by_hour"]["arrivals"] == [2, 3, 1, 1]
    assert series["ratings"]["counts"] == [2, 1, 0, 1, 0]
    assert series["accuracy_by_hour"]["labels"] == ["09:00", "10:00"]
    assert '<canvas id="r-chart-waits"' in html
    assert "/static/vendor/chart.umd.min.js" in html
    assert 'href="/s/demo/manage/reports"' in html and 'aria-current="page"' in html


def test_a_clerk_gets_403_and_another_store_s_manager_404(
    app: Flask, client: FlaskClient, make: Factory, history: dict[str, int]
) -> None:
    make.user("desk", "demo", Role.CLERK)
    login(client, "desk")
    assert client.get(f"{REPORTS}?{RANGE}").status_code == 403
    assert client.get(f"{REPORTS}/summary.csv?{RANGE}").status_code == 403
    client.post("/logout", data={})
    other = app.test_client()
    make.user("elsewhere", "other", Role.MANAGER)
    login(other, "elsewhere")
    assert other.get(f"{REPORTS}?{RANGE}").status_code == 404
    csv_answer = other.get(f"{REPORTS}/summary.csv?{RANGE}")
    assert csv_answer.status_code == 404 and b"amy" not in csv_answer.data
    assert other.get(f"/s/other/manage/reports?{RANGE}").status_code == 200
    root = app.test_client()
    make.user("root", None, Role.ADMIN)
    login(root, "root")
    page = root.get(f"{REPORTS}?{RANGE}&lang=en").get_data(as_text=True)
    assert summary_of(page)["Tickets issued"] == "7"


@pytest.mark.parametrize(
    ("query", "field_id", "zh", "en"),
    [
        ("from=2026-13-01&to=2026-11-24", "from", "日期格式如", "A date like 2026-11-30."),
        ("from=2026-11-23&to=tomorrow", "to", "日期格式", "A date like 2026-11-30."),
        ("from=99999-01-01&to=2026-11-24", "from", "日期格式", "A date like 2026-11-30."),
        ("from=2026-11-24&to=2026-11-23", "to", "不能早于", "The last day cannot be before"),
        ("from=2025-11-01&to=2026-11-24", "to", "最多", "At most 366 days at once."),
        ("from=&to=2026-11-24", "from", "请填写此项", "Please fill this in."),
        ("to=2026-11-24", "from", "请填写此项", "Please fill this in."),
    ],
)
def test_a_bad_range_is_a_form_error_in_the_user_s_language(
    boss: FlaskClient, query: str, field_id: str, zh: str, en: str
) -> None:
    from tests.test_manager import field_error

    for lang, text in (("zh", zh), ("en", en)):
        page = boss.get(f"{REPORTS}?{query}&lang={lang}")
        assert page.status_code == 422
        html = page.get_data(as_text=True)
        assert text in field_error(html, field_id)
        assert "data-table" not in html  # no report for a range that is not one
        answer = boss.get(f"{REPORTS}/summary.csv?{query}&lang={lang}")
        assert answer.status_code == 422 and text in answer.get_data(as_text=True)


def test_a_nul_character_in_the_range_is_refused_before_the_view(boss: FlaskClient) -> None:
    for lang, text in (("zh", "不允许"), ("en", "not allowed")):
        for url in (REPORTS, f"{REPORTS}/summary.csv"):
            answer = boss.get(f"{url}?from=2026-11-23%00&to=2026-11-24&lang={lang}")
            assert answer.status_code == 400 and text in answer.get_data(as_text=True)


def test_an_unknown_table_is_404(boss: FlaskClient) -> None:
    assert boss.get(f"{REPORTS}/passwords.csv?{RANGE}").status_code == 404
    assert boss.get(f"{REPORTS}/summary.csv?{RANGE}").status_code == 200
