"""Fixtures: an app on a real SQLite file, an injected clock, the demo store, staff and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.app import create_app
from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import User
from backend.policy import Role
from backend.queue.commands import register_kiosk
from backend.staff.auth import issue_api_token
from backend.stores.seed import seed_demo

# 09:00 in Shanghai on a weekday: the hall is open.
MORNING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}",
            "SECRET_KEY": "test-secret",
            "CLOCK": clock,
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo("demo", with_staff=False)
        seed_demo("other", with_staff=False)
        app.config["TEST_KIOSKS"] = {
            code: register_kiosk(code, f"test kiosk {code}") for code in ("demo", "other")
        }
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_user(app: Flask, username: str, store: str | None, role: Role = Role.CLERK) -> int:
    from sqlalchemy import select

    from backend.models import Store

    with app.app_context():
        user = User(username=username, display_name=username, role=role)
        if store:
            user.store = db.session.scalar(select(Store).where(Store.code == store))
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        return user.id


def token_for(app: Flask, username: str) -> str:
    from sqlalchemy import select

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None
        return issue_api_token(user, "test")


@pytest.fixture
def staff_headers(app: Flask) -> dict[str, str]:
    """Bearer headers of a clerk of the demo store."""
    make_user(app, "tester", "demo")
    return {"Authorization": f"Bearer {token_for(app, 'tester')}"}


def kiosk_headers(app: Flask, store: str = "demo") -> dict[str, str]:
    return {"X-Kiosk-Token": app.config["TEST_KIOSKS"][store]}


class Api:
    """Thin helper so tests read like the calls a kiosk or a counter makes."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def issue(self, service: str, store: str = "demo") -> dict[str, Any]:
        response = self.client.post(
            f"/api/v1/stores/{store}/tickets",
            json={"service": service},
            headers=kiosk_headers(self.client.application, store),
        )
        assert response.status_code == 201, response.json
        return response.json  # type: ignore[return-value]

    def sign_in(self, counter: int, store: str = "demo", takeover: bool = True) -> Any:
        return self.client.post(
            f"/api/v1/stores/{store}/counters/{counter}/sign-in",
            json={"takeover": takeover},
            headers=self.headers,
        )

    def call_next(self, counter: int, store: str = "demo") -> dict[str, Any]:
        """Sign in at the counter (moving there if needed), then call next."""
        assert self.sign_in(counter, store).status_code == 200
        response = self.client.post(
            f"/api/v1/stores/{store}/counters/{counter}/call-next", headers=self.headers
        )
        assert response.status_code == 200, response.json
        return response.json  # type: ignore[return-value]

    def act(self, ticket_id: int, action: str, **body: Any) -> Any:
        return self.client.post(
            f"/api/v1/tickets/{ticket_id}/{action}", json=body or None, headers=self.headers
        )

    def snapshot(self, store: str = "demo") -> dict[str, Any]:
        response = self.client.get(f"/api/v1/stores/{store}/snapshot")
        assert response.status_code == 200
        return response.json  # type: ignore[return-value]


@pytest.fixture
def api(client: FlaskClient, staff_headers: dict[str, str]) -> Api:
    return Api(client, staff_headers)
