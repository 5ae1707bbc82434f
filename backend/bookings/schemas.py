"""Request and response schemas of the booking API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, RootModel

from backend.api.openapi import Out
from backend.queue.schemas import Strict


class BookIn(Strict):
    service: str = Field(min_length=1, max_length=32)
    start: datetime = Field(description="The slot's start, as given by the slots call.")
    name: str = Field(min_length=1, max_length=80)
    phone: str = Field(min_length=5, max_length=32)
    consent: bool = Field(description="The customer agreed to the use of name and number.")


class MoveIn(Strict):
    start: datetime
    service: str | None = Field(default=None, max_length=32)


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=16, description="The booking's 6-letter code.")


EARLY_DESCRIPTION = (
    "Too early (409 `too_early` with its `options`): `wait` (an appointment ticket called at the "
    "slot time, not before) or `walk_in` (an ordinary ticket now; the booking is used by it)."
)


class CodeCheckInIn(Strict):
    """A check-in by the booking's code (as before: the public contract)."""

    code: str = Field(min_length=1, max_length=16, description="The booking's 6-letter code.")
    early: Literal["wait", "walk_in"] | None = Field(default=None, description=EARLY_DESCRIPTION)


class PhoneCheckInIn(Strict):
    """A check-in by the mobile number booked with: without `booking`, today's bookings of the
    number are listed; with one of their `choice` ids, that booking is checked in."""

    phone: str = Field(min_length=1, max_length=32, description="The booking's mobile number.")
    booking: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The `choice` of one of the bookings listed for this number.",
    )
    early: Literal["wait", "walk_in"] | None = Field(default=None, description=EARLY_DESCRIPTION)


class CheckInIn(RootModel[CodeCheckInIn | PhoneCheckInIn]):
    """A check-in by code, or by mobile number (one or the other)."""


class PhoneBookingOut(Out):
    choice: str
    time: str
    service: str
    service_name: str
    service_name_zh: str
    service_name_en: str
    name_masked: str
    checked_in: bool


class PhoneBookingsOut(Out):
    bookings: list[PhoneBookingOut]


class SlotOut(Out):
    start: str
    end: str
    time: str
    free: int


class SlotsOut(Out):
    date: str
    service: str
    closed: bool
    slots: list[SlotOut]


class BookingStoreOut(Out):
    code: str
    name: str
    address: str


class BookingOut(Out):
    code: str
    status: Literal["booked", "checked_in", "done", "no_show", "cancelled"]
    service: str
    service_name: str
    start: str
    end: str
    date: str
    time: str
    store: BookingStoreOut
    name_masked: str
    phone_masked: str
    manage_url: str
    ics_url: str
    can_cancel: bool
    can_move: bool
    checkin_from: str
    checkin_until: str
    checkin_from_time: str
    checkin_until_time: str
    ticket: dict[str, str] | None
    by_store: Literal["cancelled", "moved"] | None = Field(
        description="Set when the store cancelled or moved the booking (a closed day, new hours)."
    )
    store_message: str = Field(
        description="The store's message about it, in the caller's language."
    )
    moved_from_date: str | None = Field(description="A moved booking's former day (store time).")
    moved_from_time: str | None = Field(description="… and its former time.")
