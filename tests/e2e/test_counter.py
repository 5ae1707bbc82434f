"""The counter terminal in a real browser: log in, take over a counter, serve a customer with the
keyboard only, and two terminals pressing call next at the same moment."""

from __future__ import annotations

import re
import sqlite3
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from .conftest import LiveServer, new_page, shot

pytestmark = pytest.mark.browser


def terminal(browser: Browser, server: LiveServer, username: str, counter: int) -> Page:
    page = new_page(browser, 1366, 768, locale="zh-CN")
    page.goto(f"{server.url}/login?next=/s/demo/counter?counter={counter}")
    page.fill("#username", username)
    page.fill("#password", server.passwords[username])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/s/demo/counter"))
    return page


def wait_for(read, want: object = "张晓", seconds: float = 10.0):  # type: ignore[no-untyped-def]
    """Poll until `read()` gives `want` (the takeover's request may still be on its way)."""
    deadline = time.monotonic() + seconds
    value = read()
    while value != want and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def settled(page: Page) -> None:
    """The previous action's answer has arrived (the terminal ignores keys while one is out)."""
    expect(page.locator("#call-next")).to_be_enabled()


def issue(server: LiveServer, service: str) -> dict:
    return server.staff("manager", "/stores/demo/tickets", service=service, channel="staff")


def events_of(server: LiveServer, ticket_id: int) -> list[tuple[str, str]]:
    db_file = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db_file) as conn:
        rows = conn.execute(
            "SELECT e.action, u.username FROM ticket_event e LEFT JOIN user u ON u.id = e.actor_id"
            " WHERE ticket_id = ? ORDER BY e.id",
            (ticket_id,),
        ).fetchall()
    return [(action, user) for action, user in rows]


def test_a_visit_with_the_keyboard_only(browser: Browser, live_server: LiveServer) -> None:
    live_server.staff("clerk2", "/stores/demo/counters/1/sign-in")  # someone else holds it
    ticket = issue(live_server, "A")
    page = terminal(browser, live_server, "clerk1", 1)
    expect(page.locator("#takeover-dialog")).to_be_visible()
    shot(page, "counter-takeover")
    page.keyboard.press("Enter")  # the dialog's default button: take over
    expect(page.locator("#takeover-dialog")).to_be_hidden()
    expect(page.locator("body")).to_contain_text("张晓")
    assert wait_for(lambda: live_server.get("/stores/demo/snapshot")["counters"][0]["clerk"]) == (
        "张晓"
    )

    settled(page)  # signed in: the terminal takes keys again
    page.keyboard.press("F1")
    expect(page.locator("#current-label")).to_have_text("A001")
    settled(page)
    page.keyboard.press("F2")
    expect(page.locator("#recall-count")).to_contain_text("1")
    settled(page)
    page.keyboard.press("F3")
    expect(page.locator("#park")).to_be_enabled()  # parking is legal only while serving
    settled(page)
    page.keyboard.press("F6")
    expect(page.locator("#transfer-dialog")).to_be_visible()
    while page.locator("#transfer-service").input_value() != "C":
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#transfer-dialog")).to_be_hidden()

    def status_and_service() -> tuple[str, str]:
        found = live_server.get(f"/tickets/{ticket['token']}")
        return (found["status"], found["service"])

    assert wait_for(status_and_service, ("waiting", "C")) == ("waiting", "C")
    transferred = live_server.get(f"/tickets/{ticket['token']}")
    assert transferred["issued_at"] == ticket["issued_at"]

    settled(page)
    page.keyboard.press("F1")  # counter 1 (fast lane) helps the standard lane: the same customer
    expect(page.locator("#current-label")).to_have_text("A001")
    settled(page)
    page.keyboard.press("F4")
    expect(page.locator("#complete-dialog")).to_be_visible()
    shot(page, "counter-complete-dialog")
    page.keyboard.press("2")  # the second outcome: needs a follow-up visit
    page.keyboard.press("Enter")
    expect(page.locator("#complete-dialog")).to_be_hidden()
    assert wait_for(lambda: live_server.get(f"/tickets/{ticket['token']}")["status"], "done") == (
        "done"
    )
    expect(page.locator("#stats-served")).to_have_text("1")
    assert events_of(live_server, ticket["id"]) == [
        ("issue", "manager"),
        ("call", "clerk1"),
        ("recall", "clerk1"),
        ("start", "clerk1"),
        ("transfer", "clerk1"),
        ("call", "clerk1"),
        ("complete", "clerk1"),
    ]
    shot(page, "counter-after-visit")


def test_two_terminals_call_next_at_once(browser: Browser, live_server: LiveServer) -> None:
    first = terminal(browser, live_server, "clerk1", 1)
    second = terminal(browser, live_server, "clerk2", 2)
    for page in (first, second):
        expect(page.locator("#call-next")).to_be_enabled()
    issue(live_server, "A")
    issue(live_server, "B")
    expect(first.locator('#waiting-list [data-label="B001"]')).to_be_visible()
    expect(second.locator('#waiting-list [data-label="B001"]')).to_be_visible()
    # Both clicks are dispatched before either answer can arrive.
    for page in (first, second):
        page.evaluate("document.getElementById('call-next').click()")
    expect(first.locator("#current-label")).to_have_text(re.compile(r"^(A001|B001)$"))
    expect(second.locator("#current-label")).to_have_text(re.compile(r"^(A001|B001)$"))
    labels = {
        first.locator("#current-label").inner_text(),
        second.locator("#current-label").inner_text(),
    }
    assert labels == {"A001", "B001"}
    # A double click calls only one customer. (The customer at the counter is served first:
    # calling the next one ends a visit being served, never one only called.)
    first.keyboard.press("F3")
    expect(first.locator("#current-status")).to_have_attribute("data-status", "serving")
    settled(first)
    issue(live_server, "A")
    issue(live_server, "A")
    calls: list[Request] = []  # the page's call-next requests (their URLs carry ?lang=)
    first.on("request", lambda r: urlsplit(r.url).path.endswith("/call-next") and calls.append(r))
    first.locator("#call-next").dblclick()
    expect(first.locator("#current-label")).to_have_text("A002")
    # Whatever the second click sent went out before a request the page makes now; once that one
    # and every call-next request are answered, a second call would be on the server.
    first.evaluate("fetch('/api/v1/stores/demo/snapshot').then((r) => r.text())")
    for request in calls:
        request.response()  # waits for the answer
    waiting = [t["label"] for t in live_server.get("/stores/demo/snapshot")["waiting"]]
    assert waiting == ["A003"]
