"""The reports' own table: each settled service day of a store, reduced to its facts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.types import UTCDateTime
from backend.extensions import Model


class ReportDay(Model):
    """One store's service day as the reports need it (backend.reports.facts, as JSON), kept once
    the day is settled (backend.reports.rollup): a year's report reads 365 of these."""

    __table_args__ = (UniqueConstraint("store_id", "service_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_day: Mapped[date] = mapped_column(Date)
    # The facts' layout and the zone their local hours were taken in: another one is rebuilt.
    layout: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    facts: Mapped[str] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
