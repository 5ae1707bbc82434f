"""Helpers shared by the terminals' page views (kiosk, display, counter)."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request, url_for
from flask_wtf.csrf import generate_csrf

from backend.core.i18n import current_lang
from backend.models import Store


def other_lang_url() -> str:
    args: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict()}
    args["lang"] = "en" if current_lang() == "zh" else "zh"
    return url_for(request.endpoint or "index", **args)


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute URL for QR codes: PUBLIC_BASE_URL when set, else the host the client used."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def render_page(
    template: str, store: Store | None = None, config: dict[str, Any] | None = None, **context: Any
) -> str:
    lang = current_lang()
    page_config = {
        "lang": lang,
        "store": store.code if store else None,
        "csrf_token": generate_csrf(),
        "api": "/api/v1",
        "timezone": store.timezone if store else None,
        **(config or {}),
    }
    store_view = {"code": store.code, "name": store.name(lang)} if store else None
    return render_template(
        template,
        store=store_view,
        lang=lang,
        lang_toggle_url=other_lang_url(),
        page_config=page_config,
        **context,
    )
