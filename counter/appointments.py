"""Appointments for the store's staff (/s/<store>/appointments): the coming days' bookings, search
by code or phone digits, and check-in, booking, moving and cancelling on a customer's behalf.
Thin views: parse the form, one call into backend.bookings.staff, redirect or re-render."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from backend.bookings import staff
from backend.core.errors import BadInput, Conflict, DomainError, Forbidden
from backend.core.i18n import current_lang
from backend.core.pages import render_page
from backend.stores.models import Store
from backend.stores.operations import find_store
from counter.appointment_forms import ActionForm, BookForm, MoveForm, ReasonForm, SearchForm

bp = Blueprint("appointments", __name__, template_folder="templates")


def _store(store_code: str) -> Store:
    store = find_store(store_code)
    if not current_user.can_act_in(store):
        raise Forbidden()
    return store


def _book_form(store: Store, form: BookForm | None = None) -> BookForm:
    form = form or BookForm(formdata=None)
    lang = current_lang()
    form.service.choices = [
        SelectChoice(s.code, s.name(lang)) for s in staff.bookable_services(store)
    ]
    return form


def _page(
    store: Store,
    status: int = 200,
    *,
    book: BookForm | None = None,
    changed: staff.StaffBooking | None = None,
    error: str | None = None,
) -> tuple[str, int]:
    search = SearchForm(request.args)
    found = None
    if "q" in request.args and search.validate():
        try:
            found = staff.search(store, search.q.data or "")
        except BadInput as exc:
            search.q.errors = [str(exc.message)]
    zone = ZoneInfo(store.timezone)
    return render_page(
        "counter/appointments.html",
        store,
        config={"logout_url": url_for("auth.logout")},
        user=current_user,
        days=staff.coming(store),
        list_days=staff.list_days(store),
        search=search,
        found=found,
        book=_book_form(store, book),
        changed=changed,
        error=error,
        zone=zone,
        STATUS=staff.status_words(),
        action=ActionForm(formdata=None),
    ), status


def _here(store: Store) -> Response:
    query = request.args.get("q") or None
    return redirect(url_for("appointments.page", store_code=store.code, q=query))


def _refused(store: Store, exc: DomainError) -> tuple[str, int]:
    if isinstance(exc, staff.BookingChanged):
        return _page(store, 409, changed=exc.booking, error=str(exc.message))
    return _page(store, exc.status, error=str(exc.message))


@bp.get("/s/<store_code>/appointments")
@login_required
def page(store_code: str) -> tuple[str, int]:
    return _page(_store(store_code))


@bp.post("/s/<store_code>/appointments/<int:booking_id>/check-in")
@login_required
def check_in(store_code: str, booking_id: int) -> Any:
    store = _store(store_code)
    form = ActionForm()
    if not form.validate():
        return _page(store, 400, error=_("The form has expired. Please try again."))
    try:
        ticket = staff.check_in_for(store.code, current_user, booking_id, form.seen.data or "")
    except DomainError as exc:
        return _refused(store, exc)
    flash(_("Checked in: number %(label)s is in the queue.", label=ticket.label), "ok")
    return _here(store)


@bp.post("/s/<store_code>/appointments/book")
@login_required
def book(store_code: str) -> Any:
    store = _store(store_code)
    form = _book_form(store, BookForm())
    if not form.validate():
        return _page(store, 400, book=form)
    try:
        made = staff.book_for(
            store.code,
            current_user,
            form.service.data or "",
            form.start(store.timezone),
            form.name.data or "",
            form.phone.data or "",
        )
    except (BadInput, Conflict) as exc:
        field = {
            "bad_name": form.name,
            "bad_phone": form.phone,
            "already_booked": form.phone,
            "unknown_service": form.service,
            "outside_horizon": form.day,
        }.get(str(exc.extra.get("error_code", "")), form.time)
        field.errors = [str(exc.message)]
        return _page(store, exc.status, book=form)
    flash(_("Booked: check-in code %(code)s.", code=made.code), "ok")
    return redirect(url_for("appointments.page", store_code=store.code, q=made.code))


@bp.get("/s/<store_code>/appointments/<int:booking_id>")
@login_required
def booking(store_code: str, booking_id: int) -> str:
    store = _store(store_code)
    return _booking_page(store, booking_id)


def _booking_page(
    store: Store,
    booking_id: int,
    move: MoveForm | None = None,
    cancel: ReasonForm | None = None,
    error: str | None = None,
) -> Any:
    shown = staff.booking_view(store, booking_id)
    move = move or MoveForm(formdata=None)
    zone = ZoneInfo(store.timezone)
    move.slot.choices = [
        SelectChoice(s.isoformat(), s.astimezone(zone).strftime("%H:%M"), optgroup=day.isoformat())
        for day, starts in shown.choices
        for s in starts
    ]
    return render_page(
        "counter/appointment.html",
        store,
        config={"logout_url": url_for("auth.logout")},
        user=current_user,
        b=shown.booking,
        move=move,
        cancel=cancel or ReasonForm(formdata=None),
        error=error,
        zone=zone,
        STATUS=staff.status_words(),
    )


def _change(store: Store, booking_id: int, form: ReasonForm, kind: str) -> Any:
    status = 400
    try:
        if form.validate():
            if isinstance(form, MoveForm):
                staff.move_for(
                    store.code,
                    current_user,
                    booking_id,
                    form.seen.data or "",
                    form.start(),
                    form.reason_value(),
                    form.note_value(),
                )
                flash(_("Moved. The customer's booking page says so."), "ok")
            else:
                staff.cancel_for(
                    store.code,
                    current_user,
                    booking_id,
                    form.seen.data or "",
                    form.reason_value(),
                    form.note_value(),
                )
                flash(_("Cancelled. The customer's booking page says so."), "ok")
            return redirect(
                url_for("appointments.booking", store_code=store.code, booking_id=booking_id)
            )
    except DomainError as exc:
        if isinstance(exc, staff.BookingChanged | Conflict) or kind == "cancel":
            return _booking_page(store, booking_id, error=str(exc.message)), exc.status
        status = exc.status
        form.slot.errors = [str(exc.message)]  # type: ignore[attr-defined]
    if isinstance(form, MoveForm):
        return _booking_page(store, booking_id, move=form), status
    return _booking_page(store, booking_id, cancel=form), status


@bp.post("/s/<store_code>/appointments/<int:booking_id>/move")
@login_required
def move(store_code: str, booking_id: int) -> Any:
    store = _store(store_code)
    staff.booking_view(store, booking_id)  # 404 for a booking of another store
    return _change(store, booking_id, MoveForm(), "move")


@bp.post("/s/<store_code>/appointments/<int:booking_id>/cancel")
@login_required
def cancel(store_code: str, booking_id: int) -> Any:
    store = _store(store_code)
    staff.booking_view(store, booking_id)
    return _change(store, booking_id, ReasonForm(), "cancel")
