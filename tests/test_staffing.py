"""Staffing advice: Erlang C against published values, the advice on a generated history checked
in the simulator by the test itself, the page, its CSV, who may see it and bad input."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.extensions import db
from backend.models import Store, Ticket
from backend.policy import Role
from backend.policy.sim import PolicySetup, simulate
from backend.policy.sim.metrics import wait_of
from backend.policy.staffing import (
    counters_needed,
    erlang_b,
    erlang_c,
    mean_wait,
    service_level,
)
from backend.staffing.advice import SEEDS, Advice, DayDemand, day_customers, scenario_for
from backend.staffing.queries import Pattern, Question, compute_answer, history_days
from tests.conftest import MORNING
from tests.factories import Factory
from tests.test_manager import field_error, login

# --- Erlang C, pure -------------------------------------------------------------------------------


def test_erlang_b_matches_the_published_table() -> None:
    """Erlang B table (e.g. the ITU-D Teletraffic Engineering Handbook, Iversen, table of the
    Erlang B formula; the same values are in every teletraffic table): 1 % blocking is reached at
    4.461 Erlangs on 10 circuits, 12.031 on 20 and 84.06 on 100; 2 % at 5.084 on 10."""
    assert erlang_b(10, 4.461) == pytest.approx(0.01, abs=5e-5)
    assert erlang_b(20, 12.031) == pytest.approx(0.01, abs=5e-5)
    assert erlang_b(100, 84.06) == pytest.approx(0.01, abs=5e-5)
    assert erlang_b(10, 5.084) == pytest.approx(0.02, abs=5e-5)


def test_erlang_c_matches_the_worked_example_and_the_closed_forms() -> None:
    """Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example": 100
    calls in 30 minutes at 180 s handling time is 10 Erlangs; with 11 agents the probability of
    waiting is 68.21 %, 39.0 % are answered within 20 s and the average speed of answer is
    122.8 s; the 80/20 target needs 14 agents (13 give 79.6 %). And the M/M/1 and M/M/2 closed
    forms of Gross & Harris, Fundamentals of Queueing Theory: C(1, A) = A, C(2, A) = A²/(2 + A)
    ... i.e. 2ρ²/(1 + ρ) with ρ = A/2."""
    assert erlang_c(11, 10) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(11, 10, 180, 20) == pytest.approx(0.390, abs=5e-4)
    assert mean_wait(11, 10, 180) == pytest.approx(122.8, abs=0.05)
    assert service_level(13, 10, 180, 20) == pytest.approx(0.796, abs=5e-4)
    for load in (0.3, 0.75, 0.95):
        assert erlang_c(1, load) == pytest.approx(load)
        rho = load  # two servers at load 2ρ
        assert erlang_c(2, 2 * rho) == pytest.approx(2 * rho * rho / (1 + rho))


def test_the_smallest_n_meeting_the_target() -> None:
    # The worked example: 200 calls an hour (per minute: 10/3) at 3 min, 80 % within 1/3 min.
    n = counters_needed(200 / 60, 3.0, 1 / 3, 0.8)
    assert n == 14
    assert service_level(n - 1, 10, 3.0, 1 / 3) < 0.8 <= service_level(n, 10, 3.0, 1 / 3)
    assert counters_needed(0, 5, 15, 0.8) == 0
    # A light load still needs one counter, and never fewer than the load itself.
    assert counters_needed(0.01, 5, 15, 0.8) == 1
    assert counters_needed(2.0, 5, 0.0, 0.8) > 10
    with pytest.raises(ValueError):
        counters_needed(1, 5, 15, 1.0)


def test_large_n_is_stable() -> None:
    # Factorials of 900 overflow a float; the recurrence does not.
    assert math.isfinite(erlang_b(900, 880.0)) and 0 < erlang_b(900, 880.0) < 1
    waits = [erlang_c(n, 880.0) for n in (881, 890, 900, 950)]
    assert all(0 < w < 1 for w in waits) and waits == sorted(waits, reverse=True)
    n = counters_needed(880.0 / 5, 5.0, 0.25, 0.8)
    assert 881 <= n <= 920
    assert service_level(n - 1, 880.0, 5.0, 0.25) < 0.8 <= service_level(n, 880.0, 5.0, 0.25)
    assert erlang_c(900, 900.0) == 1.0 and mean_wait(900, 901.0, 5) == math.inf


# --- a history ------------------------------------------------------------------------------------

# MORNING is Thursday 2026-11-26, 09:00 in Shanghai. Per local hour, tickets per service on each
# past Thursday: quiet at opening, a peak at 10–11, another at 15.
PATTERN: dict[int, dict[str, int]] = {
    9: {"A": 6, "C": 2},
    10: {"A": 14, "B": 4, "C": 6, "D": 2},
    11: {"A": 16, "B": 4, "C": 7, "D": 3, "V": 1},
    12: {"A": 8, "C": 3},
    13: {"A": 6, "C": 3},
    14: {"A": 9, "B": 2, "C": 4, "D": 1},
    15: {"A": 15, "B": 4, "C": 7, "D": 3},
    16: {"A": 9, "C": 4, "V": 1},
    17: {"A": 5, "C": 2},
}
WEEKS = 4


def add_history(app: Flask, days: list[date], pattern: dict[int, dict[str, int]]) -> int:
    """Tickets issued on those days at those local hours (Shanghai is UTC+8), spread evenly."""
    n = 0
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        services = {s.code: s for s in store.services}
        for day in days:
            for hour, counts in pattern.items():
                for code, count in counts.items():
                    for k in range(count):
                        n += 1
                        minute = (k * 60) // count
                        at = datetime(day.year, day.month, day.day, hour - 8, minute, tzinfo=UTC)
                        db.session.add(
                            Ticket(
                                store_id=store.id,
                                service_id=services[code].id,
                                lane=services[code].lane,
                                label=f"H{n:04d}",
                                number=n,
                                service_day=day,
                                issued_at=at,
                                queue_at=at,
                            )
                        )
        db.session.commit()
    return n


def past_thursdays(weeks: int = WEEKS) -> list[date]:
    today = MORNING.date()
    return [today - timedelta(weeks=k) for k in range(1, weeks + 1)]


def answer_for(app: Flask, question: Question) -> Any:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        return compute_answer(store, question, MORNING)


THURSDAY = Question(weekday=3, history=WEEKS)


def test_history_days_are_the_same_weekday_or_the_same_day_of_the_month() -> None:
    today = date(2026, 11, 26)
    assert history_days(Question(weekday=3, history=2), today) == [
        date(2026, 11, 19),
        date(2026, 11, 12),
    ]
    assert history_days(Question(weekday=4, history=1), today) == [date(2026, 11, 20)]
    first = Question(day=date(2026, 12, 1), pattern=Pattern.MONTH_DAY, history=3)
    assert history_days(first, today) == [date(2026, 11, 1), date(2026, 10, 1), date(2026, 9, 1)]
    # The 31st: months without one are skipped.
    last = Question(day=date(2026, 12, 31), pattern=Pattern.MONTH_DAY, history=2)
    assert history_days(last, today) == [date(2026, 10, 31), date(2026, 8, 31)]


def test_arrivals_are_counted_per_hour_in_the_stores_zone(app: Flask) -> None:
    add_history(app, past_thursdays(), PATTERN)
    answer = answer_for(app, THURSDAY)
    assert answer.refusal is None and answer.used_days == WEEKS
    hours = {h.start // 60: h for h in answer.advice.hours}
    assert sorted(hours) == list(range(9, 18))  # the store's 9:00–18:00, local
    for hour, counts in PATTERN.items():
        assert hours[hour].arrivals == pytest.approx(sum(counts.values()))
    demand = answer.advice.demand
    assert demand.hours[1].arrivals == {k: float(v) for k, v in PATTERN[10].items()}


def hour_shares(demand: DayDemand, plan: Any) -> list[tuple[float | None, float | None]]:
    """The test's own run of the simulator: per hour (mean wait, share within target)."""
    scenario = scenario_for(demand, plan)
    setup = PolicySetup("ours", scenario.policy, scenario.counters)
    results = [simulate(scenario, setup, day_customers(demand, seed)) for seed in SEEDS]
    out: list[tuple[float | None, float | None]] = []
    for hour in demand.hours:
        lo, hi = hour.start - demand.open_at, hour.end - demand.open_at
        tickets = [t for r in results for t in r.tickets if lo <= t.customer.arrival < hi]
        waits = [wait_of(t) for t in tickets]
        served = [w for w in waits if w is not None]
        within = sum(1 for w in served if w <= demand.target)
        out.append(
            (
                sum(served) / len(served) if served else None,
                within / len(tickets) if tickets else None,
            )
        )
    return out


def strict_store(app: Flask, **values: Any) -> None:
    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        for name, value in values.items():
            setattr(store, name, value)
        db.session.commit()


def test_the_advice_meets_the_target_in_the_simulator_in_every_hour_it_claims(app: Flask) -> None:
    # A tight target, so that the simulation has work to do beyond Erlang C.
    strict_store(app, wait_target_minutes=4)
    add_history(app, past_thursdays(), PATTERN)
    advice: Advice = answer_for(app, THURSDAY).advice
    demand = advice.demand
    assert demand.target == 4 and demand.share == 0.8
    shares = hour_shares(demand, advice.staffing)
    for hour, (mean, share) in zip(advice.hours, shares, strict=True):
        assert len(hour.opened) == hour.counters
        assert hour.advice.within_target == pytest.approx(share)
        assert hour.advice.mean_wait == pytest.approx(mean)
        if hour.meets:
            assert share is None or share >= 0.8, hour
        else:
            assert hour.counters == len(demand.counters)  # short only with every counter open
        assert hour.counters >= min(hour.erlang, len(demand.counters))
    # The simulation did raise some hour above Erlang C here, and says why.
    raised = [h for h in advice.hours if h.counters > h.erlang]
    assert raised and all(h.why is not None for h in raised)


def test_the_current_plan_is_every_counter_in_every_hour(app: Flask) -> None:
    add_history(app, past_thursdays(), PATTERN)
    advice: Advice = answer_for(app, THURSDAY).advice
    everyone = frozenset(c.number for c in advice.demand.counters)
    assert everyone == {1, 2, 3, 4}
    shares = hour_shares(advice.demand, [everyone] * len(advice.hours))
    for hour, (mean, share) in zip(advice.hours, shares, strict=True):
        assert hour.current == 4
        assert hour.now.within_target == pytest.approx(share)
        assert hour.now.mean_wait == pytest.approx(mean)


def test_too_little_history_gets_an_honest_answer(app: Flask) -> None:
    add_history(app, past_thursdays(1), PATTERN)  # one day only
    answer = answer_for(app, THURSDAY)
    assert answer.advice is None and answer.refusal == "no_history"
    assert answer.used_days == 1


def test_a_closed_date_has_nothing_to_staff(app: Flask) -> None:
    strict_store(app, closed_dates=["2026-12-01"])
    add_history(app, past_thursdays(), PATTERN)
    answer = answer_for(app, Question(day=date(2026, 12, 1)))
    assert answer.advice is None and answer.refusal == "closed"


# --- the page -------------------------------------------------------------------------------------


class TableReader(HTMLParser):
    """The cells of the page's #s-table: header row, then each body row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", "s-table") in attrs:
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None


def table_of(html: str) -> list[list[str]]:
    reader = TableReader()
    reader.feed(html)
    return reader.rows


@pytest.fixture
def manager(app: Flask, client: FlaskClient, make: Factory) -> FlaskClient:
    make.user("boss", "demo", Role.MANAGER)
    assert login(client, "boss").status_code == 302
    return client


PAGE = "/s/demo/manage/staffing"


def test_the_page_shows_the_table_and_the_csv_is_the_table(
    app: Flask, manager: FlaskClient
) -> None:
    add_history(app, past_thursdays(), PATTERN)
    for lang, hour_header in (("zh", "时段"), ("en", "Hour")):
        page = manager.get(f"{PAGE}?weekday=3&history=4&lang={lang}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        table = table_of(html)
        assert table[0][0] == hour_header and len(table) == 1 + 9
        assert table[1][:2] == ["09:00–10:00", "8.0"]
        assert 'id="s-chart"' in html and "chart.umd.min.js" in html
        assert 'href="/s/demo/manage/staffing"' in html  # the nav link
        link = re.search(r'id="s-csv" href="([^"]+)"', html)
        assert link is not None
        download = manager.get(link[1].replace("&amp;", "&") + f"&lang={lang}")
        assert download.status_code == 200 and download.mimetype == "text/csv"
        body = download.get_data()
        assert body.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        assert rows == table


def test_the_page_says_when_there_is_too_little_history(manager: FlaskClient) -> None:
    html = manager.get(f"{PAGE}?weekday=3&history=4&lang=en").get_data(as_text=True)
    assert "Not enough history for advice: 0 tickets on 0 of the 4 days" in html
    assert 'id="s-table"' not in html and 'id="s-chart"' not in html
    zh = manager.get(f"{PAGE}?weekday=3&history=4&lang=zh").get_data(as_text=True)
    assert "历史数据不足" in zh


def test_a_clerk_gets_403_and_a_manager_of_another_store_404(
    app: Flask, client: FlaskClient, make: Factory
) -> None:
    make.user("desk", "demo", Role.CLERK)
    login(client, "desk")
    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE + ".csv").status_code == 403
    make.user("boss", "demo", Role.MANAGER)
    boss = app.test_client()
    login(boss, "boss")
    assert boss.get(PAGE).status_code == 200
    for url in ("/s/other/manage/staffing", "/s/other/manage/staffing.csv"):
        response = boss.get(url)
        assert response.status_code == 404, url
        assert "示范营业厅" not in response.get_data(as_text=True)
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize(
    ("query", "field", "en"),
    [
        ("history=0", "history", "A whole number from 1 to 12."),
        ("history=99999999999999999999", "history", "A whole number from 1 to 12."),
        ("history=abc", "history", "A whole number from 1 to 12."),
        ("history=4&day=2026-13-45", "day", "A date like 2026-12-01."),
        ("history=4&day=0001-01-01", "day", "Please choose a date between 2000 and 2100."),
        ("history=4&weekday=9", "weekday", "Please choose one of the list."),
        ("history=4&day=2026-12-01&pattern=yearly", "pattern", "Please choose one of the list."),
    ],
)
def test_bad_input_gets_a_form_error(manager: FlaskClient, query: str, field: str, en: str) -> None:
    for path in (PAGE, PAGE + ".csv"):
        page = manager.get(f"{path}?{query}&lang=en")
        assert page.status_code == 422
        assert field_error(page.get_data(as_text=True), field) == en
    zh = manager.get(f"{PAGE}?{query}&lang=zh")
    assert zh.status_code == 422 and field_error(zh.get_data(as_text=True), field) != en


def test_a_nul_byte_is_refused_before_the_form(manager: FlaskClient) -> None:
    page = manager.get(f"{PAGE}?history=4&day=2026-12-01%00&lang=en")
    assert page.status_code == 400
    assert "characters that are not allowed" in page.get_data(as_text=True)


def test_the_page_asks_about_tomorrow_by_default(app: Flask, manager: FlaskClient) -> None:
    add_history(app, past_thursdays(), PATTERN)
    add_history(app, [d + timedelta(days=1) for d in past_thursdays()], PATTERN)  # Fridays
    html = manager.get(PAGE + "?lang=en").get_data(as_text=True)
    assert re.search(r'<option [^>]*value="4"[^>]*>Friday</option>', html), re.findall(
        "<option[^>]*>", html
    )
    assert re.search(r'<option selected [^>]*value="4"|<option [^>]*value="4" selected', html)
    assert "Counters needed on Friday" in html
    only_history = manager.get(PAGE + "?history=2&lang=en")
    assert only_history.status_code == 200
    per_day = sum(sum(counts.values()) for counts in PATTERN.values())
    text = only_history.get_data(as_text=True)
    assert f"From {2 * per_day} tickets on 2 past days" in text and "on Friday" in text
