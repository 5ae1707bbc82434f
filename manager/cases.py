"""The console's complaint cases: the inbox (overdue first), opening one by hand, a case's page
(timeline, note, owner, status, promised date, the contact shown to its owner on request) and the
cases' report with its CSV files. Managers see every case of their store, a clerk the cases they
own. Thin views: parse the form, make one call into backend.cases, redirect or render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from backend.cases import commands
from backend.cases import queries as reads
from backend.cases.names import CATEGORY_NAMES, MOVE_NAMES, SOURCE_NAMES, STATUS_NAMES
from backend.core.clock import now
from backend.core.errors import BadInput, Conflict, Forbidden
from backend.reports.tables import table_csv
from backend.stores.models import Store
from manager.case_forms import (
    AssignForm,
    CaseFilterForm,
    NewCaseForm,
    NoteForm,
    PromiseForm,
    RevealForm,
    StatusForm,
)
from manager.report_forms import ReportRangeForm
from manager.reports import _range_form
from manager.staff import shown_once
from manager.views import _page, _user, bp

Page = str | Response | tuple[str, int]
NOTE_KINDS = {
    "opened": _l("Opened"),
    "note": _l("Note added"),
    "owner": _l("Owner set"),
    "status": _l("Status changed"),
    "promise": _l("Promised date changed"),
    "follow_up": _l("Customer's answer"),
}


def _case_url(store: Store, case_id: int) -> str:
    return url_for("manager.case_page", store_code=store.code, case_id=case_id)


def _names() -> dict[str, Any]:
    return {
        "STATUS_NAMES": STATUS_NAMES,
        "CATEGORY_NAMES": CATEGORY_NAMES,
        "SOURCE_NAMES": SOURCE_NAMES,
        "MOVE_NAMES": MOVE_NAMES,
        "NOTE_KINDS": NOTE_KINDS,
    }


def _filter(form: CaseFilterForm) -> reads.CaseFilter:
    owner = form.owner.data
    return reads.CaseFilter(
        status=form.status.data or None,
        category=form.category.data or None,
        owner_id=int(owner) if owner else None,
        overdue=bool(form.overdue.data),
    )


@bp.get("/s/<store_code>/manage/cases")
@login_required
def cases(store_code: str) -> Page:
    user = _user()
    store = reads.staff_store(store_code, user)
    staff = reads.staff_choices(store)
    form = CaseFilterForm(formdata=MultiDict(request.args)).setup(staff)
    valid = form.validate()
    chosen = _filter(form) if valid else reads.CaseFilter()
    page = _page(
        "manager/cases.html",
        store,
        "cases",
        form=form,
        rows=reads.inbox_rows(store, user, chosen),
        manages=reads.manages(user),
        filtered=chosen != reads.CaseFilter(),
        **_names(),
    )
    return page if valid else (page, 422)


@bp.route("/s/<store_code>/manage/cases/new", methods=["GET", "POST"])
@login_required
def case_new(store_code: str) -> Page:
    user = _user()
    store = reads.staff_store(store_code, user)
    if not reads.manages(user):
        raise Forbidden(_l("Only the store's managers may open a case by hand."))
    form = NewCaseForm().setup(reads.staff_choices(store))
    if request.method == "GET":
        form.promised_by.data = commands.promised_date(store, now())
    elif form.validate_on_submit():
        given = commands.CaseInput(
            form.category.data or "",
            form.description.data or "",
            bool(form.consent.data),
            (form.name.data or "") if form.consent.data else "",
            (form.phone.data or "") if form.consent.data else "",
        )
        owner = int(form.owner.data) if form.owner.data else None
        try:
            change = commands.open_case(store.code, user, given, owner, form.promised_by.data)
        except BadInput as exc:
            _field_error(form, exc)
        else:
            flash(_("Case %(number)s is opened.", number=change.case.number), "ok")
            return redirect(_case_url(store, change.case.id))
    page = _page("manager/case_new.html", store, "cases", form=form, **_names())
    return (page, 422) if form.errors else page


def _field_error(form: Any, exc: BadInput | Conflict) -> None:
    """The domain's refusal next to the field it is about (else on the form's first field)."""
    code = str(exc.extra.get("error_code", ""))
    fields = {
        "bad_phone": "phone",
        "bad_category": "category",
        "bad_owner": "owner",
        "bad_date": "promised_by",
        "reason_required": "reason",
        "reason_too_long": "reason",
        "note_required": "text",
        "note_too_long": "text",
        "name_too_long": "name",
    }
    name = fields.get(code, "description" if hasattr(form, "description") else "")
    field = getattr(form, name, None) if name else None
    if field is None:
        field = next(f for f in form if f.type not in ("CSRFTokenField", "IntegerField"))
    field.errors = [*field.errors, str(exc.message)]


def _case_page(
    store: Store,
    case_id: int,
    forms: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    contact: tuple[str, str] | None = None,
) -> Page:
    user = _user()
    detail = reads.case_detail(store, case_id, user)  # 404 before anything else
    staff = reads.staff_choices(store)
    forms = forms or {}
    seen = {"seen": detail.seen}
    note = forms.get("note") or NoteForm(formdata=None, data=seen)
    assign = forms.get("assign") or AssignForm(formdata=None, data=seen).setup(staff)
    if "assign" not in forms and detail.case.owner_id is not None:
        assign.owner.data = str(detail.case.owner_id)
    promise = forms.get("promise") or PromiseForm(formdata=None, data=seen)
    if "promise" not in forms:
        promise.promised_by.data = detail.case.promised_by
    # A refused form keeps what was typed, with the case's current version: sent again, it is
    # judged against what the page now shows.
    for form in forms.values():
        form.seen.data = detail.seen
    page = _page(
        "manager/case.html",
        store,
        "cases",
        d=detail,
        c=detail.case,
        note_form=note,
        assign_form=assign,
        promise_form=promise,
        status_form=StatusForm(formdata=None, data=seen),
        reveal_form=RevealForm(formdata=None),
        error=error,
        contact=contact,
        **_names(),
    )
    if contact is not None:
        return shown_once(page)
    failed = any(f.errors for f in forms.values())
    if status != 200:
        return page, status
    return (page, 422) if failed else page


def _change(
    store_code: str, case_id: int, name: str, form: Any, act: Callable[[Store], str]
) -> Page:
    """One change form: validated, one command, then back to the case (or its page again with
    the refusal: 409 for a stale form or a move the case cannot make)."""
    store = reads.staff_store(store_code, _user())
    reads.case_detail(store, case_id, _user())  # 404 before the form is looked at
    if not form.validate_on_submit():
        return _case_page(store, case_id, {name: form})
    try:
        done = act(store)
    except Conflict as exc:
        return _case_page(store, case_id, {name: form}, str(exc.message), 409)
    except BadInput as exc:
        _field_error(form, exc)
        return _case_page(store, case_id, {name: form})
    flash(done, "ok")
    return redirect(_case_url(store, case_id))


@bp.get("/s/<store_code>/manage/cases/<int:case_id>")
@login_required
def case_page(store_code: str, case_id: int) -> Page:
    return _case_page(reads.staff_store(store_code, _user()), case_id)


@bp.post("/s/<store_code>/manage/cases/<int:case_id>/note")
@login_required
def case_note(store_code: str, case_id: int) -> Page:
    form = NoteForm()

    def act(store: Store) -> str:
        commands.add_note(store.code, case_id, _user(), form.text.data or "", form.seen.data)
        return _("The note is added.")

    return _change(store_code, case_id, "note", form, act)


@bp.post("/s/<store_code>/manage/cases/<int:case_id>/assign")
@login_required
def case_assign(store_code: str, case_id: int) -> Page:
    store = reads.staff_store(store_code, _user())
    form = AssignForm().setup(reads.staff_choices(store))

    def act(store: Store) -> str:
        owner = int(form.owner.data or 0)
        commands.assign_case(store.code, case_id, _user(), owner, form.seen.data)
        return _("The owner is set.")

    return _change(store_code, case_id, "assign", form, act)


@bp.post("/s/<store_code>/manage/cases/<int:case_id>/status")
@login_required
def case_status(store_code: str, case_id: int) -> Page:
    form = StatusForm()

    def act(store: Store) -> str:
        change = commands.change_status(
            store.code, case_id, _user(), form.status.data or "", form.seen.data
        )
        return _("The case is now: %(status)s.", status=STATUS_NAMES[change.case.status])

    return _change(store_code, case_id, "status", form, act)


@bp.post("/s/<store_code>/manage/cases/<int:case_id>/promise")
@login_required
def case_promise(store_code: str, case_id: int) -> Page:
    form = PromiseForm()

    def act(store: Store) -> str:
        assert form.promised_by.data is not None  # validated
        commands.change_promise(
            store.code,
            case_id,
            _user(),
            form.promised_by.data,
            form.reason.data or "",
            form.seen.data,
        )
        return _("The promised date is changed.")

    return _change(store_code, case_id, "promise", form, act)


@bp.post("/s/<store_code>/manage/cases/<int:case_id>/reveal")
@login_required
def case_reveal(store_code: str, case_id: int) -> Page:
    """The owner asks to see the contact: shown on this answer only (not cached), written in the
    change log."""
    store = reads.staff_store(store_code, _user())
    reads.case_detail(store, case_id, _user())
    form = RevealForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        contact = commands.reveal_contact(store.code, case_id, _user())
    except Conflict as exc:
        return _case_page(store, case_id, error=str(exc.message), status=409)
    return _case_page(store, case_id, contact=contact)


# --- the report ----------------------------------------------------------------------------------


def _report_store(store_code: str) -> Store:
    store = reads.staff_store(store_code, _user())
    if not reads.manages(_user()):
        raise Forbidden(_l("Only the store's managers may see the cases' report."))
    return store


@bp.get("/s/<store_code>/manage/cases/report")
@login_required
def case_report(store_code: str) -> Page:
    store = _report_store(store_code)
    form, given = _range_form(store)
    valid = not given or form.validate()
    report = None
    if valid:
        assert form.first.data is not None and form.last.data is not None
        report = reads.report_tables(store, form.first.data, form.last.data)
    query: dict[str, Any] = {}
    if report is not None:
        query = {"from": report.first.isoformat(), "to": report.last.isoformat()}
    page = _page(
        "manager/case_report.html",
        store,
        "cases",
        form=form,
        report=report,
        csv_url=lambda name: url_for(
            "manager.case_report_csv", store_code=store.code, table=name, **query
        ),
    )
    return page if valid else (page, 422)


@bp.get("/s/<store_code>/manage/cases/report/<table>.csv")
@login_required
def case_report_csv(store_code: str, table: str) -> Response:
    store = _report_store(store_code)
    if table not in reads.CASE_TABLES:
        abort(404)
    form = ReportRangeForm(formdata=MultiDict(request.args))
    if not form.validate():
        errors = "; ".join(str(e) for field in form.errors.values() for e in field)
        return Response(errors, status=422, mimetype="text/plain")
    assert form.first.data is not None and form.last.data is not None
    report = reads.report_tables(store, form.first.data, form.last.data)
    name = f"{store.code}-{table}-{report.first.isoformat()}-{report.last.isoformat()}.csv"
    return Response(
        table_csv(report.tables[table]),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
