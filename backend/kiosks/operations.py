"""Kiosks: registration (a token shown once, its hash kept) and recognising a kiosk's browser."""

from __future__ import annotations

from flask import Request
from sqlalchemy import select

from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.tokens import hash_token
from backend.extensions import db
from backend.kiosks.models import Kiosk
from backend.stores.operations import lock_store

# The kiosk's browser keeps its token in this cookie (set by the registration link); other
# vendors' kiosks send it in the header instead.
KIOSK_COOKIE = "kiosk_device"
KIOSK_HEADER = "X-Kiosk-Token"
KIOSK_COOKIE_MAX_AGE = 5 * 365 * 24 * 3600
# A phone that opened the store's join page: one remote ticket at a time per such browser.
REMOTE_COOKIE = "queue_client"
REMOTE_COOKIE_MAX_AGE = 24 * 3600


def register_kiosk(store_code: str, name: str, auto_print: bool = True) -> str:
    """Register a kiosk; returns its token (shown once, kept by the kiosk's browser)."""
    with write_transaction():
        kiosk, token = Kiosk.register(lock_store(code=store_code), name, now(), auto_print)
        db.session.add(kiosk)
    return token


def find_kiosk(token: str | None) -> Kiosk | None:
    if not token:
        return None
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_token(token)))
    return kiosk if kiosk is not None and kiosk.revoked_at is None else None


def kiosk_token(request: Request) -> str | None:
    return request.headers.get(KIOSK_HEADER) or request.cookies.get(KIOSK_COOKIE)


def request_kiosk(request: Request) -> Kiosk | None:
    return find_kiosk(kiosk_token(request))
