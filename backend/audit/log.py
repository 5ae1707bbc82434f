"""Writing one audit entry: who changed what in a store, before → after (the changed fields only).
Called inside the change's write transaction, so the entry exists exactly when the change does."""

from __future__ import annotations

from typing import Any

from backend.audit.models import AuditEntry
from backend.core.clock import now
from backend.extensions import db
from backend.staff.models import User

# AuditEntry.target's length.
TARGET_LENGTH = 64


def record(
    store_id: int,
    actor: User,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    db.session.add(
        AuditEntry(
            store_id=store_id,
            at=now(),
            actor_id=actor.id,
            actor_name=actor.display_name or actor.username,
            action=str(action),
            target=target[:TARGET_LENGTH],
            before=before,
            after=after,
        )
    )
