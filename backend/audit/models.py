"""One row per change made in the manager console (append-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.core.types import UTCDateTime
from backend.extensions import Model


class AuditEntry(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The name is kept besides the id: the entry still says who after the account is gone.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor_name: Mapped[str] = mapped_column(String(80), default="")
    # What was changed: an AuditAction value and the thing it names ("A" for service A, "3" …).
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(64), default="")
    # The changed fields only: {"field": value} before and after (None: created or deleted).
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
