"""A complaint case and its timeline; the customer's contact is kept only with consent and only
for the store's retention (the case and its counts stay)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model
from backend.policy.cases import CaseCategory, CaseStatus

DESCRIPTION_MAX = 1000
NOTE_MAX = 1000
NAME_MAX = 40
PHONE_MAX = 20
COMMENT_MAX = 500


class Case(Model):
    __tablename__ = "complaint_case"  # "case" is an SQL keyword
    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        Index("ix_case_inbox", "store_id", "status", "promised_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    # Shown to the customer: TS-20261202-0007 (per store and day).
    number: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), unique=True)
    # Where it was opened: the counter's complaint outcome, a low rating, or the console.
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[CaseCategory] = mapped_column(enum_column(CaseCategory))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    status: Mapped[CaseStatus] = mapped_column(enum_column(CaseStatus), default=CaseStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    promised_by: Mapped[date] = mapped_column(Date)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The customer's contact, only with consent; erased with the store's retention.
    consent: Mapped[bool] = mapped_column(default=False)
    contact_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    contact_phone: Mapped[str] = mapped_column(String(PHONE_MAX), default="")
    contact_erased: Mapped[bool] = mapped_column(default=False)
    follow_up_stars: Mapped[int | None] = mapped_column(Integer)
    follow_up_comment: Mapped[str] = mapped_column(Text, default="")
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    notes: Mapped[list[CaseNote]] = relationship(
        back_populates="case", order_by="CaseNote.id", cascade="all, delete-orphan"
    )


class CaseNote(Model):
    """One line of a case's timeline: a note, or what changed and why (append-only)."""

    __tablename__ = "case_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    author_name: Mapped[str] = mapped_column(String(80), default="")
    # note, opened, status, owner, promise, follow_up
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")

    case: Mapped[Case] = relationship(back_populates="notes")
