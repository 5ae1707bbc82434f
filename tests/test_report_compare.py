"""Several stores side by side (administrators): each store's line computed by hand on the small
history of tests/test_reports.py, equal to that store's own report, the CSV equal to the page's
table, and who may see it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.extensions import db
from backend.policy import Role
from backend.reports.compare import MAX_COMPARED, compare_stores
from backend.stores.models import Store
from tests.factories import Factory
from tests.test_manager import field_error, login
from tests.test_reports import (
    MONDAY,
    RANGE,
    TUESDAY,
    csv_rows,
    history,  # noqa: F401  (the fixture)
    page_tables,
    report,
)

COMPARE = "/manage/compare"
BOTH = f"{RANGE}&store=demo&store=other"
# Every test here on the small history of tests/test_reports.py (Monday and Tuesday, demo).
pytestmark = pytest.mark.usefixtures("history")


@pytest.fixture
def root(app: Flask, client: FlaskClient, make: Factory) -> FlaskClient:
    make.user("root", None, Role.ADMIN)
    assert login(client, "root").status_code == 302
    return client


def lines(app: Flask, clock: Any, lang: str = "en") -> dict[str, list[Any]]:
    with app.test_request_context(f"/?lang={lang}"):
        stores = list(db.session.scalars(select(Store).order_by(Store.code)))
        table = compare_stores(stores, MONDAY, TUESDAY, lang, clock.now())
        return {s.code: row[1:] for s, row in zip(stores, table.rows, strict=True)}


def test_each_store_s_line_by_hand(app: Flask, clock: Any) -> None:
    got = lines(app, clock)
    assert len(got) == 2
    demo = got["demo"]
    # issued, wait mean / median / p90, target, within target, served, service mean, no-show,
    # walked away, appointments on time, stars, score, estimate MAE, inside the range
    assert demo[0] == 7
    assert demo[1:4] == [pytest.approx(10.0), pytest.approx(7.0), pytest.approx(30.0)]
    assert demo[4] == 20
    assert demo[5] == pytest.approx(5 / 6)
    assert demo[6] == 5
    assert demo[7] == pytest.approx(26 / 5)  # (3+6+12+2+3)/5
    assert demo[8] == pytest.approx(1 / 7)  # t5 missed its call
    assert demo[9] == pytest.approx(1 / 7)  # t4 cancelled while waiting
    assert demo[10] == pytest.approx(1 / 2)  # t7 called 3 min late, t6 7 min late
    assert demo[11] == pytest.approx(4.0)  # (5+4+2+5)/4
    assert demo[12] == pytest.approx(0.25)
    # promises: t1 5 vs 4 (inside 3-7), t2 6 vs 10 (outside 4-9), t3 25 vs 30 (inside 20-35),
    # t6 3 vs 2 (its first call; inside 2-5)
    assert demo[13] == pytest.approx((1 + 4 + 5 + 1) / 4)
    assert demo[14] == pytest.approx(3 / 4)
    # The other store has no visit in the range: counts of 0, and no made-up figure.
    assert got["other"] == [0, None, None, None, 20, None, 0, *[None] * 8]


def test_a_store_s_line_equals_its_own_report(app: Flask, clock: Any) -> None:
    summary = dict(report(app, clock).tables["summary"].rows)
    with app.test_request_context("/?lang=en"):
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        table = compare_stores([store], MONDAY, TUESDAY, "en", clock.now())
        (shown,) = table.text_rows()
    keys = [c.key for c in table.columns]
    line = dict(zip(keys, shown, strict=True))
    assert line["issued"] == summary["Tickets issued"]
    assert line["wait_mean"] == summary["Mean wait (min)"]
    assert line["wait_median"] == summary["Median wait"]
    assert line["wait_p90"] == summary["90th percentile wait"]
    assert line["within_target"] == summary["Called within the 20 min target"]
    assert line["served"] == summary["Served"]
    assert line["service_mean"] == summary["Mean service (min)"]
    assert line["stars"] == summary["Mean rating (stars)"]
    assert line["score"] == summary["Score: share of 5 stars minus share of 1–3 stars"]
    assert line["mae"] == summary["Estimate: mean absolute error (min)"]
    assert line["inside"] == summary["Estimate: inside the promised range"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_its_chart_and_its_csv(root: FlaskClient, lang: str) -> None:
    page = root.get(f"{COMPARE}?{BOTH}&lang={lang}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = page_tables(html)["compare"]
    answer = root.get(f"{COMPARE}.csv?{BOTH}&lang={lang}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert csv_rows(answer.data) == shown
    assert shown[0][0] == {"zh": "营业厅", "en": "Store"}[lang]
    assert [row[1] for row in shown[1:]] == ["7", "0"]  # tickets issued, demo then other
    config = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html)
    assert config is not None
    series = json.loads(config[1])["reports"]["stores_waits"]
    assert series["mean"] == [pytest.approx(10.0), None] and series["p90"] == [30.0, None]
    link = "/manage/compare.csv?from=2026-11-23&amp;to=2026-11-24&amp;store=demo&amp;store=other"
    assert link in html


def test_the_page_defaults_to_every_store_and_the_last_week(root: FlaskClient) -> None:
    html = root.get(f"{COMPARE}?lang=en").get_data(as_text=True)
    assert 'value="2026-11-19"' in html and 'value="2026-11-25"' in html  # the clock: Wednesday
    assert html.count('name="store"') == 2 and html.count("checked") == 2
    # demo (with Wednesday's 00:10 ticket, now inside the range) then other, by code
    assert [row[1] for row in page_tables(html)["compare"][1:]] == ["8", "0"]
    chain = root.get("/manage?lang=en").get_data(as_text=True)
    assert 'href="/manage/compare"' in chain


def test_only_one_store_when_one_is_ticked(root: FlaskClient) -> None:
    shown = page_tables(root.get(f"{COMPARE}?{RANGE}&store=other&lang=en").get_data(as_text=True))
    assert [row[1] for row in shown["compare"][1:]] == ["0"]


def test_managers_and_clerks_get_403(app: Flask, client: FlaskClient, make: Factory) -> None:
    for name, role in (("boss", Role.MANAGER), ("desk", Role.CLERK)):
        make.user(name, "demo", role)
        browser = app.test_client()
        login(browser, name)
        for lang, text in (("zh", "管理员"), ("en", "administrators")):
            for url in (COMPARE, f"{COMPARE}.csv"):
                answer = browser.get(f"{url}?{BOTH}&lang={lang}")
                assert answer.status_code == 403 and text in answer.get_data(as_text=True)
                assert b"amy" not in answer.data


@pytest.mark.parametrize(
    ("query", "field_id", "zh", "en"),
    [
        (RANGE, "store", "请至少选择一个营业厅", "Choose at least one store."),
        (f"{RANGE}&store=nowhere", "store", "不是可选的选项", "is not one of the choices"),
        ("from=2026-11-24&to=2026-11-23&store=demo", "to", "不能早于", "cannot be before"),
        ("from=2026-13-01&to=2026-11-24&store=demo", "from", "日期格式", "A date like"),
    ],
)
def test_bad_choices_are_form_errors_in_the_user_s_language(
    root: FlaskClient, query: str, field_id: str, zh: str, en: str
) -> None:
    for lang, text in (("zh", zh), ("en", en)):
        page = root.get(f"{COMPARE}?{query}&lang={lang}")
        assert page.status_code == 422
        html = page.get_data(as_text=True)
        if field_id == "store":
            assert text in html
        else:
            assert text in field_error(html, field_id)
        assert 'data-table="compare"' not in html
        answer = root.get(f"{COMPARE}.csv?{query}&lang={lang}")
        assert answer.status_code == 422 and text in answer.get_data(as_text=True)


def test_too_many_stores_are_refused(root: FlaskClient) -> None:
    query = "&".join(["store=demo"] * (MAX_COMPARED + 1))
    answer = root.get(f"{COMPARE}.csv?{RANGE}&{query}&lang=en")
    assert answer.status_code == 422
    assert f"At most {MAX_COMPARED} stores" in answer.get_data(as_text=True)
