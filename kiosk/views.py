"""Customer pages: the walk-in kiosk, the printed ticket and the ticket's live status page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response as WerkzeugResponse

from backend import engine
from backend.api import KIOSK_COOKIE
from backend.errors import NotFound
from backend.i18n import current_lang
from backend.models import Kiosk, Store
from backend.pages import public_url, render_page
from backend.qr import qr_svg
from backend.queue_state import StoreQueue
from backend.serializers import service_public, ticket_public

bp = Blueprint("kiosk", __name__, template_folder="templates")


KIOSK_COOKIE_MAX_AGE = 5 * 365 * 24 * 3600


def _this_kiosk(store: Store) -> Kiosk | None:
    kiosk = engine.find_kiosk(request.cookies.get(KIOSK_COOKIE))
    return kiosk if kiosk is not None and kiosk.store_id == store.id else None


def _kiosk_config(store: Store) -> dict[str, Any] | None:
    kiosk = _this_kiosk(store)
    if kiosk is None:
        return None
    return {
        "name": kiosk.name,
        "auto_print": kiosk.auto_print,
        "idle_seconds": store.kiosk_idle_seconds,
    }


def _services(store: Store) -> list[dict[str, Any]]:
    queue = StoreQueue.load(store, engine.now())
    lang = current_lang()
    return [service_public(s, queue, lang) for s in queue.services if s.active]


@bp.get("/s/<store_code>/kiosk")
def home(store_code: str) -> str:
    store = engine.find_store(store_code)
    return render_page(
        "kiosk/kiosk.html", store, config={"kiosk": _kiosk_config(store)}, services=_services(store)
    )


@bp.get("/s/<store_code>/kiosk/register/<token>")
def register(store_code: str, token: str) -> WerkzeugResponse:
    """Set up this browser as the store's kiosk (the link comes from `flask create-kiosk`)."""
    store = engine.find_store(store_code)
    kiosk = engine.find_kiosk(token)
    if kiosk is None or kiosk.store_id != store.id:
        raise NotFound(_l("This kiosk link is not valid."))
    response = redirect(url_for("kiosk.home", store_code=store.code))
    response.set_cookie(
        KIOSK_COOKIE,
        token,
        max_age=KIOSK_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


@bp.get("/s/<store_code>/join")
def join(store_code: str) -> str:
    """Join the queue from a phone (reached from the store's QR poster)."""
    store = engine.find_store(store_code)
    return render_page(
        "kiosk/join.html", store, services=_services(store), remote_join=store.remote_join
    )


@bp.get("/s/<store_code>/kiosk/ticket/<token>")
def ticket_print(store_code: str, token: str) -> str:
    ticket = engine.find_ticket_by_token(token)
    store = ticket.store
    if store.code != store_code:
        raise NotFound()
    queue = StoreQueue.load(store, engine.now())
    status_url = public_url("kiosk.ticket_status", token=token)
    kiosk = _kiosk_config(store)
    auto_print = bool(kiosk and kiosk["auto_print"]) or current_app.config["KIOSK_AUTO_PRINT"]
    home_url = url_for("kiosk.home", store_code=store.code)
    return render_page(
        "kiosk/ticket.html",
        store,
        config={"auto_print": auto_print, "kiosk": kiosk, "home_url": home_url},
        ticket=ticket_public(ticket, queue, current_lang(), with_token=True),
        qr_svg=qr_svg(status_url),
        status_url=status_url,
        home_url=home_url,
        print_config={"auto_print": auto_print},
    )


@bp.get("/t/<token>")
def ticket_status(token: str) -> str:
    ticket = engine.find_ticket_by_token(token)
    queue = StoreQueue.load(ticket.store, engine.now())
    return render_page(
        "kiosk/status.html",
        ticket.store,
        config={"token": token},
        ticket=ticket_public(ticket, queue, current_lang(), with_token=True),
    )
