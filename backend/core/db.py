"""Database wiring: SQLite pragmas, `BEGIN IMMEDIATE` for write transactions, the outbox.

SQLite ignores `SELECT … FOR UPDATE`, and a deferred transaction that reads first and writes later
can fail with "database is locked" at once (the busy timeout does not apply) when another writer
committed in between. Every write therefore runs inside `write_transaction()`, which makes SQLite
take the write lock at BEGIN (waiting up to the busy timeout for it). Reads keep plain deferred
transactions, which WAL lets run beside a writer. On PostgreSQL the commands lock the store row.

A write transaction also owns the outbox: what a command stages (live events, stores to project)
is handed to the dispatcher only after COMMIT, and dropped on ROLLBACK, so nothing is announced
that did not happen and nothing is computed while the lock is held.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from backend.extensions import db

SQLITE_BUSY_TIMEOUT_S = 30
SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL").upper()
if SQLITE_SYNCHRONOUS not in ("FULL", "NORMAL", "EXTRA"):
    raise RuntimeError("SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
OUTBOX_KEY = "outbox"

_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)
# Called after every COMMIT with what the transaction staged (set by backend.live.publisher).
_dispatchers: list[Callable[[list[Any]], None]] = []


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy, not the driver, emit BEGIN (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: WAL with NORMAL skips the fsync at commit, so a power cut can lose a ticket the
    # kiosk already printed; FULL syncs the WAL on every commit (its cost is measured in
    # bench/BENCHMARKS.md). A process kill loses nothing in either mode.
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}
    return {"pool_pre_ping": True}


DATA_KEY = "hallqueue.data_key"


def data_key() -> str:
    """Names this app's database in the per-process caches (store settings, projections, what
    was published): its URL and the app instance, so two apps on one server never share an
    entry, nor does an app built after the database was emptied and seeded again (tests)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key = app.extensions.get(DATA_KEY)
    if key is None:
        key = app.extensions.setdefault(DATA_KEY, f"{db.engine.url}#{os.urandom(6).hex()}")
    return str(key)


def in_write_transaction() -> bool:
    """True while a write transaction is open in this context (forecasts must not run then)."""
    return _write_intent.get()


def forbid_in_write_transaction(what: str) -> None:
    if _write_intent.get():
        raise RuntimeError(f"{what} must not run inside a write transaction")


def stage(item: Any) -> None:
    """Hand `item` to the dispatcher after this write transaction commits (never on rollback)."""
    if not _write_intent.get():
        raise RuntimeError("stage() outside a write transaction")
    db.session().info.setdefault(OUTBOX_KEY, []).append(item)


def on_commit(dispatcher: Callable[[list[Any]], None]) -> None:
    if dispatcher not in _dispatchers:
        _dispatchers.append(dispatcher)


@contextmanager
def write_transaction() -> Iterator[None]:
    """One write transaction: begun with the write lock, committed once, rolled back on error.

    A read transaction left open by the caller is ended first, so that the write lock is taken at
    BEGIN and never by upgrading a read lock (which SQLite may refuse without waiting).
    """
    session = db.session()  # the current scoped Session itself
    if _write_intent.get():
        raise RuntimeError("write transactions do not nest")
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unflushed changes outside the engine")
        session.rollback()
    session.info.pop(OUTBOX_KEY, None)
    marker = _write_intent.set(True)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        session.info.pop(OUTBOX_KEY, None)
        raise
    finally:
        _write_intent.reset(marker)
    staged = session.info.pop(OUTBOX_KEY, None)
    if staged:
        for dispatch in _dispatchers:
            dispatch(staged)


class StatementCounter:
    """Counts the SQL statements an engine executes (a deterministic guard for speed)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)
