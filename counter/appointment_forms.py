"""The staff's appointment forms (WTForms through Flask-WTF): each field's bounds and its error in
the user's language. A form that does not validate changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, ValidationError

from backend.bookings.staff import MAX_NOTE, REASONS, Reason
from backend.core.forms import DATE_INPUT

REQUIRED = _l("Please fill this in.")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET: it changes nothing

    q = StringField(
        _l("Check-in code or last 4 digits of the phone"),
        validators=[InputRequired(REQUIRED), Length(max=16, message=_l("At most 16 characters."))],
    )


class ActionForm(FlaskForm):
    """A change of one booking: `seen` is the booking's state as the list showed it."""

    seen = HiddenField(validators=[InputRequired(), Length(max=32)])


class ReasonForm(ActionForm):
    reason = SelectField(
        _l("Reason (shown to the customer)"),
        choices=[SelectChoice(r.value, label) for r, label in REASONS.items()],
        validators=[InputRequired(REQUIRED)],
    )
    note = StringField(
        _l("Note for the customer (optional)"),
        validators=[Length(max=MAX_NOTE, message=_l("At most %(n)s characters.", n=MAX_NOTE))],
    )

    def reason_value(self) -> Reason:
        return Reason(self.reason.data)

    def note_value(self) -> str:
        return (self.note.data or "").strip()


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


class MoveForm(ReasonForm):
    # The choices are the free slots when the page is shown; a posted one is checked by the move
    # itself (it may have been taken since).
    slot = SelectField(_l("New time"), validators=[InputRequired(REQUIRED)], validate_choice=False)

    def validate_slot(self, field: SelectField) -> None:
        if _moment(field.data or "") is None:
            raise ValidationError(_l("Choose a new time."))

    def start(self) -> datetime:
        moment = _moment(self.slot.data or "")
        assert moment is not None
        return moment


class BookForm(FlaskForm):
    service = SelectField(_l("Service"), validators=[InputRequired(REQUIRED)])
    day = DateField(
        _l("Date"), validators=[InputRequired(_l("Please enter a date."))], render_kw=DATE_INPUT
    )
    time = TimeField(_l("Time"), validators=[InputRequired(_l("Please enter a time."))])
    name = StringField(
        _l("Name"),
        validators=[InputRequired(REQUIRED), Length(max=40, message=_l("At most 40 characters."))],
    )
    phone = StringField(
        _l("Mobile number"),
        validators=[InputRequired(REQUIRED), Length(max=20, message=_l("At most 20 characters."))],
    )
    consent = BooleanField(
        _l("The caller agreed on the phone to the use of their name and number for this booking"),
        validators=[InputRequired(_l("Please ask the caller and confirm that they agreed."))],
    )

    def validate_day(self, field: DateField) -> None:
        if field.data is not None and not 2000 <= field.data.year <= 2999:
            raise ValidationError(_l("This day cannot be booked."))

    def start(self, timezone: str) -> datetime:
        local = datetime.combine(self.day.data, self.time.data, tzinfo=ZoneInfo(timezone))
        return local.astimezone(UTC)
