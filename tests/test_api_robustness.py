"""Bad input never becomes a 500: every POST route of the API, fed odd JSON bodies and odd path
values, answers with a 4xx and a message (or succeeds), and nothing stored is lost."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.api import load_routes, registry

from .conftest import Api

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = [
    "service",
    "channel",
    "token",
    "stars",
    "comment",
    "counter",
    "note",
    "outcome",
    "reason",
    "takeover",
    "request_id",
    "code",
    "start",
    "name",
    "phone",
    "consent",
]
BODIES = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=5).map(json.dumps),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=20),
)
PATH_VALUES = {
    "store": ["demo", "nowhere", "%20"],
    "counter": ["1", "99", "0"],
    "ticket_id": ["1", "2", "999999"],
    "token": ["x", "a" * 60],
}


def post_routes() -> list[str]:
    load_routes()
    return sorted({op.path for op in registry.operations if op.method == "post"})


def fill(path: str, pick: int) -> str:
    def value(match: re.Match[str]) -> str:
        options = PATH_VALUES.get(match.group(1), ["1"])
        return options[pick % len(options)]

    return re.sub(r"\{(\w+)\}", value, path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(post_routes()), body=BODIES, pick=st.integers(0, 5), staff=st.booleans()
)
def test_no_post_route_answers_500(
    app: Flask, api: Api, route: str, body: str, pick: int, staff: bool
) -> None:
    if not getattr(app, "_fuzz_seeded", False):
        api.issue("A")
        api.issue("C")
        api.call_next(1)
        app._fuzz_seeded = True  # type: ignore[attr-defined]
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    if staff:
        headers |= api.headers
    response = api.client.post(fill(route, pick), data=body, headers=headers)
    assert response.status_code < 500, (route, body, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.json["error"] and response.json["message"]


def test_the_queue_survives_the_fuzzing_intact(client: FlaskClient, api: Api) -> None:
    first, second = api.issue("A"), api.issue("B")
    for path in post_routes():
        client.post(fill(path, 0), data="{garbage", content_type="application/json")
        client.post(fill(path, 1), data="[]", content_type="application/json")
    labels = [t["label"] for t in api.snapshot()["waiting"]]
    assert labels == [first["label"], second["label"]]
