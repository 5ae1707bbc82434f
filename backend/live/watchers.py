"""Which tickets have a status page open, and in which languages: the publisher sends a ticket's
new view only to pages that exist, so a projection's cost follows the open pages, not the queue.

In one process the Socket.IO rooms tell (`LocalWatchers`). With a message queue a page may be
connected to another process, whose rooms this one cannot see: the processes then keep one Redis
hash per store, `{ticket id}:{lang}` → open pages, counted up when a page connects and down when
it leaves (`RedisWatchers`). A process that dies without counting down leaves its pages counted:
their tickets get views nobody reads until they leave the queue, never the other way round, and
the hash expires two days after its last change. Without Redis the publisher falls back to
"every ticket may be watched" (the cost the registry saves, never a page left unupdated).
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app

from backend.core.health import REDIS_SCHEMES
from backend.extensions import socketio
from backend.live.events import LANGUAGES, TICKET_ROOM_PREFIX

WATCHERS_KEY = "hallqueue.watchers"
WATCH_TTL_S = 2 * 24 * 3600
# Count one page down, and drop its field at zero, in one step: HINCRBY then HDEL would
# delete a page another process counted up in between.
_LEAVE = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
"""


class Watched:
    """One store's open status pages at one moment: `langs(ticket_id)` is the languages its
    pages are open in (every language when it cannot be known)."""

    def __init__(self, pages: dict[int, list[str]] | None, *, local: bool) -> None:
        # None: every language of every ticket (Redis could not be asked).
        self._pages = pages
        # `local`: what this process sent is what the pages show (no other process publishes).
        self.local = local

    def __bool__(self) -> bool:
        return self._pages is None or bool(self._pages)

    def langs(self, ticket_id: int) -> list[str]:
        if self._pages is None:
            return list(LANGUAGES)
        return self._pages.get(ticket_id, [])


class WatcherRegistry(Protocol):
    def joined(self, store_id: int, ticket_id: int, lang: str) -> None: ...

    def left(self, store_id: int, ticket_id: int, lang: str) -> None: ...

    def watched(self, store_id: int) -> Watched: ...


class LocalWatchers:
    """One process: the occupied ticket rooms are the open pages (of every store; a ticket id
    belongs to one store, so the others' rooms are never asked for)."""

    def joined(self, store_id: int, ticket_id: int, lang: str) -> None:
        return None

    def left(self, store_id: int, ticket_id: int, lang: str) -> None:
        return None

    def watched(self, store_id: int) -> Watched:
        pages: dict[int, list[str]] = {}
        for room in _occupied_rooms():
            if not room.startswith(TICKET_ROOM_PREFIX):
                continue
            ticket, _, lang = room[len(TICKET_ROOM_PREFIX) :].partition(":")
            if ticket.isdigit() and lang in LANGUAGES:
                pages.setdefault(int(ticket), []).append(lang)
        return Watched(pages, local=True)


class RedisWatchers:
    """Processes sharing one Redis: one hash per store, its key naming the database like the
    projection lease's, so two deployments on one Redis never see each other's pages."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.namespace = namespace
        self._leave = self.client.register_script(_LEAVE)

    def _key(self, store_id: int) -> str:
        return f"hq:watch:{self.namespace}:{store_id}"

    def joined(self, store_id: int, ticket_id: int, lang: str) -> None:
        key = self._key(store_id)
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.hincrby(key, f"{ticket_id}:{lang}", 1)
                pipe.expire(key, WATCH_TTL_S)
                pipe.execute()
        except Exception:  # Redis away: `watched` then says "everyone", so the page is updated
            current_app.logger.warning(
                "watcher registry unavailable; page %s not counted", ticket_id
            )

    def left(self, store_id: int, ticket_id: int, lang: str) -> None:
        try:
            self._leave(keys=[self._key(store_id)], args=[f"{ticket_id}:{lang}"])
        except Exception:  # counted as open until its ticket leaves the queue: extra views only
            current_app.logger.warning(
                "watcher registry unavailable; page %s not uncounted", ticket_id
            )

    def watched(self, store_id: int) -> Watched:
        try:
            fields: dict[bytes, bytes] = self.client.hgetall(self._key(store_id))  # type: ignore[assignment]
        except Exception:
            current_app.logger.warning("watcher registry unavailable; updating every ticket")
            return Watched(None, local=False)
        pages: dict[int, list[str]] = {}
        for name, count in fields.items():
            ticket, _, lang = name.decode().partition(":")
            if ticket.isdigit() and lang in LANGUAGES and int(count) > 0:
                pages.setdefault(int(ticket), []).append(lang)
        return Watched(pages, local=False)


def app_watchers(app: Flask) -> WatcherRegistry:
    """The app's registry: Redis when there is a Socket.IO message queue (the start refuses
    any other kind, backend.core.health), else the rooms."""
    registry = app.extensions.get(WATCHERS_KEY)
    if registry is None:
        url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
        if url and urlsplit(url).scheme in REDIS_SCHEMES:
            from backend.live.publisher import lease_namespace

            registry = RedisWatchers(url, lease_namespace(app))
        else:
            registry = LocalWatchers()
        app.extensions[WATCHERS_KEY] = registry
    return registry  # type: ignore[no-any-return]


def watched(store_id: int) -> Watched:
    return app_watchers(current_app._get_current_object()).watched(store_id)  # type: ignore[attr-defined]


def _occupied_rooms() -> set[str]:
    server: Any = socketio.server
    if server is None:
        return set()
    # list() copies under the GIL: the manager may change the dict from another thread.
    rooms = list(server.manager.rooms.get("/", {}).items())
    return {room for room, members in rooms if room and members}


__all__ = [
    "LocalWatchers",
    "RedisWatchers",
    "Watched",
    "WatcherRegistry",
    "app_watchers",
    "watched",
]
