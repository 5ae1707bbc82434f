"""Customer pages: the walk-in kiosk, the printed ticket and the ticket's live status page."""

from __future__ import annotations

from flask import Blueprint, current_app, url_for

from backend import engine
from backend.i18n import current_lang
from backend.pages import public_url, render_page
from backend.qr import qr_svg
from backend.queue_state import StoreQueue
from backend.serializers import service_public, ticket_public

bp = Blueprint("kiosk", __name__, template_folder="templates")


@bp.get("/s/<store_code>/kiosk")
def home(store_code: str) -> str:
    store = engine.find_store(store_code)
    queue = StoreQueue.load(store, engine.now())
    lang = current_lang()
    services = [service_public(s, queue, lang) for s in queue.services if s.active]
    return render_page("kiosk/kiosk.html", store, services=services)


@bp.get("/s/<store_code>/kiosk/ticket/<token>")
def ticket_print(store_code: str, token: str) -> str:
    ticket = engine.find_ticket_by_token(token)
    store = ticket.store
    if store.code != store_code:
        raise engine.NotFound()
    queue = StoreQueue.load(store, engine.now())
    status_url = public_url("kiosk.ticket_status", token=token)
    return render_page(
        "kiosk/ticket.html",
        store,
        config={
            "auto_print": current_app.config["KIOSK_AUTO_PRINT"],
            "home_url": url_for("kiosk.home", store_code=store.code),
        },
        ticket=ticket_public(ticket, queue, current_lang(), with_token=True),
        qr_svg=qr_svg(status_url),
        status_url=status_url,
        home_url=url_for("kiosk.home", store_code=store.code),
        print_config={"auto_print": current_app.config["KIOSK_AUTO_PRINT"]},
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
