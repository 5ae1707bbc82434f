"""The pure policy core: lanes, the ticket state machine, call order and the first wait estimate.

Nothing here imports Flask or the database: state goes in, a decision comes out. The live engine
and (later) the simulator call the same functions, so the order customers see is the order the
simulator measured.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Lane(StrEnum):
    FAST = "fast"
    STANDARD = "standard"
    VIP = "vip"
    APPOINTMENT = "appointment"


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    # Being served, but away for a moment (fetching a document); the counter may call others.
    PARKED = "parked"


class Action(StrEnum):
    ISSUE = "issue"
    CALL = "call"
    RECALL = "recall"
    START = "start"
    COMPLETE = "complete"
    NO_SHOW = "no_show"
    CANCEL = "cancel"
    TRANSFER = "transfer"
    REJOIN = "rejoin"
    PARK = "park"
    RESUME = "resume"


class Channel(StrEnum):
    KIOSK = "kiosk"
    REMOTE = "remote"
    APPOINTMENT = "appointment"
    STAFF = "staff"


class CounterStatus(StrEnum):
    OPEN = "open"
    PAUSED = "paused"


class Outcome(StrEnum):
    """How a visit ended, chosen by the clerk on completion."""

    DONE = "done"
    FOLLOW_UP = "follow_up"
    COMPLAINT = "complaint"
    REFERRED = "referred"


class PauseReason(StrEnum):
    BREAK = "break"
    TRAINING = "training"
    OTHER = "other"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class Role(StrEnum):
    CLERK = "clerk"
    MANAGER = "manager"
    ADMIN = "admin"


# The explicit state machine: (action, from-status) -> to-status. Anything absent is illegal.
# A transfer sends the same ticket back to the queue for another service: the customer keeps the
# number and the QR link they hold, and the TicketEvent keeps the trail.
TRANSITIONS: dict[tuple[Action, TicketStatus], TicketStatus] = {
    (Action.CALL, TicketStatus.WAITING): TicketStatus.CALLED,
    (Action.RECALL, TicketStatus.CALLED): TicketStatus.CALLED,
    (Action.START, TicketStatus.CALLED): TicketStatus.SERVING,
    (Action.COMPLETE, TicketStatus.CALLED): TicketStatus.DONE,
    (Action.COMPLETE, TicketStatus.SERVING): TicketStatus.DONE,
    (Action.NO_SHOW, TicketStatus.CALLED): TicketStatus.NO_SHOW,
    (Action.CANCEL, TicketStatus.WAITING): TicketStatus.CANCELLED,
    (Action.CANCEL, TicketStatus.CALLED): TicketStatus.CANCELLED,
    (Action.TRANSFER, TicketStatus.CALLED): TicketStatus.WAITING,
    (Action.TRANSFER, TicketStatus.SERVING): TicketStatus.WAITING,
    (Action.REJOIN, TicketStatus.NO_SHOW): TicketStatus.WAITING,
    (Action.PARK, TicketStatus.SERVING): TicketStatus.PARKED,
    (Action.RESUME, TicketStatus.PARKED): TicketStatus.SERVING,
    (Action.COMPLETE, TicketStatus.PARKED): TicketStatus.DONE,
}

# Statuses in which a ticket occupies a counter.
AT_COUNTER = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})


class IllegalTransitionError(Exception):
    def __init__(self, action: Action, status: TicketStatus) -> None:
        super().__init__(f"cannot {action.value} a ticket that is {status.value}")
        self.action = action
        self.status = status


def next_status(action: Action, status: TicketStatus) -> TicketStatus:
    try:
        return TRANSITIONS[(action, status)]
    except KeyError:
        raise IllegalTransitionError(action, status) from None


def allowed_actions(status: TicketStatus) -> list[Action]:
    return [action for (action, src) in TRANSITIONS if src == status]


def service_day(now_utc: datetime, tz_name: str) -> date:
    """The business day a moment belongs to, in the store's own time zone."""
    if now_utc.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now_utc.astimezone(ZoneInfo(tz_name)).date()


def format_label(prefix: str, number: int, digits: int = 3) -> str:
    return f"{prefix}{number:0{digits}d}"


# --- call order ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A waiting ticket as the policy sees it. `queue_at` orders a lane (oldest first)."""

    ticket_id: int
    lane: Lane
    queue_at: datetime
    service: str = ""
    only_counter: int | None = None  # transferred to one counter: only it may call the ticket
    due_at: datetime | None = None  # a checked-in appointment: its slot start
    service_lane: Lane | None = None  # the lane of the ticket's service (for appointments)


@dataclass(frozen=True, slots=True)
class CounterView:
    number: int
    lanes: tuple[Lane, ...]
    status: CounterStatus = CounterStatus.OPEN


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """Per-store settings of the call order."""

    work_conserving: bool = True
    # A checked-in appointment goes first from its slot start until this long after it.
    appointment_grace: timedelta = timedelta(minutes=30)


class Reason(StrEnum):
    LANE_HEAD = "lane_head"
    HELPING_LANE = "helping_lane"
    QUEUE_EMPTY = "queue_empty"
    COUNTER_PAUSED = "counter_paused"
    DUPLICATE_REQUEST = "duplicate_request"
    CHOSEN_BY_CLERK = "chosen_by_clerk"
    TRANSFERRED_HERE = "transferred_here"
    APPOINTMENT_DUE = "appointment_due"


@dataclass(frozen=True, slots=True)
class Decision:
    ticket_id: int | None
    reason: Reason
    lane: Lane | None = None

    @property
    def reason_code(self) -> str:
        """A stable, explainable code such as `fast_lane_head` or `helping_standard_lane`."""
        if self.reason is Reason.LANE_HEAD and self.lane:
            return f"{self.lane.value}_lane_head"
        if self.reason is Reason.HELPING_LANE and self.lane:
            return f"helping_{self.lane.value}_lane"
        return self.reason.value


def _order_key(item: QueueItem) -> tuple[datetime, int]:
    return (item.queue_at, item.ticket_id)


def oldest_by_lane(waiting: Iterable[QueueItem]) -> dict[Lane, QueueItem]:
    heads: dict[Lane, QueueItem] = {}
    for item in waiting:
        head = heads.get(item.lane)
        if head is None or _order_key(item) < _order_key(head):
            heads[item.lane] = item
    return heads


def can_serve(counter: CounterView, item: QueueItem) -> bool:
    """A counter serves an appointment if it serves the appointment lane or the service's lane."""
    return Lane.APPOINTMENT in counter.lanes or item.service_lane in counter.lanes


def due_appointment(
    counter: CounterView, items: Sequence[QueueItem], policy: QueuePolicy, now: datetime | None
) -> QueueItem | None:
    """The checked-in appointment whose slot has begun (within the grace window) that this
    counter can serve, earliest slot first."""
    if now is None:
        return None
    due = [
        i
        for i in items
        if i.due_at is not None
        and i.due_at <= now <= i.due_at + policy.appointment_grace
        and can_serve(counter, i)
    ]
    return min(due, key=lambda i: (i.due_at, i.queue_at, i.ticket_id)) if due else None


def choose_next(
    counter: CounterView,
    waiting: Iterable[QueueItem],
    policy: QueuePolicy = QueuePolicy(),
    now: datetime | None = None,
) -> Decision:
    """Which ticket a counter calls next, and why.

    In order: a customer a colleague sent to this counter; a checked-in appointment whose slot
    has begun, at the next counter able to serve it; then the counter's profile, walked in order,
    the oldest ticket of the first non-empty lane winning. With work conservation, a counter whose
    own lanes are empty helps the lane whose head has waited longest, so no counter idles while
    someone waits.
    """
    if counter.status == CounterStatus.PAUSED:
        return Decision(None, Reason.COUNTER_PAUSED)
    eligible = [i for i in waiting if i.only_counter in (None, counter.number)]
    sent_here = [i for i in eligible if i.only_counter == counter.number]
    if sent_here:
        # A clerk sent this customer here on purpose: serve them before the queue.
        head = min(sent_here, key=_order_key)
        return Decision(head.ticket_id, Reason.TRANSFERRED_HERE, head.lane)
    appointment = due_appointment(counter, eligible, policy, now)
    if appointment is not None:
        return Decision(appointment.ticket_id, Reason.APPOINTMENT_DUE, appointment.lane)
    heads = oldest_by_lane(eligible)
    for lane in counter.lanes:
        if lane in heads:
            return Decision(heads[lane].ticket_id, Reason.LANE_HEAD, lane)
    if policy.work_conserving and heads:
        head = min(heads.values(), key=_order_key)
        return Decision(head.ticket_id, Reason.HELPING_LANE, head.lane)
    return Decision(None, Reason.QUEUE_EMPTY)


def positions(waiting: Iterable[QueueItem]) -> dict[int, int]:
    """People ahead of each waiting ticket within its own lane."""
    by_lane: dict[Lane, list[QueueItem]] = {}
    for item in waiting:
        by_lane.setdefault(item.lane, []).append(item)
    ahead: dict[int, int] = {}
    for items in by_lane.values():
        for index, item in enumerate(sorted(items, key=_order_key)):
            ahead[item.ticket_id] = index
    return ahead


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


def can_rejoin(
    missed_at: datetime | None, rejoined: int, window_minutes: int, now: datetime
) -> bool:
    return (
        missed_at is not None
        and rejoined == 0
        and now <= missed_at + timedelta(minutes=window_minutes)
    )


# --- the first wait estimate (the routing issue replaces it with a forward simulation) ----

ETA_LOW_FACTOR = 0.7
ETA_HIGH_FACTOR = 1.3


def servers_for_lane(lane: Lane, counters: Sequence[CounterView], policy: QueuePolicy) -> int:
    """Open counters that serve a lane: those listing it, or every open one if work-conserving."""
    open_counters = [c for c in counters if c.status == CounterStatus.OPEN]
    listing = [c for c in open_counters if lane in c.lanes]
    if listing:
        return len(listing)
    return len(open_counters) if policy.work_conserving else 0


def simple_eta(ahead: int, mean_minutes: float, servers: int) -> tuple[int, int] | None:
    """A range in minutes: people ahead × mean duration ÷ counters serving the lane.

    None when no open counter serves the lane (the wait is unknown, not zero).
    """
    if servers <= 0:
        return None
    expected = ahead * mean_minutes / servers
    low = math.floor(expected * ETA_LOW_FACTOR)
    high = math.ceil((expected + mean_minutes / servers) * ETA_HIGH_FACTOR)
    return (low, max(high, low + 1))
