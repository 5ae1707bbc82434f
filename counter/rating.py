"""A rating at the counter (/s/<store>/counter/rate): for a customer without the ticket's QR, the
clerk turns the screen around; big 1-5 stars, an optional comment, a thank-you, then back to the
terminal. Thin views: parse the form, one call into backend.feedback.commands, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from backend.core.errors import DomainError
from backend.core.pages import render_page
from backend.feedback.commands import CounterVisit, last_visit_to_rate, rate_visit_at_counter
from backend.feedback.models import MAX_COMMENT, MAX_STARS, MIN_STARS
from backend.stores.operations import find_store

bp = Blueprint("counter_rating", __name__, template_folder="templates")

CHOOSE_STARS = _l("Please touch the stars to choose 1 to 5.")
STAR_WORDS = {
    1: _l("Very poor"),
    2: _l("Poor"),
    3: _l("Average"),
    4: _l("Good"),
    5: _l("Excellent"),
}


class StarsField(IntegerField):
    """1 to 5 from the star buttons; anything else is the one kind message, not a parse error."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(str(CHOOSE_STARS)) from None


class RateForm(FlaskForm):
    ticket = IntegerField(validators=[InputRequired(), NumberRange(1, 2**31 - 1)])
    counter = HiddenField()
    stars = StarsField(
        _l("How was our service today?"),
        validators=[
            InputRequired(CHOOSE_STARS),
            NumberRange(MIN_STARS, MAX_STARS, message=CHOOSE_STARS),
        ],
    )
    comment = TextAreaField(
        _l("Anything you would like to tell us? (optional)"),
        validators=[Length(max=MAX_COMMENT, message=_l("At most 500 characters."))],
        render_kw={"maxlength": MAX_COMMENT, "rows": 3},
    )


def _back_url(store_code: str, counter: str | None) -> str:
    number = int(counter) if counter and counter.isdigit() and len(counter) < 4 else None
    return url_for("counter.terminal", store_code=store_code, counter=number)


def _page(
    store_code: str,
    visit: CounterVisit | None,
    form: RateForm,
    *,
    status: int = 200,
    thanks: int | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    store = find_store(store_code)
    back = _back_url(store.code, form.counter.data or request.args.get("counter"))
    return render_page(
        "counter/rate.html",
        store,
        config={"back_url": back},
        visit=visit,
        form=form,
        thanks=thanks,
        error=error,
        back_url=back,
        words=STAR_WORDS,
    ), status


@bp.get("/s/<store_code>/counter/rate")
@login_required
def rate_page(store_code: str) -> tuple[str, int]:
    visit = last_visit_to_rate(store_code, current_user)
    form = RateForm(formdata=None, counter=request.args.get("counter", ""))
    if visit is not None:
        form.ticket.data = visit.ticket_id
    return _page(store_code, visit, form)


@bp.post("/s/<store_code>/counter/rate")
@login_required
def rate(store_code: str) -> Any:
    form = RateForm()
    visit = last_visit_to_rate(store_code, current_user)
    if not form.validate():
        return _page(store_code, visit, form, status=400)
    try:
        saved = rate_visit_at_counter(
            store_code,
            form.ticket.data or 0,
            current_user,
            form.stars.data or 0,
            form.comment.data or "",
        )
    except DomainError as exc:
        return _page(store_code, visit, form, status=exc.status, error=str(exc.message))
    return _page(store_code, last_visit_to_rate(store_code, current_user), form, thanks=saved.stars)
