"""Numbers, service days and queue times: where a ticket stands in the line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def service_day(now_utc: datetime, tz_name: str) -> date:
    """The business day a moment belongs to, in the store's own time zone."""
    if now_utc.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now_utc.astimezone(ZoneInfo(tz_name)).date()


def format_label(prefix: str, number: int, digits: int = 3) -> str:
    return f"{prefix}{number:0{digits}d}"


# --- missed calls ---------------------------------------------------------------------------

ONE_TICK = timedelta(microseconds=1)
# Queue times of new tickets are at least this far apart, so that a rejoining ticket always finds
# room between two neighbours even when the clock (or a test's) gives equal readings.
QUEUE_SPACING = timedelta(milliseconds=1)


def next_queue_at(last: datetime | None, now: datetime) -> datetime:
    """The queue time of a new ticket: now, but strictly after every ticket already queued."""
    if last is None or now >= last + QUEUE_SPACING:
        return now
    return last + QUEUE_SPACING


def rejoin_queue_at(lane_queue: Sequence[datetime], places: int, now: datetime) -> datetime:
    """The queue time that puts a rejoining ticket `places` people behind the head of its lane
    (`lane_queue`: the lane's waiting queue times, oldest first), or at the end of a shorter lane.
    """
    if places < 0:
        raise ValueError("places must be >= 0")
    if len(lane_queue) <= places:
        return max([now, *(moment + QUEUE_SPACING for moment in lane_queue[-1:])])
    if places == 0:
        return lane_queue[0] - ONE_TICK
    before, after = lane_queue[places - 1], lane_queue[places]
    return before + (after - before) / 2


def let_ahead_queue_at(behind: Sequence[datetime], places: int) -> datetime:
    """The queue time that puts a ticket exactly `places` people further back: right after the
    `places`-th of `behind` (the queue times of the tickets after it in its own queue, oldest
    first) and before the next one. Within one queue every ordering calls by queue time (the same
    service has the same expected duration, so the score keeps that order too), so the ticket
    stays there."""
    if not 1 <= places <= len(behind):
        raise ValueError("places must be between 1 and the number of tickets behind")
    before = behind[places - 1]
    if places == len(behind):
        return before + ONE_TICK
    after = behind[places]
    if after - before < 2 * ONE_TICK:
        raise ValueError("no room between the two tickets")
    return before + (after - before) / 2


def can_rejoin(
    missed_at: datetime | None, rejoined: int, window_minutes: int, now: datetime
) -> bool:
    return (
        missed_at is not None
        and rejoined == 0
        and now <= missed_at + timedelta(minutes=window_minutes)
    )
