"""A rating at the counter (/s/<store>/counter/rate): the clerk's last completed visit, stored once,
tied to the ticket and the clerk; another clerk's or another store's ticket is refused."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend.extensions import db
from backend.models import Feedback

from .conftest import PASSWORD
from .factories import bearer, create_token, create_user, issue_ticket, sign_in_counter
from .test_api_tickets import extract_csrf

RATE = "/s/demo/counter/rate"


def log_in(app: Flask, username: str, store: str = "demo") -> tuple[FlaskClient, dict[str, str]]:
    """A clerk's browser session (the page) and a bearer token of theirs (the terminal's calls)."""
    create_user(app, username, store)
    client = app.test_client()
    csrf = extract_csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    return client, bearer(create_token(app, username))


def serve(client: FlaskClient, headers: dict[str, str], counter: int, store: str = "demo") -> dict:
    """Issue a ticket, call it to the clerk's counter and complete it; the completed ticket."""
    issued = issue_ticket(client, "A", store)
    sign_in_counter(client, headers, counter, store)
    called = client.post(
        f"/api/v1/stores/{store}/counters/{counter}/call-next", headers=headers
    ).json["ticket"]
    assert called["id"] == issued["id"]
    done = client.post(f"/api/v1/tickets/{called['id']}/complete", headers=headers)
    assert done.status_code == 200
    return issued


def post_rating(client: FlaskClient, page: str, **fields: object) -> object:
    form = {"csrf_token": extract_csrf(page), **fields}
    return client.post(RATE, data=form)


def ratings(app: Flask) -> list[tuple[int, int | None, int, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(
                Feedback.ticket_id,
                Feedback.clerk_id,
                Feedback.stars,
                Feedback.comment,
                Feedback.channel,
            )
        ).all()
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_clerks_last_visit_is_rated_once(app: Flask) -> None:
    client, headers = log_in(app, "desk")
    first = serve(client, headers, 1)
    last = serve(client, headers, 1)
    page = client.get(f"{RATE}?counter=1&lang=en").get_data(as_text=True)
    assert f"Number {last['label']}" in page and first["label"] not in page
    assert 'href="/s/demo/counter?counter=1"' in page  # back to the clerk's counter
    response = post_rating(
        client, page, ticket=last["id"], counter="1", stars="5", comment=" very kind "
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="rate-thanks"' in html and "★★★★★" in html
    assert 'id="rate-back" class="btn btn-primary btn-big" href="/s/demo/counter?counter=1"' in html
    with app.app_context():
        from backend.models import User

        clerk = db.session.scalar(select(User.id).where(User.username == "desk"))
    assert ratings(app) == [(last["id"], clerk, 5, "very kind", "counter")]
    # A second rating of the same visit is refused, like the phone's; nothing is added.
    again = post_rating(client, page, ticket=last["id"], counter="1", stars="1")
    assert again.status_code == 409
    assert "already rated" in again.get_data(as_text=True)
    phone = client.post(
        f"/api/v1/tickets/{last['id']}/feedback", json={"token": last["token"], "stars": 2}
    )
    assert phone.status_code == 409 and phone.json["error"] == "already_rated"
    assert len(ratings(app)) == 1
    shown = client.get(RATE).get_data(as_text=True)
    assert 'id="rate-done"' in shown and 'id="rate-form"' not in shown


def test_bad_input_is_a_form_error(app: Flask) -> None:
    client, headers = log_in(app, "desk")
    visit = serve(client, headers, 1)
    page = client.get(RATE).get_data(as_text=True)
    for stars in ("", "0", "6", "abc", "9" * 40):
        refused = post_rating(client, page, ticket=visit["id"], stars=stars)
        assert refused.status_code == 400
        assert "请点星星打分" in refused.get_data(as_text=True), refused.get_data(as_text=True)[
            -2500:
        ]
    too_long = post_rating(client, page, ticket=visit["id"], stars="3", comment="x" * 501)
    assert too_long.status_code == 400 and "最多 500 个字符" in too_long.get_data(as_text=True)
    for ticket in ("", "abc", "9" * 40, "\x00"):
        assert post_rating(client, page, ticket=ticket, stars="3").status_code == 400
    no_csrf = client.post(RATE, data={"ticket": visit["id"], "stars": "3"})
    assert no_csrf.status_code == 400
    assert ratings(app) == []


def test_only_the_clerks_own_visit_in_this_store(app: Flask) -> None:
    client, headers = log_in(app, "desk")
    mine = serve(client, headers, 1)
    other_client, other_headers = log_in(app, "desk2")
    theirs = serve(other_client, other_headers, 2)
    page = client.get(RATE).get_data(as_text=True)
    assert f"号码 {mine['label']}" in page
    stolen = post_rating(client, page, ticket=theirs["id"], stars="1")
    assert stolen.status_code == 403
    # Another store's visit: unknown here.
    far_client, far_headers = log_in(app, "far", "other")
    far = serve(far_client, far_headers, 1, "other")
    refused = post_rating(client, page, ticket=far["id"], stars="1")
    assert refused.status_code == 404
    assert client.get("/s/other/counter/rate").status_code == 403
    assert ratings(app) == []


def test_nothing_to_rate_yet_and_login_needed(app: Flask, client: FlaskClient) -> None:
    anonymous = client.get(RATE)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    desk, _ = log_in(app, "desk")
    page = desk.get(RATE).get_data(as_text=True)
    assert 'id="rate-none"' in page and 'id="rate-form"' not in page


def test_the_terminal_links_to_it(app: Flask) -> None:
    client, _ = log_in(app, "desk")
    page = client.get("/s/demo/counter?counter=1").get_data(as_text=True)
    link = re.search(r'id="rate-at-counter"[^>]*href="([^"]+)"', page)
    assert link and link.group(1).startswith("/s/demo/counter/rate?counter=1")
