"""Managing staff accounts: create or reset one, lift a lockout (the command line), and the
manager console's staff page (below). Each change is one write transaction."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from backend.audit.log import record
from backend.core import db as core_db
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.live import events
from backend.policy import Role
from backend.staff.models import ApiToken, StaffSession, User
from backend.stores.configure import can_manage, check_unchanged, managed_store
from backend.stores.models import Counter, Store
from backend.stores.operations import lock_store


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


# --- the manager console's staff page --------------------------------------------------------
#
# Each change is one write transaction on the locked store row (as the store's settings are) and
# writes one AuditEntry; a password or a token is never written to it. Who may do what:
# managers change the accounts of their own store and admins those of every store; an admin's
# account only an admin changes; nobody deactivates, demotes or resets themselves (the store
# keeps a way in, and a reset is for someone who forgot theirs).

PASSWORD_MIN = 8
PASSWORD_MAX = 128
# A generated password: 12 characters of the URL-safe alphabet (72 random bits).
GENERATED_PASSWORD_BYTES = 9


class StaffAction(StrEnum):
    CREATED = "staff_created"
    UPDATED = "staff_updated"
    PASSWORD_RESET = "staff_password_reset"
    UNLOCKED = "staff_unlocked"
    DEACTIVATED = "staff_deactivated"
    REACTIVATED = "staff_reactivated"
    TOKEN_REVOKED = "staff_token_revoked"


@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    locked_until: datetime | None  # None: not locked now
    last_seen_at: datetime | None
    store_code: str | None


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def new_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def _row(user: User, moment: datetime) -> AccountRow:
    locked = user.locked_until if user.locked_until and user.locked_until > moment else None
    return AccountRow(
        user.id,
        user.username,
        user.display_name or user.username,
        Role(user.role),
        user.active,
        locked,
        user.last_seen_at,
        user.store.code if user.store is not None else None,
    )


def list_accounts(store: Store) -> list[AccountRow]:
    """The store's accounts: active ones first, then by role and name."""
    users = db.session.scalars(select(User).where(User.store_id == store.id))
    order = {Role.ADMIN: 0, Role.MANAGER: 1, Role.CLERK: 2}
    moment = now()
    rows = [_row(user, moment) for user in users]
    return sorted(rows, key=lambda r: (not r.active, order[r.role], r.username))


def _account(store: Store, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.store_id != store.id:
        raise NotFound(_l("Unknown staff account."), error_code="unknown_user")
    return user


def account(store: Store, user_id: int) -> AccountRow:
    """One account of the store (404 for another store's: a manager learns nothing of it)."""
    return _row(_account(store, user_id), now())


def account_values(store: Store, user_id: int) -> dict[str, Any]:
    """What the account form edits, as stored (its digest detects a stale form)."""
    user = _account(store, user_id)
    return {"display_name": user.display_name, "role": Role(user.role), "store": store.code}


def account_tokens(store: Store, user_id: int) -> list[TokenRow]:
    """The account's API tokens, newest first (their secrets are not stored)."""
    _account(store, user_id)
    rows = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    )
    return [TokenRow(t.id, t.name, t.created_at, t.last_used_at, t.revoked_at) for t in rows]


def may_change(actor: User, target: AccountRow | User) -> bool:
    """An admin's account only an admin changes."""
    return Role(target.role) != Role.ADMIN or actor.role == Role.ADMIN


def roles_for(actor: User) -> tuple[Role, ...]:
    """The roles this actor may give: admin only when an admin gives it."""
    if actor.role == Role.ADMIN:
        return (Role.CLERK, Role.MANAGER, Role.ADMIN)
    return (Role.CLERK, Role.MANAGER)


def _locked(code: str, actor: User) -> Store:
    managed_store(code, actor)  # 404/403 before the lock, and again under it below
    store = lock_store(code=code)
    if not can_manage(actor, store):
        raise Forbidden(_l("Only the store's managers may change its settings."))
    return store


def _changeable(store: Store, actor: User, user_id: int) -> User:
    user = _account(store, user_id)
    if not may_change(actor, user):
        raise Forbidden(
            _l("Only an admin may change an admin's account."), error_code="admin_account"
        )
    return user


def _check_role(actor: User, role: Role) -> None:
    if role not in roles_for(actor):
        raise Forbidden(_l("Only an admin may give the admin role."), error_code="admin_role")


def _end_sessions(user_id: int) -> int:
    """End every server-side session of the account: its cookies no longer log anyone in."""
    result = db.session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _sign_out_everywhere(store: Store, user: User) -> None:
    """The account leaves the counters it is signed in at, in this store (the estimate then no
    longer counts on it); each counter's change is a version and a `counter_changed` event."""
    counters = db.session.scalars(
        select(Counter).where(Counter.store_id == store.id, Counter.clerk_id == user.id)
    )
    for counter in counters:
        counter.clerk_id = None
        store.version += 1
        core_db.stage(
            events.store_event(
                store.id,
                store.code,
                events.EventName.COUNTER_CHANGED,
                version=store.version,
                ticket=None,
                counter=counter.number,
            )
        )


def username_taken(username: str) -> bool:
    return bool(db.session.scalar(select(exists().where(User.username == username))))


USERNAME_TAKEN = _l("This username is taken.")


def create_account(
    code: str, actor: User, username: str, display_name: str, role: Role, password: str
) -> int:
    """A new account of this store; its id. A second identical request (a double click, a
    retried form) finds the username taken and creates nothing."""
    try:
        with write_transaction():
            store = _locked(code, actor)
            _check_role(actor, role)
            if username_taken(username):
                raise Conflict(USERNAME_TAKEN, error_code="username_taken")
            user = User(
                username=username,
                display_name=display_name or username,
                role=role,
                store_id=store.id,
                active=True,
            )
            user.set_password(password)
            db.session.add(user)
            db.session.flush()  # a concurrent create in another store: IntegrityError here
            after = {"display_name": user.display_name, "role": role.value}
            record(store.id, actor, StaffAction.CREATED, username, None, after)
            return user.id
    except IntegrityError:
        raise Conflict(USERNAME_TAKEN, error_code="username_taken") from None


def update_account(
    code: str, actor: User, user_id: int, values: Mapping[str, Any], loaded: str | None = None
) -> bool:
    """Change the display name and the role; an admin may also move the account to another
    store (values["store"]: its code). True when something changed."""
    with write_transaction():
        store = _locked(code, actor)
        user = _changeable(store, actor, user_id)
        check_unchanged(
            {"display_name": user.display_name, "role": Role(user.role), "store": store.code},
            loaded,
        )
        role = Role(values.get("role", user.role))
        _check_role(actor, role)
        if user.id == actor.id and role != actor.role:
            raise Conflict(
                _l("You cannot change your own role: ask another manager or an admin."),
                error_code="own_role",
            )
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        name = values.get("display_name") or user.username
        if name != user.display_name:
            before["display_name"], after["display_name"] = user.display_name, name
            user.display_name = name
        if role != user.role:
            before["role"], after["role"] = Role(user.role).value, role.value
            user.role = role
        target = _target_store(store, actor, user, values.get("store"))
        if target is not None:
            before["store"], after["store"] = store.code, target.code
            _sign_out_everywhere(store, user)
            user.store_id = target.id
            # The store it joins sees the arrival in its own log too.
            record(target.id, actor, StaffAction.UPDATED, user.username, before, after)
        if not after:
            return False
        record(store.id, actor, StaffAction.UPDATED, user.username, before, after)
    return True


def _target_store(store: Store, actor: User, user: User, code: str | None) -> Store | None:
    """The store an admin moves the account to (None: it stays)."""
    if not code or code == store.code:
        return None
    if actor.role != Role.ADMIN:
        raise Forbidden(
            _l("Only an admin may move an account to another store."), error_code="move_store"
        )
    if user.id == actor.id:
        raise Conflict(_l("You cannot move your own account."), error_code="own_store")
    target = db.session.scalar(select(Store).where(Store.code == code))
    if target is None:
        raise NotFound(_l("There is no store %(code)s.", code=code), error_code="unknown_store")
    return target


def reset_password(code: str, actor: User, user_id: int, password: str) -> int:
    """Give the account a new password: every session of it ends at once (a browser still
    logged in with the old one is logged out), a lockout is lifted. The number of sessions
    ended."""
    with write_transaction():
        store = _locked(code, actor)
        user = _changeable(store, actor, user_id)
        if user.id == actor.id:
            raise Conflict(
                _l("You cannot reset your own password here: ask another manager or an admin."),
                error_code="own_password",
            )
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
        ended = _end_sessions(user.id)
        record(
            store.id,
            actor,
            StaffAction.PASSWORD_RESET,
            user.username,
            None,
            {"sessions_ended": ended},
        )
    return ended


def unlock_account(code: str, actor: User, user_id: int) -> bool:
    """Lift a lockout after wrong passwords (the password is unchanged). True if it was locked."""
    moment = now()
    with write_transaction():
        store = _locked(code, actor)
        user = _changeable(store, actor, user_id)
        locked = bool(user.locked_until and user.locked_until > moment)
        user.failed_logins = 0
        user.locked_until = None
        if not locked:
            return False
        record(
            store.id,
            actor,
            StaffAction.UNLOCKED,
            user.username,
            {"locked": True},
            {"locked": False},
        )
    return True


def set_active(code: str, actor: User, user_id: int, active: bool) -> bool:
    """Deactivate an account (its sessions end, its API tokens and any cookie of it stop working
    at once, it leaves its counter) or reactivate it (it logs in again; its tokens work again).
    True when it changed."""
    with write_transaction():
        store = _locked(code, actor)
        user = _changeable(store, actor, user_id)
        if user.id == actor.id and not active:
            raise Conflict(_l("You cannot deactivate your own account."), error_code="own_account")
        if user.active == active:
            return False
        user.active = active
        after: dict[str, Any] = {"account_active": active}
        if not active:
            after["sessions_ended"] = _end_sessions(user.id)
            _sign_out_everywhere(store, user)
        action = StaffAction.REACTIVATED if active else StaffAction.DEACTIVATED
        record(store.id, actor, action, user.username, {"account_active": not active}, after)
    return True


def revoke_token(code: str, actor: User, user_id: int, token_id: int) -> bool:
    """Revoke one API token of the account: its next call gets 401. True when it was live."""
    with write_transaction():
        store = _locked(code, actor)
        user = _changeable(store, actor, user_id)
        token = db.session.get(ApiToken, token_id)
        if token is None or token.user_id != user.id:
            raise NotFound(_l("Unknown API token."), error_code="unknown_token")
        if token.revoked_at is not None:
            return False
        token.revoked_at = now()
        label = f"{token.name} (#{token.id})" if token.name else f"#{token.id}"
        record(
            store.id, actor, StaffAction.TOKEN_REVOKED, user.username, {"api_token": label}, None
        )
    return True
