"""Complaint cases: the promised-by date in working days and the case's state machine (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from backend.policy.slots import HallHours, is_open

# A store with no open day in this many days has no working day to promise (a typing slip).
MAX_SEARCH_DAYS = 366


class CaseStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    FOLLOWED_UP = "followed_up"
    CLOSED = "closed"


class CaseCategory(StrEnum):
    BILLING = "billing"
    NETWORK = "network"
    SERVICE_ATTITUDE = "service_attitude"
    PLAN_CONTRACT = "plan_contract"
    DEVICE = "device"
    OTHER = "other"


# Where a case may go from each status (resolved goes on by the follow-up or by closing it).
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.FOLLOWED_UP, CaseStatus.CLOSED}),
    CaseStatus.FOLLOWED_UP: frozenset(),
    CaseStatus.CLOSED: frozenset(),
}
UNRESOLVED = frozenset({CaseStatus.OPEN, CaseStatus.IN_PROGRESS})


def can_move(before: CaseStatus, after: CaseStatus) -> bool:
    return after in CASE_TRANSITIONS[before]


def add_working_days(hours: HallHours, start: date, days: int) -> date:
    """The `days`-th open day of the hall after `start` (closed weekdays and closed dates skipped);
    `start` itself when `days` is 0. ValueError when the hall opens on no day within a year."""
    if days < 0:
        raise ValueError("days must not be negative")
    day, counted, closed_run = start, 0, 0
    while counted < days:
        day += timedelta(days=1)
        if is_open(hours, day):
            counted, closed_run = counted + 1, 0
        else:
            closed_run += 1
            if closed_run > MAX_SEARCH_DAYS:
                raise ValueError("the hall opens on no day within a year")
    return day


def is_overdue(status: CaseStatus, promised_by: date, today: date) -> bool:
    return status in UNRESOLVED and promised_by < today
