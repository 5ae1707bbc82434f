"""The console's devices page: the store's kiosks (create one and see its set-up link and QR code
once, rename it, revoke it) and the links of its waiting-area displays.

Displays are not registered devices: a display shows only what the public snapshot shows
(numbers, counters, counts), so a token would protect nothing, and a TV browser that lost its
cookie would go blank in front of the customers. A kiosk is registered because it prints tickets
(its print limit and its number of the store's tickets count per kiosk)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from backend.core.errors import Conflict
from backend.core.pages import public_url
from backend.core.qr import qr_svg
from backend.kiosks import operations as kiosks
from backend.policy import Lane
from backend.stores import configure
from manager.staff import shown_once
from manager.staff_forms import KioskForm
from manager.views import _changed_meanwhile, _is_stale, _page, _user, bp

Page = str | Response | tuple[str, int]


def _devices_url(store_code: str) -> str:
    return url_for("manager.devices", store_code=store_code)


def _displays(store: Any) -> list[dict[str, Any]]:
    """The display links of the store: the whole hall, then one per lane it serves (the lanes of
    its offered services), each with its QR code."""
    lanes = {service.lane for service in configure.list_services(store) if service.active}
    links: list[dict[str, Any]] = [
        {"lane": None, "url": public_url("display.display", store_code=store.code)}
    ]
    links += [
        {
            "lane": lane.value,
            "url": public_url("display.display", store_code=store.code, lanes=lane.value),
        }
        for lane in Lane
        if lane in lanes
    ]
    for link in links:
        link["qr"] = qr_svg(link["url"], box_size=3)
    return links


def _devices_page(store: Any, form: KioskForm | None = None) -> Page:
    form = form or KioskForm(formdata=None)
    page = _page(
        "manager/devices.html",
        store,
        "devices",
        kiosks=kiosks.list_kiosks(store),
        form=form,
        displays=_displays(store),
        kiosk_url=public_url("kiosk.home", store_code=store.code),
    )
    return (page, 422) if form.errors else page


@bp.get("/s/<store_code>/manage/devices")
@login_required
def devices(store_code: str) -> Page:
    store = configure.managed_store(store_code, _user())
    return _devices_page(store)


@bp.post("/s/<store_code>/manage/devices/kiosks/new")
@login_required
def kiosk_new(store_code: str) -> Page:
    store = configure.managed_store(store_code, _user())
    form = KioskForm()
    if not form.validate_on_submit():
        return _devices_page(store, form)
    values = form.values()
    try:
        token = kiosks.create_kiosk(store.code, _user(), values["name"], values["auto_print"])
    except Conflict as exc:
        form.name.errors = [str(exc.message)]
        return _devices_page(store, form)
    link = public_url("kiosk.register", store_code=store.code, token=token)
    return shown_once(
        _page(
            "manager/kiosk_secret.html",
            store,
            "devices",
            name=values["name"],
            link=link,
            qr=qr_svg(link, box_size=5),
            kiosk_url=public_url("kiosk.home", store_code=store.code),
        )
    )


@bp.route("/s/<store_code>/manage/devices/kiosks/<int:kiosk_id>", methods=["GET", "POST"])
@login_required
def kiosk_edit(store_code: str, kiosk_id: int) -> Page:
    store = configure.managed_store(store_code, _user())
    values = kiosks.kiosk_values(store, kiosk_id)  # 404 if unknown, another store's or revoked
    form = KioskForm()
    if request.method == "GET":
        form.load(values)
        form.loaded.data = configure.digest(values)
    elif form.validate_on_submit():
        try:
            changed = kiosks.update_kiosk(
                store.code, _user(), kiosk_id, form.values(), form.loaded.data
            )
        except Conflict as exc:
            if _is_stale(exc):
                return _changed_meanwhile(exc, request.path)
            form.name.errors = [str(exc.message)]
        else:
            flash(
                _("Saved.") if changed else _("Nothing was changed."), "ok" if changed else "info"
            )
            return redirect(_devices_url(store.code))
    page = _page("manager/kiosk.html", store, "devices", form=form, kiosk_id=kiosk_id)
    return (page, 422) if form.errors else page


@bp.post("/s/<store_code>/manage/devices/kiosks/<int:kiosk_id>/revoke")
@login_required
def kiosk_revoke(store_code: str, kiosk_id: int) -> Response:
    store = configure.managed_store(store_code, _user())
    if kiosks.revoke_kiosk(store.code, _user(), kiosk_id):
        flash(_("The kiosk is revoked: it prints no more tickets."), "ok")
    else:
        flash(_("This kiosk was revoked already."), "info")
    return redirect(_devices_url(store.code))
