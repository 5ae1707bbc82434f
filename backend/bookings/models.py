"""Appointments: booked slots, with personal data kept only as long as the store's retention."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.tokens import new_token
from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model
from backend.policy import AppointmentStatus

if TYPE_CHECKING:
    from backend.queue.models import Ticket
    from backend.stores.models import Service, Store


class StoreAction(StrEnum):
    """What the store did to a booking (closing its day, or shortening the day's hours)."""

    CANCELLED = "cancelled"
    MOVED = "moved"


class Appointment(Model):
    """A booked slot. Name and phone are personal data: masked on every screen but the one that
    needs them, and erased after the store's retention period."""

    __table_args__ = (
        Index("ix_appointment_slot", "store_id", "day", "status"),
        Index("ix_appointment_code", "store_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    day: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime())
    slot_end: Mapped[datetime] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[str] = mapped_column(String(8))
    manage_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    status: Mapped[AppointmentStatus] = mapped_column(
        enum_column(AppointmentStatus), default=AppointmentStatus.BOOKED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    erased: Mapped[bool] = mapped_column(default=False)
    # Set when the store cancelled or moved the booking, with its message to the customer (in
    # each language) and, for a move, the slot's former start; cleared when the customer changes
    # it again.
    store_action: Mapped[StoreAction | None] = mapped_column(enum_column(StoreAction))
    store_message_zh: Mapped[str] = mapped_column(String(500), default="")
    store_message_en: Mapped[str] = mapped_column(String(500), default="")
    moved_from: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()
    service: Mapped[Service] = relationship()
    ticket: Mapped[Ticket | None] = relationship(back_populates="appointment")
