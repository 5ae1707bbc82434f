"""The live floor's page, its state and its actions (registered on the console's blueprint).

The page is live: it loads the floor's state (JSON) and follows the store's events over Socket.IO,
reloading the state on each projection update. Its actions are small forms the page sends and
gets JSON back from: each parses its form, makes one call into backend.queue.floor and answers
`{"message": …}`, or `{"error", "message", "fields"}` with a 4xx (nothing changed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from backend.core.errors import DomainError
from backend.core.i18n import current_lang
from backend.queue import floor
from backend.stores import configure
from manager.forms import LANE_CHOICES, CallForm, IssueForm, NoticesForm, PauseForm, ProfileForm
from manager.views import _page, _user, bp

Answer = tuple[Response, int]


def _json(body: dict[str, Any], status: int = 200) -> Answer:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status


def _answers_json(view: Callable[..., Answer]) -> Callable[..., Answer]:
    """The engine's refusals (403, 404, 409 …) as JSON whatever the request's Accept header."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Answer:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            body = exc.to_dict()
            if "error_code" in body:
                body["error"] = body.pop("error_code")
            return _json(body, exc.status)

    return wrapper


def _invalid(form: FlaskForm) -> Answer:
    fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    message = _("Please correct the fields marked below. Nothing was saved.")
    return _json({"error": "invalid", "message": message, "fields": fields}, 422)


def _managed(store_code: str) -> None:
    """403 for a clerk, 404 for another store's manager: before the form is even read."""
    configure.managed_store(store_code, _user())


def _form(cls: type[FlaskForm]) -> FlaskForm:
    """The form from the POST's form fields only (a JSON body is no form)."""
    return cls(formdata=request.form)


@bp.get("/s/<store_code>/manage/floor")
@login_required
def floor_page(store_code: str) -> str:
    store = configure.managed_store(store_code, _user())
    here = url_for("manager.floor_page", store_code=store.code)
    urls = {
        "state": url_for("manager.floor_state", store_code=store.code),
        "call": url_for("manager.floor_call", store_code=store.code),
        "issue": url_for("manager.floor_issue", store_code=store.code),
        "notices": url_for("manager.floor_notices", store_code=store.code),
        "counters": here + "/counters",  # + /<number>/pause, /reopen, /profile
    }
    return _page(
        "manager/floor.html",
        store,
        "floor",
        config={"floor": urls},
        floor_urls=urls,
        services=[s for s in configure.list_services(store) if s.active],
        pause_form=PauseForm(),
        profile_form=ProfileForm(),
        notices_form=NoticesForm(),
        lanes=LANE_CHOICES,
    )


@bp.get("/s/<store_code>/manage/floor/state")
@login_required
@_answers_json
def floor_state(store_code: str) -> Answer:
    return _json(floor.floor_state(store_code, _user(), current_lang()))


@bp.post("/s/<store_code>/manage/floor/counters/<int:number>/pause")
@login_required
@_answers_json
def floor_pause(store_code: str, number: int) -> Answer:
    _managed(store_code)
    form = _form(PauseForm)
    if not form.validate():
        return _invalid(form)
    floor.pause_counter(store_code, _user(), number, form.reason.data, form.length)
    return _json({"message": _("Counter %(n)s paused.", n=number)})


@bp.post("/s/<store_code>/manage/floor/counters/<int:number>/reopen")
@login_required
@_answers_json
def floor_reopen(store_code: str, number: int) -> Answer:
    _managed(store_code)
    floor.reopen_counter(store_code, _user(), number)
    return _json({"message": _("Counter %(n)s is open again.", n=number)})


@bp.post("/s/<store_code>/manage/floor/counters/<int:number>/profile")
@login_required
@_answers_json
def floor_profile(store_code: str, number: int) -> Answer:
    _managed(store_code)
    form = _form(ProfileForm)
    if not form.validate():
        return _invalid(form)
    lanes = form.lanes()
    change = floor.change_profile(store_code, _user(), number, lanes, form.loaded.data)
    if not change.changed:
        return _json({"message": _("Nothing was changed."), "changed": False})
    names = dict(LANE_CHOICES)
    shown = " → ".join(str(names[lane]) for lane in lanes)
    message = _("Counter %(n)s now serves: %(lanes)s.", n=number, lanes=shown)
    return _json({"message": message, "changed": True})


@bp.post("/s/<store_code>/manage/floor/call")
@login_required
@_answers_json
def floor_call(store_code: str) -> Answer:
    _managed(store_code)
    form = _form(CallForm)
    if not form.validate():
        return _invalid(form)
    number = form.counter.data
    result = floor.call_to_counter(store_code, _user(), form.ticket.data, number)
    ticket = result.ticket
    assert ticket is not None  # a call to a chosen ticket calls it or refuses
    message = _("%(label)s called to counter %(n)s.", label=ticket.label, n=number)
    return _json({"message": message, "ticket": {"id": ticket.id, "label": ticket.label}})


@bp.post("/s/<store_code>/manage/floor/issue")
@login_required
@_answers_json
def floor_issue(store_code: str) -> Answer:
    _managed(store_code)
    form = _form(IssueForm)
    if not form.validate():
        return _invalid(form)
    ticket = floor.issue_for_customer(store_code, _user(), form.service.data, form.request_key.data)
    message = _("Issued %(label)s. Please tell the customer the number.", label=ticket.label)
    return _json({"message": message, "ticket": {"id": ticket.id, "label": ticket.label}}, 201)


@bp.post("/s/<store_code>/manage/floor/notices")
@login_required
@_answers_json
def floor_notices(store_code: str) -> Answer:
    _managed(store_code)
    form = _form(NoticesForm)
    if not form.validate():
        return _invalid(form)
    zh, en = form.values()
    change = floor.post_notices(store_code, _user(), zh, en, form.loaded.data)
    message = _("Saved.") if change.changed else _("Nothing was changed.")
    return _json({"message": message, "changed": change.changed})
