"""The waiting-area display: public, ticket numbers and counters only."""

from __future__ import annotations

from flask import Blueprint, request

from backend.core.i18n import current_lang
from backend.core.pages import render_page
from backend.policy import Lane
from backend.queue import commands as engine
from backend.queue.readmodel import StoreQueue
from backend.queue.serializers import service_public

bp = Blueprint("display", __name__, template_folder="templates")


@bp.get("/s/<store_code>/display")
def display(store_code: str) -> str:
    store = engine.find_store(store_code)
    queue = StoreQueue.load(store, engine.now())
    lang = current_lang()
    services = [service_public(s, queue, lang) for s in queue.services if s.active]
    config = {
        "theme": "light" if request.args.get("theme") == "light" else "dark",
        "display_filter": {
            "counters": _numbers(request.args.get("counters")),
            "lanes": _lanes(request.args.get("lanes")),
        },
    }
    return render_page("display/display.html", store, config=config, services=services)


def _numbers(raw: str | None) -> list[int] | None:
    """`?counters=1,2`: the counters this display shows (None: all)."""
    numbers = [int(part) for part in (raw or "").split(",") if part.strip().isdigit()]
    return numbers or None


def _lanes(raw: str | None) -> list[str] | None:
    lanes = [part for part in (raw or "").split(",") if part in {lane.value for lane in Lane}]
    return lanes or None
