"""The wait a kiosk's button shows for a new ticket is the wait the ticket prints: the forward
run's wait for a stand-in at the end of its lane, with the sampled band of the ticket it would
be called after (as the ticket's own estimate takes it), not a fixed band of its own."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from backend.core.clock import ManualClock
from backend.policy.eta import WaitForecast

from .conftest import Api
from .factories import Factory, projection_of

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def button(make: Factory, code: str) -> list[int]:
    listed = make.client.get("/api/v1/stores/demo/services").json["services"]
    return next(s["eta_minutes"] for s in listed if s["code"] == code)


def test_the_button_shows_what_the_ticket_it_prints_then_says(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    """10:00, counter 3 alone: a plan change begun, three waiting. The button's range is the
    sampled one (not 0.8-1.3 times the point run), and the ticket taken next says the same."""
    clock.set(NOW)
    first = api.issue_as_staff("C")["id"]
    assert api.call_next(3)["ticket"]["id"] == first
    assert api.act(first, "start").status_code == 200
    for _ in range(3):
        api.issue_as_staff("C")
    found = projection_of(app)
    plan_change = next(s.id for s in found.services if s.code == "C")
    point = found.waits_now[plan_change]
    shown = button(make, "C")
    assert shown != list(WaitForecast(point, point * 0.8, point * 1.3 + 1).as_range())  # not fixed
    ticket = make.ticket("C")
    assert ticket["eta_minutes"] == shown
    # The phone's page says it too.
    view = make.client.get(f"/api/v1/tickets/{ticket['token']}").json
    assert view["eta_minutes"] == shown


def test_with_nobody_waiting_the_fixed_band_is_kept(
    app: Flask, api: Api, make: Factory, clock: ManualClock
) -> None:
    """Nobody waiting: there is no ticket to take a band from; a new ticket waits for counter 3's
    visit under way (12 min), shown as 0.8 to 1.3 times it."""
    clock.set(NOW)
    first = api.issue_as_staff("C")["id"]
    assert api.call_next(3)["ticket"]["id"] == first
    assert api.act(first, "start").status_code == 200
    found = projection_of(app)
    plan_change = next(s.id for s in found.services if s.code == "C")
    assert found.waits_now[plan_change] == 12.0
    assert plan_change not in found.waits_band
    assert button(make, "C") == [9, 17]
