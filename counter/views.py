"""The clerk's counter terminal (staff only)."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from backend.core.errors import Forbidden
from backend.core.i18n import current_lang
from backend.core.pages import render_page
from backend.queue import commands as engine
from backend.queue.readmodel import StoreQueue
from backend.queue.serializers import counter_name, service_public

bp = Blueprint("counter", __name__, template_folder="templates")


@bp.get("/s/<store_code>/counter")
@login_required
def terminal(store_code: str) -> str:
    store = engine.find_store(store_code)
    if not current_user.can_act_in(store):
        raise Forbidden()
    lang = current_lang()
    queue = StoreQueue.load(store, engine.now())
    numbers = {c.number for c in queue.counters}
    chosen = request.args.get("counter", type=int)
    counters = [
        {
            "number": c.number,
            "name": counter_name(c.number, lang),
            "lanes": list(c.lanes),
            "clerk": c.clerk.display_name if c.clerk else None,
        }
        for c in queue.counters
    ]
    return render_page(
        "counter/counter.html",
        store,
        config={
            "counter": chosen if chosen in numbers else None,
            "logout_url": url_for("auth.logout"),
        },
        counters=counters,
        user=current_user,
        services=[service_public(s, queue, lang) for s in queue.services if s.active],
    )
