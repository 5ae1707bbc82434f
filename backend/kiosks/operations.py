"""Kiosks: registration (a token shown once, its hash kept), recognising a kiosk's browser, and the
manager console's devices page (create, rename, revoke: one write transaction each, audited)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask import Request
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from backend.audit.log import record
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.tokens import hash_token
from backend.extensions import db
from backend.kiosks.models import Kiosk
from backend.queue.models import Ticket
from backend.staff.models import User
from backend.stores.configure import can_manage, check_unchanged, managed_store
from backend.stores.models import Store
from backend.stores.operations import lock_store

# The kiosk's browser keeps its token in this cookie (set by the registration link); other
# vendors' kiosks send it in the header instead.
KIOSK_COOKIE = "kiosk_device"
KIOSK_HEADER = "X-Kiosk-Token"
KIOSK_COOKIE_MAX_AGE = 5 * 365 * 24 * 3600
# A phone that opened the store's join page: one remote ticket at a time per such browser.
REMOTE_COOKIE = "queue_client"
REMOTE_COOKIE_MAX_AGE = 24 * 3600
KIOSK_REVOKED = _l("This kiosk is no longer registered. Please ask our staff.")


def register_kiosk(store_code: str, name: str, auto_print: bool = True) -> str:
    """Register a kiosk; returns its token (shown once, kept by the kiosk's browser)."""
    with write_transaction():
        kiosk, token = Kiosk.register(lock_store(code=store_code), name, now(), auto_print)
        db.session.add(kiosk)
    return token


def _by_token(token: str | None) -> Kiosk | None:
    if not token:
        return None
    return db.session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_token(token)))


def find_kiosk(token: str | None) -> Kiosk | None:
    kiosk = _by_token(token)
    return kiosk if kiosk is not None and kiosk.revoked_at is None else None


def is_revoked(token: str | None) -> bool:
    """The token was a kiosk's, and the kiosk was revoked (not merely an unknown token)."""
    kiosk = _by_token(token)
    return kiosk is not None and kiosk.revoked_at is not None


def kiosk_token(request: Request) -> str | None:
    return request.headers.get(KIOSK_HEADER) or request.cookies.get(KIOSK_COOKIE)


def request_kiosk(request: Request) -> Kiosk | None:
    return find_kiosk(kiosk_token(request))


def refuse_revoked(request: Request) -> None:
    """A revoked kiosk asking to print or check in: a 403 that says so, in its language."""
    if is_revoked(kiosk_token(request)):
        raise Forbidden(KIOSK_REVOKED, error_code="kiosk_revoked")


# --- the manager console's devices page ------------------------------------------------------


class KioskAction(StrEnum):
    CREATED = "kiosk_created"
    UPDATED = "kiosk_updated"
    REVOKED = "kiosk_revoked"


KIOSK_FIELDS = ("name", "auto_print")
NAME_TAKEN = _l("Another kiosk of this store has this name.")


@dataclass(frozen=True)
class KioskRow:
    id: int
    name: str
    auto_print: bool
    created_at: datetime
    revoked_at: datetime | None
    last_ticket_at: datetime | None  # its last ticket (printed or checked in)


def list_kiosks(store: Store) -> list[KioskRow]:
    """The store's kiosks, working ones first, each with its last ticket: read from the tickets
    (one index range per kiosk), so issuing a ticket writes nothing more."""
    last = (
        select(func.max(Ticket.issued_at))
        .where(Ticket.kiosk_id == Kiosk.id)
        .correlate(Kiosk)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Kiosk, last).where(Kiosk.store_id == store.id).order_by(Kiosk.id)
    )
    kiosks = [
        KioskRow(k.id, k.name, k.auto_print, k.created_at, k.revoked_at, at) for k, at in rows
    ]
    return sorted(kiosks, key=lambda k: k.revoked_at is not None)


def _kiosk(store: Store, kiosk_id: int) -> Kiosk:
    kiosk = db.session.get(Kiosk, kiosk_id)
    if kiosk is None or kiosk.store_id != store.id:
        raise NotFound(_l("Unknown kiosk."), error_code="unknown_kiosk")
    return kiosk


def kiosk_values(store: Store, kiosk_id: int) -> dict[str, Any]:
    """What the kiosk's form edits (a revoked kiosk is not edited: 404)."""
    kiosk = _kiosk(store, kiosk_id)
    if kiosk.revoked_at is not None:
        raise NotFound(_l("Unknown kiosk."), error_code="unknown_kiosk")
    return {name: getattr(kiosk, name) for name in KIOSK_FIELDS}


def _locked(code: str, actor: User) -> Store:
    managed_store(code, actor)  # 404/403 before the lock, and again under it below
    store = lock_store(code=code)
    if not can_manage(actor, store):
        raise Forbidden(_l("Only the store's managers may change its settings."))
    return store


def _name_taken(store: Store, name: str, other_than: int | None = None) -> bool:
    """A working kiosk of the store has this name (a revoked one's name may be given again)."""
    query = exists().where(
        Kiosk.store_id == store.id, Kiosk.name == name, Kiosk.revoked_at.is_(None)
    )
    if other_than is not None:
        query = query.where(Kiosk.id != other_than)
    return bool(db.session.scalar(select(query)))


def create_kiosk(code: str, actor: User, name: str, auto_print: bool) -> str:
    """Register a kiosk from the console; its token (the set-up link is shown once). Names are
    unique among the store's working kiosks, so a double click or a retried form creates one."""
    with write_transaction():
        store = _locked(code, actor)
        if _name_taken(store, name):
            raise Conflict(NAME_TAKEN, error_code="kiosk_name_taken")
        kiosk, token = Kiosk.register(store, name, now(), auto_print)
        db.session.add(kiosk)
        after = {"name": name, "auto_print": auto_print}
        record(store.id, actor, KioskAction.CREATED, name, None, after)
    return token


def update_kiosk(
    code: str, actor: User, kiosk_id: int, values: Mapping[str, Any], loaded: str | None = None
) -> bool:
    """Rename a kiosk or say whether it has a printer; True when something changed."""
    with write_transaction():
        store = _locked(code, actor)
        kiosk = _kiosk(store, kiosk_id)
        if kiosk.revoked_at is not None:
            raise Conflict(_l("This kiosk is revoked."), error_code="kiosk_revoked")
        check_unchanged({name: getattr(kiosk, name) for name in KIOSK_FIELDS}, loaded)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name in KIOSK_FIELDS:
            if name in values and values[name] != getattr(kiosk, name):
                before[name], after[name] = getattr(kiosk, name), values[name]
        if "name" in after and _name_taken(store, after["name"], other_than=kiosk.id):
            raise Conflict(NAME_TAKEN, error_code="kiosk_name_taken")
        if not after:
            return False
        target = kiosk.name
        for name, value in after.items():
            setattr(kiosk, name, value)
        record(store.id, actor, KioskAction.UPDATED, target, before, after)
    return True


def revoke_kiosk(code: str, actor: User, kiosk_id: int) -> bool:
    """Revoke a kiosk: its next ticket or check-in gets a 403 saying it is no longer registered.
    Its tickets keep naming it. True when it was working."""
    with write_transaction():
        store = _locked(code, actor)
        kiosk = _kiosk(store, kiosk_id)
        if kiosk.revoked_at is not None:
            return False
        kiosk.revoked_at = now()
        record(
            store.id, actor, KioskAction.REVOKED, kiosk.name, {"revoked": False}, {"revoked": True}
        )
    return True
