"""The one publisher: what a command staged goes out after COMMIT, and the projection follows.

1. The thin store events go out at once (a `called` must reach the display's announcement
   without delay), and the status pages of the tickets a command changed get their new view.
2. Then one projection update per store (`queue_updated`, and a `ticket` update for each watched
   waiting ticket whose position or estimate changed), from a background task debounced by
   `LIVE_PROJECTION_DELAY` seconds, so a burst of commands costs one projection. With
   `LIVE_PROJECTION_DELAY = None` (tests) the update is computed right after the commit instead.

With several processes, one of them publishes a store's projection per version: the lease
(`ProjectionLease`) is taken per (store, version) before publishing (a Redis `SET NX` in the scale
tier; always granted in one process).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import select

from backend.core import db as core_db
from backend.extensions import db, socketio
from backend.live.events import (
    LANGUAGES,
    TICKET_ROOM_PREFIX,
    Outgoing,
    StoreChange,
    queue_updated,
    ticket_room,
    ticket_update,
)
from backend.queue import readmodel
from backend.queue.models import Ticket
from backend.queue.readmodel import Projection, TicketRow
from backend.queue.serializers import queue_public, queue_staff, ticket_public

DEFAULT_DELAY_S = 0.25


class ProjectionLease(Protocol):
    def acquire(self, store_id: int, version: int) -> bool: ...


class LocalLease:
    """One process: it always publishes."""

    def acquire(self, store_id: int, version: int) -> bool:
        return True


def emit(outgoing: Outgoing) -> None:
    for room in outgoing.rooms:
        socketio.emit(outgoing.name.value, outgoing.payload, to=room)


def _occupied_rooms() -> set[str]:
    server = socketio.server
    if server is None:
        return set()
    # list() copies under the GIL: the manager may change the dict from another thread.
    rooms = list(server.manager.rooms.get("/", {}).items())
    return {room for room, members in rooms if room and members}


def _rooms_are_local() -> bool:
    # With a message queue, watchers may be connected to another process: assume they exist.
    return not current_app.config.get("SOCKETIO_MESSAGE_QUEUE")


class Watchers:
    """Which languages each ticket's status pages are open in (all, when it cannot be known)."""

    def __init__(self) -> None:
        self.local = _rooms_are_local()
        rooms = _occupied_rooms() if self.local else set()
        self._any = not self.local or any(r.startswith(TICKET_ROOM_PREFIX) for r in rooms)
        self._rooms = rooms

    def __bool__(self) -> bool:
        return self._any

    def langs(self, ticket_id: int) -> list[str]:
        if not self.local:
            return list(LANGUAGES)
        return [lang for lang in LANGUAGES if ticket_room(ticket_id, lang) in self._rooms]


def _view_key(row: TicketRow, proj: Projection) -> tuple[Any, ...]:
    return (row.status, row.counter, proj.position(row), proj.ticket_eta(row))


class Publisher:
    def __init__(self, lease: ProjectionLease | None = None) -> None:
        self.lease: ProjectionLease = lease or LocalLease()
        self._lock = threading.Lock()
        self._scheduled: set[tuple[str, int]] = set()
        self._published: dict[tuple[str, int], Projection] = {}
        self.projections_published = 0
        # How the debounce waits (mode-agnostic: a green thread under gevent); tests replace it.
        self.sleep = socketio.sleep

    # --- after COMMIT --------------------------------------------------------------------

    def dispatch(self, staged: list[Any]) -> None:
        changes = [item for item in staged if isinstance(item, StoreChange)]
        if not changes:
            return
        for change in changes:
            emit(change.outgoing)
        tickets = {c.ticket_id for c in changes if c.ticket_id is not None}
        inline = current_app.config.get("LIVE_PROJECTION_DELAY", DEFAULT_DELAY_S) is None
        for store_id in dict.fromkeys(c.store_id for c in changes):
            if inline:
                self.project(store_id, changed=tickets)
            else:
                self.send_ticket_views(tickets, fresh=False)
                self.schedule(store_id)

    def send_ticket_views(self, ticket_ids: Iterable[int], *, fresh: bool) -> None:
        """The new view of each changed ticket, to its open status pages (one query each)."""
        from backend.queue.reads import ticket_view

        watchers = Watchers()
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

    def schedule(self, store_id: int) -> None:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        key = (str(db.engine.url), store_id)
        with self._lock:
            if key in self._scheduled:
                return
            self._scheduled.add(key)
        delay = float(app.config.get("LIVE_PROJECTION_DELAY", DEFAULT_DELAY_S))
        socketio.start_background_task(self._later, app, key, delay)

    def _later(self, app: Flask, key: tuple[str, int], delay: float) -> None:
        self.sleep(delay)
        with self._lock:
            self._scheduled.discard(key)  # commands from now on schedule the next run
        with app.app_context():
            try:
                self.project(key[1])
            except Exception:  # the next command retries; a display also resyncs by itself
                app.logger.exception("projection update failed")
            finally:
                db.session.remove()

    # --- the projection update -----------------------------------------------------------

    def project(self, store_id: int, changed: Iterable[int] = ()) -> None:
        proj = readmodel.projection(store_id)
        key = (str(db.engine.url), store_id)
        previous = self._published.get(key)
        if previous is not None and (previous is proj or previous.version > proj.version):
            return  # already published (the same projection), or a newer one went out
        if not self.lease.acquire(store_id, proj.version):
            return
        self._published[key] = proj
        self.projections_published += 1
        for outgoing in queue_updated(proj.store.code, queue_public(proj), queue_staff(proj)):
            emit(outgoing)
        self._ticket_updates(proj, previous, set(changed))

    def refresh_stale(self) -> int:
        """Re-publish stores whose last projection has aged (estimates move with time even when
        nothing happens): the periodic job calls this; a fresh projection is built only then."""
        stale = [
            key
            for key, proj in list(self._published.items())
            if key[0] == str(db.engine.url) and readmodel.now() - proj.moment >= readmodel.MAX_AGE
        ]
        for _, store_id in stale:
            self.project(store_id)
        return len(stale)

    def _ticket_updates(
        self, proj: Projection, previous: Projection | None, changed: set[int]
    ) -> None:
        watchers = Watchers()
        if not watchers:
            return
        for row in proj.waiting:
            if row.id not in changed and previous is not None:
                before = previous.active.get(row.id)
                if before is not None and _view_key(before, previous) == _view_key(row, proj):
                    continue
            for lang in watchers.langs(row.id):
                emit(ticket_update(proj.version, ticket_public(row, proj, lang), lang))
        waiting = {row.id for row in proj.waiting}
        rest = [ticket_id for ticket_id in changed if ticket_id not in waiting]
        if rest:
            self.send_ticket_views(rest, fresh=True)


PUBLISHER = Publisher()
core_db.on_commit(PUBLISHER.dispatch)

__all__ = ["PUBLISHER", "LocalLease", "ProjectionLease", "Publisher", "emit"]
