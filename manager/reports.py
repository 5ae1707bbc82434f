"""The console's reports: a store's figures over a range of days, as tables, charts and CSV files
(registered on the console's blueprint). The range comes in the address (?from=…&to=…)."""

from __future__ import annotations

from typing import Any

from flask import abort, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from backend.core.clock import now
from backend.core.i18n import current_lang
from backend.reports.tables import TABLE_NAMES, Report, heat_levels, table_csv
from backend.reports.tables import build_report as build
from backend.stores import configure, days
from backend.stores.models import Store
from manager.report_forms import ReportRangeForm
from manager.views import _page, _user, bp

# The tables in the page's order, and the ones drawn as a heatmap.
HEATMAPS = ("heatmap_arrivals", "heatmap_waits")


def _range_form(store: Store) -> tuple[ReportRangeForm, bool]:
    """The form from the address (and whether one was given); without one, the last week."""
    args = request.args
    if "from" not in args and "to" not in args:
        form = ReportRangeForm(formdata=None)
        form.default_range(days.store_today(store))
        return form, False
    return ReportRangeForm(formdata=MultiDict(args)), True


def _build(store: Store, form: ReportRangeForm) -> Report:
    """The report of a valid form's range (both days are set once it validated)."""
    first, last = form.first.data, form.last.data
    assert first is not None and last is not None
    return build(store, first, last, current_lang(), now())


@bp.get("/s/<store_code>/manage/reports")
@login_required
def reports(store_code: str) -> str | tuple[str, int]:
    store = configure.managed_store(store_code, _user())
    form, given = _range_form(store)
    valid = not given or form.validate()
    report = _build(store, form) if valid else None
    query: dict[str, Any] = {}
    if report is not None:
        query = {"from": report.first.isoformat(), "to": report.last.isoformat()}
    page = _page(
        "manager/reports.html",
        store,
        "reports",
        config={"reports": report.charts if report else None},
        form=form,
        report=report,
        heatmaps=HEATMAPS,
        levels={name: heat_levels(report.tables[name]) for name in HEATMAPS} if report else {},
        csv_url=lambda name: url_for(
            "manager.report_csv", store_code=store.code, table=name, **query
        ),
        target=store.wait_target_minutes,
    )
    return page if valid else (page, 422)


@bp.get("/s/<store_code>/manage/reports/<table>.csv")
@login_required
def report_csv(store_code: str, table: str) -> Response:
    store = configure.managed_store(store_code, _user())
    if table not in TABLE_NAMES:
        abort(404)
    form = ReportRangeForm(formdata=MultiDict(request.args))
    if not form.validate():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        return Response(errors, status=422, mimetype="text/plain")
    report = _build(store, form)
    found = report.tables[table]
    name = f"{store.code}-{table}-{report.first.isoformat()}-{report.last.isoformat()}.csv"
    return Response(
        table_csv(found),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
