"""Managing staff accounts: create or reset one, and lift a lockout. Each change is one write
transaction; the command line calls these (the manager console will call the same)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, NotFound
from backend.extensions import db
from backend.policy import Role
from backend.staff.models import User
from backend.stores.models import Store


@dataclass(frozen=True)
class Unlocked:
    username: str
    was_locked_until: datetime | None  # None: the account was not locked


def save_user(
    username: str,
    role: Role,
    store_code: str | None,
    password: str,
    display_name: str = "",
) -> bool:
    """Create a staff account, or give an existing one this role, store and password (which also
    lifts a lockout). True when the account is new."""
    with write_transaction():
        store = None
        if store_code:
            store = db.session.scalar(select(Store).where(Store.code == store_code))
            if store is None:
                raise NotFound(
                    _l("There is no store %(code)s.", code=store_code), error_code="unknown_store"
                )
        elif role != Role.ADMIN:
            raise BadInput(
                _l("Clerks and managers belong to a store."), error_code="store_required"
            )
        user = db.session.scalar(select(User).where(User.username == username))
        created = user is None
        if user is None:
            user = User(username=username, display_name=display_name or username)
            db.session.add(user)
        elif display_name:
            user.display_name = display_name
        user.role = role
        user.store = store
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
    return created


def unlock_user(username: str) -> Unlocked:
    """Let a locked-out account log in again at once (its password is unchanged), and forget its
    wrong passwords so far."""
    moment = now()
    with write_transaction():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(
                _l("There is no staff account %(name)s.", name=username), error_code="unknown_user"
            )
        locked = user.locked_until if user.locked_until and user.locked_until > moment else None
        user.locked_until = None
        user.failed_logins = 0
    return Unlocked(username, locked)
