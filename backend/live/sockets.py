"""The one Socket.IO connect handler. Rooms are chosen here by the server, never by the client.
A ticket's status page is also counted in the watcher registry while it is connected."""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import select

from backend.core.i18n import DEFAULT_LANG, LANGUAGES
from backend.extensions import db, socketio
from backend.live.events import chain_room, counter_room, display_room, ticket_room
from backend.live.watchers import app_watchers
from backend.policy import Role
from backend.queue.models import Ticket
from backend.stores.models import Store

MANAGING_ROLES = (Role.MANAGER, Role.ADMIN)
# The status pages connected to this process: sid → (store id, ticket id, language).
_PAGES: dict[str, tuple[int, int, str]] = {}
_PAGES_LOCK = threading.Lock()


def rooms_for(auth: Any) -> list[str]:
    """Rooms a connecting client may join, from its auth payload and (for staff) its session."""
    if not isinstance(auth, dict):
        raise ConnectionRefusedError("auth required")
    token = auth.get("ticket")
    if isinstance(token, str) and token:
        return _ticket_rooms(token, auth.get("lang"))
    if auth.get("role") == "chain":
        return _chain_rooms()
    code = auth.get("store")
    store = (
        db.session.scalar(select(Store).where(Store.code == code))
        if isinstance(code, str)
        else None
    )
    if store is None:
        raise ConnectionRefusedError("unknown store")
    role = auth.get("role")
    if role in ("display", "kiosk"):  # public rooms: ticket numbers and counts only
        return [display_room(store.code)]
    if role == "counter":
        if not (current_user.is_authenticated and current_user.can_act_in(store)):
            raise ConnectionRefusedError("staff login required")
        return [counter_room(store.code)]
    if role == "floor":  # the manager console's live floor: the staff room, managers only
        managing = current_user.is_authenticated and current_user.role in MANAGING_ROLES
        if not (managing and current_user.can_act_in(store)):
            raise ConnectionRefusedError("manager login required")
        return [counter_room(store.code)]
    raise ConnectionRefusedError("unknown role")


def _ticket_rooms(token: str, lang: Any) -> list[str]:
    """One ticket's status page, in its language."""
    found = db.session.execute(
        select(Ticket.id, Ticket.store_id).where(Ticket.token == token)
    ).first()
    if found is None:
        raise ConnectionRefusedError("unknown ticket")
    language = lang if lang in LANGUAGES else DEFAULT_LANG
    page = (found.store_id, found.id, language)
    with _PAGES_LOCK:
        _PAGES[request.sid] = page  # type: ignore[attr-defined]  # once per sid: connect runs once
    app_watchers(current_app._get_current_object()).joined(*page)  # type: ignore[attr-defined]
    return [ticket_room(found.id, language)]


def _chain_rooms() -> list[str]:
    """The chain's overview: administrators only."""
    admin = current_user.is_authenticated and current_user.active
    if not (admin and current_user.role == Role.ADMIN):
        raise ConnectionRefusedError("administrator login required")
    return [chain_room()]


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    try:
        rooms = rooms_for(auth)
    finally:
        db.session.remove()
    for room in rooms:
        join_room(room)


@socketio.on("disconnect")
def on_disconnect(reason: Any = None) -> None:
    with _PAGES_LOCK:
        page = _PAGES.pop(request.sid, None)  # type: ignore[attr-defined]
    if page is not None:
        app_watchers(current_app._get_current_object()).left(*page)  # type: ignore[attr-defined]
