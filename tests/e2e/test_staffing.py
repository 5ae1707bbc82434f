"""Staffing advice in a real browser at 1366×768: a manager opens 排班建议 from the console's
navigation, asks about a weekday with four weeks of history, and sees the chart of counters
needed against the counters the store has and the table; in both languages, no serious
accessibility violation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from backend.app import create_app
from backend.core.db import write_transaction
from backend.extensions import db
from backend.models import Store, Ticket

from .conftest import LiveServer, axe_violations, shot
from .test_manager import console
from .test_manager_days import store_today

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tickets per local hour on each past day: a morning and an afternoon peak.
PER_HOUR = {9: 8, 10: 26, 11: 30, 12: 12, 13: 10, 14: 16, 15: 28, 16: 14, 17: 6}
SERVICES = ("A", "A", "A", "B", "C", "C", "D", "V")


def add_history(server: LiveServer, days: list[date]) -> None:
    """Past tickets written into the live server's database (as days of business would)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": server.env["DATABASE_URL"], "TESTING": True})
    # One write transaction begun with the write lock (waiting for the server's own writes):
    # a read that later turns into a write could be refused at once by SQLite.
    with app.app_context(), write_transaction():
        store = db.session.scalar(select(Store).where(Store.code == "demo"))
        assert store is not None
        services = {s.code: s for s in store.services}
        n = 0
        for day in days:
            for hour, count in PER_HOUR.items():
                for k in range(count):
                    n += 1
                    service = services[SERVICES[k % len(SERVICES)]]
                    local = datetime(day.year, day.month, day.day, hour, (k * 60) // count)
                    at = local.replace(tzinfo=SHANGHAI).astimezone(UTC)
                    db.session.add(
                        Ticket(
                            store_id=store.id,
                            service_id=service.id,
                            lane=service.lane,
                            label=f"H{n:04d}",
                            number=n,
                            service_day=day,
                            issued_at=at,
                            queue_at=at,
                        )
                    )
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def chart_datasets(page: Page) -> list[dict]:
    return page.evaluate(
        "() => Chart.getChart('s-chart').data.datasets.map(d => ({label: d.label, data: d.data}))"
    )


def test_a_manager_reads_the_staffing_advice_with_its_chart(
    browser: Browser, live_server: LiveServer
) -> None:
    tomorrow = store_today(live_server) + timedelta(days=1)
    add_history(live_server, [tomorrow - timedelta(weeks=k) for k in range(1, 5)])
    page = console(browser, live_server)
    page.get_by_role("link", name="排班建议", exact=True).click()
    expect(page.locator("h1")).to_have_text("排班建议")
    page.select_option("#weekday", str(tomorrow.weekday()))
    page.fill("#history", "4")
    page.get_by_role("button", name="查看建议").click()
    expect(page.locator("#s-chart")).to_have_attribute("data-ready", "true")
    rows = page.locator("#s-table tbody tr")
    expect(rows).to_have_count(len(PER_HOUR))
    expect(rows.first.locator("th")).to_have_text("09:00–10:00")
    datasets = chart_datasets(page)
    assert [d["label"] for d in datasets] == ["建议窗口数（模拟）", "Erlang C 窗口数", "现有窗口数"]
    # The chart shows the table's figures: advised counters (column 4), current (column 5).
    advised = [int(x) for x in rows.locator("td:nth-child(4)").all_inner_texts()]
    assert datasets[0]["data"] == advised and datasets[2]["data"] == [4] * len(PER_HOUR)
    assert max(advised) > min(advised)  # the peaks need more counters than the quiet hours
    assert axe_violations(page) == []
    shot(page, "manager-staffing-zh")
    page.locator("#s-table").scroll_into_view_if_needed()
    shot(page, "manager-staffing-table-zh")

    page.goto(page.url + "&lang=en")
    expect(page.locator("h1")).to_have_text("Staffing advice")
    expect(page.locator("#s-chart")).to_have_attribute("data-ready", "true")
    assert [d["label"] for d in chart_datasets(page)][2] == "Counters now"
    assert axe_violations(page) == []
    shot(page, "manager-staffing-en")
    page.locator("#s-table").scroll_into_view_if_needed()
    shot(page, "manager-staffing-table-en")


def test_too_little_history_is_said_in_words(browser: Browser, live_server: LiveServer) -> None:
    page = console(browser, live_server)
    page.goto(f"{live_server.url}/s/demo/manage/staffing?lang=en")
    expect(page.locator("#s-refusal")).to_contain_text("Not enough history for advice")
    expect(page.locator("#s-chart")).to_have_count(0)
    shot(page, "manager-staffing-no-history-en")
