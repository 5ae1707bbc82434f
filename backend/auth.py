"""Staff authentication: session login (server-side session rows, so logout is real), API tokens,
and the check every staff API call goes through."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete, select
from werkzeug.wrappers import Response as WerkzeugResponse

from .errors import Unauthorized
from .extensions import csrf, db, login_manager
from .models import ApiToken, StaffSession, User, hash_token, new_token

bp = Blueprint("auth", __name__)
SESSION_KEY = "staff_key"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    key = session.get(SESSION_KEY)
    if not key:
        return None
    row = db.session.scalar(select(StaffSession).where(StaffSession.key_hash == hash_token(key)))
    if row is None or str(row.user_id) != user_id or not row.user.active:
        return None
    return row.user


def start_session(user: User) -> None:
    from .engine import now

    key = secrets.token_urlsafe(32)
    db.session.add(StaffSession(key_hash=hash_token(key), user_id=user.id, created_at=now()))
    db.session.commit()
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = key
    login_user(user)


def end_session() -> None:
    key = session.get(SESSION_KEY)
    if key:
        db.session.execute(delete(StaffSession).where(StaffSession.key_hash == hash_token(key)))
        db.session.commit()
    logout_user()
    session.clear()


def issue_api_token(user: User, name: str = "") -> str:
    """Create a bearer token for a user; the plain token is returned once and never stored."""
    from .engine import now

    token = new_token()
    db.session.add(ApiToken(token_hash=hash_token(token), user=user, name=name, created_at=now()))
    db.session.commit()
    return token


def _bearer_user(token: str) -> User:
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        raise Unauthorized(_l("The API token is not valid."), error_code="bad_token")
    return row.user


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


def _safe_next(target: str | None) -> str:
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return "/"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | WerkzeugResponse:
    next_url = _safe_next(request.values.get("next"))
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        user = db.session.scalar(select(User).where(User.username == username))
        if (
            user is not None
            and user.active
            and user.check_password(request.form.get("password", ""))
        ):
            start_session(user)
            return redirect(next_url)
        error = _("Wrong username or password.")
    status = 401 if error else 200
    return render_template(
        "auth/login.html", error=error, next=next_url, username=username, page_config={}
    ), status  # type: ignore[return-value]


@bp.route("/logout", methods=["POST"])
def logout() -> Response | WerkzeugResponse:
    end_session()
    return redirect(url_for("auth.login"))
