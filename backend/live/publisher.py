"""The one publisher: what a command staged goes out after COMMIT, and the projection follows.

1. The thin store events go out at once (a `called` must reach the display's announcement
   without delay), and the status pages of the tickets a command changed get their new view.
2. Then one projection update per store (`queue_updated`, and a `ticket` update for each watched
   waiting ticket whose position or estimate changed), from a background task debounced by
   `LIVE_PROJECTION_DELAY` seconds, so a burst of commands costs one projection, and at most
   one per `LIVE_PROJECTION_INTERVAL` seconds per store (a busy store's screens follow its
   figures about once a second, DESIGN §11, instead of paying a projection per command). With
   `LIVE_PROJECTION_DELAY = None` (tests) the update is computed right after the commit instead.

With several processes, one of them publishes a store's projection per version: the lease
(`ProjectionLease`) is taken per (store, version) before publishing — a Redis `SET NX` with an
expiry (`RedisLease`) when the processes share a Redis message queue, always granted in one
process (`LocalLease`). A process that loses the lease for version v does not publish v; the
winner's update reaches every process's screens through the message queue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from backend.core import db as core_db
from backend.core.health import REDIS_SCHEMES
from backend.extensions import db, socketio
from backend.live.events import (
    Outgoing,
    StoreChange,
    TicketChange,
    chain_store,
    queue_updated,
    steps,
    ticket_update,
)
from backend.live.watchers import Watched, watched
from backend.messaging.commands import note_near_turn
from backend.queue import readmodel
from backend.queue.models import Ticket
from backend.queue.readmodel import Projection, TicketRow
from backend.queue.serializers import queue_public, queue_staff, ticket_public
from backend.stores.chain import projection_status

DEFAULT_DELAY_S = 0.25
DEFAULT_INTERVAL_S = 1.0


class ProjectionLease(Protocol):
    """`generation`: the version, or the version and the minute when an aged projection of an
    unchanged store is published again."""

    def acquire(self, store_id: int, generation: str) -> bool: ...


class LocalLease:
    """One process: it always publishes."""

    def acquire(self, store_id: int, generation: str) -> bool:
        return True


LEASE_SECONDS = 120
LEASE_KEY = "hallqueue.projection_lease"


class RedisLease:
    """Processes sharing one Redis: the first to `SET key NX` for (store, version) publishes it.
    The key names the database (two deployments on one Redis never collide) and expires, so
    Redis keeps one small key per recent version only."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.namespace = namespace

    def acquire(self, store_id: int, generation: str) -> bool:
        key = f"hq:lease:{self.namespace}:{store_id}:{generation}"
        try:
            return bool(self.client.set(key, os.getpid(), nx=True, ex=LEASE_SECONDS))
        except Exception:  # Redis away: a screen updated twice beats a screen not updated
            current_app.logger.warning("projection lease unavailable; publishing anyway")
            return True


def app_lease(app: Flask) -> ProjectionLease:
    """The app's lease: Redis when the Socket.IO message queue is a Redis, else local."""
    lease = app.extensions.get(LEASE_KEY)
    if lease is None:
        url = app.config.get("PROJECTION_LEASE_URL") or app.config.get("SOCKETIO_MESSAGE_QUEUE")
        if url and urlsplit(url).scheme in REDIS_SCHEMES:
            namespace = lease_namespace(app)
            app.logger.info("projection lease in Redis, namespace %s", namespace)
            lease = RedisLease(url, namespace)
        else:
            lease = LocalLease()
        app.extensions[LEASE_KEY] = lease
    return lease  # type: ignore[no-any-return]


def lease_namespace(app: Flask) -> str:
    """What names this deployment's keys in a shared Redis (the lease, the watcher registry)."""
    return app.config.get("PROJECTION_LEASE_NAMESPACE") or _database_name(app)  # type: ignore[no-any-return]


def _database_name(app: Flask) -> str:
    """The database, and on PostgreSQL its object id: a database dropped and created again
    under the same name (a restore) starts its versions afresh and must not meet the leases
    its predecessor left in Redis."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    name = f"{url.host or ''}:{url.port or ''}/{url.database or ''}"
    if url.get_backend_name() == "postgresql":
        oid = db.session.scalar(
            text("SELECT oid FROM pg_database WHERE datname = current_database()")
        )
        name = f"{name}#{oid}"
    return name


def emit(outgoing: Outgoing) -> None:
    for room in outgoing.rooms:
        socketio.emit(outgoing.name.value, outgoing.payload, to=room)


# A status page's estimate is sent again when it moved by at least this much (minutes, or this
# share of the range's upper end, whichever is larger) from what the page shows: the sampled range
# wobbles by a minute between versions, and without a tolerance every command would re-send every
# open page. Its status, counter, position and next-flag are sent whenever they change.
ETA_TOLERANCE_MIN = 2
ETA_TOLERANCE_SHARE = 0.15

ShownView = tuple[Any, ...]


def _shown(row: TicketRow, proj: Projection) -> tuple[ShownView, tuple[int, int] | None]:
    return (row.status, row.counter, proj.position(row), proj.is_next(row)), proj.ticket_eta(row)


def _eta_moved(shown: tuple[int, int] | None, new: tuple[int, int] | None) -> bool:
    if shown is None or new is None:
        return shown != new
    tolerance = max(ETA_TOLERANCE_MIN, ETA_TOLERANCE_SHARE * shown[1])
    return abs(new[0] - shown[0]) >= tolerance or abs(new[1] - shown[1]) >= tolerance


class Publisher:
    def __init__(self, lease: ProjectionLease | None = None) -> None:
        # None: each app's own (app_lease); tests may set one.
        self.lease: ProjectionLease | None = lease
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._scheduled: set[tuple[str, int]] = set()
        # When each store's last scheduled projection began (time.monotonic()).
        self._began: dict[tuple[str, int], float] = {}
        self._running = 0  # scheduled or running projection tasks
        self._published: dict[tuple[str, int], Projection] = {}
        # Per store, what each waiting ticket's open status pages were last sent.
        self._shown: dict[tuple[str, int], dict[int, tuple[ShownView, tuple[int, int] | None]]] = {}
        self.projections_published = 0
        self.ticket_views_sent = 0  # `ticket` updates emitted (a view in one language each)
        # Per store, the waiting tickets whose "almost your turn" is written already.
        self._almost: dict[tuple[str, int], set[int]] = {}
        # How the debounce waits (mode-agnostic: a green thread under gevent); tests replace it.
        self.sleep = socketio.sleep

    # --- after COMMIT --------------------------------------------------------------------

    def dispatch(self, staged: list[Any]) -> None:
        quiet = [item for item in staged if isinstance(item, TicketChange)]
        for store_id in dict.fromkeys(c.store_id for c in quiet):
            ids = {c.ticket_id for c in quiet if c.store_id == store_id}
            self.send_ticket_views(watched(store_id), ids, fresh=False)
        changes = [item for item in staged if isinstance(item, StoreChange)]
        if not changes:
            return
        for outgoing in steps(changes):
            emit(outgoing)
        inline = current_app.config.get("LIVE_PROJECTION_DELAY", DEFAULT_DELAY_S) is None
        for store_id in dict.fromkeys(c.store_id for c in changes):
            tickets = {c.ticket_id for c in changes if c.store_id == store_id and c.ticket_id}
            if inline:
                self.project(store_id, changed=tickets)
            else:
                if tickets:
                    self.send_ticket_views(watched(store_id), tickets, fresh=False)
                self.schedule(store_id)

    def send_ticket_views(
        self, watchers: Watched, ticket_ids: Iterable[int], *, fresh: bool
    ) -> None:
        """The new view of each changed ticket, to its open status pages (one query each)."""
        from backend.queue.reads import ticket_view

        for ticket_id in ticket_ids:
            langs = watchers.langs(ticket_id)
            if not langs:
                continue
            ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id))
            if ticket is None:
                continue
            for lang in langs:
                view = ticket_view(ticket, lang, with_token=False, fresh=fresh)
                emit(ticket_update(view["version"], view, lang))
                self.ticket_views_sent += 1

    def schedule(self, store_id: int) -> None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        key = (core_db.data_key(), store_id)
        with self._lock:
            if key in self._scheduled:
                return
            self._scheduled.add(key)
            self._running += 1
            delay = self._delay(app, key)
        socketio.start_background_task(self._later, app, key, delay)

    def _delay(self, app: Flask, key: tuple[str, int]) -> float:
        """The debounce, lengthened so that the store's projections begin at least the interval
        apart (the caller holds the lock)."""
        debounce = float(app.config.get("LIVE_PROJECTION_DELAY", DEFAULT_DELAY_S))
        interval = float(app.config.get("LIVE_PROJECTION_INTERVAL", DEFAULT_INTERVAL_S))
        began = self._began.get(key)
        since = time.monotonic() - began if began is not None else interval
        return max(debounce, interval - since)

    def _later(self, app: Flask, key: tuple[str, int], delay: float) -> None:
        try:
            self.sleep(delay)
            with self._lock:
                self._scheduled.discard(key)  # commands from now on schedule the next run
                self._began[key] = time.monotonic()
            with app.app_context():
                try:
                    self.project(key[1])
                except Exception:  # the next command retries; a display also resyncs by itself
                    app.logger.exception("projection update failed")
                finally:
                    db.session.remove()
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    @property
    def pending(self) -> int:
        """Projection updates scheduled or running in this process."""
        return self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no projection update is pending (a clean shutdown; tests, before their
        database goes). False if some are still pending after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    # --- the projection update -----------------------------------------------------------

    def project(self, store_id: int, changed: Iterable[int] = (), *, refresh: bool = False) -> None:
        """Publish the store's newest projection, unless it went out already (from here or, by
        the lease, from another process). The lease is taken before the projection is built, so
        one process computes a version; `refresh` publishes an aged one again."""
        key = (core_db.data_key(), store_id)
        previous = self._published.get(key)
        version = readmodel.current_version(store_id)
        if not refresh and previous is not None and previous.version >= version:
            return  # already published (or a newer one went out)
        lease = self.lease or app_lease(current_app._get_current_object())  # type: ignore[attr-defined]
        if not lease.acquire(store_id, self._generation(version, refresh)):
            return  # another process publishes this version
        proj = readmodel.projection(store_id, at_least=version)
        if proj.version > version and not lease.acquire(store_id, str(proj.version)):
            return  # commands committed meanwhile, and another process has that version
        self._published[key] = proj
        self.projections_published += 1
        for outgoing in queue_updated(proj.store.code, queue_public(proj), queue_staff(proj)):
            emit(outgoing)
        emit(chain_store(projection_status(proj).as_json(proj.moment)))
        self._ticket_updates(key, proj, set(changed))
        self._note_near_turn(key, proj)

    def _note_near_turn(self, key: tuple[str, int], proj: Projection) -> None:
        """ "Almost your turn" for the watched tickets this projection moved within the store's
        threshold (backend.messaging.commands.note_near_turn says why here)."""
        done = self._almost.setdefault(key, set())
        done &= {row.id for row in proj.waiting}  # a ticket that left the queue is forgotten
        try:
            note_near_turn(proj, proj.moment, done)
        except Exception:  # the screens are published; the next projection tries again
            current_app.logger.exception("almost-your-turn messages failed")

    @staticmethod
    def _generation(version: int, refresh: bool) -> str:
        if not refresh:
            return str(version)
        # The same version again, aged: once per store and interval among the processes.
        return f"{version}@{int(readmodel.now().timestamp() // readmodel.MAX_AGE.total_seconds())}"

    def refresh_stale(self) -> int:
        """Re-publish stores whose last projection has aged (estimates move with time even when
        nothing happens): the periodic job calls this; a fresh projection is built only then."""
        stale = [
            key
            for key, proj in list(self._published.items())
            if key[0] == core_db.data_key() and readmodel.now() - proj.moment >= readmodel.MAX_AGE
        ]
        for _, store_id in stale:
            self.project(store_id, refresh=True)
        return len(stale)

    def _ticket_updates(self, key: tuple[str, int], proj: Projection, changed: set[int]) -> None:
        watchers = watched(proj.store.id)
        if not watchers:
            self._shown.pop(key, None)
            return
        # With several processes another one may have published in between, so what this one
        # remembers sending is not what the pages show: then every watched ticket gets its view.
        before = self._shown.get(key, {}) if watchers.local else {}
        shown: dict[int, tuple[ShownView, tuple[int, int] | None]] = {}
        for row in proj.waiting:
            langs = watchers.langs(row.id)
            if not langs:
                continue  # no page open: a page opened later reads the ticket afresh
            view, eta = _shown(row, proj)
            last = before.get(row.id)
            unchanged = last is not None and last[0] == view and not _eta_moved(last[1], eta)
            if unchanged and row.id not in changed:
                shown[row.id] = last  # type: ignore[assignment]  # the page keeps what it shows
                continue
            shown[row.id] = (view, eta)
            for lang in langs:
                emit(ticket_update(proj.version, ticket_public(row, proj, lang), lang))
                self.ticket_views_sent += 1
        self._shown[key] = shown
        waiting = {row.id for row in proj.waiting}
        rest = [ticket_id for ticket_id in changed if ticket_id not in waiting]
        if rest:
            self.send_ticket_views(watchers, rest, fresh=True)


PUBLISHER = Publisher()
core_db.on_commit(PUBLISHER.dispatch)

__all__ = [
    "PUBLISHER",
    "LocalLease",
    "ProjectionLease",
    "Publisher",
    "RedisLease",
    "app_lease",
    "emit",
]
