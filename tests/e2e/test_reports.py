"""The console's reports in a real browser at 1366×768: a morning's visits (issued with counters
open, served after the server's clock moved on, one rated) make the page draw its charts in both
languages; a table's CSV downloads with the page's rows; a reversed range shows its error next to
the field; no accessibility violation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from .conftest import LiveServer, axe_violations, shot
from .test_manager_floor import issue, log_in, morning

pytestmark = pytest.mark.browser


@pytest.fixture
def served_morning(tmp_path: Path) -> Iterator[LiveServer]:
    """Six tickets issued at 10:00 with counters 1 and 3 open; the server restarted at 10:12 and
    10:31 (its clock moved on), the tickets called, served and one rated in between."""
    server = LiveServer(tmp_path, clock_start=morning(0))
    server.start()
    try:
        server.staff("clerk1", "/stores/demo/counters/1/sign-in")
        server.staff("clerk2", "/stores/demo/counters/3/sign-in")
        tickets = [issue(server, s) for s in "AACCAB"]
        assert all(t["eta_minutes"] for t in tickets)  # each was promised an estimate
        for minutes, counter, clerk in ((12, 1, "clerk1"), (31, 3, "clerk2")):
            server.stop()
            server.env["HALLQUEUE_CLOCK_START"] = morning(minutes)
            server.start()
            for _ in range(2):
                called = server.staff(clerk, f"/stores/demo/counters/{counter}/call-next")
                visit = called["ticket"]
                server.staff(clerk, f"/tickets/{visit['id']}/start")
                server.staff(clerk, f"/tickets/{visit['id']}/complete")
        done = next(t for t in tickets if t["id"] == visit["id"])
        rated = requests.post(
            f"{server.url}/api/v1/tickets/{done['id']}/feedback",
            json={"token": done["token"], "stars": 4, "comment": "很快"},
            timeout=10,
        )
        assert rated.status_code == 201, rated.text
        yield server
    finally:
        server.stop()


def test_the_reports_page_draws_its_charts_and_downloads_a_table(
    browser: Browser, served_morning: LiveServer
) -> None:
    server = served_morning
    page = log_in(browser, server, "manager", "/s/demo/manage/reports")
    for lang in ("zh", "en"):
        page.goto(f"{server.url}/s/demo/manage/reports?lang={lang}")
        # Datasets drawn: mean, p90 and arrivals; error and bias; the star counts.
        for chart, datasets in (
            ("r-chart-waits", 3),
            ("r-chart-accuracy", 2),
            ("r-chart-ratings", 1),
        ):
            canvas = page.locator(f"#{chart}")
            expect(canvas).to_have_attribute("data-drawn", str(datasets))
            # Drawn: the canvas has coloured pixels (not a blank bitmap).
            painted = canvas.evaluate(
                """c => {
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0;
                  for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
                  return n;
                }"""
            )
            assert painted > 500, (chart, painted)
        waits = page.locator('[data-chart="waits_by_hour"]')
        assert waits.evaluate("c => c.width") > 300
        heading = "报表" if lang == "zh" else "Reports"
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator(".m-nav a[aria-current=page]")).to_have_text(heading)
        issued = "取号数" if lang == "zh" else "Tickets issued"
        expect(page.locator(".r-figure", has_text=issued).locator("dd")).to_have_text("6")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        assert axe_violations(page) == []
        shot(page, f"manager-reports-{lang}-1366")
        page.locator("#r-by_service").scroll_into_view_if_needed()
        shot(page, f"manager-reports-tables-{lang}-1366")

    # The by-service table as CSV: the rows the page shows, headings in English here.
    rows = page.locator('table[data-table="by_service"] tr').evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    with page.expect_download() as download:
        page.locator("#r-by_service a.r-csv").click()
    body = Path(download.value.path()).read_bytes()
    assert body.startswith("\ufeff".encode())
    assert list(csv.reader(io.StringIO(body.decode("utf-8")[1:]))) == rows
    assert rows[0][:2] == ["Service", "Arrivals"] and len(rows) == 4  # A, B, C

    page.fill("#from", "2026-12-31")
    page.fill("#to", "2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#to-error")).to_contain_text("cannot be before")
    expect(page.locator("canvas")).to_have_count(0)
    shot(page, "manager-reports-error-en-1366")
