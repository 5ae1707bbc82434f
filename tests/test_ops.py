"""Operations: the fail-fast start, `/healthz`, request ids in responses and logs, the real client
address behind a trusted proxy, and the production start under gunicorn with gevent."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from backend.app import create_app
from backend.core import health
from backend.core.health import StartupError, check_database, check_message_queue, check_startup
from backend.core.web import log_handler, sane_request_id
from backend.extensions import db
from backend.live.publisher import PUBLISHER
from backend.stores.seed import seed_demo

from .conftest import FAST_PASSWORD_HASH, TIER
from .factories import issue_ticket
from .test_api_counter import login

ROOT = Path(__file__).resolve().parent.parent
# The engines `.ci/run` starts on this machine (PostgreSQL trusts local connections).
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_POSTGRES = "postgresql+psycopg://127.0.0.1:1/x"


def listening(url: str) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(
    not listening(POSTGRES_URL), reason=f"no PostgreSQL at {POSTGRES_URL} (.ci/run starts it)"
)
needs_redis = pytest.mark.skipif(
    not listening(REDIS_URL), reason=f"no Redis at {REDIS_URL} (.ci/run starts it)"
)


def bare_app(tmp_path: Path, **config: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ops.db'}",
            "SECRET_KEY": "test-secret",
            "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
            **config,
        }
    )


def startup_message(**config: Any) -> str:
    settings = {"SQLALCHEMY_DATABASE_URI": "sqlite://", **config}
    with pytest.raises(StartupError) as raised:
        check_startup(settings)
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message
    return message


class TestFailFast:
    def test_a_missing_database_driver_names_the_setting_and_the_extra(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the scale extra were missing
        message = startup_message(SQLALCHEMY_DATABASE_URI=POSTGRES_URL)
        assert message.startswith("DATABASE_URL=")
        assert "'psycopg'" in message and "pip install '.[scale]'" in message

    def test_another_postgresql_driver_is_told_which_one_to_use(self) -> None:
        message = startup_message(SQLALCHEMY_DATABASE_URI="postgresql+pg8000://127.0.0.1/x")
        assert "'pg8000'" in message and "use postgresql+psycopg://" in message

    def test_an_unreachable_database(self) -> None:
        started = time.monotonic()
        message = startup_message(SQLALCHEMY_DATABASE_URI=UNREACHABLE_POSTGRES)
        assert "DATABASE_URL" in message and "cannot be reached" in message
        assert "127.0.0.1:1" in message and "start it, or correct the URL" in message
        assert time.monotonic() - started < health.CONNECT_TIMEOUT_S + 2

    def test_a_password_is_never_printed(self) -> None:
        message = startup_message(
            SQLALCHEMY_DATABASE_URI="postgresql+psycopg://hall:s3cret@127.0.0.1:1/x"
        )
        assert "s3cret" not in message and "hall:***@" in message

    def test_not_a_database_url(self) -> None:
        message = startup_message(SQLALCHEMY_DATABASE_URI="not a url")
        assert "DATABASE_URL" in message and "is not a database URL" in message

    def test_a_sqlite_file_that_cannot_be_opened(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"
        assert "cannot be reached" in startup_message(SQLALCHEMY_DATABASE_URI=url)

    def test_a_missing_redis_client_names_the_setting_and_the_extra(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "redis", None)
        message = startup_message(SOCKETIO_MESSAGE_QUEUE=REDIS_URL)
        assert message.startswith("SOCKETIO_MESSAGE_QUEUE=")
        assert "redis client library" in message and "pip install '.[scale]'" in message

    def test_an_unreachable_message_queue(self) -> None:
        message = startup_message(SOCKETIO_MESSAGE_QUEUE=UNREACHABLE_REDIS)
        assert message.startswith(f"SOCKETIO_MESSAGE_QUEUE={UNREACHABLE_REDIS}:")
        assert "cannot be reached" in message

    def test_a_message_queue_that_is_not_redis(self) -> None:
        message = startup_message(SOCKETIO_MESSAGE_QUEUE="amqp://guest@127.0.0.1//")
        assert "is not a Redis URL" in message

    def test_an_unreachable_rate_limit_store(self) -> None:
        message = startup_message(RATELIMIT_STORAGE_URI=UNREACHABLE_REDIS)
        assert message.startswith("RATELIMIT_STORAGE_URI=")

    def test_nothing_configured_beyond_sqlite_passes(self, tmp_path: Path) -> None:
        check_startup(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'ok.db'}",
                "SOCKETIO_MESSAGE_QUEUE": None,
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        check_message_queue(None)

    @needs_postgres
    def test_a_reachable_postgresql_passes(self) -> None:
        check_database(POSTGRES_URL)

    @needs_redis
    def test_a_reachable_redis_passes(self) -> None:
        check_startup(
            {
                "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
                "RATELIMIT_STORAGE_URI": REDIS_URL,
            }
        )

    def test_create_app_checks_unless_testing(self, tmp_path: Path) -> None:
        bare_app(tmp_path, SOCKETIO_MESSAGE_QUEUE=None)  # TESTING: no check, no connection
        with pytest.raises(StartupError, match="DATABASE_URL"):
            bare_app(
                tmp_path,
                STARTUP_CHECKS=True,
                SQLALCHEMY_DATABASE_URI=UNREACHABLE_POSTGRES,
            )

    def test_the_server_stops_at_once_with_one_line(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": UNREACHABLE_POSTGRES,
            "SECRET_KEY": "x",
            "PYTHONUNBUFFERED": "1",
        }
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "backend", "run", "--port", "1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert time.monotonic() - started < 30
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith("hallqueue: cannot start: DATABASE_URL="), done.stderr
        assert "Traceback" not in done.stderr


class TestHealthz:
    def test_ok_without_a_message_queue(self, client: FlaskClient) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        # The scale tier's tests keep their rate limits in Redis (tests/conftest.py).
        limits = "ok" if TIER == "scale" else "none"
        body = response.json
        live = body.pop("live_updates")
        assert body == {"database": "ok", "message_queue": "none", "rate_limits": limits}
        assert response.headers["Cache-Control"] == "no-store"
        assert live == {
            "pending": 0,
            "published": PUBLISHER.projections_published,
            "ticket_views": PUBLISHER.ticket_views_sent,
        }

    def test_tells_the_live_updates_published_by_this_process(
        self, app: Flask, client: FlaskClient
    ) -> None:
        before = client.get("/healthz").json["live_updates"]
        issue_ticket(client, "A")  # the tests publish right after each commit (no debounce)
        after = client.get("/healthz").json["live_updates"]
        # One projection; no status page is open, so no ticket view was built.
        assert after == {**before, "published": before["published"] + 1}

    def test_503_names_an_unreachable_message_queue(self, app: Flask, client: FlaskClient) -> None:
        app.config["SOCKETIO_MESSAGE_QUEUE"] = UNREACHABLE_REDIS
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json["database"] == "ok"
        assert response.json["message_queue"] == "unreachable"
        assert "127.0.0.1" not in response.get_data(as_text=True)  # no detail for the public

    def test_503_names_an_unreachable_database(self, tmp_path: Path) -> None:
        app = bare_app(
            tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}"
        )
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert {**response.json, "live_updates": None} == {
            "live_updates": None,
            "database": "unreachable",
            "message_queue": "none",
            "rate_limits": "none",
        }

    @needs_redis
    def test_ok_with_a_real_redis(self, app: Flask, client: FlaskClient) -> None:
        app.config["SOCKETIO_MESSAGE_QUEUE"] = REDIS_URL
        app.config["RATELIMIT_STORAGE_URI"] = REDIS_URL
        response = client.get("/healthz")
        assert response.status_code == 200
        assert {
            key: response.json[key] for key in ("database", "message_queue", "rate_limits")
        } == {
            "database": "ok",
            "message_queue": "ok",
            "rate_limits": "ok",
        }

    @needs_postgres
    def test_ok_on_a_real_postgresql(self, tmp_path: Path) -> None:
        app = bare_app(tmp_path, SQLALCHEMY_DATABASE_URI=POSTGRES_URL)
        try:
            response = app.test_client().get("/healthz")
            assert response.status_code == 200
            assert response.json["database"] == "ok"
        finally:
            with app.app_context():
                db.engine.dispose()


class TestRequestIds:
    def test_every_response_gets_one(self, client: FlaskClient) -> None:
        ids = {client.get(path).headers["X-Request-Id"] for path in ("/healthz", "/nowhere")}
        assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)

    def test_the_proxys_id_is_kept_when_sane(self, client: FlaskClient) -> None:
        response = client.get("/healthz", headers={"X-Request-Id": "5f2b-a1.c:9"})
        assert response.headers["X-Request-Id"] == "5f2b-a1.c:9"

    @pytest.mark.parametrize("bad", ["a b", "x" * 129, "<script>", "id\u00e9", "-leading"])
    def test_an_insane_id_is_replaced(self, client: FlaskClient, bad: str) -> None:
        assert sane_request_id(bad) is None
        response = client.get("/healthz", headers={"X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-Id"])

    def test_every_log_line_of_a_request_carries_it(self, app: Flask) -> None:
        stream = io.StringIO()
        handler = log_handler(stream)
        library = logging.getLogger("some.library")

        @app.get("/ops-test/log")
        def log_twice() -> str:
            app.logger.warning("from the app")
            library.warning("from a library")
            return "ok"

        app.logger.addHandler(handler)
        library.addHandler(handler)
        try:
            client = app.test_client()
            client.get("/ops-test/log", headers={"X-Request-Id": "req-42"})
            generated = client.get("/ops-test/log").headers["X-Request-Id"]
        finally:
            app.logger.removeHandler(handler)
            library.removeHandler(handler)
        lines = stream.getvalue().splitlines()
        assert len(lines) == 4
        assert all("[req-42]" in line for line in lines[:2])
        assert all(f"[{generated}]" in line for line in lines[2:])
        assert "from the app" in lines[0] and "from a library" in lines[1]


@pytest.fixture
def proxied_app(tmp_path: Path) -> Iterator[Flask]:
    """Behind one trusted proxy, with a login limit small enough to reach."""
    app = bare_app(tmp_path, TRUSTED_PROXIES=1, LOGIN_RATE_LIMIT="2 per minute")
    with app.app_context():
        db.create_all()
        seed_demo("demo", with_staff=False)
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


class TestClientAddress:
    def _remote_addr_route(self, app: Flask) -> None:
        @app.get("/ops-test/addr")
        def addr() -> str:
            return request.remote_addr or ""

    def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(
        self, proxied_app: Flask
    ) -> None:
        self._remote_addr_route(proxied_app)
        client = proxied_app.test_client()
        forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}
        assert client.get("/ops-test/addr", headers=forwarded).text == "203.0.113.5"

    def test_without_a_trusted_proxy_the_header_is_ignored(self, app: Flask) -> None:
        self._remote_addr_route(app)
        response = app.test_client().get(
            "/ops-test/addr", headers={"X-Forwarded-For": "203.0.113.5"}
        )
        assert response.text == "127.0.0.1"

    def test_rate_limits_count_each_real_client(self, proxied_app: Flask) -> None:
        client = proxied_app.test_client()

        def attempt(address: str) -> int:
            client.environ_base["HTTP_X_FORWARDED_FOR"] = address
            return int(login(client, "nobody", "wrong").status_code)

        assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
        assert attempt("203.0.113.2") == 401  # another customer behind the same proxy


# --- the production start -----------------------------------------------------------------------

WORKER_CLASS = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"  # as in the Makefile
GUNICORN = Path(sys.executable).parent / "gunicorn"
needs_gunicorn = pytest.mark.skipif(
    not GUNICORN.exists(), reason="the scale extra is not installed (pip install '.[scale]')"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [
                str(GUNICORN),
                "--worker-class",
                WORKER_CLASS,
                "--workers",
                "1",
                "--worker-connections",
                "200",
                "--graceful-timeout",
                "2",
                "--no-control-socket",
                "--bind",
                f"127.0.0.1:{port}",
                "backend.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture
def serve_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE", "RATELIMIT_STORAGE_URI")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'served.db'}",
        SECRET_KEY="serve-test-secret",
        PASSWORD_HASH_METHOD=FAST_PASSWORD_HASH,
        PYTHONUNBUFFERED="1",
    )
    return env


@needs_gunicorn
def test_gunicorn_refuses_to_start_with_an_unreachable_database(
    tmp_path: Path, serve_env: dict[str, str]
) -> None:
    serve_env["DATABASE_URL"] = UNREACHABLE_POSTGRES
    log = tmp_path / "gunicorn.log"
    process = gunicorn(free_port(), serve_env, log)
    try:
        assert process.wait(timeout=60) == 4  # gunicorn: "App failed to load", the master stops
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert "hallqueue: cannot start: DATABASE_URL=" in text
    assert "Traceback" not in text


@needs_gunicorn
def test_gunicorn_with_gevent_serves_pages_sockets_and_healthz(
    tmp_path: Path, serve_env: dict[str, str]
) -> None:
    import requests
    import socketio

    prepared = subprocess.run(
        [sys.executable, "-m", "backend", "migrate"],
        cwd=ROOT,
        env=serve_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert prepared.returncode == 0, prepared.stderr
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "backend.app", "seed-demo"],
        cwd=ROOT,
        env=serve_env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    port = free_port()
    log = tmp_path / "gunicorn.log"
    process = gunicorn(port, serve_env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:  # the master listens at once; the worker answers once it has loaded the app
                health_response = requests.get(f"{base}/healthz", timeout=(2, 60))
                break
            except requests.ConnectionError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert health_response.status_code == 200
        assert health_response.json()["database"] == "ok"
        page = requests.get(f"{base}/s/demo/display", timeout=5)
        assert page.status_code == 200 and "Content-Security-Policy" in page.headers

        display = socketio.Client(reconnection=False)
        display.connect(base, auth={"store": "demo", "role": "display"}, wait_timeout=10)
        try:
            assert display.transport() == "websocket"  # upgraded through the worker
        finally:
            display.disconnect()
        foreign = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            foreign.connect(
                base,
                headers={"Origin": "http://evil.example"},
                auth={"store": "demo", "role": "display"},
                wait_timeout=5,
            )
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    text = log.read_text()
    assert "Traceback" not in text, text
    # The access lines carry the request id the response echoed.
    assert f"[{health_response.headers['X-Request-Id']}]" in text
