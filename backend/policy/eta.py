"""The estimated wait: the store's own policy run forward over the current queue.

Pure (no Flask, no database), like the rest of backend.policy, so that the live system and the
simulator estimate with the same code. One forward run with the expected durations gives the
point estimate; sampled runs with durations drawn around them (lognormal, the store's spread) give
the range. Only the head of each (service, lane, counter) group can be called next, so each step
looks at a handful of tickets and a run over 300 waiting tickets is cheap.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any

from .enums import CounterStatus, Lane
from .ordering import CounterView, GroupKey, QueueItem, QueuePolicy, choose_next, group_key
from .patience import HISTORY_DAYS as HISTORY_DAYS
from .patience import MIN_DEPARTURES as MIN_DEPARTURES
from .patience import PATIENCE_BANDS as PATIENCE_BANDS
from .patience import PRIOR_MINUTES as PRIOR_MINUTES
from .patience import Patience as Patience
from .patience import PatienceTally as PatienceTally
from .patience import observed_patience as observed_patience
from .patience import tally_patience as tally_patience

LOW_QUANTILE = 0.05
HIGH_QUANTILE = 0.95
# How many sampled runs make the estimate and its range: SAMPLES where the queue is short, fewer
# as it grows (the runs cost in proportion to the queue: at most SAMPLE_BUDGET ticket-runs, at
# least MIN_SAMPLES), and past SAMPLED_LIMIT waiting (more than any hall holds; the race tests
# hold 2,000) the point run alone. The median of 16 runs carried noise of its own: against the
# oracle, 64 took the held-out weekday from 1.12 to 1.07 x the floor, the month start from 1.17
# to 1.11 (bench/BENCHMARKS.md); a band is sampled at most every BAND_MAX_AGE, so the cost is
# one run per half minute, not per projection.
SAMPLES = 64
SAMPLE_BUDGET = 16 * 300
MIN_SAMPLES = 4
SAMPLED_LIMIT = 400


def sample_count(waiting: int, most: int = SAMPLES) -> int:
    """The sampled runs for a queue of `waiting` tickets (0: the point run alone)."""
    if waiting > SAMPLED_LIMIT or most <= 0:
        return 0
    return max(min(MIN_SAMPLES, most), min(most, SAMPLE_BUDGET // max(waiting, 1)))


# The sampled range is widened around its median for what the runs' model does not know (the
# true spread of service times, the arrivals beyond one hour's count, the staffing to come) and,
# with few runs, for the noise of their quantiles: by 0.85 + 1.6 / sqrt(runs), fitted to the
# oracle's coverage (bench/oracle.py) at the two counts measured — 16 runs needed 1.25 and 64
# runs 1.05 for the weekday and the month start both to hold 88-92 % of actual waits inside
# the announced 90 %.
WIDENING_BASE = 0.85
WIDENING_PER_ROOT_RUN = 1.6


def range_widening(runs: int) -> float:
    return WIDENING_BASE + WIDENING_PER_ROOT_RUN / math.sqrt(max(runs, 1))


# --- the range each store scales by its own promises --------------------------------------------

# No one widening holds 88-92 % on every hall: the weekday needed about 0.98 of it, the month
# start about 1.06 (bench/BENCHMARKS.md). So each store scales its sampled range by what its own
# earlier promises needed: the factor that would have put RANGE_TARGET of their actual waits
# inside their range (`range_scale`), pulled towards 1 by RANGE_PRIOR_PROMISES promises that
# needed none while the store has made few, and kept within RANGE_SCALE_LIMITS.
RANGE_TARGET = 0.90
RANGE_PRIOR_PROMISES = 50
MIN_PROMISES = 20
RANGE_SCALE_LIMITS = (0.6, 1.8)
# A miss by more than this many half-widths counts as this many (a zero-width side, a wait of
# hours): the quantile needs numbers, and any such miss is beyond every scale allowed.
RANGE_ERROR_CAP = 10.0


def range_error(actual: float, point: float, low: float, high: float, scale: float) -> float:
    """How far the actual wait fell from the promised point, in half-widths of the promised
    range on its side as it was before it was scaled by `scale`: at most 1 x scale inside the
    range as shown, more outside it."""
    gap, half = (actual - point, high - point) if actual >= point else (point - actual, point - low)
    if gap <= 0.0:
        return 0.0
    raw = half / scale if scale > 0 else 0.0
    return min(gap / raw, RANGE_ERROR_CAP) if raw > 0 else RANGE_ERROR_CAP


def range_scale(errors: Iterable[float]) -> float:
    """The factor a store's sampled range is scaled by, from its earlier promises' errors
    (`range_error`): the RANGE_TARGET bound of a new error (`covering_quantile`), blended with 1
    as RANGE_PRIOR_PROMISES promises would pull it; 1 with fewer than MIN_PROMISES."""
    ordered = sorted(errors)
    n = len(ordered)
    if n < MIN_PROMISES:
        return 1.0
    bound = covering_quantile(ordered, RANGE_TARGET)
    blended = (n * bound + RANGE_PRIOR_PROMISES) / (n + RANGE_PRIOR_PROMISES)
    return min(max(blended, RANGE_SCALE_LIMITS[0]), RANGE_SCALE_LIMITS[1])


# Sampled waits of a ticket below this: too few for a range, the fixed band instead.
MIN_RUNS = 2
MINUTE = timedelta(minutes=1)
# A paused counter whose clerk said no return time, or is past the one said, counts as back this
# long from now (each projection anew, so while the pause lasts it stays "soon"). Measured on the
# simulator's unplanned pauses (bench/BENCHMARKS.md, "Paused counters with a planned return"):
# closed for good was the more wrong rule, even for pauses of 30 min on average — a clerk who
# stepped away comes back, and counting on no one overstates every wait behind the pause. Chosen
# on seeds 1-12 of the weekday with pauses of 10 and 30 min on average (5, 10 and 20 tried).
UNSAID_RETURN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CounterLoad:
    view: CounterView
    free_at: datetime  # when the counter's current customer is expected to be done
    began: datetime | None = None  # when that customer's visit began
    current_minutes: float | None = None  # its expected duration
    # A paused counter's planned return (the clerk said "back in 30 min"), None if not said.
    back_at: datetime | None = None
    serving: QueueItem | None = None  # the visit under way (it may be sent on at its end)

    def starts_at(self, now: datetime) -> datetime | None:
        """When the counter takes its next customer in a forward run (serving its own
        profile), None if it takes none. Open: once its current visit is done. Paused with a
        planned return still to come: at that return, or after its visit if that lasts longer.
        Paused with no return said, or one already past: "back soon", UNSAID_RETURN from now
        (see there why not closed for good), as long as some counter is open or has a return
        said (`run_forward`). A counter nobody is signed in at is not passed in at all: nobody
        is coming back to it."""
        if self.view.status == CounterStatus.OPEN:
            return max(self.free_at, now)
        if self.back_at is not None and self.back_at > now:
            return max(self.free_at, self.back_at)
        return max(self.free_at, now + UNSAID_RETURN)

    def said_return(self, now: datetime) -> bool:
        return self.back_at is not None and self.back_at > now


@dataclass(frozen=True, slots=True)
class WaitForecast:
    point: float  # minutes from now until the ticket is called
    low: float
    high: float

    def as_range(self) -> tuple[int, int]:
        low = math.floor(self.low)
        return (low, max(math.ceil(self.high), low + 1))


def _groups(waiting: Sequence[QueueItem]) -> dict[GroupKey, deque[QueueItem]]:
    ordered = sorted(waiting, key=lambda i: (i.due_at or i.queue_at, i.queue_at, i.ticket_id))
    groups: dict[GroupKey, deque[QueueItem]] = {}
    for item in ordered:
        groups.setdefault(group_key(item), deque()).append(item)
    return groups


def _drop_departed(
    groups: dict[GroupKey, deque[QueueItem]],
    moment: datetime,
    leaves: Mapping[int, datetime],
    pending: set[int],
) -> None:
    """Take out the tickets that have given up by this moment. Counters look at the queue in
    time order, so a ticket still behind the head is dropped once it reaches the head."""
    for key in list(groups):
        group = groups[key]
        if key[1] == Lane.APPOINTMENT:
            gone = [i for i in group if _left(i, moment, leaves)]
            for item in gone:
                group.remove(item)
        else:
            gone = []
            while group and _left(group[0], moment, leaves):
                gone.append(group.popleft())
        pending.difference_update(i.ticket_id for i in gone)
        if not group:
            del groups[key]


def _left(item: QueueItem, moment: datetime, leaves: Mapping[int, datetime]) -> bool:
    at = leaves.get(item.ticket_id)
    return at is not None and at <= moment


def _available(groups: dict[GroupKey, deque[QueueItem]], moment: datetime) -> list[QueueItem]:
    """What a counter could call at this moment: each group's head (every appointment, as the
    live engine does), among the tickets that have arrived by then."""
    out = []
    for (_, lane, _, _), group in groups.items():
        for item in group:
            if item.queue_at > moment:
                break
            out.append(item)
            if lane != Lane.APPOINTMENT:
                break
    return out


def _next_arrival(groups: dict[GroupKey, deque[QueueItem]], moment: datetime) -> datetime | None:
    """The next moment something changes for an idle counter: a ticket arrives, or an
    appointment that is here already reaches its slot (it is not called before)."""
    later = [g[0].queue_at for g in groups.values() if g and g[0].queue_at > moment]
    later += [
        i.due_at
        for (_, lane, _, _), g in groups.items()
        if lane == Lane.APPOINTMENT
        for i in g
        if i.waits_for_slot and i.due_at is not None and i.due_at > moment
    ]
    return min(later, default=None)


class _SecondParts:
    """The second parts of visits sent on to another service, in one forward run: each queues
    again when its first part ends, where its queue time puts it in its group (`_groups`'
    order: at the head, nearly always, as it keeps the queue time of its first part)."""

    def __init__(
        self, onward: Mapping[int, QueueItem] | None, requeued: Sequence[tuple[datetime, QueueItem]]
    ) -> None:
        self.onward = onward or {}
        self.due = [(at, item.ticket_id, item) for at, item in requeued]
        heapq.heapify(self.due)
        # Counters that would take nobody of those left: they wait for a second part to come.
        self.idle: list[tuple[int, CounterView]] = []

    def join(self, groups: dict[GroupKey, deque[QueueItem]], moment: datetime) -> None:
        while self.due and self.due[0][0] <= moment:
            item = heapq.heappop(self.due)[2]
            group = groups.setdefault(group_key(item), deque())
            key = _order(item)
            place = next((n for n, i in enumerate(group) if _order(i) > key), len(group))
            group.insert(place, item)

    def next_after(self, later: datetime | None) -> datetime | None:
        if self.due and (later is None or self.due[0][0] < later):
            return self.due[0][0]
        return later

    def called(self, item: QueueItem, done: datetime, free: list[Any]) -> None:
        """`item` was called and is done at `done`: its second part, if it is sent on, queues
        then, and an idle counter looks again."""
        part = self.onward.get(item.ticket_id)
        if part is None:
            return
        heapq.heappush(self.due, (done, part.ticket_id, part))
        for number, view in self.idle:
            heapq.heappush(free, (done, number, view))
        self.idle.clear()


def _order(item: QueueItem) -> tuple[datetime, datetime, int]:
    return (item.due_at or item.queue_at, item.queue_at, item.ticket_id)


def run_forward(
    waiting: Sequence[QueueItem],
    counters: Sequence[CounterLoad],
    policy: QueuePolicy,
    now: datetime,
    duration: Callable[[QueueItem], float],
    recent_lanes: Sequence[Lane] = (),
    arrivals: Sequence[QueueItem] = (),
    leaves: Mapping[int, datetime] | None = None,
    onward: Mapping[int, QueueItem] | None = None,
    requeued: Sequence[tuple[datetime, QueueItem]] = (),
) -> dict[int, float]:
    """Minutes until each waiting ticket is called, with the expected `arrivals` (queue times in
    the future) coming in meanwhile. A ticket no open counter would call is left out (its wait
    is unknown, not zero), and so is one that gives up (`leaves`: when, by ticket id) first.
    A visit sent on to a second service (`onward`: its second part, by the first's ticket id;
    `requeued`: those of the visits under way, with when they end) queues again at its end."""
    groups = _groups([*waiting, *arrivals])
    parts = _SecondParts(onward, requeued)
    pending = {item.ticket_id for item in waiting}
    free = [
        (start, c.view.number, replace(c.view, status=CounterStatus.OPEN))
        for c in counters
        if (start := c.starts_at(now)) is not None
    ]
    if not any(c.view.status == CounterStatus.OPEN or c.said_return(now) for c in counters):
        # Every counter paused with no return said: no estimate (its reason is shown), rather
        # than one resting wholly on a guess of when someone comes back.
        free = []
    heapq.heapify(free)
    recent = list(recent_lanes)
    waits: dict[int, float] = {}
    while pending and free:
        moment, number, view = heapq.heappop(free)
        parts.join(groups, moment)
        if leaves:
            _drop_departed(groups, moment, leaves, pending)
        heads = _available(groups, moment)
        decision = choose_next(view, heads, policy, moment, recent[-policy.vip_window :])
        if decision.ticket_id is None:
            later = parts.next_after(_next_arrival(groups, moment))
            if later is not None:  # idle until someone it might take arrives
                heapq.heappush(free, (later, number, view))
            else:  # it would take nobody of those left: it drops out, unless a part comes
                parts.idle.append((number, view))
            continue
        item = next(h for h in heads if h.ticket_id == decision.ticket_id)
        group = groups[group_key(item)]
        group.remove(item)
        if not group:
            del groups[group_key(item)]
        if item.ticket_id in pending:
            pending.discard(item.ticket_id)
            waits[item.ticket_id] = (moment - now) / MINUTE
        recent.append(item.lane)
        done = moment + duration(item) * MINUTE
        heapq.heappush(free, (done, number, view))
        parts.called(item, done, free)
    return waits


@dataclass(frozen=True, slots=True)
class ArrivalRate:
    """How often a service's customers have been arriving (per minute, lately)."""

    service: str
    lane: Lane
    expected_minutes: float
    per_minute: float


ARRIVAL_HORIZON_MINUTES = 60
FUTURE_ID_BASE = -1_000_000


def expected_arrivals(
    rates: Sequence[ArrivalRate],
    after: datetime,
    rng: random.Random | None = None,
    until: datetime | None = None,
) -> list[QueueItem]:
    """Customers expected in the next hour, and none from `until` on (the last moment a walk-in
    can take a ticket: the store's closing, less its kiosk's cut-off): evenly spaced, or as a
    Poisson process with `rng`. They matter because under the store's order a newcomer (short
    business, a VIP) can go ahead of someone already waiting."""
    out: list[QueueItem] = []
    horizon = float(ARRIVAL_HORIZON_MINUTES)
    if until is not None:
        horizon = min(horizon, (until - after) / MINUTE)
    for rate in rates:
        if rate.per_minute <= 0:
            continue
        t = 0.0
        while True:
            gap = rng.expovariate(rate.per_minute) if rng else 1 / rate.per_minute
            t += gap
            if t > horizon:
                break
            out.append(
                QueueItem(
                    FUTURE_ID_BASE - len(out),
                    rate.lane,
                    after + t * MINUTE,
                    rate.service,
                    service_lane=rate.lane,
                    expected_minutes=rate.expected_minutes,
                )
            )
    return out


# --- the counter time of a call before its service begins ---------------------------------------

# The store's last calls that tell how long a call holds a counter before the service begins
# (the walk from the call to the counter, the recall of a customer who does not come): the
# learned service times count from the start, so without it every forward run would give the
# counters this much more time than they have. A gap longer than CALL_GAP_CAP is a start pressed
# late, not a walk, and counts as the cap.
CALL_GAP_CALLS = 10
CALL_GAP_CAP = 5.0


def call_minutes(gaps: Iterable[float]) -> float:
    """The mean minutes from a call to the start of its service (or to the call being given up
    as missed) over these calls, each at most CALL_GAP_CAP; 0 without any."""
    capped = [min(max(gap, 0.0), CALL_GAP_CAP) for gap in gaps]
    return sum(capped) / len(capped) if capped else 0.0


# --- visits that go on to a second service -----------------------------------------------------

# Second parts of visits are numbered from here down (apart from the walk-ins and bookings).
TRANSFER_ID_BASE = -4_000_000
# A store's transfer shares are pulled towards none while it has few visits of a service: this
# many visits without a transfer are added to what it has seen (a service new to the store, or
# a store without history, transfers nobody in the forward runs).
TRANSFER_PRIOR_VISITS = 20


@dataclass(frozen=True, slots=True)
class Transfer:
    """A share of a service's visits that is sent on to another service at its end: the ticket
    keeps its queue time, so it waits at the head of its new lane (`run_forward`)."""

    service: str
    lane: Lane  # the second service's lane
    expected_minutes: float
    share: float  # of the first service's visits


Onward = Mapping[str, Sequence[Transfer]]


def transfer_shares(
    finished: Mapping[str, int], moved: Mapping[tuple[str, str], int]
) -> dict[tuple[str, str], float]:
    """The share of each service's visits sent on to each other one, from the store's earlier
    days: `moved[(first, second)]` transfers, `finished[first]` visits that ended at the first
    service; pulled towards none by TRANSFER_PRIOR_VISITS."""
    out_of: dict[str, int] = {}
    for (first, _), count in moved.items():
        out_of[first] = out_of.get(first, 0) + count
    return {
        (first, second): count / (finished.get(first, 0) + out_of[first] + TRANSFER_PRIOR_VISITS)
        for (first, second), count in moved.items()
        if count > 0 and first != second
    }


def onward_of(
    shares: Mapping[tuple[str, str], float], services: Mapping[str, tuple[Lane, float]]
) -> dict[str, tuple[Transfer, ...]]:
    """The transfers of each service (`transfer_shares`) to services still offered (`services`:
    each code's lane and expected minutes)."""
    out: dict[str, list[Transfer]] = {}
    for (first, second), share in sorted(shares.items()):
        if second in services:
            lane, minutes = services[second]
            out.setdefault(first, []).append(Transfer(second, lane, minutes, share))
    return {first: tuple(options) for first, options in out.items()}


def second_part(
    rng: random.Random, item: QueueItem, onward: Onward, ticket_id: int
) -> QueueItem | None:
    """Whether this visit is sent on (drawn by the store's shares), and if so its second part:
    the same queue time and priority care, the second service's lane (a VIP stays one)."""
    options = onward.get(item.service)
    if not options:
        return None
    u = rng.random()
    for option in options:
        if u < option.share:
            return QueueItem(
                ticket_id,
                item.lane if item.lane == Lane.VIP else option.lane,
                item.queue_at,
                option.service,
                service_lane=option.lane,
                expected_minutes=option.expected_minutes,
                care=item.care,
            )
        u -= option.share
    return None


# --- the day's bookings still to come ----------------------------------------------------------

# Booked visits are numbered from here down (apart from the walk-ins expected, FUTURE_ID_BASE).
BOOKED_ID_BASE = -2_000_000
# A booking this far past its slot and not checked in yet is still expected (late, but within
# reach of its slot); one later than that is taken as not coming. By the scenarios' punctuality
# (on average 4 min early, sd 6) three in four who come have checked in by their slot and
# nearly all by 5 min past it.
BOOKED_LATE = timedelta(minutes=5)
# The share of bookings that come, before a store has a history of its own (and the weight of
# that prior, in bookings): no-shows of 10-20 % are what appointment systems commonly see.
DEFAULT_SHOW_RATE = 0.85
SHOW_PRIOR_BOOKINGS = 10


@dataclass(frozen=True, slots=True)
class BookedVisit:
    """An appointment of today not checked in yet: the store knows its service and slot."""

    service: str
    lane: Lane  # the service's lane
    expected_minutes: float
    slot: datetime


def show_rate(shows: int, bookings: int) -> float:
    """The share of bookings that come, from the store's earlier days (`shows` of `bookings`
    whose check-in window closed), pulled towards DEFAULT_SHOW_RATE while there are few."""
    return (shows + SHOW_PRIOR_BOOKINGS * DEFAULT_SHOW_RATE) / (bookings + SHOW_PRIOR_BOOKINGS)


def expected_bookings(
    booked: Sequence[BookedVisit],
    shows: float,
    now: datetime,
    rng: random.Random | None = None,
) -> list[QueueItem]:
    """The booked visits of the next hour (and those a little late) as appointments checking in
    at their slot and due then, as the engine calls them: each comes with probability `shows`
    (drawn with `rng`; without, spread evenly in slot order so that round(n × shows) come).
    Under the store's order a due appointment is called before the walk-ins, so a walk-in told
    its wait without them is told too short (bench/BENCHMARKS.md)."""
    out: list[QueueItem] = []
    horizon = now + ARRIVAL_HORIZON_MINUTES * MINUTE
    kept = 0.0
    for index, visit in enumerate(sorted(booked, key=lambda b: b.slot)):
        if not now - BOOKED_LATE < visit.slot <= horizon:
            continue
        if rng is not None:
            if rng.random() >= shows:
                continue
        else:
            kept += shows
            if kept + 1e-9 < len(out) + 0.5:
                continue
        out.append(
            QueueItem(
                BOOKED_ID_BASE - index,
                Lane.APPOINTMENT,
                max(visit.slot, now),
                visit.service,
                due_at=visit.slot,
                service_lane=visit.lane,
                expected_minutes=visit.expected_minutes,
            )
        )
    return out


# --- customers giving up ------------------------------------------------------------------------


def _departures(
    rng: random.Random, items: Iterable[QueueItem], now: datetime, patience: Patience
) -> dict[int, datetime]:
    """When each ticket would give up: a patience drawn given the minutes it has waited (an
    expected arrival has waited none)."""
    out = {}
    for item in items:
        waited = max((now - item.queue_at) / MINUTE, 0.0)
        more = patience.remaining(waited, rng.expovariate(1.0))
        if math.isfinite(more):
            start = max(item.queue_at, now)
            out[item.ticket_id] = start + more * MINUTE
    return out


STANDARD_NORMAL = NormalDist()


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(μ, σ) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log(1 + cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def lognormal_draw(rng: random.Random, mean: float, cv: float) -> float:
    if cv <= 0:
        return mean
    return rng.lognormvariate(*lognormal_params(mean, cv))


def lognormal_beyond(rng: random.Random, mean: float, cv: float, elapsed: float) -> float:
    """A lognormal(mean, cv) draw conditioned on exceeding `elapsed` (by inverting the
    survival function: the upper tail is kept in full precision, so a visit far beyond its
    mean still gets a total just above what it has lasted, never below)."""
    if math.isinf(mean):
        return math.inf
    if cv <= 0:
        return max(mean, elapsed)
    mu, sigma = lognormal_params(mean, cv)
    if elapsed <= 0:
        return rng.lognormvariate(mu, sigma)
    tail = STANDARD_NORMAL.cdf(-(math.log(elapsed) - mu) / sigma)  # P(X > elapsed)
    if tail <= 0.0:
        return math.nextafter(elapsed, math.inf)  # beyond the doubles' reach of the tail
    u = (1.0 - rng.random()) * tail  # uniform on (0, tail]
    total = math.exp(mu - sigma * STANDARD_NORMAL.inv_cdf(u))
    return max(total, math.nextafter(elapsed, math.inf))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def covering_quantile(ordered: Sequence[float], q: float) -> float:
    """The value a new draw falls below with probability q, from n sorted sampled runs: the
    k-th smallest of n draws lies below a new draw with
    probability k / (n + 1), so the q-bound is the order statistic of rank q(n + 1), linearly
    between ranks and beyond the extremes by the last gap. The usual sample quantile (rank
    1 + q(n - 1)) covers less: with 16 runs, [5 %, 95 %] holds a new draw only 79 % of the time
    (13.5 / 17), which the announced 90 % must not be. Needs two runs at least."""
    n = len(ordered)
    rank = q * (n + 1)  # 1-based
    below = min(max(math.floor(rank), 1), n - 1)
    return ordered[below - 1] + (ordered[below] - ordered[below - 1]) * (rank - below)


def _lookup(times: dict[int, float]) -> Callable[[QueueItem], float]:
    return lambda item: times[item.ticket_id]


def _drawn_loads(
    rng: random.Random, counters: Sequence[CounterLoad], now: datetime, cv: float
) -> list[CounterLoad]:
    """The counters with their current visits' remaining time drawn too: a visit already long
    under way is likely to last a while yet, which a fixed expected end would hide."""
    out = []
    for load in counters:
        if load.began is None or load.current_minutes is None:
            out.append(load)
            continue
        elapsed = max((now - load.began) / MINUTE, 0.0)
        # Drawn given how long the visit has lasted: one far past its mean is likely to go on
        # a while yet (a few redraws and a small remainder when they failed, before, made the
        # counters of long visits free too soon: the estimate ran short, bench/BENCHMARKS.md).
        remaining = lognormal_beyond(rng, load.current_minutes, cv, elapsed) - elapsed
        out.append(replace(load, free_at=now + remaining * MINUTE))
    return out


def forecast(
    waiting: Sequence[QueueItem],
    counters: Sequence[CounterLoad],
    policy: QueuePolicy,
    now: datetime,
    recent_lanes: Sequence[Lane] = (),
    cv: float = 0.5,
    samples: int = 20,
    seed: int = 0,
    rates: Sequence[ArrivalRate] = (),
    patience: Patience | None = None,
    booked: Sequence[BookedVisit] = (),
    shows: float = 1.0,
    call_gap: float = 0.0,
    onward: Onward | None = None,
    scale: float = 1.0,
    last_walk_in: datetime | None = None,
) -> dict[int, WaitForecast]:
    """An estimate (the median of sampled runs) and a 90 % range for every waiting ticket; with
    no samples, the run with expected durations and a fixed band around it. With `patience`,
    customers give up in the sampled runs as they have been doing today; the `booked` visits
    still to come check in, each with probability `shows` (`expected_bookings`); every call
    holds its counter `call_gap` minutes before its service begins (`call_minutes`); a drawn
    share of the visits is sent on to a second service at its end (`onward`, by service:
    `onward_of`); the sampled range is scaled by the store's `scale` (`range_scale`); no walk-in
    comes from `last_walk_in` on (the store's closing, less its kiosk's cut-off)."""
    coming = _Coming(rates, tuple(booked), shows, last_walk_in)
    point = _point_run(waiting, counters, policy, now, recent_lanes, coming, call_gap)
    runs = _Runs(cv, samples, seed, coming, patience, call_gap, onward or {}, scale)
    return _sampled(point, waiting, counters, policy, now, recent_lanes, runs)


def _point_run(
    waiting: Sequence[QueueItem],
    counters: Sequence[CounterLoad],
    policy: QueuePolicy,
    now: datetime,
    recent_lanes: Sequence[Lane],
    coming: _Coming,
    call_gap: float = 0.0,
) -> dict[int, float]:
    """The run with expected durations, where nobody gives up: it gives every ticket a wait
    and the order of the calls (a ticket who might leave still has an estimate)."""
    return run_forward(
        waiting,
        counters,
        policy,
        now,
        lambda i: call_gap + i.expected_minutes,
        recent_lanes,
        coming.arrivals(now),
    )


@dataclass(frozen=True, slots=True)
class _Coming:
    """Who is expected to join the queue: walk-ins at the recent rates, and the bookings."""

    rates: Sequence[ArrivalRate]
    booked: tuple[BookedVisit, ...] = ()
    shows: float = 1.0
    until: datetime | None = None  # no walk-in from then on (`expected_arrivals`)

    def arrivals(self, now: datetime, rng: random.Random | None = None) -> list[QueueItem]:
        walk_ins = expected_arrivals(self.rates, now, rng, self.until)
        return walk_ins + expected_bookings(self.booked, self.shows, now, rng)


@dataclass(frozen=True, slots=True)
class _Runs:
    """How the sampled runs are drawn."""

    cv: float
    samples: int
    seed: int
    coming: _Coming
    patience: Patience | None
    call_gap: float = 0.0
    onward: Onward = field(default_factory=dict)
    scale: float = 1.0  # the store's own factor on the range (`range_scale`)


def _sampled(
    point: dict[int, float],
    waiting: Sequence[QueueItem],
    counters: Sequence[CounterLoad],
    policy: QueuePolicy,
    now: datetime,
    recent_lanes: Sequence[Lane],
    runs: _Runs,
) -> dict[int, WaitForecast]:
    rng = random.Random(runs.seed)
    drawn: dict[int, list[float]] = {ticket_id: [] for ticket_id in point}
    for _ in range(runs.samples):
        arrivals = runs.coming.arrivals(now, rng)
        times = {
            i.ticket_id: runs.call_gap + lognormal_draw(rng, i.expected_minutes, runs.cv)
            for i in (*waiting, *arrivals)
        }
        loads = _drawn_loads(rng, counters, now, runs.cv)
        leaves = (
            _departures(rng, (*waiting, *arrivals), now, runs.patience)
            if runs.patience is not None
            else None
        )
        onward, requeued = _sent_on(rng, (*waiting, *arrivals), loads, runs, times)
        sampled = run_forward(
            waiting,
            loads,
            policy,
            now,
            _lookup(times),
            recent_lanes,
            arrivals,
            leaves,
            onward,
            requeued,
        )
        for ticket_id, wait in sampled.items():
            if ticket_id in drawn:
                drawn[ticket_id].append(wait)
    return {
        ticket_id: _from_runs(drawn[ticket_id], estimate, runs.scale)
        for ticket_id, estimate in point.items()
    }


def _sent_on(
    rng: random.Random,
    items: Sequence[QueueItem],
    loads: Sequence[CounterLoad],
    runs: _Runs,
    times: dict[int, float],
) -> tuple[dict[int, QueueItem], list[tuple[datetime, QueueItem]]]:
    """One sampled run's transfers: the second parts of the visits drawn to be sent on (by the
    first part's ticket id), and of the visits under way with their drawn ends; each second
    part's duration drawn into `times`. Nothing is drawn for a store that transfers nobody."""
    onward: dict[int, QueueItem] = {}
    requeued: list[tuple[datetime, QueueItem]] = []
    if not runs.onward:
        return onward, requeued
    count = 0
    for first in (*items, *(load.serving for load in loads)):
        if first is None:
            continue
        part = second_part(rng, first, runs.onward, TRANSFER_ID_BASE - count)
        if part is None:
            continue
        count += 1
        times[part.ticket_id] = runs.call_gap + lognormal_draw(rng, part.expected_minutes, runs.cv)
        onward[first.ticket_id] = part
    for load in loads:
        if load.serving is not None and (part := onward.pop(load.serving.ticket_id, None)):
            requeued.append((load.free_at, part))
    return onward, requeued


def _from_runs(runs: list[float], estimate: float, scale: float = 1.0) -> WaitForecast:
    """The estimate and range of one ticket from its sampled waits (those runs where it stayed
    until called: the wait of a customer who is served). The median, as the absolute error is
    what a customer feels; the range by `covering_quantile`, widened by `range_widening` and
    the store's `scale` around the median, never below zero."""
    if len(runs) < MIN_RUNS:
        return fixed_band(estimate if not runs else runs[0], scale)
    ordered = sorted(runs)
    middle = _quantile(ordered, 0.5)
    widening = range_widening(len(runs)) * scale
    low = middle - widening * max(middle - covering_quantile(ordered, LOW_QUANTILE), 0.0)
    high = middle + widening * max(covering_quantile(ordered, HIGH_QUANTILE) - middle, 0.0)
    return WaitForecast(middle, max(low, 0.0), high)


# Without sampled runs, a wait's range is FIXED_LOW to FIXED_HIGH times it (and a minute more).
FIXED_LOW = 0.8
FIXED_HIGH = 1.3


def fixed_band(estimate: float, scale: float = 1.0) -> WaitForecast:
    """The range of a wait no sampled run gave one, scaled around it by the store's `scale`
    (`range_scale`: every range a store shows is scaled by what its promises needed)."""
    low = estimate - scale * (1 - FIXED_LOW) * estimate
    high = estimate + scale * ((FIXED_HIGH - 1) * estimate + 1)
    return WaitForecast(estimate, max(low, 0.0), high)


def borrowed(
    offset: tuple[float, float, float], extra: float, scale: float = 1.0
) -> tuple[float, float, float]:
    """The band of a ticket the sampled runs did not see, from the band of the ticket before it
    that they did (`offset`) and the minutes it waits beyond that ticket (`extra`): those minutes
    the runs know nothing of, so they widen the range as the fixed band would (by `scale`)."""
    extra = max(extra, 0.0) * scale
    return (offset[0], offset[1] - (1 - FIXED_LOW) * extra, offset[2] + (FIXED_HIGH - 1) * extra)


# --- the sampled band, kept for a while --------------------------------------------------------

# How long the sampled runs' band is applied to fresh point runs before it is sampled anew. The
# point run (one forward run with expected durations) is recomputed for every change; the sampled
# runs (16 of them, most of a projection's cost) only say how far above and below the point each
# ticket's wait may fall, which moves slowly. Staffing changes resample at once.
BAND_MAX_AGE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class SampledBand:
    """What the sampled runs added to the point run, per ticket, in minutes: (median, low, high)
    minus the point estimate; `shape` names the counters that served in the runs it was sampled
    with (staffed ones, and paused ones with their planned return)."""

    moment: datetime
    shape: tuple[tuple[CounterView, bool], ...]
    offsets: dict[int, tuple[float, float, float]]


def _shape(counters: Sequence[CounterLoad], now: datetime) -> tuple[tuple[CounterView, bool], ...]:
    """The counters that serve in a forward run from `now`, each with whether it counts on a
    said return: a pause that begins or ends, or a planned return that passes, samples the band
    anew."""
    return tuple((c.view, c.said_return(now)) for c in counters if c.starts_at(now) is not None)


def forecast_banded(
    waiting: Sequence[QueueItem],
    counters: Sequence[CounterLoad],
    policy: QueuePolicy,
    now: datetime,
    recent_lanes: Sequence[Lane] = (),
    cv: float = 0.5,
    samples: int = 20,
    seed: int = 0,
    rates: Sequence[ArrivalRate] = (),
    band: SampledBand | None = None,
    max_age: timedelta = BAND_MAX_AGE,
    patience: Patience | None = None,
    booked: Sequence[BookedVisit] = (),
    shows: float = 1.0,
    call_gap: float = 0.0,
    onward: Onward | None = None,
    scale: float = 1.0,
    last_walk_in: datetime | None = None,
) -> tuple[dict[int, WaitForecast], SampledBand | None]:
    """`forecast`, with the sampled runs reused: a fresh point run for every ticket, and the
    sampled band of `band` (younger than `max_age`, same staffed counters, knowing the first
    ticket to be called) around it. A ticket the band does not know takes the band of the last
    ticket called before it that it does know, widened for the minutes between them
    (`borrowed`). Returns the forecasts and the band to keep (a new one whenever it sampled)."""
    coming = _Coming(rates, tuple(booked), shows, last_walk_in)
    point = _point_run(waiting, counters, policy, now, recent_lanes, coming, call_gap)
    shape = _shape(counters, now)
    if samples <= 0:
        return {t: fixed_band(p, scale) for t, p in point.items()}, None
    first = next(iter(point), None)
    if (
        band is None
        or now - band.moment >= max_age
        or now < band.moment
        or band.shape != shape
        or (first is not None and first not in band.offsets)  # no band to lend the new ones
    ):
        runs = _Runs(cv, samples, seed, coming, patience, call_gap, onward or {}, scale)
        full = _sampled(point, waiting, counters, policy, now, recent_lanes, runs)
        offsets = {
            t: (f.point - point[t], f.low - point[t], f.high - point[t]) for t, f in full.items()
        }
        return full, SampledBand(now, shape, offsets)
    out: dict[int, WaitForecast] = {}
    known, known_at = (0.0, 0.0, 0.0), 0.0  # the band of the last ticket it knows, and its wait
    for ticket_id, estimate in point.items():  # in the order the tickets are called
        offset = band.offsets.get(ticket_id)
        if offset is not None:
            known, known_at = offset, estimate
        else:
            offset = borrowed(known, estimate - known_at, scale)
        out[ticket_id] = shifted(estimate, offset)
    return out, band


def shifted(point: float, offset: tuple[float, float, float]) -> WaitForecast:
    """A point run's wait with a sampled band around it (`SampledBand.offsets`: the median, low
    and high of the sampled runs minus the point run's wait), kept in order and above zero."""
    middle = max(point + offset[0], 0.0)
    return WaitForecast(
        middle, min(max(point + offset[1], 0.0), middle), max(point + offset[2], middle)
    )
