"""A pause with a planned return: the counter keeps `back_at` from the store's clock, resume and
sign-out clear it, bad lengths are refused in the caller's language and change nothing, and the
screens' payloads show the return only while it is still to come. The forecast counts on the
counter from then on (the estimate's own tests: tests/test_eta.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from backend.core.clock import ManualClock
from backend.extensions import db
from backend.stores.models import Counter, Store

from .conftest import Api
from .test_bad_input import BEYOND_64_BITS

PAUSE = "/api/v1/stores/demo/counters/1/pause"


def post(api: Api, path: str, lang: str = "zh", **body: object) -> Any:
    headers = {**api.headers, "Accept-Language": lang}
    return api.client.post(path, json=body, headers=headers)


def back_at_row(app: Any) -> Any:
    with app.app_context():
        return db.session.scalar(
            select(Counter.back_at)
            .join(Store, Store.id == Counter.store_id)
            .where(Store.code == "demo", Counter.number == 1)
        )


def snapshot_counter(api: Api, number: int = 1) -> dict[str, Any]:
    snap = api.client.get("/api/v1/stores/demo/snapshot", headers=api.headers).json
    return next(c for c in snap["counters"] if c["number"] == number)


class TestPauseWithMinutes:
    def test_the_return_is_the_stores_clock_plus_the_minutes(
        self, app: Any, api: Api, clock: ManualClock
    ) -> None:
        assert api.sign_in(1).status_code == 200
        paused = post(api, PAUSE, reason="break", minutes=30)
        assert paused.status_code == 200, paused.json
        expected = clock.now() + timedelta(minutes=30)
        assert back_at_row(app) == expected
        assert paused.json["counter"]["back_at"] == expected.isoformat().replace("+00:00", "Z")
        assert paused.json["pause_lengths"] == [15, 30, 60]

    def test_resume_and_sign_out_clear_it(self, app: Any, api: Api) -> None:
        api.sign_in(1)
        post(api, PAUSE, reason="break", minutes=15)
        assert post(api, "/api/v1/stores/demo/counters/1/resume").status_code == 200
        assert back_at_row(app) is None
        post(api, PAUSE, reason="break", minutes=15)
        assert back_at_row(app) is not None
        assert post(api, "/api/v1/stores/demo/counters/1/sign-out").status_code == 200
        assert back_at_row(app) is None

    def test_no_minutes_is_not_sure(self, app: Any, api: Api) -> None:
        api.sign_in(1)
        post(api, PAUSE, reason="break", minutes=60)
        again = post(api, PAUSE, reason="break")  # "not sure" after all
        assert again.status_code == 200 and again.json["counter"]["back_at"] is None
        assert back_at_row(app) is None

    def test_a_repeated_pause_is_safe_and_sets_the_return_anew(
        self, app: Any, api: Api, clock: ManualClock
    ) -> None:
        api.sign_in(1)
        first = post(api, PAUSE, reason="break", minutes=30)
        repeat = post(api, PAUSE, reason="break", minutes=30)
        assert first.status_code == repeat.status_code == 200
        assert first.json["counter"] == repeat.json["counter"]
        clock.advance(minutes=5)
        longer = post(api, PAUSE, reason="training", minutes=60)
        assert longer.status_code == 200
        assert back_at_row(app) == clock.now() + timedelta(minutes=60)

    @pytest.mark.parametrize(
        "minutes",
        [0, -5, 481, 10**6, BEYOND_64_BITS, True, False, "30", "3\x000", 12.5, [30], {"m": 1}],
    )
    def test_bad_lengths_are_refused_in_both_languages_and_change_nothing(
        self, app: Any, api: Api, minutes: object
    ) -> None:
        api.sign_in(1)
        post(api, PAUSE, reason="break", minutes=15)
        before = back_at_row(app)
        version = api.client.get("/api/v1/stores/demo/snapshot", headers=api.headers).json
        answers = {
            lang: post(api, PAUSE, lang, reason="other", minutes=minutes) for lang in ("zh", "en")
        }
        for lang, answer in answers.items():
            assert answer.status_code == 400, (lang, answer.get_data(as_text=True))
            assert answer.json["error"] and answer.json["message"]
            assert "minutes" in answer.json.get("fields", []), answer.json
        assert answers["zh"].json["message"] != answers["en"].json["message"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in answers["zh"].json["message"])
        assert back_at_row(app) == before
        after = api.client.get("/api/v1/stores/demo/snapshot", headers=api.headers).json
        assert after["version"] == version["version"]
        assert snapshot_counter(api)["status"] == "paused"


class TestTheReturnOnScreens:
    def test_shown_while_to_come_never_once_past(self, api: Api, clock: ManualClock) -> None:
        api.sign_in(1)
        post(api, PAUSE, reason="break", minutes=15)
        promised = (clock.now() + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
        assert snapshot_counter(api)["back_at"] == promised
        clock.advance(minutes=15)  # the return is now, not to come
        api.issue("A")  # a new version: the projection is built at the new moment
        shown = snapshot_counter(api)
        assert shown["status"] == "paused" and shown["back_at"] is None

    def test_the_return_counts_in_the_estimate(self, api: Api, clock: ManualClock) -> None:
        """One counter, paused for 30 minutes: the ticket's estimate starts at the return; with
        "not sure" and no other counter serving, there is no estimate at all."""
        api.sign_in(1)
        post(api, PAUSE, reason="break", minutes=30)
        ticket = api.issue("A")
        low, high = ticket["eta_minutes"]
        assert low >= 24 and high >= 30, ticket["eta_minutes"]
        post(api, PAUSE, reason="break")
        fresh = api.client.get(f"/api/v1/tickets/{ticket['token']}").json
        assert fresh["eta_minutes"] is None
