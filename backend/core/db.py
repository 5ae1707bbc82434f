"""Database wiring: SQLite pragmas and `BEGIN IMMEDIATE` for write transactions.

SQLite ignores `SELECT … FOR UPDATE`, and a deferred transaction that reads first and writes later
can fail with "database is locked" when another writer got in between. Every command of the engine
therefore runs inside `write_transaction()`, which makes SQLite take the write lock at BEGIN
(waiting up to the busy timeout for it). Reads keep plain deferred transactions, which WAL lets run
beside a writer. On PostgreSQL the engine locks the store row instead (see engine.lock_store).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from backend.extensions import db

SQLITE_BUSY_TIMEOUT_S = 30

_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy, not the driver, emit BEGIN (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
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


@contextmanager
def write_transaction() -> Iterator[None]:
    """One write transaction: begun with the write lock, committed once, rolled back on error.

    A read transaction left open by the caller is ended first, so that the write lock is taken at
    BEGIN and never by upgrading a read lock (which SQLite may refuse without waiting).
    """
    session = db.session()  # the current scoped Session itself
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unflushed changes outside the engine")
        session.rollback()
    marker = _write_intent.set(True)
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(marker)
