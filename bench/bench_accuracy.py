"""A simulated month replayed through the live API: the report's estimate accuracy, and the
staffing advice for a weekday of it next to the current plan.

30 days of the demo store (its 4 counters and 6 services, open 09:00–18:00). Each day's
customers are drawn by the simulator: arrivals per hour from the weekday profile of
bench/scenarios/weekday.toml scaled to 4 counters (×0.42, ~175 a day, the counters ~95 % busy
at the peaks), the shares below, service times lognormal with cv 0.5 around each service's
expected minutes, nobody leaving. They are sent to the live API with an injected clock, the
live engine choosing every call: the ticket at the kiosk (VIP by a greeter) at the customer's
arrival; at every arrival or end of a visit, each free counter's call-next and start; the visit
completed after the customer's own service time (the engine learns its durations as in a
store). What each customer was promised is what the live API answered when the ticket was
issued. Then the store's report over the month (backend.reports: the estimate's accuracy by
lane and hour of arrival) and the staffing advice for the Tuesday after it, from the last 4
Tuesdays (backend.staffing).

    .venv/bin/python bench/bench_accuracy.py [--days 30] [--scale 0.42]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.app import create_app
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.kiosks.operations import register_kiosk
from backend.models import Store
from backend.policy import sim
from backend.reports.tables import build_report
from backend.staffing.queries import Question, compute_answer
from backend.stores.seed import DEMO_COUNTERS, DEMO_SERVICES, seed_demo
from backend.stores.settings import StoreSettings
from tests import factories

FIRST_DAY = date(2026, 10, 26)  # a Monday
OPEN_UTC = 1  # 09:00 in Shanghai
SHARES = {"A": 0.40, "B": 0.15, "C": 0.20, "D": 0.10, "E": 0.05, "V": 0.10}
WEEKDAY_ARRIVALS = {
    "09:00": 35, "10:00": 70, "11:00": 50, "12:00": 40, "13:00": 40,
    "14:00": 65, "15:00": 65, "16:00": 45,
}  # fmt: skip
CV = 0.5


def make_app(folder: Path, clock: ManualClock) -> Flask:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'month.db'}",
            "INSTANCE_PATH": str(folder / "instance"),
            "SECRET_KEY": "bench",
            "CLOCK": clock,
            "LIVE_PROJECTION_DELAY": None,  # each command's projection at once, as when paced
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo("demo", with_staff=False)
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        store.kiosk_rate_per_minute = 0  # the clock jumps: a minute's prints are not a flood
        db.session.commit()
        app.config["KIOSK"] = register_kiosk("demo", "bench kiosk")
        db.session.remove()
    return app


def scenario(app: Flask, scale: float) -> sim.Scenario:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        policy = StoreSettings.of(store).policy()
    data = {
        "name": "demo month",
        "hours": {"open": "09:00", "close": "17:00"},
        "counters": [
            {"number": n, "lanes": [lane.value for lane in lanes]} for n, lanes in DEMO_COUNTERS
        ],
        "services": [
            {
                "code": s.code,
                "lane": s.lane.value,
                "share": SHARES[s.code],
                "mean": s.minutes,
                "cv": CV,
            }
            for s in DEMO_SERVICES
        ],
        "arrivals": {hour: rate * scale for hour, rate in WEEKDAY_ARRIVALS.items()},
    }
    return sim.replace(sim.scenario_from_dict(data), policy=policy)


def sign_in_clerks(app: Flask, client: FlaskClient) -> dict[int, dict[str, str]]:
    clerks = {}
    for number, _ in DEMO_COUNTERS:
        factories.create_user(app, f"desk{number}", "demo")
        clerks[number] = {"Authorization": f"Bearer {factories.create_token(app, f'desk{number}')}"}
        signed = client.post(
            f"/api/v1/stores/demo/counters/{number}/sign-in", json={}, headers=clerks[number]
        )
        assert signed.status_code == 200, signed.json
    return clerks


def _issue(app: Flask, client: FlaskClient, clerks: dict[int, dict[str, str]], code: str) -> int:
    staff = code == "V"  # VIP is issued by a greeter, the rest at the kiosk
    response = client.post(
        "/api/v1/stores/demo/tickets",
        json={"service": code, **({"channel": "staff"} if staff else {})},
        headers=clerks[4] if staff else {"X-Kiosk-Token": app.config["KIOSK"]},
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _call(client: FlaskClient, clerks: dict[int, dict[str, str]], counter: int) -> int | None:
    response = client.post(
        f"/api/v1/stores/demo/counters/{counter}/call-next", headers=clerks[counter]
    )
    if response.status_code == 200 and response.json.get("ticket"):
        return int(response.json["ticket"]["id"])
    assert response.status_code in (200, 404, 409), response.json  # nobody for this counter
    return None


def replay_day(
    app: Flask,
    client: FlaskClient,
    clock: ManualClock,
    clerks: dict[int, dict[str, str]],
    opening: datetime,
    customers: list[sim.Customer],
) -> int:
    """The day's customers through the live API, the live engine choosing every call: at each
    arrival or end of a visit (minutes after opening), the visits that end are completed, the
    customers who arrive take their ticket, then every free counter calls next. Returns the
    tickets issued."""
    arrivals = sorted(customers, key=lambda c: c.arrival)
    duration: dict[int, float] = {}
    busy: dict[int, tuple[float, int]] = {}  # counter -> (end of its visit, ticket)
    waiting = 0
    i = 0
    while i < len(arrivals) or busy or waiting:
        ends = [end for end, _ in busy.values()]
        t = min([*ends, *([arrivals[i].arrival] if i < len(arrivals) else [])], default=None)
        if t is None:
            break  # tickets left that no counter may serve (none in this store)
        clock.set(opening + timedelta(minutes=t))
        for counter, (end, ticket) in sorted(busy.items()):
            if end <= t:
                done = client.post(f"/api/v1/tickets/{ticket}/complete", headers=clerks[counter])
                assert done.status_code == 200, done.json
                del busy[counter]
        while i < len(arrivals) and arrivals[i].arrival <= t:
            duration[_issue(app, client, clerks, arrivals[i].service)] = arrivals[i].duration
            waiting += 1
            i += 1
        for counter, _ in DEMO_COUNTERS:
            if counter in busy or not waiting:
                continue
            ticket = _call(client, clerks, counter)
            if ticket is not None:
                start = client.post(f"/api/v1/tickets/{ticket}/start", headers=clerks[counter])
                assert start.status_code == 200, start.json
                busy[counter] = (t + duration[ticket], ticket)
                waiting -= 1
    return len(duration)


def print_table(title: str, rows: list[list[str]], header: list[str]) -> None:
    print(f"\n{title}\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=0.42)
    args = parser.parse_args()
    clock = ManualClock(datetime.combine(FIRST_DAY, datetime.min.time(), UTC))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp), clock)
        client = app.test_client()
        built = scenario(app, args.scale)
        clerks = sign_in_clerks(app, client)
        tickets = 0
        for d in range(args.days):
            day = FIRST_DAY + timedelta(days=d)
            customers = sim.generate_customers(built, seed=d + 1)
            opening = datetime(day.year, day.month, day.day, OPEN_UTC, tzinfo=UTC)
            tickets += replay_day(app, client, clock, clerks, opening, customers)
        last = FIRST_DAY + timedelta(days=args.days - 1)
        print(
            f"{args.days} days, {tickets:,} tickets through the live API in "
            f"{time.perf_counter() - started:.0f} s"
        )
        clock.set(datetime(last.year, last.month, last.day, 12, tzinfo=UTC))  # 20:00 local
        with app.test_request_context("/?lang=en"):
            store = db.session.scalar(select(Store).where(Store.code == "demo"))
            assert store is not None
            report = build_report(store, FIRST_DAY, last, "en", clock.now())
            for name in ("summary", "accuracy_lane", "accuracy_hour"):
                table = report.tables[name]
                print_table(str(table.title), table.text_rows(), table.header())
            clock.set(clock.now() + timedelta(days=1))
            answer = compute_answer(store, Question(weekday=1), clock.now())
        print_advice(answer)


def print_advice(answer: Any) -> None:
    advice = answer.advice
    if advice is None:
        print(f"\nno staffing advice: {answer.refusal}")
        return
    print(
        f"\nStaffing advice for a Tuesday, from {answer.used_days} Tuesdays "
        f"({answer.tickets} tickets); target: {advice.demand.share:.0%} called within "
        f"{advice.demand.target:g} min"
    )
    rows = []
    for h in advice.hours:
        rows.append(
            [
                f"{h.start // 60:02d}:{h.start % 60:02d}",
                f"{h.arrivals:.1f}",
                str(h.erlang),
                str(h.counters),
                _figures(h.advice),
                str(h.current),
                _figures(h.now),
                "yes" if h.meets else "no",
                str(h.why or ""),
            ]
        )
    header = ["hour", "arrivals", "Erlang C", "advice", "its wait / within", "now", "now's"]
    print_table("", rows, [*header, "meets", "why"])


def _figures(f: Any) -> str:
    if f.mean_wait is None:
        return "—"
    within = "—" if f.within_target is None else f"{f.within_target:.0%}"
    return f"{f.mean_wait:.1f} min / {within}"


if __name__ == "__main__":
    main()
