"""Booking facts in words for the pages and the API: opening hours, quiet hours, and the hint of
the next quiet hours the kiosk, the join page and the ticket page give.

How busy each hour usually is reads four weeks of tickets, so it is kept per store and hour of
the store's day (`usual_busy`): every page and API answer of that hour shares one reading."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from backend.bookings.commands import busy_profile
from backend.core.db import data_key
from backend.core.i18n import current_lang
from backend.policy.slots import local_today, next_quiet_hours, quiet_ranges
from backend.stores.models import Store
from backend.stores.settings import hall_hours


def hours_text(store: Store) -> str:
    """Opening hours in words, e.g. "9:00–18:00" when every open day has the same hours."""
    spans = {tuple(map(tuple, spans)) for spans in store.hours.values() if spans}
    if len(spans) == 1:
        return ", ".join(f"{a}–{b}" for a, b in next(iter(spans)))
    return _("Opening hours vary by day.")


def busy_advice(levels: dict[int, str] | None) -> str:
    if levels is None:
        return _("We do not have enough visits yet to tell the quiet hours.")
    ranges = quiet_ranges(levels)
    if not ranges:
        return _("The store is about as busy all day.")
    text = (
        "、".join(f"{a}–{b}" for a, b in ranges)
        if current_lang() == "zh"
        else ", ".join(f"{a}:00–{b}:00" for a, b in ranges)
    )
    return _("Quiet hours: %(ranges)s.", ranges=text)


BUSY_CACHE_SIZE = 4096
_busy: OrderedDict[tuple[str, int, str], dict[int, str] | None] = OrderedDict()
_busy_lock = threading.Lock()


def usual_busy(store: Store, moment: datetime) -> dict[int, str] | None:
    """`busy_profile`, computed at most once per store per hour of its day (it reads history)."""
    hour = moment.astimezone(ZoneInfo(store.timezone)).strftime("%Y-%m-%d %H")
    key = (data_key(), store.id, hour)
    with _busy_lock:
        if key in _busy:
            _busy.move_to_end(key)
            return _busy[key]
    levels = busy_profile(store, moment)
    with _busy_lock:
        _busy[key] = levels
        while len(_busy) > BUSY_CACHE_SIZE:
            _busy.popitem(last=False)
    return levels


WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def quiet_hint(store: Store, moment: datetime) -> str | None:
    """E.g. "Usually quiet: tomorrow 10:00–11:00." — the next usually quiet open hours still
    ahead; None when the store has too little history to tell, or none is ahead this week."""
    found = next_quiet_hours(usual_busy(store, moment), hall_hours(store), moment)
    if found is None:
        return None
    today = local_today(moment, store.timezone)
    if found.day == today:
        day = _("today")
    elif found.day == today + timedelta(days=1):
        day = _("tomorrow")
    else:
        day = _(WEEKDAY_NAMES[found.day.weekday()])
    hours = f"{found.start:02d}:00–{found.end:02d}:00"
    return _("Usually quiet: %(day)s %(hours)s.", day=day, hours=hours)
