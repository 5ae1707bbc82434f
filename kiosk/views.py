"""Customer pages: the walk-in kiosk, the printed ticket and the ticket's live status page."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import qrcode
from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as WerkzeugResponse

from backend.bookings import commands as bookings
from backend.bookings.queries import hours_text, quiet_hint
from backend.bookings.serializers import booking_public
from backend.core.clock import now
from backend.core.errors import Forbidden, NotFound
from backend.core.i18n import current_lang
from backend.core.pages import public_url, render_page
from backend.core.qr import qr_svg
from backend.core.tokens import new_token
from backend.kiosks.models import Kiosk
from backend.kiosks.operations import (
    KIOSK_COOKIE,
    KIOSK_COOKIE_MAX_AGE,
    REMOTE_COOKIE,
    REMOTE_COOKIE_MAX_AGE,
    find_kiosk,
    is_revoked,
)
from backend.messaging.sms import sms_enabled
from backend.messaging.subscriptions import booking_subscribed
from backend.policy import Role
from backend.policy.slots import CODE_ALPHABET, CODE_LENGTH
from backend.queue import reads
from backend.stores.models import Store
from backend.stores.operations import find_store

bp = Blueprint("kiosk", __name__, template_folder="templates")


def _this_kiosk(store: Store) -> Kiosk | None:
    kiosk = find_kiosk(request.cookies.get(KIOSK_COOKIE))
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
    return reads.services_view(store.code, current_lang())


def _revoked() -> bool:
    """This browser was a kiosk, and a manager revoked it."""
    return is_revoked(request.cookies.get(KIOSK_COOKIE))


@bp.get("/s/<store_code>/kiosk")
def home(store_code: str) -> str:
    store = find_store(store_code)
    kiosk = _kiosk_config(store)
    config = {"kiosk": kiosk, "kiosk_revoked": kiosk is None and _revoked()}
    return render_page("kiosk/kiosk.html", store, config=config, services=_services(store))


@bp.get("/s/<store_code>/kiosk/register/<token>")
def register(store_code: str, token: str) -> WerkzeugResponse:
    """Set up this browser as the store's kiosk (the link comes from `flask create-kiosk`)."""
    store = find_store(store_code)
    kiosk = find_kiosk(token)
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
def join(store_code: str) -> Response:
    """Join the queue from a phone (reached from the store's QR poster). The page gives the
    browser its remote-join cookie: only a browser that opened it can take a remote ticket."""
    store = find_store(store_code)
    page = render_page(
        "kiosk/join.html",
        store,
        services=_services(store),
        remote_join=store.remote_join,
        quiet=quiet_hint(store, now()),
        # The SMS opt-in only where an SMS really goes out, and the store sends "almost".
        sms_almost=store.almost_ahead if sms_enabled(current_app.config) else 0,
        retention_days=store.retention_days,
    )
    response = Response(page, mimetype="text/html")
    if not request.cookies.get(REMOTE_COOKIE):
        response.set_cookie(
            REMOTE_COOKIE,
            new_token(),
            max_age=REMOTE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


@bp.get("/s/<store_code>/kiosk/ticket/<token>")
def ticket_print(store_code: str, token: str) -> str:
    ticket = reads.find_ticket_by_token(token)
    store = ticket.store
    if store.code != store_code:
        raise NotFound()
    status_url = public_url("kiosk.ticket_status", token=token)
    kiosk = _kiosk_config(store)
    auto_print = bool(kiosk and kiosk["auto_print"]) or current_app.config["KIOSK_AUTO_PRINT"]
    home_url = url_for("kiosk.home", store_code=store.code)
    view = reads.ticket_view(ticket, current_lang(), with_token=True)
    return render_page(
        "kiosk/ticket.html",
        store,
        config={"auto_print": auto_print, "kiosk": kiosk, "home_url": home_url},
        ticket=view,
        quiet=quiet_hint(store, now()) if _long_wait(store, view) else None,
        qr_svg=qr_svg(status_url),
        status_url=status_url,
        home_url=home_url,
    )


@bp.get("/t/<token>")
def ticket_status(token: str) -> str:
    ticket = reads.find_ticket_by_token(token)
    return render_page(
        "kiosk/status.html",
        ticket.store,
        config={"token": token},
        ticket=reads.ticket_view(ticket, current_lang(), with_token=True),
        quiet=quiet_hint(ticket.store, now()),
        push_ahead=ticket.store.almost_ahead,
    )


@bp.get("/sw.js")
def service_worker() -> Response:
    """The customer pages' service worker, from the site's root so that its scope covers the
    status pages (/t/…) and the booking pages (/b/…)."""
    script = (Path(current_app.static_folder or "static") / "js" / "sw.js").read_text()
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"  # a new version is picked up at once
    return response


def _long_wait(store: Store, ticket: dict[str, Any]) -> bool:
    """The printed ticket's estimate runs past the store's wait target (its longer end)."""
    eta = ticket.get("eta_minutes")
    target = store.wait_target_minutes
    return bool(eta and target and eta[-1] > target)


# --- appointments ---------------------------------------------------------------------------------


@bp.get("/s/<store_code>/book")
def book(store_code: str) -> str:
    """The booking page that the store's QR poster opens."""
    store = find_store(store_code)
    return render_page("kiosk/book.html", store, remote_join=store.remote_join)


@bp.get("/b/<token>")
def booking_page(token: str) -> str:
    """Confirmation and the private manage page of one booking."""
    appointment = bookings.find_booking(token)
    return render_page(
        "kiosk/booking.html",
        appointment.store,
        config={"token": token},
        booking=booking_public(appointment, current_lang()),
        qr_svg=qr_svg(appointment.code, box_size=8),
        new=request.args.get("new") == "1",
        reminders={
            "minutes": appointment.store.reminder_minutes,
            "sms": sms_enabled(current_app.config),
            "push": booking_subscribed(appointment.id),
        },
    )


@bp.get("/b/<token>/calendar.ics")
def booking_calendar(token: str) -> Response:
    appointment = bookings.find_booking(token)
    store = appointment.store
    lang = current_lang()

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    summary = f"{appointment.service.name(lang)} · {store.name(lang)}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//hallqueue//booking//EN",
        "BEGIN:VEVENT",
        f"UID:{appointment.manage_token}@hallqueue",
        f"DTSTAMP:{stamp(appointment.created_at)}",
        f"DTSTART:{stamp(appointment.slot_start)}",
        f"DTEND:{stamp(appointment.slot_end)}",
        f"SUMMARY:{_ics_text(summary)}",
        f"LOCATION:{_ics_text(store.address(lang) or store.name(lang))}",
        f"DESCRIPTION:{_ics_text(appointment.code)}",
        *_ics_alarm(store.reminder_minutes, summary),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    response = Response("\r\n".join(lines) + "\r\n", mimetype="text/calendar")
    response.headers["Content-Disposition"] = "attachment; filename=booking.ics"
    return response


def _ics_alarm(minutes: int, summary: str) -> list[str]:
    """A reminder alarm (RFC 5545 VALARM) the store's reminder minutes before (none at 0)."""
    if minutes <= 0:
        return []
    return [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"TRIGGER:-PT{minutes}M",
        f"DESCRIPTION:{_ics_text(summary)}",
        "END:VALARM",
    ]


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _manager_of(store: Store) -> None:
    if not (
        current_user.is_authenticated
        and current_user.can_act_in(store)
        and current_user.role in (Role.MANAGER, Role.ADMIN)
    ):
        raise Forbidden(_l("Only managers can print the store's poster."))


@bp.get("/s/<store_code>/poster")
@login_required
def poster(store_code: str) -> str:
    store = find_store(store_code)
    _manager_of(store)
    book_url = public_url("kiosk.book", store_code=store.code)
    size = "a5" if request.args.get("size") == "a5" else "a4"
    return render_page(
        "kiosk/poster.html",
        store,
        book_url=book_url,
        qr_svg=qr_svg(book_url, box_size=12),
        size=size,
        hours_text=hours_text(store),
    )


@bp.get("/s/<store_code>/poster/qr.png")
@login_required
def poster_png(store_code: str) -> Response:
    store = find_store(store_code)
    _manager_of(store)
    image = qrcode.make(public_url("kiosk.book", store_code=store.code), box_size=20, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    response = Response(buffer.getvalue(), mimetype="image/png")
    response.headers["Content-Disposition"] = f"attachment; filename={store.code}-booking-qr.png"
    return response


@bp.get("/s/<store_code>/kiosk/check-in")
def checkin(store_code: str) -> str:
    store = find_store(store_code)
    kiosk = _kiosk_config(store)
    config = {
        "kiosk": kiosk,
        "kiosk_revoked": kiosk is None and _revoked(),
        "code_alphabet": CODE_ALPHABET,
        "code_length": CODE_LENGTH,
    }
    return render_page("kiosk/checkin.html", store, config=config)
