"""The staffing page's question (a GET form: it changes nothing): a weekday, or a date with the
history of the same weekday or of the same day of the month, and how far back to look."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField
from wtforms.validators import (
    InputRequired,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from backend.staffing.queries import DEFAULT_HISTORY, MAX_HISTORY, Pattern, Question
from manager.forms import DATE_INPUT, REQUIRED, WEEKDAYS

PATTERNS = (
    (Pattern.WEEKDAY.value, _l("the same weekday in the weeks before")),
    (Pattern.MONTH_DAY.value, _l("the same day of the month in the months before")),
)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
CHOOSE = _l("Please choose one of the list.")
HISTORY_RANGE = _l("A whole number from 1 to %(n)s.", n=MAX_HISTORY)


def unreadable(form: FlaskForm, field: Any) -> None:
    """A value that could not be read already has its one error: check no range on it."""
    if field.process_errors:
        raise StopValidation()


class StaffingForm(FlaskForm):
    class Meta:
        csrf = False  # a GET: it changes nothing

    weekday = SelectField(
        _l("Weekday"),
        choices=[SelectChoice(str(i), name) for i, name in enumerate(WEEKDAYS)],
        validators=[Optional()],
        invalid_choice_message=CHOOSE,
    )
    day = DateField(
        _l("Or a date (its own hours)"),
        [Optional()],
        render_kw=DATE_INPUT,
        invalid_value_message=_l("A date like 2026-12-01."),
    )
    pattern = SelectField(
        _l("History of the date"),
        choices=[SelectChoice(value, label) for value, label in PATTERNS],
        default=Pattern.WEEKDAY.value,
        validators=[Optional()],
        invalid_choice_message=CHOOSE,
    )
    history = IntegerField(
        _l("Weeks (or months) of history"),
        [unreadable, InputRequired(REQUIRED), NumberRange(1, MAX_HISTORY, HISTORY_RANGE)],
        default=DEFAULT_HISTORY,
        invalid_value_message=HISTORY_RANGE,
        render_kw={"inputmode": "numeric", "min": 1, "max": MAX_HISTORY},
    )

    def validate_day(self, field: DateField) -> None:
        if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
            raise ValidationError(_l("Please choose a date between 2000 and 2100."))

    def question(self, today: date) -> Question:
        """The question asked (tomorrow's weekday when nothing was chosen)."""
        day: date | None = self.day.data
        history = int(self.history.data or DEFAULT_HISTORY)
        if day is not None:
            return Question(day=day, pattern=Pattern(self.pattern.data), history=history)
        weekday = int(self.weekday.data) if self.weekday.data else (today.weekday() + 1) % 7
        return Question(weekday=weekday, history=history)

    def fill(self, question: Question) -> None:
        """Show the question answered (the default weekday, once chosen)."""
        if question.weekday is not None:
            self.weekday.data = str(question.weekday)

    def query(self) -> dict[str, Any]:
        """The form's values as query arguments (the CSV link asks the same question)."""
        out: dict[str, Any] = {"history": self.history.data or DEFAULT_HISTORY}
        if self.day.data is not None:
            out.update(day=self.day.data.isoformat(), pattern=self.pattern.data)
        elif self.weekday.data:
            out["weekday"] = self.weekday.data
        return out
