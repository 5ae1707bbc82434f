"""Fail-fast start and `/healthz`: the database and the message queue, checked for real.

A scale deployment names its engines in settings (`DATABASE_URL`, `SOCKETIO_MESSAGE_QUEUE`,
`RATELIMIT_STORAGE_URI`). A driver that is not installed, or a server that cannot be reached,
must stop the server at start with one line that names the setting and the fix, never a
traceback, and never a server that runs but delivers nothing between processes. `/healthz`
asks the same questions of the running app, for the proxy and the operator.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

# Seconds a start-up or health check waits for a server before it calls it unreachable.
CONNECT_TIMEOUT_S = 3
SCALE_EXTRA = "pip install '.[scale]'"
REDIS_SCHEMES = ("redis", "rediss", "unix")
HEALTH_REDIS_KEY = "health_redis"


class StartupError(RuntimeError):
    """A setting that cannot work; its message is one line: the setting, the problem, the fix."""


def _short(exc: BaseException) -> str:
    """The first line of an exception's text (drivers add hints on further lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def _redact(url: str) -> str:
    """A URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        parts = urlsplit(url)
        if parts.password:
            return url.replace(f":{parts.password}@", ":***@")
        return url


def _engine_for_check(url: URL) -> Any:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in ("postgresql", "mysql"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    elif url.get_backend_name() == "sqlite":
        connect_args["timeout"] = CONNECT_TIMEOUT_S
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def check_database(database_url: str) -> None:
    """DATABASE_URL names an installed driver and a database that answers `SELECT 1`."""
    shown = _redact(database_url)
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise StartupError(
            f"DATABASE_URL={shown} is not a database URL: "
            "use e.g. postgresql+psycopg://user@host:5432/name or sqlite:////path/to/file.db"
        ) from None
    try:
        engine = _engine_for_check(url)
    except NoSuchModuleError:
        raise StartupError(
            f"DATABASE_URL={shown} names an unknown database kind {url.drivername!r}: "
            "use postgresql+psycopg://… or sqlite:///…"
        ) from None
    except ImportError as exc:
        driver = getattr(exc, "name", None) or url.get_driver_name()
        fix = (
            f"install the scale extra ({SCALE_EXTRA})"
            if url.get_backend_name() == "postgresql"
            else f"install the {driver} package"
        )
        if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
            fix = "use postgresql+psycopg://… (the driver the scale extra installs) and " + fix
        raise StartupError(
            f"DATABASE_URL={shown} needs the database driver {driver!r}, which is not "
            f"installed: {fix}"
        ) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        where = url.host or "localhost"
        if url.port:
            where += f":{url.port}"
        if url.get_backend_name() == "sqlite":
            where = url.database or "memory"
        raise StartupError(
            f"DATABASE_URL={shown}: the database at {where} cannot be reached "
            f"({_short(getattr(exc, 'orig', None) or exc)}): start it, or correct the URL"
        ) from None
    finally:
        engine.dispose()


def _redis_client(setting: str, url: str) -> Any:
    try:
        redis = importlib.import_module("redis")
    except ImportError:
        raise StartupError(
            f"{setting}={_redact(url)} needs the redis client library, which is not installed: "
            f"install the scale extra ({SCALE_EXTRA})"
        ) from None
    return redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=CONNECT_TIMEOUT_S
    )


def _ping(setting: str, url: str, client: Any) -> None:
    try:
        client.ping()
    except Exception as exc:  # the client's ConnectionError, TimeoutError, AuthenticationError…
        raise StartupError(
            f"{setting}={_redact(url)}: the Redis server cannot be reached ({_short(exc)}): "
            "start it, or correct the URL"
        ) from None


def check_redis(setting: str, url: str) -> None:
    """A redis:// setting: the client library is installed and the server answers PING."""
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise StartupError(
            f"{setting}={_redact(url)} is not a Redis URL: use redis://host:6379/0 "
            "(or rediss:// with TLS)"
        )
    client = _redis_client(setting, url)
    try:
        _ping(setting, url, client)
    finally:
        client.close()


def check_message_queue(url: str | None) -> None:
    """SOCKETIO_MESSAGE_QUEUE, when set, is a Redis that answers (Socket.IO events between the
    processes travel through it: without it each process would only reach its own clients)."""
    if url:
        check_redis("SOCKETIO_MESSAGE_QUEUE", url)


def check_rate_limit_storage(url: str | None) -> None:
    """RATELIMIT_STORAGE_URI, when it is a Redis, answers (shared limits across processes)."""
    if url and urlsplit(url).scheme in REDIS_SCHEMES:
        check_redis("RATELIMIT_STORAGE_URI", url)


def check_startup(config: dict[str, Any] | Any) -> None:
    """Every configured engine, in the order a new operator meets them; the first that fails
    raises StartupError."""
    check_database(config["SQLALCHEMY_DATABASE_URI"])
    check_message_queue(config.get("SOCKETIO_MESSAGE_QUEUE"))
    check_rate_limit_storage(config.get("RATELIMIT_STORAGE_URI"))


# --- /healthz: the same questions asked of the running app --------------------------------------


def _database_health() -> str:
    from backend.extensions import db

    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health: database unreachable: %s", _short(exc))
        return "unreachable"
    return "ok"


def _redis_health(app: Flask, setting: str, url: str | None) -> str:
    if not url:
        return "none"
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        return "none" if setting == "RATELIMIT_STORAGE_URI" else "unsupported"
    clients = app.extensions.setdefault(HEALTH_REDIS_KEY, {})
    try:
        if url not in clients:
            clients[url] = _redis_client(setting, url)
        _ping(setting, url, clients[url])
    except StartupError as exc:
        log.warning("health: %s", exc)
        return "unreachable"
    return "ok"


def health(app: Flask) -> tuple[dict[str, str], int]:
    """`{"database": "ok", "message_queue": "ok"|"none", "rate_limits": …}` and 200, or the same
    with the failing part named ("unreachable") and 503."""
    body = {
        "database": _database_health(),
        "message_queue": _redis_health(
            app, "SOCKETIO_MESSAGE_QUEUE", app.config.get("SOCKETIO_MESSAGE_QUEUE")
        ),
        "rate_limits": _redis_health(
            app, "RATELIMIT_STORAGE_URI", app.config.get("RATELIMIT_STORAGE_URI")
        ),
    }
    healthy = all(value in ("ok", "none") for value in body.values())
    return body, 200 if healthy else 503
