"""Off-peak hints: the quiet hours of the booking page also on the printed ticket after a long
wait, the join page and the ticket page — only with enough history, only hours still ahead and
open, in the customer's language, read from history at most once per store and hour."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.bookings import queries
from backend.core.clock import ManualClock
from tests.conftest import MORNING, Api
from tests.test_staffing import PATTERN, add_history, strict_store

# PATTERN's quiet hours (the lowest third of tickets per hour): 09, 12–13 and 17.
QUIET = re.compile(r'<p id="quiet-hint" class="quiet-hint[^"]*">([^<]*)</p>')


def with_history(app: Flask) -> None:
    today = MORNING.date()
    add_history(app, [today - timedelta(days=d) for d in range(1, 8)], PATTERN)


def hint(client: FlaskClient, url: str) -> str | None:
    response = client.get(url)
    assert response.status_code == 200
    found = QUIET.search(response.get_data(as_text=True))
    return found[1].strip() if found else None


def test_the_join_and_ticket_pages_name_the_next_quiet_hours(
    app: Flask, client: FlaskClient, api: Api, clock: ManualClock
) -> None:
    with_history(app)
    clock.advance(minutes=20)  # 09:20: the 09:00 hour has begun, so it is not offered
    ticket = api.issue("A")
    assert hint(client, "/s/demo/join?lang=en") == "Usually quiet: today 12:00–14:00."
    assert hint(client, "/s/demo/join?lang=zh") == "通常人较少的时段：今天 12:00–14:00。"
    status = hint(client, f"/t/{ticket['token']}?lang=en")
    assert status == "For your next visit: Usually quiet: today 12:00–14:00."
    assert hint(client, f"/t/{ticket['token']}?lang=zh") == (
        "下次来访参考： 通常人较少的时段：今天 12:00–14:00。"
    )


def test_after_the_last_quiet_hour_began_the_hint_names_tomorrow_morning(
    app: Flask, client: FlaskClient, clock: ManualClock
) -> None:
    with_history(app)
    clock.advance(hours=8, minutes=1)  # 17:01: the 17:00 hour has begun, the hall shuts at 18
    assert hint(client, "/s/demo/join?lang=en") == "Usually quiet: tomorrow 09:00–10:00."


def test_a_closed_day_is_never_named(app: Flask, client: FlaskClient, clock: ManualClock) -> None:
    with_history(app)
    strict_store(app, closed_dates=["2026-11-27"])  # tomorrow, a Friday
    clock.advance(hours=8, minutes=1)
    assert hint(client, "/s/demo/join?lang=en") == "Usually quiet: Saturday 09:00–10:00."
    assert hint(client, "/s/demo/join?lang=zh") == "通常人较少的时段：星期六 09:00–10:00。"


def test_special_hours_keep_the_hint_inside_them(
    app: Flask, client: FlaskClient, clock: ManualClock
) -> None:
    with_history(app)
    # Today only 13:00–16:00: 12:00 is closed, 13:00 the one quiet hour left open.
    strict_store(app, special_hours={MORNING.date().isoformat(): [["13:00", "16:00"]]})
    assert hint(client, "/s/demo/join?lang=en") == "Usually quiet: today 13:00–14:00."


def test_no_hint_without_history(app: Flask, client: FlaskClient, api: Api) -> None:
    ticket = api.issue("A")
    for lang in ("en", "zh"):
        assert hint(client, f"/s/demo/join?lang={lang}") is None
        assert hint(client, f"/t/{ticket['token']}?lang={lang}") is None
    # A few days are not enough either (the booking page's own threshold).
    add_history(app, [date(2026, 11, 25)], {9: {"A": 5}, 10: {"A": 20}})
    assert hint(client, "/s/demo/join?lang=en") is None


def long_queue(app: Flask, api: Api, target: int, tickets: int) -> dict:
    strict_store(app, wait_target_minutes=target)
    assert api.sign_in(3).status_code == 200  # one staffed counter
    last = {}
    for _ in range(tickets):
        last = api.issue("C")  # 12 minutes each
    return last


def test_the_printed_ticket_gives_the_hint_only_after_a_long_wait(
    app: Flask, client: FlaskClient, api: Api, clock: ManualClock
) -> None:
    with_history(app)
    clock.advance(minutes=20)
    first = long_queue(app, api, target=20, tickets=1)
    assert first["eta_minutes"] is not None and first["eta_minutes"][-1] <= 20
    assert hint(client, f"/s/demo/kiosk/ticket/{first['token']}?lang=en") is None
    late = long_queue(app, api, target=20, tickets=4)
    assert late["eta_minutes"][-1] > 20
    en = hint(client, f"/s/demo/kiosk/ticket/{late['token']}?lang=en")
    assert en == "The wait is long right now. Usually quiet: today 12:00–14:00."
    zh = hint(client, f"/s/demo/kiosk/ticket/{late['token']}?lang=zh")
    assert zh == "现在等候时间较长。 通常人较少的时段：今天 12:00–14:00。"


def test_history_is_read_once_per_store_and_hour(
    app: Flask, client: FlaskClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_history(app)
    calls: list[str] = []
    real = queries.busy_profile

    def counted(store, moment):  # type: ignore[no-untyped-def]
        calls.append(store.code)
        return real(store, moment)

    monkeypatch.setattr(queries, "busy_profile", counted)
    for _ in range(3):
        assert hint(client, "/s/demo/join?lang=en") is not None
        client.get("/api/v1/stores/demo/booking")
    assert calls == ["demo"]
    hint(client, "/s/other/join?lang=en")
    assert calls == ["demo", "other"]
    clock.advance(hours=1)
    hint(client, "/s/demo/join?lang=en")
    assert calls == ["demo", "other", "demo"]
