"""QR codes as inline SVG (sharp on any printer, no image library needed)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from markupsafe import Markup


def qr_svg(data: str, box_size: int = 10) -> Markup:
    image = qrcode.make(
        data,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=box_size,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    svg = image.to_string(encoding="unicode")
    # The XML declaration is not allowed inside HTML.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :]
    return Markup(svg)
