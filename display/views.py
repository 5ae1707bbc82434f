"""The waiting-area display: public, ticket numbers and counters only."""

from __future__ import annotations

from flask import Blueprint, request

from backend.core.pages import render_page
from backend.policy import Lane
from backend.stores.operations import find_store

bp = Blueprint("display", __name__, template_folder="templates")


@bp.get("/s/<store_code>/display")
def display(store_code: str) -> str:
    store = find_store(store_code)
    config = {
        "theme": "light" if request.args.get("theme") == "light" else "dark",
        "display_filter": {
            "counters": _numbers(request.args.get("counters")),
            "lanes": _lanes(request.args.get("lanes")),
        },
    }
    return render_page("display/display.html", store, config=config)


def _numbers(raw: str | None) -> list[int] | None:
    """`?counters=1,2`: the counters this display shows (None: all)."""
    numbers = [int(part) for part in (raw or "").split(",") if part.strip().isdigit()]
    return numbers or None


def _lanes(raw: str | None) -> list[str] | None:
    lanes = [part for part in (raw or "").split(",") if part in {lane.value for lane in Lane}]
    return lanes or None
