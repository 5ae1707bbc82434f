"""Lockouts cannot be turned against others: wrong booking codes slow one kiosk down for a short
cool-down (the answer says how long), never refuse valid codes there for long; a staff account
locked by wrong passwords can be unlocked by a manager from the command line."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.core.clock import ManualClock

from .conftest import PASSWORD, kiosk_headers, make_user, sqlite_only
from .test_api_tickets import extract_csrf

SLOT_10 = "2026-11-27T02:00:00Z"  # 10:00 tomorrow in Shanghai
WRONG = "ZZZZZ9"
COOL_DOWN_LIMIT_S = 60  # the longest a kiosk may refuse a valid code after wrong ones


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Moves the wall clock the rate limits count with (they do not read the app's clock)."""
    real = time.time
    offset = [0.0]
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


@pytest.fixture
def code(client: FlaskClient, clock: ManualClock) -> str:
    """A booking code for 10:00 tomorrow, with the clock moved to 10:00 (check-in is open)."""
    body = {
        "service": "C",
        "start": SLOT_10,
        "name": "王小明",
        "phone": "13912345678",
        "consent": True,
    }
    response = client.post("/api/v1/stores/demo/appointments", json=body)
    assert response.status_code == 201, response.json
    clock.set(datetime.fromisoformat(SLOT_10))
    return str(response.json["code"])


def check_in(client: FlaskClient, code: str, headers: dict[str, str]) -> Any:
    return client.post("/api/v1/stores/demo/check-in", json={"code": code}, headers=headers)


class TestWrongCheckInCodes:
    @sqlite_only("moves the wall clock of an in-process limiter; Redis expires keys by its own")
    def test_five_wrong_codes_only_cool_the_kiosk_down_briefly(
        self, app: Flask, client: FlaskClient, code: str, wall_clock: Callable[[float], None]
    ) -> None:
        kiosk = kiosk_headers(app)
        assert [check_in(client, WRONG, kiosk).status_code for _ in range(5)] == [404] * 5
        refused = check_in(client, code, kiosk)
        assert refused.status_code == 429
        body = refused.json
        assert body["error"] == "rate_limited"  # what the check-in page shows as a notice
        assert 1 <= body["retry_after"] <= COOL_DOWN_LIMIT_S
        assert str(body["retry_after"]) in body["message"]  # the screen says how long
        assert 1 <= int(refused.headers["Retry-After"]) <= COOL_DOWN_LIMIT_S
        wall_clock(body["retry_after"] + 1)
        accepted = check_in(client, code, kiosk)
        assert accepted.status_code == 201, accepted.json
        assert accepted.json["lane"] == "appointment"

    def test_the_wait_is_told_in_the_callers_language(
        self, app: Flask, client: FlaskClient, code: str
    ) -> None:
        kiosk = kiosk_headers(app)
        for _ in range(5):
            check_in(client, WRONG, kiosk)
        zh = check_in(client, code, kiosk).json
        assert f"{zh['retry_after']} 秒" in zh["message"]
        en = check_in(client, code, kiosk | {"Accept-Language": "en"}).json
        assert f"wait {en['retry_after']} seconds" in en["message"]

    def test_wrong_codes_at_one_kiosk_do_not_slow_another(
        self, app: Flask, client: FlaskClient, code: str
    ) -> None:
        from backend.kiosks.operations import register_kiosk

        with app.app_context():
            second = {"X-Kiosk-Token": register_kiosk("demo", "Hall kiosk 2")}
        for _ in range(6):
            check_in(client, WRONG, kiosk_headers(app))
        assert check_in(client, code, second).status_code == 201

    def test_valid_codes_do_not_use_up_the_allowance(
        self, app: Flask, client: FlaskClient, code: str
    ) -> None:
        kiosk = kiosk_headers(app)
        assert check_in(client, code, kiosk).status_code == 201
        for _ in range(6):  # the same customer tapping again: told, never slowed down
            assert check_in(client, code, kiosk).json["error"] == "already_checked_in"


def login(client: FlaskClient, username: str, password: str) -> Any:
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf}
    )


class TestUnlockStaff:
    def test_a_manager_unlocks_a_locked_account_from_the_command_line(
        self, app: Flask, client: FlaskClient
    ) -> None:
        make_user(app, "desk", "demo")
        for _ in range(5):
            assert login(client, "desk", "wrong").status_code == 401
        assert login(client, "desk", PASSWORD).status_code == 429  # locked for 15 minutes
        result = app.test_cli_runner().invoke(args=["unlock-user", "desk"])
        assert result.exit_code == 0, result.output
        assert "desk unlocked" in result.output
        landed = login(client, "desk", PASSWORD)
        assert landed.status_code == 302  # logged in at once, same password

    def test_unlocking_forgets_the_wrong_passwords_so_far(
        self, app: Flask, client: FlaskClient
    ) -> None:
        make_user(app, "desk", "demo")
        for _ in range(4):
            login(client, "desk", "wrong")
        result = app.test_cli_runner().invoke(args=["unlock-user", "desk"])
        assert "was not locked" in result.output
        for _ in range(4):  # four more: still short of a lock
            assert login(client, "desk", "wrong").status_code == 401
        assert login(client, "desk", PASSWORD).status_code == 302

    def test_an_unknown_account(self, app: Flask) -> None:
        result = app.test_cli_runner().invoke(args=["unlock-user", "nobody"])
        assert result.exit_code == 1
        assert "nobody" in result.output

    def test_unlock_user_is_one_write(self, app: Flask, client: FlaskClient) -> None:
        from backend.staff.operations import unlock_user

        make_user(app, "desk", "demo")
        for _ in range(5):
            login(client, "desk", "wrong")
        with app.app_context():
            result = unlock_user("desk")
        assert result.username == "desk" and result.was_locked_until is not None
        assert login(client, "desk", PASSWORD).status_code == 302
