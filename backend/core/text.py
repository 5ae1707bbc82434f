"""Text a customer types: Unicode normalisation before it is checked or compared.

A phone keyboard may send full-width digits (`１３８…`), and a name field may hold nothing but
zero-width characters. Both must be treated as what they look like: the same number as its
half-width twin, and an empty name.
"""

from __future__ import annotations

import unicodedata

# Format and control characters draw nothing (U+200B–U+200D, U+2060, U+FEFF are Cf), nor do these
# "filler" letters that some input methods produce.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Separators inside a phone number that carry no digits: spaces, hyphens, dots and brackets.
_PHONE_SEPARATORS = frozenset(" -.()")
NUL = "\x00"


def is_invisible(char: str) -> bool:
    return (
        char.isspace()
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or char in _INVISIBLE_LETTERS
    )


def visible_text(text: str) -> str:
    """`text` without invisible characters, runs of whitespace as one space, trimmed; "" when
    nothing visible is left."""
    kept = "".join(" " if c.isspace() else "" if is_invisible(c) else c for c in text)
    return " ".join(unicodedata.normalize("NFC", kept).split())


def normalise_phone(text: str) -> str:
    """A phone number as typed, in canonical form: NFKC (full-width digits and signs become ASCII),
    every other script's decimal digits as ASCII ones, without separators or invisible characters.
    Validation and comparisons use this form."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() else c
        for c in folded
        if c not in _PHONE_SEPARATORS and not is_invisible(c)
    )


def has_nul(text: str) -> bool:
    return NUL in text
