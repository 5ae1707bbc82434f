"""Configuration from environment variables, with defaults for the embedded single-store profile."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

DEFAULT_DB_FILE = "hallqueue.db"
# The largest request body accepted (413 beyond): every API body is a few hundred bytes.
DEFAULT_MAX_CONTENT_LENGTH = 64 * 1024
SECRET_KEY_FILE = "secret_key"


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the instance folder."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    key_file = instance_path / SECRET_KEY_FILE
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Created with owner-only permissions: the key signs staff sessions.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _delay(text: str) -> float | None:
    return None if text.strip().lower() in ("none", "") else float(text)


def _flag(name: str) -> bool | None:
    """An on/off setting from the environment ("1"/"0"), or None when it is not set."""
    text = os.environ.get(name, "").strip().lower()
    if not text:
        return None
    return text in ("1", "true", "yes", "on")


def load_config(instance_path: Path) -> dict[str, Any]:
    instance_path.mkdir(parents=True, exist_ok=True)
    db_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / DEFAULT_DB_FILE}"
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        # The Redis channel the processes of one deployment share (two deployments on one Redis
        # must differ).
        "SOCKETIO_CHANNEL": os.environ.get("SOCKETIO_CHANNEL", "hallqueue"),
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE", "threading"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL") or None,
        # Further origins whose pages may open a socket (space or comma separated), beside
        # PUBLIC_BASE_URL; with neither set, only pages of the host the socket is opened to.
        "SOCKETIO_EXTRA_ORIGINS": os.environ.get("SOCKETIO_EXTRA_ORIGINS", ""),
        # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host (0: none; then
        # those headers are ignored, as a client could forge them).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # Check the database and the message queue before serving (None: unless TESTING).
        "STARTUP_CHECKS": _flag("STARTUP_CHECKS"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": int(os.environ.get("STAFF_IDLE_TIMEOUT", str(8 * 3600))),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "WTF_CSRF_TIME_LIMIT": None,  # the session lifetime already bounds the token
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ["zh", "en"],
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": os.environ.get("RATELIMIT_KEY_PREFIX", "hallqueue"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute"),
        "KIOSK_AUTO_PRINT": os.environ.get("KIOSK_AUTO_PRINT", "0") == "1",
        # Seconds the publisher waits to coalesce a burst of commands into one projection update
        # ("none": right after each commit, which tests use to be deterministic).
        "LIVE_PROJECTION_DELAY": _delay(os.environ.get("LIVE_PROJECTION_DELAY", "0.25")),
        # At most one projection update per store in this many seconds (a busy store's burst).
        "LIVE_PROJECTION_INTERVAL": float(os.environ.get("LIVE_PROJECTION_INTERVAL", "1.0")),
        # Check every API answer against its documented schema: "raise" (tests), "log", "".
        "API_VALIDATE_RESPONSES": os.environ.get("API_VALIDATE_RESPONSES", "log"),
        # The share of answers checked under "log" (every one under "raise").
        "API_VALIDATE_SAMPLE": float(os.environ.get("API_VALIDATE_SAMPLE", "0.02")),
        # werkzeug's method for staff passwords; env PASSWORD_HASH_METHOD (tests: a cheap pbkdf2).
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        # Customer messages (backend.messaging.sms): provider log | aliyun, and its account.
        **{
            name: os.environ.get(name, "")
            for name in (
                "SMS_PROVIDER",
                "SMS_ACCESS_KEY_ID",
                "SMS_ACCESS_KEY_SECRET",
                "SMS_SIGN_NAME",
                "SMS_TEMPLATE_CONFIRMATION",
                "SMS_TEMPLATE_REMINDER",
                "SMS_TEMPLATE_ALMOST",
                "SMS_TEMPLATE_CASE_OPENED",
                "SMS_TEMPLATE_CASE_PROMISE",
                "SMS_TEMPLATE_CASE_RESOLVED",
                "SMS_ENDPOINT",
            )
        },
        # Web Push (backend.messaging.push): the VAPID key (else one kept in the instance folder),
        # the contact the push services see, and (tests, a lab) endpoints over plain http.
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY", ""),
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT", ""),
        "PUSH_ALLOW_HTTP": os.environ.get("PUSH_ALLOW_HTTP", "0") == "1",
        # Seconds between the outbox sender's rounds ("none": no background sender; tests).
        "MESSAGES_SEND_INTERVAL": _delay(os.environ.get("MESSAGES_SEND_INTERVAL", "15")),
        "MAX_CONTENT_LENGTH": int(
            os.environ.get("MAX_CONTENT_LENGTH", str(DEFAULT_MAX_CONTENT_LENGTH))
        ),
    }
