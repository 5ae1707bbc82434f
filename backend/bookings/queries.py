"""Booking facts in words for the pages and the API: opening hours, quiet hours."""

from __future__ import annotations

from flask_babel import gettext as _

from backend.core.i18n import current_lang
from backend.policy.slots import quiet_ranges
from backend.stores.models import Store


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
