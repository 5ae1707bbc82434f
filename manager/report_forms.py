"""The reports' date-range form (a GET form: the range is in the page's address)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import InputRequired, ValidationError

from backend.reports.compare import MAX_COMPARED
from manager.forms import DATE_INPUT, REQUIRED, MultiCheckboxField

# A report covers at most a year of days; the default is the last week (today included).
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_DAYS = 7
BAD_DATE = _l("A date like 2026-11-30.")


class ReportDateField(DateField):
    """A date in the console's form (YYYY-MM-DD), with the message in the user's language."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not valuelist[0]:
            return
        text = str(valuelist[0]).strip()
        try:
            self.data = date.fromisoformat(text) if len(text) == len("2026-11-30") else None
        except ValueError:
            self.data = None
        if self.data is None:
            raise ValueError(str(BAD_DATE))


class ReportRangeForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    first = ReportDateField(
        _l("From"), [InputRequired(REQUIRED)], name="from", render_kw=DATE_INPUT
    )
    last = ReportDateField(
        _l("To (inclusive)"), [InputRequired(REQUIRED)], name="to", render_kw=DATE_INPUT
    )

    def validate_last(self, field: DateField) -> None:
        if field.data is None or self.first.data is None:
            return
        if field.data < self.first.data:
            raise ValidationError(_l("The last day cannot be before the first."))
        if (field.data - self.first.data).days >= MAX_REPORT_DAYS:
            raise ValidationError(_l("At most %(n)s days at once.", n=MAX_REPORT_DAYS))

    def default_range(self, today: date) -> None:
        self.first.data = today - timedelta(days=DEFAULT_REPORT_DAYS - 1)
        self.last.data = today


class CompareForm(ReportRangeForm):
    """The range and the stores of a comparison (the view gives the stores as choices)."""

    stores = MultiCheckboxField(_l("Stores"), name="store")

    def validate_stores(self, field: MultiCheckboxField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose at least one store."))
        if len(field.data) > MAX_COMPARED:
            raise ValidationError(_l("At most %(n)s stores at once.", n=MAX_COMPARED))
