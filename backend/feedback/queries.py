"""What a clerk sees of the customers' ratings of their own visits: today's mean and count, and
the latest comments, anonymous (no ticket, no name, the day only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.extensions import db
from backend.feedback.models import Feedback
from backend.policy.slots import local_today

RECENT_COMMENTS = 5
# Older comments are not shown at the counter: the latest weeks say what to keep or change.
COMMENT_DAYS = 30


@dataclass(frozen=True)
class ClerkRatings:
    ratings: int
    mean_stars: float | None
    comments: list[dict[str, object]]  # {"day": "2026-11-26", "stars": 4, "comment": "..."}


def clerk_ratings(store_id: int, zone: str, clerk_id: int, moment: datetime) -> ClerkRatings:
    today = local_today(moment, zone)
    start = datetime.combine(today, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
    stars = list(
        db.session.scalars(
            select(Feedback.stars).where(
                Feedback.store_id == store_id,
                Feedback.clerk_id == clerk_id,
                Feedback.created_at >= start,
            )
        )
    )
    recent = db.session.execute(
        select(Feedback.stars, Feedback.comment, Feedback.created_at)
        .where(
            Feedback.store_id == store_id,
            Feedback.clerk_id == clerk_id,
            Feedback.comment != "",
            Feedback.created_at >= start - timedelta(days=COMMENT_DAYS),
        )
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(RECENT_COMMENTS)
    ).all()
    return ClerkRatings(
        ratings=len(stars),
        mean_stars=round(sum(stars) / len(stars), 2) if stars else None,
        comments=[
            {
                "day": local_today(r.created_at, zone).isoformat(),
                "stars": r.stars,
                "comment": r.comment,
            }
            for r in recent
        ],
    )
