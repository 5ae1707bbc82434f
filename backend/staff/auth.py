"""Staff authentication: session login (server-side session rows, so logout is real), API tokens,
and the check every staff API call goes through."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, select
from werkzeug.wrappers import Response as WerkzeugResponse

from backend.core.clock import now
from backend.core.db import in_write_transaction, write_transaction
from backend.core.errors import Unauthorized
from backend.core.pages import render_page
from backend.core.tokens import hash_token, new_token
from backend.extensions import csrf, db, limiter, login_manager
from backend.policy import Role
from backend.staff.models import ApiToken, StaffSession, User
from backend.stores.models import Store

bp = Blueprint("auth", __name__)
SESSION_KEY = "staff_key"


LOGIN_MAX_FAILURES = 5
LOGIN_LOCK = timedelta(minutes=15)
# last_seen is written at most this often: an idle check needs minutes, not every request.
SEEN_RESOLUTION = timedelta(minutes=1)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    key = session.get(SESSION_KEY)
    if not key:
        return None
    key_hash = hash_token(key)
    row = db.session.scalar(select(StaffSession).where(StaffSession.key_hash == key_hash))
    if row is None or str(row.user_id) != user_id or not row.user.active:
        return None
    moment = now()
    seen = row.last_seen or row.created_at
    expired = moment - seen > current_app.permanent_session_lifetime
    if expired or moment - seen > SEEN_RESOLUTION:
        # Through the engine's write transaction: a read-then-write here would fail at once
        # with "database is locked" whenever another command commits in between.
        with write_transaction():
            fresh = db.session.scalar(select(StaffSession).where(StaffSession.key_hash == key_hash))
            if fresh is not None and expired:
                db.session.delete(fresh)
            elif fresh is not None:
                fresh.last_seen = moment
                fresh.user.last_seen_at = moment
        if expired:
            return None
    return db.session.get(User, int(user_id))


def start_session(user: User) -> None:
    key = secrets.token_urlsafe(32)
    user_id = user.id
    moment = now()
    with write_transaction():
        db.session.add(StaffSession(key_hash=hash_token(key), user_id=user_id, created_at=moment))
        account = db.session.get(User, user_id)
        if account is not None:
            account.last_seen_at = moment
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = key
    login_user(user)


def end_session() -> None:
    key = session.get(SESSION_KEY)
    if key:
        with write_transaction():
            db.session.execute(delete(StaffSession).where(StaffSession.key_hash == hash_token(key)))
    logout_user()
    session.clear()


def issue_api_token(user: User, name: str = "") -> str:
    """Create a bearer token for a user; the plain token is returned once and never stored."""
    token = new_token()
    user_id = user.id
    with write_transaction():
        db.session.add(
            ApiToken(token_hash=hash_token(token), user_id=user_id, name=name, created_at=now())
        )
    return token


def _bearer_user(token: str) -> User:
    """The active user of a token that is not revoked: one query on every API call, and a
    write at most once a minute to note the token's use."""
    token_hash = hash_token(token)
    found = _token_user(token_hash)
    moment = now()
    if found.last_used_at is None or moment - found.last_used_at > SEEN_RESOLUTION:
        _note_token_use(token_hash, moment)
        found = _token_user(token_hash)  # revoked or deactivated meanwhile: refused
    user: User = found.User
    return user


def _token_user(token_hash: str) -> Any:
    row = db.session.execute(
        select(User, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    ).first()
    if row is None:
        raise Unauthorized(_l("The API token is not valid."), error_code="bad_token")
    return row


def _note_token_use(token_hash: str, moment: datetime) -> None:
    """When a token was last used (and its user last seen): at most once a minute, so that a
    busy integration does not add a write to every call."""
    if in_write_transaction():
        return
    with write_transaction():
        fresh = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
        if fresh is not None:
            fresh.last_used_at = moment
            fresh.user.last_seen_at = moment


def staff_user() -> User:
    """The staff member making this API call, or 401. Session calls must carry the CSRF token."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return _bearer_user(header[7:].strip())
    if current_user.is_authenticated:
        csrf.protect()
        user: User = current_user._get_current_object()  # type: ignore[attr-defined]
        return user
    raise Unauthorized()


# Customer pages: logging in never lands staff there (the index "/" opens the kiosk).
CUSTOMER_PAGE = re.compile(r"^/(?:$|s/[^/]+/(?:kiosk|join|book)(?:/|$)|t/|b/)")


def _safe_next(target: str | None) -> str:
    """A same-site path to go back to after logging in, or "" (then: the staff home)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
        and not CUSTOMER_PAGE.match(urlsplit(target).path)
    ):
        return target
    return ""


def staff_home(user: User) -> str:
    """Where a login lands: a manager on their store's console, an admin on the console's list of
    stores, a clerk on the counter picker of their store."""
    if user.role in (Role.MANAGER, Role.ADMIN):
        return url_for("manager.home")
    code = user.store.code if user.store is not None else None
    if code is None:
        code = db.session.scalar(select(Store.code).order_by(Store.id))
    return url_for("counter.terminal", store_code=code) if code else url_for("auth.login")


def _check_password(username: str, password: str) -> tuple[User | None, str | None, int]:
    """(user, error, status). Five wrong passwords in a row lock the account for 15 minutes.
    One write transaction: two wrong passwords at once both count."""
    moment = now()
    with write_transaction():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None and user.locked_until is not None and user.locked_until > moment:
            zone = ZoneInfo(user.store.timezone if user.store else "Asia/Shanghai")
            until = user.locked_until.astimezone(zone).strftime("%H:%M")
            message = _("Too many wrong passwords. Please try again after %(time)s.", time=until)
            return None, message, 429
        if user is not None and user.active and user.check_password(password):
            user.failed_logins = 0
            user.locked_until = None
            return user, None, 200
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= LOGIN_MAX_FAILURES:
                user.failed_logins = 0
                user.locked_until = moment + LOGIN_LOCK
    return None, _("Wrong username or password."), 401


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login() -> tuple[str, int] | WerkzeugResponse:
    next_url = _safe_next(request.values.get("next"))
    error = None
    status = 200
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        user, error, status = _check_password(username, request.form.get("password", ""))
        if user is not None:
            start_session(user)
            return redirect(next_url or staff_home(user))
    page = render_page("auth/login.html", error=error, next=next_url, username=username)
    return page, status


@bp.route("/logout", methods=["POST"])
def logout() -> Response | WerkzeugResponse:
    end_session()
    return redirect(url_for("auth.login"))
