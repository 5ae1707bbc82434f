"""The console's staff page: the store's accounts, and each account's page (name and role,
password, lockout, deactivation, API tokens). Thin views: parse the form, make one call into
backend.staff.operations, redirect (a change) or render the form again with its errors.

A generated password is shown once, in the answer to the POST that set it (not cached, never
stored, never logged); no later page shows it."""

from __future__ import annotations

from typing import Any

from flask import flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from backend.core.errors import Conflict
from backend.core.i18n import current_lang
from backend.policy import Role
from backend.staff import operations as accounts
from backend.stores import configure
from manager.staff_forms import (
    PASSWORD_HINT,
    AccountForm,
    NewAccountForm,
    PasswordForm,
)
from manager.views import _changed_meanwhile, _is_stale, _page, _user, bp

Page = str | Response | tuple[str, int]


def _list_url(store_code: str) -> str:
    return url_for("manager.staff", store_code=store_code)


def _account_url(store_code: str, user_id: int) -> str:
    return url_for("manager.staff_account", store_code=store_code, user_id=user_id)


def shown_once(page: str) -> Response:
    """A page with a secret on it: no browser or proxy keeps a copy."""
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/s/<store_code>/manage/staff")
@login_required
def staff(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    return _page(
        "manager/staff.html",
        store,
        "staff",
        accounts=staff_rows(store),
    )


def staff_rows(store: Any) -> list[dict[str, Any]]:
    user = _user()
    return [
        {"account": row, "mine": row.id == user.id, "changeable": accounts.may_change(user, row)}
        for row in accounts.list_accounts(store)
    ]


@bp.route("/s/<store_code>/manage/staff/new", methods=["GET", "POST"])
@login_required
def staff_new(store_code: str) -> Page:
    store = configure.managed_store(store_code, _user())
    form = NewAccountForm().with_roles(accounts.roles_for(_user()))
    if form.validate_on_submit():
        typed = form.password.data or ""
        password = typed or accounts.new_password()
        username = form.username.data or ""
        try:
            user_id = accounts.create_account(
                store.code,
                _user(),
                username,
                (form.display_name.data or "").strip(),
                Role(form.role.data),
                password,
            )
        except Conflict as exc:
            form.username.errors = [str(exc.message)]
        else:
            if typed:
                flash(_("Account %(name)s is created.", name=username), "ok")
                return redirect(_account_url(store.code, user_id))
            return shown_once(
                _page(
                    "manager/staff_secret.html",
                    store,
                    "staff",
                    username=username,
                    password=password,
                    created=True,
                    account_url=_account_url(store.code, user_id),
                )
            )
    page = _page("manager/staff_new.html", store, "staff", form=form, password_hint=PASSWORD_HINT)
    return (page, 422) if form.errors else page


def _account_page(
    store: Any,
    user_id: int,
    form: AccountForm | None = None,
    password_form: PasswordForm | None = None,
) -> Page:
    user = _user()
    account = accounts.account(store, user_id)  # 404 for an account of another store
    changeable = accounts.may_change(user, account)
    if form is None:
        form = _account_form(user_id)
        values = accounts.account_values(store, user_id)
        form.load(values)
        form.loaded.data = configure.digest(values)
    page = _page(
        "manager/staff_account.html",
        store,
        "staff",
        account=account,
        form=form,
        password_form=password_form or PasswordForm(formdata=None),
        password_hint=PASSWORD_HINT,
        tokens=accounts.account_tokens(store, user_id),
        changeable=changeable,
        mine=account.id == user.id,
    )
    failed = form.errors or (password_form is not None and password_form.errors)
    return (page, 422) if failed else page


def _account_form(user_id: int) -> AccountForm:
    """The roles this user may give (only their own on their own account: nobody demotes
    themselves), and for an admin the stores the account may move to."""
    user = _user()
    roles = (Role(user.role),) if user_id == user.id else accounts.roles_for(user)
    stores = None
    if user.role == Role.ADMIN and user_id != user.id:
        lang = current_lang()
        stores = [(s.code, f"{s.code} · {s.name(lang)}") for s in configure.managed_stores(user)]
    return AccountForm().setup(roles, stores)


@bp.route("/s/<store_code>/manage/staff/<int:user_id>", methods=["GET", "POST"])
@login_required
def staff_account(store_code: str, user_id: int) -> Page:
    store = configure.managed_store(store_code, _user())
    if request.method == "GET":
        return _account_page(store, user_id)
    accounts.account(store, user_id)  # 404 before the form is looked at
    form = _account_form(user_id)
    here = _account_url(store.code, user_id)
    if form.validate_on_submit():
        values = form.values()
        try:
            changed = accounts.update_account(
                store.code, _user(), user_id, values, form.loaded.data
            )
        except Conflict as exc:
            if _is_stale(exc):
                return _changed_meanwhile(exc, here)
            form.role.errors = [str(exc.message)]
        else:
            moved = values.get("store") not in (None, store.code)
            if moved:
                flash(_("The account moved to store %(code)s.", code=values["store"]), "ok")
                return redirect(_list_url(store.code))
            flash(
                _("Saved.") if changed else _("Nothing was changed."), "ok" if changed else "info"
            )
            return redirect(here)
    return _account_page(store, user_id, form=form)


@bp.post("/s/<store_code>/manage/staff/<int:user_id>/password")
@login_required
def staff_password(store_code: str, user_id: int) -> Page:
    store = configure.managed_store(store_code, _user())
    account = accounts.account(store, user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        return _account_page(store, user_id, password_form=form)
    typed = form.password.data or ""
    password = typed or accounts.new_password()
    try:
        ended = accounts.reset_password(store.code, _user(), user_id, password)
    except Conflict as exc:
        flash(str(exc.message), "error")
        return redirect(_account_url(store.code, user_id))
    if typed:
        flash(_("The password is changed. Sessions ended: %(n)s.", n=ended), "ok")
        return redirect(_account_url(store.code, user_id))
    return shown_once(
        _page(
            "manager/staff_secret.html",
            store,
            "staff",
            username=account.username,
            password=password,
            created=False,
            ended=ended,
            account_url=_account_url(store.code, user_id),
        )
    )


@bp.post("/s/<store_code>/manage/staff/<int:user_id>/unlock")
@login_required
def staff_unlock(store_code: str, user_id: int) -> Response:
    store = configure.managed_store(store_code, _user())
    if accounts.unlock_account(store.code, _user(), user_id):
        flash(_("The account is unlocked: it can log in again now."), "ok")
    else:
        flash(_("The account was not locked."), "info")
    return redirect(_account_url(store.code, user_id))


def _set_active(store_code: str, user_id: int, active: bool) -> Response:
    store = configure.managed_store(store_code, _user())
    try:
        changed = accounts.set_active(store.code, _user(), user_id, active)
    except Conflict as exc:
        flash(str(exc.message), "error")
    else:
        if not changed:
            flash(_("Nothing was changed."), "info")
        elif active:
            flash(_("The account is active again: it can log in."), "ok")
        else:
            flash(_("The account is deactivated: its sessions and API tokens stop now."), "ok")
    return redirect(_account_url(store.code, user_id))


@bp.post("/s/<store_code>/manage/staff/<int:user_id>/deactivate")
@login_required
def staff_deactivate(store_code: str, user_id: int) -> Response:
    return _set_active(store_code, user_id, False)


@bp.post("/s/<store_code>/manage/staff/<int:user_id>/reactivate")
@login_required
def staff_reactivate(store_code: str, user_id: int) -> Response:
    return _set_active(store_code, user_id, True)


@bp.post("/s/<store_code>/manage/staff/<int:user_id>/tokens/<int:token_id>/revoke")
@login_required
def staff_revoke_token(store_code: str, user_id: int, token_id: int) -> Response:
    store = configure.managed_store(store_code, _user())
    if accounts.revoke_token(store.code, _user(), user_id, token_id):
        flash(_("The API token is revoked: its next call is refused."), "ok")
    else:
        flash(_("This API token was revoked already."), "info")
    return redirect(_account_url(store.code, user_id))
