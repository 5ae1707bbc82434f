"""The application factory: config, extensions, blueprints of every terminal, error handling."""

from __future__ import annotations

import math
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

from backend.config import load_config

# sockets registers its handlers on the unbound SocketIO before any init_app binds a server.
from backend.core import i18n
from backend.core.clock import CLOCK_KEY, OffsetClock
from backend.core.db import engine_options
from backend.core.errors import BadInput, DomainError, TooManyRequests
from backend.core.health import check_startup, health
from backend.core.text import has_nul
from backend.core.web import allowed_socket_origins, install_middleware
from backend.extensions import babel, csrf, db, limiter, login_manager, migrate, socketio
from backend.live import publisher, sockets  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")
# The largest id or number a URL may carry: what a signed 32-bit database column holds. A larger
# one names nothing (404) instead of overflowing the database driver (500).
MAX_PATH_INT = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route, bounded: 0 … MAX_PATH_INT unless the rule says otherwise."""

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_PATH_INT,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
        instance_path=str((config or {}).get("INSTANCE_PATH") or ROOT / "instance"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    app.config.update(config or {})
    startup_checks = app.config.get("STARTUP_CHECKS")
    if startup_checks if startup_checks is not None else not app.config.get("TESTING"):
        # A driver missing or a server down stops here, with a line naming the setting.
        check_startup(app.config)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in JSON
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    )
    if "CLOCK" in app.config:
        app.extensions[CLOCK_KEY] = app.config["CLOCK"]
    elif os.environ.get("HALLQUEUE_CLOCK_START"):
        # For browser tests and demos only: the server lives as if it started at that moment.
        start = datetime.fromisoformat(os.environ["HALLQUEUE_CLOCK_START"])
        app.extensions[CLOCK_KEY] = OffsetClock(start)

    # Before any blueprint adds its rules: a rule binds its converter when it is added.
    app.url_map.converters["int"] = BoundedIntConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    babel.init_app(app, locale_selector=i18n.select_locale)
    i18n.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        channel=app.config.get("SOCKETIO_CHANNEL", "hallqueue"),
        cors_allowed_origins=allowed_socket_origins(app.config),
    )
    install_middleware(app)

    from backend import api, cli
    from backend.staff import auth
    from counter.appointments import bp as appointments_bp
    from counter.rating import bp as counter_rating_bp
    from counter.views import bp as counter_bp
    from display.views import bp as display_bp
    from kiosk.views import bp as kiosk_bp
    from manager.views import bp as manager_bp

    api.load_routes()
    # Staff calls check CSRF themselves (staff.auth.staff_user); bearer calls need none.
    csrf.exempt(api.bp)
    for blueprint in (
        api.bp,
        auth.bp,
        kiosk_bp,
        display_bp,
        counter_bp,
        appointments_bp,
        counter_rating_bp,
        manager_bp,
    ):
        app.register_blueprint(blueprint)
    cli.register(app)
    from backend.messaging.sender import start_sender

    start_sender(app)

    @app.get("/healthz")
    def healthz() -> Any:
        from backend.live.publisher import PUBLISHER

        body, status = health(app)
        # This process's live updates: pending (debounced, not yet out) and published so far.
        live = {
            "pending": PUBLISHER.pending,
            "published": PUBLISHER.projections_published,
            "ticket_views": PUBLISHER.ticket_views_sent,
        }
        response = jsonify({**body, "live_updates": live})
        response.headers["Cache-Control"] = "no-store"
        return response, status

    @app.get("/api/openapi.json")
    def openapi() -> Any:
        return jsonify(api.registry.spec())

    @app.get("/")
    def index() -> Response:
        from backend.stores.models import Store

        store = db.session.scalar(db.select(Store).order_by(Store.id))
        if store is None:
            return redirect(url_for("auth.login"))
        return redirect(url_for("kiosk.home", store_code=store.code))

    _register_error_handlers(app)
    app.before_request(_refuse_nul_characters)
    return app


NUL_REFUSED = _l("The request contains characters that are not allowed.")


def _refuse_nul_characters() -> None:
    """A NUL character has no place in a URL or a form, and PostgreSQL refuses to store one: answer
    400 before any view sees it (JSON bodies are checked field by field in parse_body)."""
    if has_nul(request.path) or any(has_nul(k) or has_nul(v) for k, v in request.args.items(True)):
        raise BadInput(NUL_REFUSED, error_code="bad_text")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # Kept, so that an API view still reads the raw body after the form was looked at.
        request.get_data(cache=True)
        if any(has_nul(k) or has_nul(v) for k, v in request.form.items(True)):
            raise BadInput(NUL_REFUSED, error_code="bad_text")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error_response(status: int, code: str, message: str) -> Any:
    if _wants_json():
        return jsonify({"error": code, "message": message}), status
    from backend.core.pages import render_page

    return render_page("errors/error.html", code=status, title=message, message=message), status


def _retry_after() -> int:
    """Seconds until the rate limit this request broke lets the caller in again."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window.reset_time - time.time()))


def _rate_limited(status: int) -> Any:
    """A broken rate limit, answered with the same code as the engine's own TooManyRequests (the
    pages know it) and how long to wait: `retry_after` seconds, also in the message."""
    code = TooManyRequests.code
    seconds = _retry_after()
    message = _(
        "Too many requests. Please wait %(seconds)s seconds and try again.", seconds=seconds
    )
    if not _wants_json():
        return _error_response(status, code, message)
    response = jsonify({"error": code, "message": message, "retry_after": seconds})
    response.headers["Retry-After"] = str(seconds)
    return response, status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        body = exc.to_dict()
        if "error_code" in body:
            body["error"] = body.pop("error_code")
        if _wants_json():
            return jsonify(body), exc.status
        return _error_response(exc.status, body["error"], body["message"])

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _error_response(
            400, "csrf_failed", _("The page has expired. Please reload it and try again.")
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        messages = {
            404: _("Not found."),
            405: _("This method is not allowed here."),
            413: _("The request is too large."),
            429: _("Too many requests. Please wait a moment."),
        }
        if isinstance(exc, RateLimitExceeded):
            return _rate_limited(exc.code or 429)
        code = (exc.name or "error").lower().replace(" ", "_")
        message = messages.get(exc.code or 400, _("The request could not be processed."))
        response = make_response(_error_response(exc.code or 400, code, message))
        # The exception's own headers (a 405's `Allow`, which RFC 9110 requires), not its HTML
        # content type.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unhandled error")
        return _error_response(500, "internal", _("Something went wrong. Please try again."))
