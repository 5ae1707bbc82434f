"""What every response carries and every log line knows: security headers, the request id, the
real client address behind a proxy, and the origins allowed to open a socket.

- Security headers (`security_headers`): a Content-Security-Policy that runs only the site's own
  script files (no inline script, no eval), forbids framing, and keeps forms and links on the site;
  `Referrer-Policy: same-origin` (a status page's URL carries its token: it must not leak to
  another site); `X-Content-Type-Options: nosniff`. docs/security.md explains each.
- Request ids (`RequestIdMiddleware`, `RequestIdFilter`): every request gets `X-Request-Id`, the
  proxy's when it is sane, else a new one; the response echoes it and every log line written
  while the request runs carries it (`%(request_id)s`).
- `TRUSTED_PROXIES` (a count): werkzeug's ProxyFix takes the client address, scheme and host from
  that many proxies' `X-Forwarded-*` headers, so rate limits count real clients, not the proxy.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.wrappers import Response

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_ENVIRON = "hallqueue.request_id"
# What an id from the proxy may look like (nginx's $request_id is 32 hex digits; a UUID has
# dashes): nothing that could forge a log line or smuggle markup.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
NO_REQUEST = "-"
_request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)

# Inline <style> blocks exist (the login page's two rules, the poster's `@page` size, which
# depends on the paper chosen), so styles need 'unsafe-inline'; scripts never do. CSSOM changes
# from the site's scripts (element.style.…) are not governed by style-src at all.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "media-src 'self'",
        "connect-src 'self'",  # also ws:/wss: to this host (CSP Level 3)
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}

LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


# --- request ids -------------------------------------------------------------------------------


def sane_request_id(value: str | None) -> str | None:
    """The proxy's id if it is one we may log and echo, else None."""
    if value and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request this code runs for, or "-" outside any request."""
    return _request_id.get()


class RequestIdMiddleware:
    """Outermost WSGI layer: the id is known before any other layer logs. It stays the context's
    id after the response, until the next request of that thread or greenlet sets its own: the
    servers write their access line after the body is closed (gevent's pywsgi does), and that
    line must carry the id too."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request_id = sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or new_request_id()
        environ[REQUEST_ID_ENVIRON] = request_id
        environ["HTTP_X_REQUEST_ID"] = request_id
        _request_id.set(request_id)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers[:] = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class RequestIdFilter(logging.Filter):
    """Gives every record `request_id` (the current request's, or "-"), for `LOG_FORMAT`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def log_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


def configure_logging(level: int = logging.INFO) -> None:
    """For the servers (`python -m backend run`, the wsgi entry): the root logger's one handler
    writes every record, the app's and the libraries', with its request id. Run after the
    migrations, whose env.py loads alembic.ini's logging (which replaces the root's handlers and
    disables the loggers that existed then): this undoes both."""
    root = logging.getLogger()
    root.handlers[:] = [log_handler()]
    root.setLevel(level)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.disabled = False


# --- headers, proxies, origins -----------------------------------------------------------------


def security_headers(response: Response) -> Response:
    """after_request: the headers of every page and every JSON answer (a view may set its own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def install_middleware(app: Flask) -> None:
    """After socketio.init_app (so the socket server sees the fixed environ as well): ProxyFix for
    TRUSTED_PROXIES hops, then the request id outermost."""
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(security_headers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_socket_origins(config: dict[str, Any] | Any) -> Callable[[str, dict[str, Any]], bool]:
    """Socket.IO's `cors_allowed_origins`, set explicitly rather than left to the library: a page
    may open a socket when it comes from the host the socket is opened to (same origin), from
    PUBLIC_BASE_URL, or from one of SOCKETIO_EXTRA_ORIGINS. A page of any other site is refused
    (400) before a socket exists. The same host stays allowed with PUBLIC_BASE_URL set: a display
    on the server's own screen opens http://127.0.0.1:5000 while the QR codes name the LAN
    address (docs/store-setup.md), and behind a proxy the host is the proxy's public one."""
    listed = [config.get("PUBLIC_BASE_URL") or ""]
    listed += (config.get("SOCKETIO_EXTRA_ORIGINS") or "").replace(",", " ").split()
    fixed = {_origin(url) for url in listed if url}

    def allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True  # not a browser (a browser always sends Origin with a socket)
        origin = origin.lower().rstrip("/")
        if origin in fixed:
            return True
        host = (environ.get("HTTP_HOST") or "").lower()
        return bool(host) and urlsplit(origin).netloc == host

    return allowed
