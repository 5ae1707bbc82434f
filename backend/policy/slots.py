"""Pure booking arithmetic: opening hours to slots, capacity left per slot, busy hours.

No Flask and no database: the store's settings and existing bookings go in, slots come out. Times
are aware datetimes in UTC; days and hours are the store's local ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Monday = 0, as date.weekday(). Every day 9:00–18:00 unless the store says otherwise.
DEFAULT_HOURS: dict[str, list[list[str]]] = {str(d): [["09:00", "18:00"]] for d in range(7)}
Spans = Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    free: int


@dataclass(frozen=True, slots=True)
class BookingRules:
    timezone: str
    hours: Mapping[str, Sequence[Sequence[str]]]
    closed: frozenset[date]
    slot_minutes: int
    capacity: int  # counters reserved for appointments at any moment
    lead: timedelta  # no booking closer to now than this
    horizon_days: int  # today … today + horizon_days - 1
    # Dates with their own hours (a shorter day before a holiday), instead of the weekday's.
    special: Mapping[date, Spans] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HallHours:
    """A hall's opening hours: per weekday spans in its zone, and its closed dates."""

    timezone: str
    hours: Mapping[str, Sequence[Sequence[str]]]
    closed: frozenset[date]
    special: Mapping[date, Spans] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpenState:
    open: bool
    closes_at: datetime | None  # the end of the current opening span, when open
    next_open: datetime | None  # the start of the next span, when closed (None: none soon)


OPEN_LOOKAHEAD_DAYS = 31


def open_state(hours: HallHours | BookingRules, moment: datetime) -> OpenState:
    """Whether the hall is open at `moment`, until when, or when it opens next."""
    today = local_today(moment, hours.timezone)
    for offset in range(OPEN_LOOKAHEAD_DAYS):
        for span in opening_intervals(hours, today + timedelta(days=offset)):
            if span.start <= moment < span.end:
                return OpenState(True, span.end, None)
            if span.start > moment:
                return OpenState(False, None, span.start)
    return OpenState(False, None, None)


def local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def bookable_days(rules: BookingRules, now: datetime) -> list[date]:
    today = local_today(now, rules.timezone)
    return [today + timedelta(days=i) for i in range(rules.horizon_days)]


def day_spans(rules: HallHours | BookingRules, day: date) -> Spans:
    """The day's opening spans in store time: none on a closed date, a special date's own, else
    its weekday's."""
    if day in rules.closed:
        return []
    if day in rules.special:
        return rules.special[day]
    return rules.hours.get(str(day.weekday())) or []


def is_open(rules: HallHours | BookingRules, day: date) -> bool:
    return bool(day_spans(rules, day))


def opening_intervals(rules: HallHours | BookingRules, day: date) -> list[Interval]:
    zone = ZoneInfo(rules.timezone)
    out = []
    for start_text, end_text in day_spans(rules, day):
        start = datetime.combine(day, time.fromisoformat(start_text), zone).astimezone(UTC)
        end = datetime.combine(day, time.fromisoformat(end_text), zone).astimezone(UTC)
        if end > start:
            out.append(Interval(start, end))
    return out


def within_hours(rules: HallHours | BookingRules, booked: Interval, day: date) -> bool:
    """Whether a booking on `day` lies wholly inside one of the day's opening spans."""
    return any(
        span.start <= booked.start and booked.end <= span.end
        for span in opening_intervals(rules, day)
    )


def max_overlap(booked: Iterable[Interval], window: Interval) -> int:
    """The most bookings in progress at any one moment inside the window (a sweep)."""
    edges: list[tuple[datetime, int]] = []
    for b in booked:
        if b.overlaps(window):
            edges.append((max(b.start, window.start), 1))
            edges.append((min(b.end, window.end), -1))
    edges.sort(key=lambda e: (e[0], e[1]))  # an end and a start at the same instant: end first
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def day_slots(
    rules: BookingRules, day: date, booked: Sequence[Interval], now: datetime
) -> list[Slot]:
    """Every slot of the day that may still be booked, with the capacity left in it."""
    if day not in bookable_days(rules, now):
        return []
    length = timedelta(minutes=rules.slot_minutes)
    earliest = now + rules.lead
    slots = []
    for opening in opening_intervals(rules, day):
        start = opening.start
        while start + length <= opening.end:
            window = Interval(start, start + length)
            if start >= earliest:
                free = rules.capacity - max_overlap(booked, window)
                slots.append(Slot(window.start, window.end, max(free, 0)))
            start += length
    return slots


# --- how busy the store usually is ---------------------------------------------------------------

MIN_TICKETS_FOR_ADVICE = 50


def busy_levels(tickets_per_hour: Mapping[int, float], total: int) -> dict[int, str] | None:
    """Hour of day -> low / medium / high, from past tickets; None with too little data."""
    if total < MIN_TICKETS_FOR_ADVICE or not tickets_per_hour:
        return None
    ordered = sorted(tickets_per_hour.values())
    low_cut = ordered[len(ordered) // 3]
    high_cut = ordered[(2 * len(ordered)) // 3]
    return {
        hour: "low" if n <= low_cut else "high" if n > high_cut else "medium"
        for hour, n in sorted(tickets_per_hour.items())
    }


def quiet_ranges(levels: Mapping[int, str]) -> list[tuple[int, int]]:
    """Runs of consecutive low hours as (first hour, hour after the last)."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(levels):
        if levels[hour] != "low":
            continue
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


QUIET_LOOKAHEAD_DAYS = 7


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A run of usually quiet whole hours on one day, in the store's time: [start, end)."""

    day: date
    start: int
    end: int


def open_hours(hours: HallHours | BookingRules, day: date, after: datetime) -> set[int]:
    """The day's whole hours the hall is open throughout, from `after` on."""
    zone = ZoneInfo(hours.timezone)
    out = set()
    for span in opening_intervals(hours, day):
        for hour in range(24):
            start = datetime.combine(day, time(hour), zone)
            end = start + timedelta(hours=1)
            if span.start <= start and end <= span.end and start >= after:
                out.add(hour)
    return out


def next_quiet_hours(
    levels: Mapping[int, str] | None, hours: HallHours | BookingRules, now: datetime
) -> QuietHours | None:
    """The first run of usually quiet hours still ahead (today's from the next whole hour on,
    then the coming days'), only whole hours the hall is open; None without enough history."""
    if not levels:
        return None
    today = local_today(now, hours.timezone)
    for offset in range(QUIET_LOOKAHEAD_DAYS):
        day = today + timedelta(days=offset)
        ahead = open_hours(hours, day, now)
        runs = quiet_ranges({h: level for h, level in levels.items() if h in ahead})
        if runs:
            return QuietHours(day, *runs[0])
    return None


# --- confirmation codes ------------------------------------------------------------------------

# No 0/O, 1/I/L: a code read aloud or typed on a keypad cannot be misread.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def normalise_code(raw: str) -> str:
    return "".join(raw.split()).upper()
