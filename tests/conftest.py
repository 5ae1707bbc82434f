"""Fixtures: an app on a real SQLite file, an injected clock, the demo store, staff and tokens."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend.app import create_app
from backend.core.clock import ManualClock
from backend.extensions import db, limiter
from backend.kiosks.operations import register_kiosk
from backend.live.publisher import PUBLISHER
from backend.policy import Role
from backend.stores.seed import seed_demo

from . import factories
from .factories import PASSWORD, kiosk_headers

__all__ = ["MORNING", "PASSWORD", "Api", "kiosk_headers", "make_user", "token_for"]

# The tier the suite runs on: "sqlite" (the embedded default: a new SQLite file per test) or
# "scale" (PostgreSQL, one database per xdist worker emptied before each test, and Redis for the
# rate limits and the projection lease, each test under its own key prefix). `make test` runs both.
TIER = os.environ.get("HALLQUEUE_TEST_TIER", "sqlite")
if TIER not in ("sqlite", "scale"):
    raise RuntimeError("HALLQUEUE_TEST_TIER must be sqlite or scale")
PG_SERVER = os.environ.get("HALLQUEUE_TEST_PG", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HALLQUEUE_TEST_REDIS", "redis://127.0.0.1:6379/0")

# 09:00 in Shanghai on a weekday: the hall is open.
MORNING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
# A cheap hash for the many staff accounts tests create (scrypt costs ~0.1 s each).
FAST_PASSWORD_HASH = "pbkdf2:sha256:1000"


# The two longest tests (minutes each, the rest take seconds): under xdist they go to the two ends
# of the collection, so that each worker's share begins or ends with one of them ("--dist
# worksteal" splits it in halves, then idle workers take from the others' tails).
LONGEST = {
    "sqlite": (
        "tests/test_race.py::test_eight_counters_call_2000_tickets_each_exactly_once",
        "tests/test_race.py::test_eight_kiosks_issue_2000_distinct_gapless_labels",
    ),
    "scale": (
        "tests/test_race_processes.py::test_four_processes_issue_then_call_4000_tickets",
        "tests/test_crash_safety.py::test_sigkill_under_load_loses_nothing_and_makes_nothing_twice",
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    head, tail = LONGEST[TIER]
    first = [item for item in items if item.nodeid == head]
    last = [item for item in items if item.nodeid == tail]
    items[:] = first + [item for item in items if item.nodeid not in (head, tail)] + last


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


def scale_only(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(TIER != "scale", reason=reason)


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(TIER != "sqlite", reason=reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """The scale tier's PostgreSQL database for this worker, created with the schema of the
    migrations (None on the SQLite tier: each test has its own file)."""
    if TIER != "scale":
        yield None
        return
    # Per worker and per run: two runs on one server (two checkouts) never share a database.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:8]
    name = f"hq_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{run}"
    url = factories.fresh_postgres_database(PG_SERVER, name)
    factories.migrate(url, tmp_path_factory.mktemp("pg-instance"))
    yield url
    factories.drop_postgres_database(PG_SERVER, name)


def tier_config(tmp_path: Path, database_url: str | None) -> dict[str, Any]:
    """The settings that differ between the tiers (database, rate-limit store, lease)."""
    if database_url is None:
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'test.db'}"}
    prefix = f"hqt-{os.urandom(6).hex()}"
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": prefix,
        "PROJECTION_LEASE_URL": REDIS_URL,
        "PROJECTION_LEASE_NAMESPACE": prefix,
    }


@pytest.fixture
def app(tmp_path: Path, clock: ManualClock, database_url: str | None) -> Iterator[Flask]:
    # Flask-Limiter keeps the first app's key prefix on its one global object; each test's app
    # brings its own (one app per process in production, so this is a test-only reset).
    limiter._key_prefix = None
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret",
            "CLOCK": clock,
            "LIVE_PROJECTION_DELAY": None,
            "API_VALIDATE_RESPONSES": "raise",
            "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
            **tier_config(tmp_path, database_url),
        }
    )
    with app.app_context():
        if database_url is None:
            db.create_all()
        else:
            factories.empty_database()
        seed_demo("demo", with_staff=False)
        seed_demo("other", with_staff=False)
        app.config["TEST_KIOSKS"] = {
            code: register_kiosk(code, f"test kiosk {code}") for code in ("demo", "other")
        }
        db.session.remove()
    yield app
    PUBLISHER.wait_idle(30)  # a debounced projection still pending would find its database gone
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_user(app: Flask, username: str, store: str | None, role: Role = Role.CLERK) -> int:
    return factories.create_user(app, username, store, role)


def token_for(app: Flask, username: str) -> str:
    return factories.create_token(app, username)


@pytest.fixture
def staff_headers(app: Flask) -> dict[str, str]:
    """Bearer headers of a clerk of the demo store."""
    return factories.staff_headers(app, "tester", "demo")


@pytest.fixture
def make(app: Flask, client: FlaskClient, clock: ManualClock) -> factories.Factory:
    """Tickets, staff, tokens, counters and appointments for this test (tests/factories.py)."""
    return factories.Factory(app, client, clock)


class Api:
    """Thin helper so tests read like the calls a kiosk or a counter makes."""

    def __init__(self, client: FlaskClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def issue(self, service: str, store: str = "demo") -> dict[str, Any]:
        return factories.issue_ticket(self.client, service, store)

    def issue_as_staff(self, service: str, store: str = "demo") -> dict[str, Any]:
        """A ticket staff issue for a customer (VIP is not taken at the public kiosk)."""
        response = self.client.post(
            f"/api/v1/stores/{store}/tickets",
            json={"service": service, "channel": "staff"},
            headers=self.headers,
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
        """Sign in at the counter (moving there if needed), then call next. A customer still
        only called there is first served (started), as the clerk would: call-next never
        completes a visit that has not begun."""
        assert self.sign_in(counter, store).status_code == 200
        url = f"/api/v1/stores/{store}/counters/{counter}/call-next"
        response = self.client.post(url, headers=self.headers)
        if response.status_code == 409 and response.json["error"] == "still_called":
            assert self.act(response.json["ticket"], "start").status_code == 200
            response = self.client.post(url, headers=self.headers)
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
