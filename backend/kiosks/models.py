"""Registered ticket kiosks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.core.tokens import hash_token, new_token
from backend.core.types import UTCDateTime
from backend.extensions import Model

if TYPE_CHECKING:
    from backend.stores.models import Store


@dataclass(frozen=True, slots=True)
class KioskRef:
    """A registered kiosk as a command needs it: which one, of which store. Facts that never
    change, so the row read to authenticate a request is not read again under the store lock."""

    id: int
    store_id: int


class Kiosk(Model):
    """A registered ticket kiosk. Its browser holds the token in a cookie; only the hash is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    auto_print: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()

    @property
    def ref(self) -> KioskRef:
        return KioskRef(self.id, self.store_id)

    @classmethod
    def register(
        cls, store: Store, name: str, created_at: datetime, auto_print: bool = True
    ) -> tuple[Kiosk, str]:
        """A new kiosk and its token; the token is shown once and only its hash is kept."""
        token = new_token()
        kiosk = cls(
            store=store,
            name=name,
            token_hash=hash_token(token),
            auto_print=auto_print,
            created_at=created_at,
        )
        return kiosk, token
