"""The waiting-area display: public, ticket numbers and counters only."""

from __future__ import annotations

from flask import Blueprint

from backend import engine
from backend.i18n import current_lang
from backend.pages import render_page
from backend.queue_state import StoreQueue
from backend.serializers import service_public

bp = Blueprint("display", __name__, template_folder="templates")


@bp.get("/s/<store_code>/display")
def display(store_code: str) -> str:
    store = engine.find_store(store_code)
    queue = StoreQueue.load(store, engine.now())
    lang = current_lang()
    services = [service_public(s, queue, lang) for s in queue.services if s.active]
    return render_page("display/display.html", store, services=services)
