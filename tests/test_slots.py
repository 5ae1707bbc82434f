"""Pure slot arithmetic: opening hours, capacity, existing bookings, lead time, horizon,
holidays and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.policy.slots import (
    CODE_ALPHABET,
    BookingRules,
    Interval,
    busy_levels,
    day_slots,
    is_open,
    max_overlap,
    normalise_code,
    quiet_ranges,
)

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # Thursday 09:00 in Shanghai
TOMORROW = date(2026, 11, 27)


def rules(**changes: object) -> BookingRules:
    base = {
        "timezone": "Asia/Shanghai",
        "hours": {str(d): [["09:00", "12:00"], ["13:00", "17:00"]] for d in range(5)},
        "closed": frozenset(),
        "slot_minutes": 30,
        "capacity": 2,
        "lead": timedelta(minutes=30),
        "horizon_days": 7,
    }
    base.update(changes)
    return BookingRules(**base)  # type: ignore[arg-type]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    # Shanghai is UTC+8 all year.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_slots_follow_the_opening_hours_with_a_lunch_break() -> None:
    slots = day_slots(rules(), TOMORROW, [], NOW)
    assert len(slots) == 6 + 8
    assert slots[0].start == local(TOMORROW, 9) and slots[0].end == local(TOMORROW, 9, 30)
    assert local(TOMORROW, 12) not in {s.start for s in slots}
    assert slots[6].start == local(TOMORROW, 13)
    assert all(s.free == 2 for s in slots)


def test_existing_bookings_use_up_capacity() -> None:
    booked = [
        Interval(local(TOMORROW, 9), local(TOMORROW, 9, 30)),
        Interval(local(TOMORROW, 9), local(TOMORROW, 9, 30)),
        Interval(local(TOMORROW, 9, 45), local(TOMORROW, 10, 15)),  # another service's length
    ]
    free = {s.start: s.free for s in day_slots(rules(), TOMORROW, booked, NOW)}
    assert free[local(TOMORROW, 9)] == 0
    assert free[local(TOMORROW, 9, 30)] == 1
    assert free[local(TOMORROW, 10)] == 1
    assert free[local(TOMORROW, 10, 30)] == 2


def test_overlap_counts_bookings_at_the_same_moment_not_in_the_same_window() -> None:
    window = Interval(local(TOMORROW, 9), local(TOMORROW, 10))
    apart = [
        Interval(local(TOMORROW, 9), local(TOMORROW, 9, 30)),
        Interval(local(TOMORROW, 9, 30), local(TOMORROW, 10)),
    ]
    assert max_overlap(apart, window) == 1
    assert (
        max_overlap([*apart, Interval(local(TOMORROW, 9, 15), local(TOMORROW, 9, 45))], window) == 2
    )


def test_lead_time_today() -> None:
    today = date(2026, 11, 26)
    at_10 = NOW + timedelta(hours=1)  # 10:00 local
    starts = [s.start for s in day_slots(rules(), today, [], at_10)]
    assert starts[0] == local(today, 10, 30)  # 10:00 and earlier are gone, 10:30 is the lead


def test_horizon_and_past_days() -> None:
    assert day_slots(rules(horizon_days=1), TOMORROW, [], NOW) == []
    assert day_slots(rules(), date(2026, 11, 25), [], NOW) == []
    assert day_slots(rules(), date(2026, 12, 2), [], NOW)  # Wednesday, day 7 of 7
    assert day_slots(rules(), date(2026, 12, 3), [], NOW) == []  # day 8


def test_weekends_and_holidays_are_closed() -> None:
    saturday = date(2026, 11, 28)
    assert not is_open(rules(), saturday)
    assert day_slots(rules(), saturday, [], NOW) == []
    holiday = rules(closed=frozenset({TOMORROW}))
    assert not is_open(holiday, TOMORROW) and day_slots(holiday, TOMORROW, [], NOW) == []


def test_time_zone_of_the_store() -> None:
    london = rules(timezone="Europe/London")
    first = day_slots(london, TOMORROW, [], NOW)[0]
    assert first.start == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # GMT in November


def test_codes_and_quiet_hours() -> None:
    assert not set("01IOL") & set(CODE_ALPHABET)
    assert normalise_code(" ab c2 3d ") == "ABC23D"
    assert busy_levels({9: 5, 10: 9}, total=10) is None  # too little data
    levels = busy_levels({9: 2, 10: 3, 11: 9, 12: 10, 13: 8, 14: 9, 15: 3, 16: 1, 17: 1}, 300)
    assert levels is not None and levels[12] == "high" and levels[16] == "low"
    assert quiet_ranges(levels) == [(9, 11), (15, 18)]
