"""Customers' ratings of their visits."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.types import UTCDateTime
from backend.extensions import Model

if TYPE_CHECKING:
    from backend.queue.models import Ticket


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="feedback")
