"""The manager console (managers of a store, admins of every store): its settings pages.

Thin views: parse the form, make one call into backend.stores.configure, redirect (a change) or
render the form again with its errors (nothing changed)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from backend.core.clock import now
from backend.core.errors import BadInput, Conflict, Forbidden
from backend.core.i18n import current_lang
from backend.core.pages import render_page
from backend.policy import Role
from backend.staff.models import User
from backend.stores import configure, days
from backend.stores.chain import chain_overview, create_store, time_zones
from manager.forms import (
    DEFAULT_MESSAGE_EN,
    DEFAULT_MESSAGE_ZH,
    LANE_CHOICES,
    ORDERING_HINT,
    ORDERINGS,
    WEEKDAYS,
    CounterForm,
    DayForm,
    DecisionForm,
    NewStoreForm,
    ServiceForm,
    StoreForm,
    field_labels,
)
from manager.staff_forms import AUDIT_LABELS, ROLE_CHOICES

if TYPE_CHECKING:
    from backend.stores.models import Store

bp = Blueprint("manager", __name__, template_folder="templates")
# The overview lists the next few closed or special days.
COMING_DAYS_SHOWN = 4


def _user() -> User:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


def _page(
    template: str,
    store: Store | None,
    section: str,
    config: dict[str, Any] | None = None,
    **context: Any,
) -> str:
    return render_page(
        template,
        store,
        config={"section": section, **(config or {})},
        section=section,
        user=_user(),
        stores_url=url_for("manager.home") if _user().role == Role.ADMIN else None,
        counter_url=url_for("counter.terminal", store_code=store.code) if store else None,
        logout_url=url_for("auth.logout"),
        **context,
    )


def _saved(changed: bool) -> None:
    flash(_("Saved.") if changed else _("Nothing was changed."), "ok" if changed else "info")


def _is_stale(exc: Conflict) -> bool:
    return exc.extra.get("error_code") == "changed_meanwhile"


def _changed_meanwhile(exc: Conflict, url: str) -> Response:
    """Someone saved the same settings since this form was opened: show them as they are now."""
    flash(str(exc.message), "error")
    return redirect(url)


@bp.get("/manage")
@login_required
def home() -> str | Response:
    """A manager lands on their store's console, an admin on the chain's overview."""
    user = _user()
    if user.role not in configure.MANAGING_ROLES:
        raise Forbidden(_("Only the store's managers may change its settings."))
    if user.role == Role.MANAGER:
        mine = configure.managed_stores(user)
        if mine:
            return redirect(url_for("manager.console", store_code=mine[0].code))
        return _page("manager/stores.html", None, "stores", stores=[], moment=now())
    stores = chain_overview(user)
    # The time of the overview in the stores' own zone when they share one (the device's else).
    zones = {s.timezone for s in stores}
    config = {"timezone": zones.pop()} if len(zones) == 1 else None
    return _page("manager/stores.html", None, "stores", config, stores=stores, moment=now())


@bp.get("/manage/stores.json")
@login_required
def stores_json() -> dict[str, Any]:
    """The overview's lines now (the page loads them again when its live connection returns)."""
    moment = now()
    return {
        "moment": moment.isoformat(),
        "stores": [s.as_json(moment) for s in chain_overview(_user())],  # 403 unless an admin
    }


@bp.route("/manage/stores/new", methods=["GET", "POST"])
@login_required
def new_store() -> str | Response | tuple[str, int]:
    """An administrator adds a store, empty or from a template of another."""
    user = _user()
    stores = chain_overview(user)  # 403 unless an administrator
    form = NewStoreForm()
    form.template.choices = [("", _("(none: an empty store)"))] + [
        (s.code, f"{s.code} · {s.name(current_lang())}") for s in stores
    ]
    if request.method == "GET" and request.args.get("from") in {s.code for s in stores}:
        form.template.data = request.args["from"]
    if form.validate_on_submit():
        try:
            made = create_store(
                user,
                form.code.data.strip(),
                form.name_zh.data,
                form.name_en.data,
                form.timezone.data.strip(),
                form.template.data or None,
            )
        except (BadInput, Conflict) as exc:
            field = getattr(form, str(exc.extra.get("field", "code")), form.code)
            field.errors = [*field.errors, str(exc.message)]
        else:
            flash(_("Store %(code)s created.", code=made.code), "ok")
            return redirect(url_for("manager.console", store_code=made.code))
    page = _page("manager/new_store.html", None, "stores", form=form, zones=time_zones())
    return (page, 422) if form.errors else page


@bp.get("/s/<store_code>/manage")
@login_required
def console(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    return _page(
        "manager/console.html",
        store,
        "console",
        services=configure.list_services(store),
        counters=configure.list_counters(store),
        recent=configure.audit_log(store, limit=5),
        coming_days=days.coming_days(store)[:COMING_DAYS_SHOWN],
        weekdays=WEEKDAYS,
    )


@bp.route("/s/<store_code>/manage/store", methods=["GET", "POST"])
@login_required
def store_settings(store_code: str) -> str | Response | tuple[str, int]:
    store = configure.managed_store(store_code, _user())
    form = StoreForm()
    here = url_for("manager.store_settings", store_code=store.code)
    if request.method == "GET":
        values = configure.store_values(store)
        form.load(values)
        form.loaded.data = configure.digest(values)
    elif form.validate_on_submit():
        try:
            changed = configure.update_store(store.code, _user(), form.values(), form.loaded.data)
        except Conflict as exc:
            if _is_stale(exc):
                return _changed_meanwhile(exc, here)
            form.timezone.errors = [str(exc.message)]
        else:
            _saved(changed)
            return redirect(here)
    page = _page(
        "manager/store.html",
        store,
        "store",
        form=form,
        weekdays=WEEKDAYS,
        ordering_hint=ORDERING_HINT,
    )
    return (page, 422) if form.errors else page


@bp.get("/s/<store_code>/manage/services")
@login_required
def services(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    return _page(
        "manager/services.html", store, "services", services=configure.list_services(store)
    )


@bp.route("/s/<store_code>/manage/services/new", methods=["GET", "POST"])
@bp.route("/s/<store_code>/manage/services/<service_code>", methods=["GET", "POST"])
@login_required
def service(store_code: str, service_code: str | None = None) -> str | Response | tuple[str, int]:
    store = configure.managed_store(store_code, _user())
    create = service_code is None
    form = ServiceForm()
    if not create:
        values = configure.service_values(store, service_code or "")  # 404 if unknown
        del form.code  # a service's code names it in the API and on tickets: fixed
        if request.method == "GET":
            form.load(values)
            form.loaded.data = configure.digest(values)
    if request.method == "POST" and form.validate_on_submit():
        code = (form.code.data if create else service_code) or ""
        try:
            changed = configure.save_service(
                store.code, _user(), code, form.values(), create=create, loaded=form.loaded.data
            )
        except Conflict as exc:
            if _is_stale(exc):
                return _changed_meanwhile(exc, request.path)
            form.code.errors = [str(exc.message)]
        else:
            _saved(changed)
            return redirect(url_for("manager.services", store_code=store.code))
    page = _page(
        "manager/service.html", store, "services", form=form, create=create, lanes=LANE_CHOICES
    )
    return (page, 422) if form.errors else page


@bp.get("/s/<store_code>/manage/counters")
@login_required
def counters(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    return _page(
        "manager/counters.html", store, "counters", counters=configure.list_counters(store)
    )


@bp.route("/s/<store_code>/manage/counters/new", methods=["GET", "POST"])
@bp.route("/s/<store_code>/manage/counters/<int:number>", methods=["GET", "POST"])
@login_required
def counter(store_code: str, number: int | None = None) -> str | Response | tuple[str, int]:
    store = configure.managed_store(store_code, _user())
    form = CounterForm()
    lang = current_lang()
    form.services.choices = [
        (s.code, f"{s.code} · {s.name_en if lang == 'en' else s.name_zh}")
        for s in configure.list_services(store)
    ]
    if number is not None:
        values = configure.counter_values(store, number)  # 404 if unknown or archived
        if request.method == "GET":
            form.load(values)
            form.loaded.data = configure.digest(values)
    if request.method == "POST" and form.validate_on_submit():
        try:
            configure.save_counter(store.code, _user(), number, form.values(), form.loaded.data)
        except Conflict as exc:
            if _is_stale(exc):
                return _changed_meanwhile(exc, request.path)
            form.number.errors = [str(exc.message)]
        else:
            flash(_("Saved."), "ok")
            return redirect(url_for("manager.counters", store_code=store.code))
    page = _page("manager/counter.html", store, "counters", form=form, number=number)
    return (page, 422) if form.errors else page


@bp.post("/s/<store_code>/manage/counters/<int:number>/retire")
@login_required
def retire_counter(store_code: str, number: int) -> Response:
    store = configure.managed_store(store_code, _user())
    try:
        done = configure.retire_counter(store.code, _user(), number)
    except Conflict as exc:
        flash(str(exc.message), "error")
    else:
        if done == configure.AuditAction.COUNTER_ARCHIVED:
            flash(_("Counter %(n)s is archived: it has served customers.", n=number), "ok")
        else:
            flash(_("Counter %(n)s is deleted.", n=number), "ok")
    return redirect(url_for("manager.counters", store_code=store.code))


# --- holidays and special days ------------------------------------------------------------------


def _days_page(store: Store, form: DayForm) -> str:
    return _page(
        "manager/days.html",
        store,
        "days",
        form=form,
        days=days.coming_days(store),
        today=days.store_today(store),
        weekdays=WEEKDAYS,
        loaded=form.loaded.data or configure.digest(days.days_values(store)),
    )


def _fresh_decision(
    bookings: list[days.AffectedBooking], seen: str, zone: str, kept: DecisionForm | None
) -> DecisionForm:
    """The decision form for these bookings: each with its suggested new slot; the messages as
    the manager typed them, else the store's default words."""
    decision = DecisionForm(formdata=None)
    decision.seen.data = seen
    decision.message_zh.data = kept.message_zh.data if kept else DEFAULT_MESSAGE_ZH
    decision.message_en.data = kept.message_en.data if kept else DEFAULT_MESSAGE_EN
    local = ZoneInfo(zone)
    for booking in bookings:
        at = booking.suggestion.astimezone(local) if booking.suggestion else None
        decision.moves.append_entry(
            {
                "booking": str(booking.id),
                "day": at.date() if at else None,
                "time": at.strftime("%H:%M") if at else "",
            }
        )
    return decision


def _decision_page(
    store: Store,
    form: DayForm,
    decision: DecisionForm,
    bookings: list[days.AffectedBooking],
    status: int,
) -> tuple[str, int]:
    entries = {entry.form.booking.data: entry.form for entry in decision.moves.entries}
    rows = [(booking, entries.get(str(booking.id))) for booking in bookings]
    page = _page(
        "manager/days_decide.html",
        store,
        "days",
        form=form,
        decision=decision,
        rows=rows,
        change=form.change(),
        weekdays=WEEKDAYS,
        tz=ZoneInfo,
    )
    return page, status


def _decide_again(
    store: Store, form: DayForm, decision: DecisionForm, change: days.DayChange
) -> tuple[str, int]:
    """The decision sent back invalid: the bookings as they are now, with the errors (fresh
    suggestions if the bookings changed meanwhile)."""
    bookings, seen = days.preview(store, change)
    if seen != decision.seen.data:
        flash(str(days.CHANGED_MEANWHILE), "error")
        decision = _fresh_decision(bookings, seen, store.timezone, decision)
    return _decision_page(store, form, decision, bookings, 422)


def _number(text: Any) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


@bp.route("/s/<store_code>/manage/days", methods=["GET", "POST"])
@login_required
def store_days(store_code: str) -> str | Response | tuple[str, int]:
    """Closed and special days. A change that leaves bookings outside the hours shows them first
    (days_decide.html), whose form comes back here with the manager's decision."""
    store = configure.managed_store(store_code, _user())
    form = DayForm()
    if request.method == "GET":
        form.loaded.data = configure.digest(days.days_values(store))
        return _days_page(store, form)
    if not form.validate_on_submit():
        return _days_page(store, form), 422
    decision = DecisionForm(request.form) if "decision" in request.form else None
    if decision is not None and decision.decision.data == "keep":
        flash(_("Nothing was changed."), "info")
        return redirect(url_for("manager.store_days", store_code=store.code))
    if decision is not None and not decision.validate():
        return _decide_again(store, form, decision, form.change())
    return _change_days(store, form, decision)


def _change_days(
    store: Store, form: DayForm, decision: DecisionForm | None
) -> Response | tuple[str, int]:
    change = form.change()
    here = url_for("manager.store_days", store_code=store.code)
    plan = decision.plan(store.timezone) if decision is not None else None
    try:
        changed = days.change_days(store.code, _user(), change, plan, form.loaded.data)
    except days.BookingsAffected as exc:
        if exc.changed_meanwhile:
            flash(str(exc.message), "error")
        fresh = _fresh_decision(exc.bookings, exc.seen, store.timezone, decision)
        return _decision_page(store, form, fresh, exc.bookings, 409 if decision else 200)
    except days.MovesRefused as exc:
        assert decision is not None
        flash(str(exc.message), "error")
        for entry in decision.moves.entries:
            reason = exc.errors.get(_number(entry.form.booking.data))
            if reason is not None:
                entry.form.time.errors = [str(reason)]
        return _decide_again(store, form, decision, change)
    except days.DayRefused as exc:
        form.first.errors = [str(exc.message)]
        return _days_page(store, form), 422
    except Conflict as exc:
        return _changed_meanwhile(exc, here)
    _saved(changed)
    return redirect(here)


# --- the change log ------------------------------------------------------------------------------


def _shown(name: str, value: Any) -> str:
    """A changed value as the log shows it."""
    lanes = dict(LANE_CHOICES)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if name == "lanes":
        return " → ".join(str(lanes.get(lane, lane)) for lane in value) or "—"
    if name == "lane":
        return str(lanes.get(value, value))
    if name == "ordering":
        return str(dict(ORDERINGS).get(value, value))
    if name == "role":
        return str(dict(ROLE_CHOICES).get(value, value))
    if name == "hours":
        closed = _("closed")
        weekdays = [
            str(WEEKDAYS[int(day)]) + " " + (" ".join("–".join(span) for span in spans) or closed)
            for day, spans in sorted(value.items())
        ]
        return "; ".join(weekdays)
    if name == "days" and isinstance(value, dict):
        return _days_shown(value)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "—"
    return str(value)


def _day_state(state: Any) -> str:
    if state is None:
        return _("usual hours")
    if not state:
        return _("closed")
    return " ".join("–".join(span) for span in state)


def _days_shown(value: dict[str, Any]) -> str:
    """Changed days as the log shows them, a run of days in the same state as one range."""
    runs: list[list[Any]] = []  # [first, last, state]
    for day in sorted(value):
        state = value[day]
        if runs and runs[-1][2] == state and _next_day(runs[-1][1]) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day, state])
    return "; ".join(
        (first if first == last else f"{first} – {last}") + " " + _day_state(state)
        for first, last, state in runs
    )


def _next_day(iso: str) -> str:
    return (date.fromisoformat(iso) + timedelta(days=1)).isoformat()


def _changed_days(before: Any, after: Any) -> tuple[Any, Any]:
    """Opening hours before and after, only the weekdays that changed."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return before, after
    days = [d for d in sorted({*before, *after}) if before.get(d) != after.get(d)]
    return {d: before.get(d) or [] for d in days}, {d: after.get(d) or [] for d in days}


def _change(name: str, before: Any, after: Any, labels: dict[str, Any]) -> dict[str, str]:
    if name == "hours":
        before, after = _changed_days(before, after)
    return {
        "field": str(labels.get(name, name)),
        "before": _shown(name, before),
        "after": _shown(name, after),
    }


def _audit_rows(entries: list[configure.AuditRow]) -> list[dict[str, Any]]:
    labels = {**AUDIT_LABELS, **field_labels()}
    rows = []
    for entry in entries:
        old, new = entry.before or {}, entry.after or {}
        names = list(dict.fromkeys([*old, *new]))
        changes = [_change(name, old.get(name), new.get(name), labels) for name in names]
        rows.append({"entry": entry, "changes": changes})
    return rows


@bp.get("/s/<store_code>/manage/audit")
@login_required
def audit(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    rows = _audit_rows(configure.audit_log(store))
    return _page("manager/audit.html", store, "audit", rows=rows)


# The live floor, staff and devices pages add their views to this blueprint (imported last:
# they use its helpers).
from manager import cases, devices, floor, reports, staff, staffing  # noqa: E402, F401
