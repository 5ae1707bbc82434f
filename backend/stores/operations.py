"""Look-ups and the store lock that every command of a store takes first."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.core.errors import NotFound
from backend.extensions import db
from backend.stores.models import Counter, Store

UNKNOWN_STORE = _l("Unknown store.")


def find_store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code)) if code else None
    if store is None:
        raise NotFound(UNKNOWN_STORE, error_detail="store")
    return store


def store_id_of(code: str) -> int:
    found = db.session.scalar(select(Store.id).where(Store.code == code)) if code else None
    if found is None:
        raise NotFound(UNKNOWN_STORE, error_detail="store")
    return found


def lock_store(*, store_id: int | None = None, code: str | None = None) -> Store:
    """Serialise the store's commands: a row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE already
    holds the database write lock and FOR UPDATE is ignored. Another store's commands never wait."""
    query = select(Store).with_for_update().execution_options(populate_existing=True)
    query = (
        query.where(Store.id == store_id)
        if store_id is not None
        else query.where(Store.code == code)
    )
    store = db.session.scalar(query)
    if store is None:
        raise NotFound(UNKNOWN_STORE, error_detail="store")
    return store


def find_counter(store: Store, number: int) -> Counter:
    """A working counter: an archived one is unknown to every command (no sign-in, no call)."""
    counter = db.session.scalar(
        select(Counter).where(
            Counter.store_id == store.id, Counter.number == number, Counter.archived.is_(False)
        )
    )
    if counter is None:
        raise NotFound(_l("Unknown counter."))
    return counter
