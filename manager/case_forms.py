"""The complaint cases' forms (WTForms through Flask-WTF): each field's bounds and its error in
the user's language. Each change form carries `seen`, the case's version when the page was
opened: a form opened before someone else's change saves nothing (and a second click neither)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from backend.cases.models import DESCRIPTION_MAX, NAME_MAX, NOTE_MAX, PHONE_MAX
from backend.cases.names import CATEGORY_NAMES, STATUS_NAMES
from backend.cases.queries import StaffChoice
from backend.core.forms import DATE_INPUT
from manager.forms import REQUIRED
from manager.report_forms import ReportDateField

TOO_LONG = _l("At most %(max)s characters.")
NOBODY = ""


def _choices(pairs: Any) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


def category_choices() -> list[SelectChoice]:
    return _choices(CATEGORY_NAMES.items())


def staff_choices(staff: list[StaffChoice]) -> list[SelectChoice]:
    return _choices((s.id, s.name) for s in staff)


def owner_choices(staff: list[StaffChoice], empty: Any) -> list[SelectChoice]:
    return _choices([(NOBODY, empty)]) + staff_choices(staff)


class _Seen(FlaskForm):
    seen = IntegerField(
        widget=HiddenInput(),
        validators=[InputRequired(), NumberRange(0, 2**62)],
    )


class NewCaseForm(FlaskForm):
    category = SelectField(_l("Category"), [InputRequired(REQUIRED)])
    description = TextAreaField(
        _l("What is the issue?"),
        [InputRequired(REQUIRED), Length(max=DESCRIPTION_MAX, message=TOO_LONG)],
        render_kw={"maxlength": DESCRIPTION_MAX, "rows": 4},
    )
    consent = BooleanField(_l("The customer agrees to be contacted about this case"))
    name = StringField(
        _l("Customer's name (optional)"),
        [Optional(), Length(max=NAME_MAX, message=TOO_LONG)],
        render_kw={"maxlength": NAME_MAX, "autocomplete": "off"},
    )
    phone = StringField(
        _l("Customer's mobile number"),
        [Optional(), Length(max=PHONE_MAX, message=TOO_LONG)],
        render_kw={"maxlength": PHONE_MAX, "inputmode": "tel", "autocomplete": "off"},
    )
    owner = SelectField(_l("Owner"), [Optional()])
    promised_by = ReportDateField(
        _l("Promised by"), [InputRequired(REQUIRED)], render_kw=DATE_INPUT
    )

    def setup(self, staff: list[StaffChoice]) -> NewCaseForm:
        self.category.choices = category_choices()
        self.owner.choices = owner_choices(staff, _l("Nobody yet"))
        return self

    def validate_phone(self, field: StringField) -> None:
        if self.consent.data and not (field.data or "").strip():
            raise ValueError(str(_l("With consent, the mobile number is needed.")))


class NoteForm(_Seen):
    text = TextAreaField(
        _l("Note for the timeline"),
        [InputRequired(REQUIRED), Length(max=NOTE_MAX, message=TOO_LONG)],
        render_kw={"maxlength": NOTE_MAX, "rows": 3},
    )


class AssignForm(_Seen):
    owner = SelectField(_l("Owner"), [InputRequired(REQUIRED)])

    def setup(self, staff: list[StaffChoice]) -> AssignForm:
        self.owner.choices = _choices([(NOBODY, _l("Choose a staff member"))]) + staff_choices(
            staff
        )
        return self


class StatusForm(_Seen):
    # The button pressed names the status (the buttons are the server's allowed moves).
    status = SelectField(choices=_choices(STATUS_NAMES.items()))


class PromiseForm(_Seen):
    promised_by = ReportDateField(
        _l("New promised date"), [InputRequired(REQUIRED)], render_kw=DATE_INPUT
    )
    reason = StringField(
        _l("Why the date changes"),
        [InputRequired(REQUIRED), Length(max=NOTE_MAX, message=TOO_LONG)],
        render_kw={"maxlength": NOTE_MAX, "autocomplete": "off"},
    )


class RevealForm(FlaskForm):
    """Only the CSRF token: showing the contact is a request that is written down."""


class CaseFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    status = SelectField(_l("Status"), [Optional()])
    category = SelectField(_l("Category"), [Optional()])
    owner = SelectField(_l("Owner"), [Optional()])
    overdue = BooleanField(_l("Overdue only"))

    def setup(self, staff: list[StaffChoice]) -> CaseFilterForm:
        anything = _l("Any")
        self.status.choices = _choices([("", anything), *STATUS_NAMES.items()])
        self.category.choices = _choices([("", anything)]) + category_choices()
        self.owner.choices = owner_choices(staff, anything)
        return self
