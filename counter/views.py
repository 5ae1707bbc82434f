"""The clerk's counter terminal (staff only)."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from backend.cases.names import CATEGORY_NAMES
from backend.core.errors import Forbidden
from backend.core.i18n import current_lang
from backend.core.pages import render_page
from backend.policy.enums import Outcome
from backend.queue import reads
from backend.queue.serializers import counter_name, services_public
from backend.stores.operations import find_store
from backend.stores.settings import store_config

bp = Blueprint("counter", __name__, template_folder="templates")


@bp.get("/s/<store_code>/counter")
@login_required
def terminal(store_code: str) -> str:
    store = find_store(store_code)
    if not current_user.can_act_in(store):
        raise Forbidden()
    lang = current_lang()
    proj = reads.store_projection(store.code)
    # An archived counter (kept for its history) is nobody's desk any more.
    config = store_config(store.id, store.config_version)
    working = {c.number for c in config.counters if not c.archived}
    numbers = {c.number for c in proj.counters if c.number in working}
    chosen = request.args.get("counter", type=int)
    counters = [
        {
            "number": c.number,
            "name": counter_name(c.number, lang),
            "own_name": c.own_name(lang),
            "reserved": c.reserved,
            "lanes": [lane.value for lane in c.lanes],
            "clerk": c.clerk_name,
        }
        for c in proj.counters
        if c.number in numbers
    ]
    return render_page(
        "counter/counter.html",
        store,
        config={
            "counter": chosen if chosen in numbers else None,
            "logout_url": url_for("auth.logout"),
            "complaint_outcome": Outcome.COMPLAINT.value,
        },
        counters=counters,
        user=current_user,
        services=services_public(proj, lang, staff=True),
        case_categories=CATEGORY_NAMES,
    )


@bp.get("/s/<store_code>/greeter")
@login_required
def greeter(store_code: str) -> str:
    """The floor staff's tablet: issue a ticket for a customer, with a level (VIP, priority
    care) and a note for the clerk, through the same API as every other ticket."""
    store = find_store(store_code)
    if not current_user.can_act_in(store):
        raise Forbidden()
    lang = current_lang()
    proj = reads.store_projection(store.code)
    return render_page(
        "counter/greeter.html",
        store,
        config={"logout_url": url_for("auth.logout")},
        user=current_user,
        services=services_public(proj, lang, staff=True),
        priority_care=proj.store.priority_care,
    )
