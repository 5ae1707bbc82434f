"""Factories for what most tests start from: a ticket, a clerk and a token, a signed-in counter, an
appointment and its check-in. Each goes through the same door a user does (the HTTP API) unless
there is none (staff accounts), and asserts it worked, so a test's set-up fails loudly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.models import Store, User
from backend.policy import Role
from backend.staff.auth import issue_api_token

PASSWORD = "correct horse battery"


# --- the scale tier's PostgreSQL ----------------------------------------------------------------


def _server(server_url: str) -> Any:
    return create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def fresh_postgres_database(server_url: str, name: str) -> str:
    """An empty database `name` on the server of `server_url` (dropped first if a run left it),
    and its URL."""
    engine = _server(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, name: str) -> None:
    engine = _server(server_url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def migrate(url: str, instance: Path) -> None:
    """The schema as production builds it: the migrations, not create_all."""
    from flask_migrate import upgrade

    from backend.app import MIGRATIONS_DIR, create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "x"}
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        db.session.remove()
        db.engine.dispose()


def empty_database() -> None:
    """Every table of the app's PostgreSQL database emptied, its sequences back at 1 (between
    tests: far cheaper than a new database)."""
    tables = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
    db.session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.session.commit()


# A booking needs a name and a valid mainland mobile number.
NAME, PHONE = "王小明", "13912345678"


def store_id(app: Flask, code: str = "demo") -> int:
    with app.app_context():
        return int(db.session.scalar(select(Store.id).where(Store.code == code)))


def projection_of(app: Flask, code: str = "demo") -> Any:
    """The store's current projection (the read model every screen is drawn from)."""
    from backend.queue import readmodel

    ident = store_id(app, code)
    with app.app_context():
        found = readmodel.projection(ident)
        db.session.remove()
    return found


def kiosk_headers(app: Flask, store: str = "demo") -> dict[str, str]:
    """The headers of the registered kiosk the `app` fixture sets up for `store`."""
    return {"X-Kiosk-Token": app.config["TEST_KIOSKS"][store]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def issue_ticket(
    client: FlaskClient, service: str, store: str = "demo", **body: Any
) -> dict[str, Any]:
    """Print a ticket at the store's kiosk; its JSON."""
    response = client.post(
        f"/api/v1/stores/{store}/tickets",
        json={"service": service, **body},
        headers=kiosk_headers(client.application, store),
    )
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[return-value]


def create_user(
    app: Flask,
    username: str,
    store: str | None = "demo",
    role: Role = Role.CLERK,
    password: str = PASSWORD,
) -> int:
    """A staff account (there is no public door for that); its id."""
    with app.app_context():
        user = User(username=username, display_name=username, role=role)
        if store:
            user.store = db.session.scalar(select(Store).where(Store.code == store))
            assert user.store is not None, store
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user.id


def create_token(app: Flask, username: str, name: str = "test") -> str:
    """A fresh API token of an existing user."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return issue_api_token(user, name)


def staff_headers(
    app: Flask, username: str, store: str | None = "demo", role: Role = Role.CLERK
) -> dict[str, str]:
    """A new staff user with `role` in `store`, as the bearer headers of a token of theirs."""
    create_user(app, username, store, role)
    return bearer(create_token(app, username))


def sign_in_counter(
    client: FlaskClient,
    headers: dict[str, str],
    counter: int,
    store: str = "demo",
    takeover: bool = True,
) -> dict[str, Any]:
    """Sign the clerk of `headers` in at `counter`; the answer's JSON."""
    response = client.post(
        f"/api/v1/stores/{store}/counters/{counter}/sign-in",
        json={"takeover": takeover},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    return response.json  # type: ignore[return-value]


def booking_body(
    start: str, service: str = "C", name: str = NAME, phone: str = PHONE, **extra: Any
) -> dict[str, Any]:
    """What the booking page sends for the slot starting at `start` (ISO, UTC)."""
    body = {"service": service, "start": start, "name": name, "phone": phone, "consent": True}
    return body | extra


def book_appointment(
    client: FlaskClient, start: str, store: str = "demo", **body: Any
) -> dict[str, Any]:
    """Book the slot starting at `start` as a customer does; the confirmation's JSON."""
    response = client.post(f"/api/v1/stores/{store}/appointments", json=booking_body(start, **body))
    assert response.status_code == 201, response.json
    return response.json  # type: ignore[return-value]


def check_in(client: FlaskClient, code: str, store: str = "demo") -> Any:
    """Type a booking code at the store's kiosk; the raw response (check-in may be refused)."""
    return client.post(
        f"/api/v1/stores/{store}/check-in",
        json={"code": code},
        headers=kiosk_headers(client.application, store),
    )


def checked_in_appointment(
    client: FlaskClient, clock: ManualClock, start: str, store: str = "demo", **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Book `start` now, then move the clock to `start` (inside the check-in window) and check in
    at the kiosk; the booking's and the ticket's JSON."""
    booking = book_appointment(client, start, store, **body)
    clock.set(datetime.fromisoformat(start))
    response = check_in(client, booking["code"], store)
    assert response.status_code == 201, response.json
    return booking, response.json


@dataclass
class Factory:
    """The factories bound to one test's app, client and clock (the `make` fixture)."""

    app: Flask
    client: FlaskClient
    clock: ManualClock

    def ticket(self, service: str = "A", store: str = "demo", **body: Any) -> dict[str, Any]:
        return issue_ticket(self.client, service, store, **body)

    def user(self, username: str, store: str | None = "demo", role: Role = Role.CLERK) -> int:
        return create_user(self.app, username, store, role)

    def token(self, username: str) -> str:
        return create_token(self.app, username)

    def staff(
        self, username: str, store: str | None = "demo", role: Role = Role.CLERK
    ) -> dict[str, str]:
        return staff_headers(self.app, username, store, role)

    def counter(
        self, headers: dict[str, str], number: int, store: str = "demo", takeover: bool = True
    ) -> dict[str, Any]:
        return sign_in_counter(self.client, headers, number, store, takeover)

    def appointment(self, start: str, store: str = "demo", **body: Any) -> dict[str, Any]:
        return book_appointment(self.client, start, store, **body)

    def checked_in(
        self, start: str, store: str = "demo", **body: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return checked_in_appointment(self.client, self.clock, start, store, **body)


# --- what a socket client sees ------------------------------------------------------------------


def as_seen(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Socket.IO test client's messages as the browser's live.js handles them: a `steps` frame
    (one command's several thin events) becomes its thin events, in order."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message["name"] != "steps":
            out.append(message)
            continue
        frame = message["args"][0]
        out += [{**message, "name": e["event"], "args": [e]} for e in frame["events"]]
    return out
