"""The staff and devices pages' forms (WTForms through Flask-WTF, like manager/forms.py): each
field's bounds and its error in the user's language. A form that does not validate changes
nothing."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from backend.policy import Role
from backend.staff.operations import PASSWORD_MAX, PASSWORD_MIN
from manager.forms import REQUIRED

ROLE_CHOICES = (
    (Role.CLERK.value, _l("Clerk")),
    (Role.MANAGER.value, _l("Manager")),
    (Role.ADMIN.value, _l("Admin")),
)
USERNAME_RULE = _l("2 to 64 letters, digits, dots, - or _.")
PASSWORD_LENGTH = _l(
    "At least %(min)s and at most %(max)s characters.", min=PASSWORD_MIN, max=PASSWORD_MAX
)
PASSWORD_HINT = _l(
    "Leave empty to have one generated: it is shown once, on the next page. Or type one of at "
    "least %(min)s characters.",
    min=PASSWORD_MIN,
)
# Labels of the change log's fields for these pages (by the key the audit entry uses).
AUDIT_LABELS = {
    "display_name": _l("Display name"),
    "role": _l("Role"),
    "store": _l("Store"),
    "account_active": _l("Account active"),
    "sessions_ended": _l("Sessions ended"),
    "locked": _l("Locked after wrong passwords"),
    "api_token": _l("API token"),
    "name": _l("Kiosk name"),
    "auto_print": _l("Prints tickets"),
    "revoked": _l("Revoked"),
}


def role_choices(roles: tuple[Role, ...]) -> list[tuple[str, Any]]:
    return [(value, label) for value, label in ROLE_CHOICES if Role(value) in roles]


def _password(label: Any) -> PasswordField:
    # Optional: empty means "generate one". Not stripped: a password is taken as typed.
    return PasswordField(
        label,
        [Optional(strip_whitespace=False), Length(PASSWORD_MIN, PASSWORD_MAX, PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password", "maxlength": PASSWORD_MAX},
    )


class NewAccountForm(FlaskForm):
    username = StringField(
        _l("Username"),
        [InputRequired(REQUIRED), Regexp(r"^[A-Za-z0-9._-]{2,64}$", message=USERNAME_RULE)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "maxlength": 64},
    )
    display_name = StringField(_l("Display name"), [Length(0, 80)], render_kw={"maxlength": 80})
    role = SelectField(_l("Role"))
    password = _password(_l("Initial password"))

    def with_roles(self, roles: tuple[Role, ...]) -> NewAccountForm:
        self.role.choices = role_choices(roles)
        return self


class AccountForm(FlaskForm):
    loaded = HiddenField()
    display_name = StringField(_l("Display name"), [Length(0, 80)], render_kw={"maxlength": 80})
    role = SelectField(_l("Role"))
    store = SelectField(_l("Store"))  # an admin's form only: moving an account to another store

    def setup(self, roles: tuple[Role, ...], stores: list[tuple[str, str]] | None) -> AccountForm:
        self.role.choices = role_choices(roles)
        if stores is None:
            del self.store
        else:
            self.store.choices = stores
        return self

    def load(self, values: dict[str, Any]) -> None:
        self.display_name.data = values["display_name"]
        self.role.data = str(values["role"])
        if "store" in self:
            self.store.data = values["store"]

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "display_name": (self.display_name.data or "").strip(),
            "role": Role(self.role.data),
        }
        if "store" in self:
            out["store"] = self.store.data
        return out


class PasswordForm(FlaskForm):
    password = _password(_l("New password"))


class KioskForm(FlaskForm):
    loaded = HiddenField()
    name = StringField(
        _l("Kiosk name"),
        [DataRequired(REQUIRED), Length(1, 80)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"maxlength": 80, "placeholder": _l("e.g. Hall kiosk 2")},
    )
    auto_print = BooleanField(_l("Prints tickets (has a receipt printer)"), default=True)

    def load(self, values: dict[str, Any]) -> None:
        self.name.data = values["name"]
        self.auto_print.data = values["auto_print"]

    def values(self) -> dict[str, Any]:
        return {"name": self.name.data or "", "auto_print": bool(self.auto_print.data)}
