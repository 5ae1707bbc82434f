"""Staff accounts, their server-side sessions and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model
from backend.policy import Role

if TYPE_CHECKING:
    from backend.stores.models import Store


class User(UserMixin, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.CLERK)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last login or page request (written with the session's last_seen: at most once a
    # minute) or bearer call (with the token's last_used_at).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store | None] = relationship()

    def set_password(self, password: str) -> None:
        # scrypt (werkzeug's default) is memory-hard; only tests ask for a cheaper method.
        method = "scrypt"
        if has_app_context():
            method = current_app.config.get("PASSWORD_HASH_METHOD", method)
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def can_act_in(self, store: Store) -> bool:
        return self.active and (self.role == Role.ADMIN or self.store_id == store.id)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active


class StaffSession(Model):
    """Server-side record of a login, so that logout really ends it: a replayed cookie fails."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ApiToken(Model):
    """A bearer token for integrators and devices; only its hash is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written at most once a minute (auth.SEEN_RESOLUTION), not on every call.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
