"""The watcher registry: with several processes (a Redis message queue) the open status pages are
counted in Redis, so a projection sends views to the pages that exist, wherever they are
connected, and nothing to the tickets nobody watches (before, every waiting ticket was sent its
view in every language on every projection: a cost that grew with the queue)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from backend.extensions import socketio
from backend.live.publisher import PUBLISHER
from backend.live.watchers import WATCHERS_KEY, RedisWatchers

from .conftest import REDIS_URL, Api, scale_only
from .factories import store_id

pytestmark = scale_only("the registry is the scale tier's (Redis)")


@pytest.fixture
def registry(app: Flask) -> Iterator[RedisWatchers]:
    found = RedisWatchers(REDIS_URL, f"hqw-{os.urandom(6).hex()}")
    app.extensions[WATCHERS_KEY] = found  # as a deployment with a Redis message queue has it
    yield found
    found.client.delete(*found.client.keys(f"hq:watch:{found.namespace}:*") or ["-"])


def views(name: str, client: Any) -> list[dict[str, Any]]:
    return [m["args"][0]["ticket"] for m in client.get_received() if m["name"] == name]


def test_pages_are_counted_up_and_down_and_a_field_goes_at_zero(
    app: Flask, registry: RedisWatchers
) -> None:
    with app.app_context():
        registry.joined(7, 41, "zh")
        registry.joined(7, 41, "zh")  # a second phone on the same ticket
        registry.joined(7, 41, "en")
        registry.joined(8, 99, "zh")  # another store's page
        assert sorted(registry.watched(7).langs(41)) == ["en", "zh"]
        assert registry.watched(7).langs(99) == []
        registry.left(7, 41, "zh")
        assert sorted(registry.watched(7).langs(41)) == ["en", "zh"]  # one zh page still open
        registry.left(7, 41, "zh")
        registry.left(7, 41, "en")
        assert registry.watched(7).langs(41) == []
        assert not registry.watched(7)
        registry.left(7, 41, "zh")  # a page that was never counted (a restart): never negative
        assert registry.client.hgetall(f"hq:watch:{registry.namespace}:7") == {}
        assert 0 < registry.client.ttl(f"hq:watch:{registry.namespace}:8") <= 2 * 24 * 3600


def test_a_connected_page_is_counted_and_uncounted_when_it_leaves(
    app: Flask, api: Api, registry: RedisWatchers
) -> None:
    mine = api.issue("A")
    demo = store_id(app)
    with app.app_context():
        assert registry.watched(demo).langs(mine["id"]) == []
    page = socketio.test_client(app, auth={"ticket": mine["token"], "lang": "en"})
    with app.app_context():
        assert registry.watched(demo).langs(mine["id"]) == ["en"]
    page.disconnect()
    with app.app_context():
        assert registry.watched(demo).langs(mine["id"]) == []


def test_a_projection_sends_views_to_watched_tickets_only(
    app: Flask, api: Api, registry: RedisWatchers
) -> None:
    api.sign_in(3)
    tickets = [api.issue("C") for _ in range(12)]
    mine = tickets[5]
    page = socketio.test_client(app, auth={"ticket": mine["token"]})
    page.get_received()
    before = PUBLISHER.ticket_views_sent
    api.call_next(3)  # moves all twelve: only the page that is open is sent a view
    got = views("ticket", page)
    assert {t["id"] for t in got} == {mine["id"]}
    assert got[-1]["position"] == 4
    assert PUBLISHER.ticket_views_sent - before == len(got)
    page.disconnect()
    before = PUBLISHER.ticket_views_sent
    api.call_next(3)
    assert PUBLISHER.ticket_views_sent == before  # nobody watches: no view built at all


def test_a_page_on_another_process_is_sent_its_view_even_when_this_one_saw_no_move(
    app: Flask, api: Api, registry: RedisWatchers
) -> None:
    """Another process may have published in between, so what this one remembers sending is
    not what the page shows: every page counted in the registry gets its view."""
    api.sign_in(3)
    api.issue("C")
    mine = api.issue("C")
    with app.app_context():
        registry.joined(store_id(app), mine["id"], "zh")  # as the other process counts its page
    api.call_next(3)
    local = socketio.test_client(app, auth={"ticket": mine["token"]})  # to hear this process
    local.get_received()
    api.issue("C")  # a new version that moves nothing of mine
    got = views("ticket", local)
    assert [t["id"] for t in got] == [mine["id"]]


def test_without_redis_every_ticket_is_assumed_watched(app: Flask, api: Api) -> None:
    """Redis away: a page never goes without its update (views nobody reads are the cost)."""
    app.extensions[WATCHERS_KEY] = RedisWatchers("redis://127.0.0.1:1/0", "nowhere")
    api.sign_in(3)
    api.issue("C")
    api.issue("C")
    before = PUBLISHER.ticket_views_sent
    api.call_next(3)
    # The called ticket and the one left waiting, each in both languages.
    assert PUBLISHER.ticket_views_sent - before == 4


def test_pages_opening_and_closing_at_once_on_several_processes_leave_the_count_right(
    app: Flask, registry: RedisWatchers
) -> None:
    """Eight "processes" (threads, each its own Redis client) open and close pages of one
    ticket at once: a page just opened is always counted (a count-down and a delete in two
    steps would delete a page another process counted up in between), and all end at none."""
    import threading

    peers = [RedisWatchers(REDIS_URL, registry.namespace) for _ in range(8)]
    lost: list[int] = []

    def churn(peer: RedisWatchers) -> None:
        with app.app_context():
            for _ in range(40):
                peer.joined(7, 41, "zh")
                if peer.watched(7).langs(41) != ["zh"]:  # its own page is open right now
                    lost.append(1)
                peer.left(7, 41, "zh")

    threads = [threading.Thread(target=churn, args=(peer,)) for peer in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lost == []
    assert registry.client.hgetall(f"hq:watch:{registry.namespace}:7") == {}
