"""What the staffing advice reads: the day to plan, its history days, arrivals per hour and
service in the store's zone, the services' durations, the counters; and the advice, cached.

The advice reads weeks of tickets and simulates the day a few dozen times, so it is kept per
(store, its configuration, the question, today) in a small per-process cache: a manager paging
between the table and the CSV, or two managers on the same store, pay for it once."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.core.db import data_key
from backend.extensions import db
from backend.models import Counter, Store, Ticket
from backend.policy import CounterView, service_day
from backend.policy.slots import day_spans
from backend.staffing.advice import Advice, DayDemand, HourDemand, ServiceLoad, advise
from backend.stores.settings import StoreSettings, hall_hours, load_services

MAX_HISTORY = 12
DEFAULT_HISTORY = 4
# Fewer history days with tickets, or fewer tickets, than this: no advice (it would be noise).
MIN_HISTORY_DAYS = 2
MIN_HISTORY_TICKETS = 30


class Pattern(StrEnum):
    WEEKDAY = "weekday"  # the same weekday in the last N weeks
    MONTH_DAY = "month_day"  # the same day of the month in the last N months


@dataclass(frozen=True)
class Question:
    """The day to plan: a weekday (its usual hours), or a date (its own hours) with the history
    of the same weekday or of the same day of the month."""

    weekday: int | None = None
    day: date | None = None
    pattern: Pattern = Pattern.WEEKDAY
    history: int = DEFAULT_HISTORY


class Refusal(StrEnum):
    CLOSED = "closed"  # the hall is not open that day
    NO_COUNTERS = "no_counters"
    NO_HISTORY = "no_history"


@dataclass(frozen=True)
class Answer:
    question: Question
    history_days: tuple[date, ...]  # the days looked at
    used_days: int  # of them, days with tickets
    tickets: int
    advice: Advice | None
    refusal: Refusal | None = None


def history_days(question: Question, today: date) -> list[date]:
    """The past days like the planned one, newest first, all before today."""
    if question.day is not None and question.pattern is Pattern.MONTH_DAY:
        days: list[date] = []
        year, month = question.day.year, question.day.month
        while len(days) < question.history and year > 1:
            month -= 1
            if month == 0:
                year, month = year - 1, 12
            try:
                candidate = date(year, month, question.day.day)
            except ValueError:
                continue  # no 31st this month
            if candidate < today:
                days.append(candidate)
        return days
    weekday = question.day.weekday() if question.day is not None else question.weekday or 0
    start = min(question.day or today, today) - timedelta(days=1)
    start -= timedelta(days=(start.weekday() - weekday) % 7)
    return [start - timedelta(weeks=k) for k in range(question.history)]


def plan_spans(store: Store, question: Question) -> list[list[str]]:
    hall = hall_hours(store)
    if question.day is not None:
        return [list(s) for s in day_spans(hall, question.day)]
    return [list(s) for s in (store.hours or {}).get(str(question.weekday), [])]


def clock_minutes(text: str) -> int:
    parsed = time.fromisoformat(text)
    return parsed.hour * 60 + parsed.minute


def hour_slots(spans: list[list[str]]) -> list[tuple[int, int]]:
    """The opening spans cut at each full hour: (start, end) in minutes after midnight."""
    slots = []
    for start_text, end_text in spans:
        start, end = clock_minutes(start_text), clock_minutes(end_text)
        t = start
        while t < end:
            nxt = min(end, (t // 60 + 1) * 60)
            slots.append((t, nxt))
            t = nxt
    return slots


def arrivals(store: Store, days: list[date]) -> tuple[dict[tuple[int, str], int], int, int]:
    """Tickets of those days by (local hour, service code); the days with tickets; the total."""
    zone = ZoneInfo(store.timezone)
    codes = {s.id: s.code for s in store.services}
    rows = db.session.execute(
        select(Ticket.issued_at, Ticket.service_id, Ticket.service_day).where(
            Ticket.store_id == store.id, Ticket.service_day.in_(days)
        )
    ).all()
    per_hour = Tally((issued.astimezone(zone).hour, codes[sid]) for issued, sid, _ in rows)
    return dict(per_hour), len({d for _, _, d in rows}), len(rows)


def day_demand(
    store: Store,
    question: Question,
    slots: list[tuple[int, int]],
    per_hour: dict[tuple[int, str], int],
    used: int,
) -> DayDemand:
    settings = StoreSettings.of(store)
    services = load_services(store.id)
    hours = []
    for start, end in slots:
        counts = {
            code: n / used for (hour, code), n in per_hour.items() if hour == start // 60 and n
        }
        hours.append(HourDemand(start, end, counts))
    counters = db.session.scalars(
        select(Counter)
        .where(Counter.store_id == store.id, Counter.archived.is_(False))
        .order_by(Counter.number)
    ).all()
    return DayDemand(
        hours=tuple(hours),
        services=tuple(ServiceLoad(s.code, s.lane, s.minutes) for s in services),
        counters=tuple(CounterView(c.number, c.lane_profile) for c in counters),
        policy=settings.policy(),
        target=float(store.wait_target_minutes or 0) or float(store.max_wait_minutes or 20),
    )


def compute_answer(store: Store, question: Question, moment: datetime) -> Answer:
    today = service_day(moment, store.timezone)
    days = history_days(question, today)
    slots = hour_slots(plan_spans(store, question))
    per_hour, used, total = arrivals(store, days)
    base = Answer(question, tuple(days), used, total, None)
    if not slots:
        return Answer(**{**base.__dict__, "refusal": Refusal.CLOSED})
    if used < MIN_HISTORY_DAYS or total < MIN_HISTORY_TICKETS:
        return Answer(**{**base.__dict__, "refusal": Refusal.NO_HISTORY})
    demand = day_demand(store, question, slots, per_hour, used)
    if not demand.counters:
        return Answer(**{**base.__dict__, "refusal": Refusal.NO_COUNTERS})
    return Answer(**{**base.__dict__, "advice": advise(demand)})


ANSWER_CACHE_SIZE = 64
_cache: OrderedDict[tuple[object, ...], Answer] = OrderedDict()
_lock = threading.Lock()


def staffing_answer(store: Store, question: Question, moment: datetime) -> Answer:
    """The advice for this question, once per store configuration and day (see the module)."""
    key = (
        data_key(),
        store.id,
        store.config_version,
        store.wait_target_minutes,
        store.max_wait_minutes,
        StoreSettings.of(store).policy(),
        repr((store.hours, store.special_hours, store.closed_dates)),
        question,
        service_day(moment, store.timezone),
    )
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    answer = compute_answer(store, question, moment)
    with _lock:
        _cache[key] = answer
        while len(_cache) > ANSWER_CACHE_SIZE:
            _cache.popitem(last=False)
    return answer
