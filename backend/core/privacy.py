"""De-identification for screens: staff see masked names and phone numbers unless they open the
customer; public screens see neither."""

from __future__ import annotations

MASK = "*"


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    if " " in name:  # a Latin name: keep the initial of each part
        return " ".join(part[0] + MASK * (len(part) - 1) for part in name.split())
    return name[0] + MASK * max(len(name) - 1, 1)


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) < 7:
        return MASK * len(digits)
    return digits[:3] + MASK * (len(digits) - 7) + digits[-4:]
