"""What the staff's forms share."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# A date as text, not type=date: the browser would show its own locale's order (mm/dd/yyyy) in a
# Chinese page; the staff's pages write dates as the change log and the lists do.
DATE_INPUT = {
    "type": "text",
    "inputmode": "numeric",
    "placeholder": _l("YYYY-MM-DD"),
    "maxlength": 10,
    "autocomplete": "off",
}
