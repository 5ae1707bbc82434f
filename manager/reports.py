"""The console's reports: a store's figures over a range of days, as tables, charts and CSV files
(registered on the console's blueprint). The range comes in the address (?from=…&to=…)."""

from __future__ import annotations

from typing import Any

from flask import abort, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from backend.core.clock import now
from backend.core.errors import Forbidden
from backend.core.i18n import current_lang
from backend.policy import Role
from backend.reports.compare import MAX_COMPARED, compare_chart, compare_stores
from backend.reports.tables import TABLE_NAMES, Report, Table, heat_levels, table_csv
from backend.reports.tables import build_report as build
from backend.stores import configure, days
from backend.stores.models import Store
from manager.report_forms import CompareForm, ReportRangeForm
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


def _csv(table: Table, name: str) -> Response:
    return Response(
        table_csv(table),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


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
    return _csv(found, name)


# --- several stores side by side (administrators) ---------------------------------------------


def _compared() -> list[Store]:
    """Every store an administrator may compare (403 for anyone else)."""
    user = _user()
    if user.role != Role.ADMIN:
        raise Forbidden(_("Only administrators compare stores."))
    return configure.managed_stores(user)


def _compare_form(stores: list[Store]) -> tuple[CompareForm, bool]:
    """The form from the address; without one, the last week of the first stores."""
    args = request.args
    given = any(k in args for k in ("from", "to", "store"))
    form = CompareForm(formdata=MultiDict(args) if given else None)
    form.stores.choices = [(s.code, f"{s.name(current_lang())} ({s.code})") for s in stores]
    if not given:
        form.default_range(days.store_today(stores[0]) if stores else now().date())
        form.stores.data = [s.code for s in stores[:MAX_COMPARED]]
    return form, given


def _chosen(stores: list[Store], form: CompareForm) -> list[Store]:
    by_code = {s.code: s for s in stores}
    return [by_code[code] for code in form.stores.data or [] if code in by_code]


@bp.get("/manage/compare")
@login_required
def compare() -> str | tuple[str, int]:
    stores = _compared()
    form, given = _compare_form(stores)
    valid = form.validate() if given else bool(stores)
    table = None
    query: dict[str, Any] = {}
    if valid:
        first, last = form.first.data, form.last.data
        assert first is not None and last is not None  # a valid form has both
        table = compare_stores(_chosen(stores, form), first, last, current_lang(), now())
        query = {"from": first.isoformat(), "to": last.isoformat(), "store": form.stores.data}
    page = _page(
        "manager/compare.html",
        None,
        "stores",
        config={"reports": {"stores_waits": compare_chart(table)} if table else None},
        form=form,
        table=table,
        levels={},
        csv_url=lambda name: url_for("manager.compare_csv", **query),
        most=MAX_COMPARED,
    )
    return (page, 422) if given and not valid else page


@bp.get("/manage/compare.csv")
@login_required
def compare_csv() -> Response:
    stores = _compared()
    form = CompareForm(formdata=MultiDict(request.args))
    form.stores.choices = [(s.code, s.code) for s in stores]
    if not form.validate():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        return Response(errors, status=422, mimetype="text/plain")
    first, last = form.first.data, form.last.data
    assert first is not None and last is not None
    table = compare_stores(_chosen(stores, form), first, last, current_lang(), now())
    return _csv(table, f"stores-{first.isoformat()}-{last.isoformat()}.csv")
