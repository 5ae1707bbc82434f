"""The console's staffing page (排班建议): counters needed per hour for a weekday or a date, by
Erlang C and checked in the simulator, beside the current plan; a chart and a CSV of the table.

Thin: parse the question (a GET form), one call into backend.staffing.queries, render. The table's
cells are made once here, in the user's language, and both the page and the CSV show them, so
the download is the table."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Response, request, url_for
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import login_required

from backend.core.clock import now
from backend.policy import Lane, service_day
from backend.staffing.advice import SEEDS, HourAdvice, Why
from backend.staffing.queries import Answer, Refusal, staffing_answer
from backend.stores import configure
from manager.forms import LANE_CHOICES, WEEKDAYS
from manager.staffing_forms import StaffingForm
from manager.views import _page, _user, bp

DASH = "—"
QUESTION_FIELDS = ("weekday", "day", "pattern", "history")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value: float | None) -> str:
    return DASH if value is None else format_decimal(round(value, 1), format="0.0")


def _share(value: float | None) -> str:
    return DASH if value is None else format_percent(value, format="0%")


def _lane(lane: Lane | None) -> str:
    return str(dict(LANE_CHOICES).get(lane.value, lane.value)) if lane else ""


def headers() -> list[str]:
    return [
        _("Hour"),
        _("Customers expected"),
        _("Counters by Erlang C"),
        _("Counters advised (simulated)"),
        _("Counters now"),
        _("Advice: mean wait (min)"),
        _("Advice: within target"),
        _("Now: mean wait (min)"),
        _("Now: within target"),
        _("Note"),
    ]


def note(hour: HourAdvice, target: float) -> str:
    """Why the advice differs from Erlang C in this hour, in words (empty when it does not)."""
    if hour.why is Why.SHORT:
        return _(
            "Even all %(n)s counters miss the target in the simulation of this hour.",
            n=hour.counters,
        )
    if hour.erlang > hour.current:
        return _(
            "Erlang C asks for %(n)s counters, more than the store has.",
            n=hour.erlang,
        )
    if hour.why is Why.PROFILES:
        return _(
            "The counters' lanes split the queue: with %(n)s counters the %(lane)s tickets wait "
            "too long, though %(n)s counters serving every lane would meet the target.",
            n=hour.erlang,
            lane=_lane(hour.lane),
        )
    if hour.why is Why.CARRY_OVER:
        return _(
            "The queue left from the hour before needs a counter more: Erlang C takes each hour "
            "as if it began with nobody waiting."
        )
    if hour.why is Why.PATTERN:
        return _(
            "In the simulation of this day (arrivals unevenly spread within the hour, the store's "
            "call order) %(n)s counters miss the %(target)s min target; Erlang C assumes a steady "
            "hour.",
            n=hour.erlang,
            target=format_decimal(target),
        )
    return ""


def rows(answer: Answer) -> list[list[str]]:
    advice = answer.advice
    if advice is None:
        return []
    return [
        [
            f"{_clock(h.start)}–{_clock(h.end)}",
            format_decimal(round(h.arrivals, 1), format="0.0"),
            str(h.erlang),
            str(h.counters),
            str(h.current),
            _minutes(h.advice.mean_wait),
            _share(h.advice.within_target),
            _minutes(h.now.mean_wait),
            _share(h.now.within_target),
            note(h, advice.demand.target),
        ]
        for h in advice.hours
    ]


def refusal_text(answer: Answer) -> str:
    if answer.refusal is Refusal.CLOSED:
        return _("The hall is closed on that day: there is nothing to staff.")
    if answer.refusal is Refusal.NO_COUNTERS:
        return _("The store has no counters yet. Add counters first.")
    if answer.refusal is Refusal.NO_HISTORY:
        return _(
            "Not enough history for advice: %(tickets)s tickets on %(days)s of the %(of)s days "
            "looked at (at least 30 tickets on 2 days are needed). Try more weeks of history, "
            "or come back when the store has served more customers.",
            tickets=answer.tickets,
            days=answer.used_days,
            of=len(answer.history_days),
        )
    return ""


def chart_data(answer: Answer) -> dict[str, Any] | None:
    advice = answer.advice
    if advice is None:
        return None
    return {
        "labels": [_clock(h.start) for h in advice.hours],
        "erlang": [h.erlang for h in advice.hours],
        "advised": [h.counters for h in advice.hours],
        "current": [h.current for h in advice.hours],
        "text": {
            "erlang": _("Counters by Erlang C"),
            "advised": _("Counters advised (simulated)"),
            "current": _("Counters now"),
            "axis": _("Counters"),
        },
    }


def _form() -> tuple[StaffingForm, bool]:
    """The question from the query (the form's defaults when it asks nothing, e.g. ?lang=en)."""
    asked = any(name in request.args for name in QUESTION_FIELDS)
    return StaffingForm(formdata=request.args if asked else None), asked


def _question(form: StaffingForm, today: date) -> Any:
    question = form.question(today)
    form.fill(question)
    return question


def _title(answer: Answer) -> str:
    q = answer.question
    if q.day is not None:
        return q.day.isoformat()
    return str(WEEKDAYS[q.weekday or 0])


@bp.get("/s/<store_code>/manage/staffing")
@login_required
def staffing(store_code: str) -> tuple[str, int] | str:
    store = configure.managed_store(store_code, _user())
    form, asked = _form()
    here = url_for("manager.staffing", store_code=store.code)
    if asked and not form.validate():
        page = _page("manager/staffing.html", store, "staffing", form=form, answer=None, here=here)
        return page, 422
    moment = now()
    answer = staffing_answer(store, _question(form, service_day(moment, store.timezone)), moment)
    return _page(
        "manager/staffing.html",
        store,
        "staffing",
        form=form,
        here=here,
        answer=answer,
        title=_title(answer),
        headers=headers(),
        rows=rows(answer),
        refusal=refusal_text(answer),
        chart=chart_data(answer),
        csv_url=url_for("manager.staffing_csv", store_code=store.code, **form.query()),
        target_text=format_decimal(answer.advice.demand.target) if answer.advice else None,
        share_text=_share(answer.advice.demand.share) if answer.advice else None,
        seeds=len(SEEDS),
        rounds=answer.advice.rounds if answer.advice else None,
    )


@bp.get("/s/<store_code>/manage/staffing.csv")
@login_required
def staffing_csv(store_code: str) -> Response | tuple[str, int]:
    store = configure.managed_store(store_code, _user())
    form, asked = _form()
    if asked and not form.validate():
        here = url_for("manager.staffing", store_code=store.code)
        page = _page("manager/staffing.html", store, "staffing", form=form, answer=None, here=here)
        return page, 422
    moment = now()
    answer = staffing_answer(store, _question(form, service_day(moment, store.timezone)), moment)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers())
    writer.writerows(rows(answer))
    q = answer.question
    name = f"staffing-{store.code}-{q.day.isoformat() if q.day else q.weekday}.csv"
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
