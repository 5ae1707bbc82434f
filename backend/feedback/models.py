"""Customers' ratings of their visits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.types import UTCDateTime
from backend.extensions import Model

if TYPE_CHECKING:
    from backend.queue.models import Ticket


MIN_STARS, MAX_STARS = 1, 5
MAX_COMMENT = 500


class RatingChannel(StrEnum):
    """Where the customer gave the rating: their phone (the ticket's QR), or the clerk's screen
    turned to them at the counter."""

    PHONE = "phone"
    COUNTER = "counter"


class Feedback(Model):
    """A customer's rating of one visit, tied to its service, counter and clerk."""

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="phone", server_default="phone")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="feedback")
