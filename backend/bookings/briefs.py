"""A booking as staff pages list it: who (masked), which service, when. The staff's appointments
page and the holidays page's list of bookings on a day that closes both start from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.bookings.models import Appointment
from backend.core.privacy import mask_name, mask_phone


@dataclass(frozen=True)
class BookingBrief:
    id: int
    code: str
    name_masked: str
    phone_masked: str
    service_code: str
    service_name_zh: str
    service_name_en: str
    start: datetime
    end: datetime

    def service_name(self, lang: str) -> str:
        return self.service_name_en if lang == "en" else self.service_name_zh


def brief_fields(appointment: Appointment) -> dict[str, Any]:
    """The brief's fields of a booking, the personal ones masked."""
    return {
        "id": appointment.id,
        "code": appointment.code,
        "name_masked": mask_name(appointment.name),
        "phone_masked": mask_phone(appointment.phone),
        "service_code": appointment.service.code,
        "service_name_zh": appointment.service.name_zh,
        "service_name_en": appointment.service.name_en,
        "start": appointment.slot_start,
        "end": appointment.slot_end,
    }
