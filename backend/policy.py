"""The pure policy core: lanes, the ticket state machine, call order and the first wait estimate.

Nothing here imports Flask or the database: state goes in, a decision comes out. The live engine
and (later) the simulator call the same functions, so the order customers see is the order the
simulator measured.
"""

from __future__ import annotations

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
    expected_minutes: float = 5.0  # the service's learned (or configured) duration


@dataclass(frozen=True, slots=True)
class CounterView:
    number: int
    lanes: tuple[Lane, ...]
    status: CounterStatus = CounterStatus.OPEN


class Ordering(StrEnum):
    """How a counter picks among the tickets it may serve."""

    # Lanes in the counter's profile order, oldest first within a lane (what simple systems do).
    PROFILE = "profile"
    # The oldest ticket the counter may serve, whatever its lane.
    FIFO = "fifo"
    # Shortest expected service first: the classic lower bound on the mean wait, unfair to long
    # business. Only for comparison in the simulator.
    SHORTEST = "shortest"
    # Highest response ratio (waited + expected) / expected: short business goes ahead while it
    # is cheap to do so, and every ticket's priority grows with its wait.
    SCORE = "score"


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """Per-store settings of the call order. Every rule can be switched off."""

    ordering: Ordering = Ordering.SCORE
    work_conserving: bool = True
    # A checked-in appointment goes first from its slot start until this long after it
    # (None: appointments wait like anyone else).
    appointment_grace: timedelta | None = timedelta(minutes=30)
    # Anti-starvation: a ticket that has waited this long goes first (None: off).
    max_wait: timedelta | None = timedelta(minutes=30)
    # VIP tickets go first for at most `vip_first` of every `vip_window` calls (0: never first).
    vip_first: int = 1
    vip_window: int = 2
    # The score's weight on short business: (waited + expected) / expected ** power. Power 1 is
    # the classic response ratio; 2 lets short business through sooner while waiting still
    # raises everyone's priority (the simulator's weekday: bench/BENCHMARKS.md).
    ratio_power: float = 2.0


class Reason(StrEnum):
    LANE_HEAD = "lane_head"
    HELPING_LANE = "helping_lane"
    QUEUE_EMPTY = "queue_empty"
    COUNTER_PAUSED = "counter_paused"
    DUPLICATE_REQUEST = "duplicate_request"
    CHOSEN_BY_CLERK = "chosen_by_clerk"
    TRANSFERRED_HERE = "transferred_here"
    APPOINTMENT_DUE = "appointment_due"
    WAITED_LONG = "waited_long"
    VIP_FIRST = "vip_first"
    BEST_RATIO = "best_ratio"


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
    if now is None or policy.appointment_grace is None:
        return None
    due = [
        i
        for i in items
        if i.due_at is not None
        and i.due_at <= now <= i.due_at + policy.appointment_grace
        and can_serve(counter, i)
    ]
    return min(due, key=lambda i: (i.due_at, i.queue_at, i.ticket_id)) if due else None


def response_ratio(item: QueueItem, now: datetime, power: float = 1.0) -> float:
    waited = max((now - item.queue_at).total_seconds() / 60, 0.0)
    expected = max(item.expected_minutes, 0.5)
    return (waited + expected) / expected**power


def _pick(
    items: Sequence[QueueItem], counter: CounterView, policy: QueuePolicy, now: datetime | None
) -> tuple[QueueItem, Reason]:
    if policy.ordering is Ordering.PROFILE or now is None:
        heads = oldest_by_lane(items)
        for lane in counter.lanes:
            if lane in heads:
                return heads[lane], Reason.LANE_HEAD
        return min(heads.values(), key=_order_key), Reason.LANE_HEAD
    if policy.ordering is Ordering.FIFO:
        return min(items, key=_order_key), Reason.LANE_HEAD
    if policy.ordering is Ordering.SHORTEST:
        return min(items, key=lambda i: (i.expected_minutes, *_order_key(i))), Reason.BEST_RATIO
    best = max(
        items,
        key=lambda i: (response_ratio(i, now, policy.ratio_power), -i.queue_at.timestamp()),
    )
    return best, Reason.BEST_RATIO


def vip_turn(policy: QueuePolicy, recent_lanes: Sequence[Lane]) -> bool:
    """May a VIP go first now? At most `vip_first` of the last `vip_window` calls went to VIPs."""
    if policy.vip_first <= 0:
        return False
    window = list(recent_lanes)[-(policy.vip_window - 1) :] if policy.vip_window > 1 else []
    return sum(1 for lane in window if lane == Lane.VIP) < policy.vip_first


def choose_next(
    counter: CounterView,
    waiting: Iterable[QueueItem],
    policy: QueuePolicy = QueuePolicy(),
    now: datetime | None = None,
    recent_lanes: Sequence[Lane] = (),
) -> Decision:
    """Which ticket a counter calls next, and why.

    In order: a customer a colleague sent to this counter; a checked-in appointment whose slot
    has begun, at the next counter able to serve it; a ticket that has waited past the store's
    maximum; a VIP, within the VIP share; then the policy's ordering among the tickets of the
    counter's own lanes. With work conservation a counter whose own lanes are empty helps the
    others, so no counter idles while someone it could serve waits.
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
    own = [i for i in eligible if i.lane in counter.lanes]
    helping = not own and policy.work_conserving
    pool = own or (eligible if policy.work_conserving else [])
    if not pool:
        return Decision(None, Reason.QUEUE_EMPTY)
    if policy.max_wait is not None and now is not None:
        starving = [i for i in pool if now - i.queue_at >= policy.max_wait]
        if starving:
            head = min(starving, key=_order_key)
            return Decision(head.ticket_id, Reason.WAITED_LONG, head.lane)
    vips = [i for i in pool if i.lane == Lane.VIP]
    if vips and len(vips) < len(pool) and vip_turn(policy, recent_lanes):
        head = min(vips, key=_order_key)
        return Decision(head.ticket_id, Reason.VIP_FIRST, head.lane)
    item, reason = _pick(pool, counter, policy, now)
    if helping:
        reason = Reason.HELPING_LANE
    return Decision(item.ticket_id, reason, item.lane)


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
