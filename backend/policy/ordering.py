"""The call order: which ticket a counter calls next, and why (pure: state in, decision out).

The live engine, the wait estimate and the simulator call the same `choose_next`, so the order
customers see is the order the simulator measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from .enums import CounterStatus, Lane
from .patience import Patience

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
    # Priority care (爱心: elderly, disabled, pregnant), set by staff when issuing.
    care: bool = False
    # An appointment checked in before its check-in window (the customer chose to take their
    # place early): promised a call at its slot, so no counter calls it before `due_at`.
    waits_for_slot: bool = False
    # How many tickets wait in this one's group (itself included) when it is the group's head:
    # the call order's measure of the backlog (the `deadline` ordering).
    group_size: int = 1


@dataclass(frozen=True, slots=True)
class CounterView:
    number: int
    lanes: tuple[Lane, ...]
    status: CounterStatus = CounterStatus.OPEN
    # The services it may serve within its lanes (empty: every service of its lanes), e.g. the
    # one counter with the broadband equipment.
    services: frozenset[str] = frozenset()
    # Held for appointments (预约专窗): it calls booked customers only and never helps the walk-in
    # lanes, so it is free when one arrives.
    reserved: bool = False

    def takes(self, item: QueueItem) -> bool:
        """May this counter serve the ticket at all (its service, and appointments only when it is
        held for them)? A ticket a colleague sent here is always taken."""
        return item.only_counter == self.number or self.takes_service(item.lane, item.service)

    def takes_service(self, lane: Lane, service: str) -> bool:
        if self.reserved and lane != Lane.APPOINTMENT:
            return False
        return not self.services or service in self.services


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
    # The score, unless serving its choice first would make a waiting ticket this counter could
    # serve (in any lane it may help) wait past its deadline: `fair_factor` times the day's
    # longest plain-queue wait so far, at most the store's maximum wait (or, when the store
    # knows how patient its customers are, that wait counting who gives up, if it is longer);
    # an appointment's is the end of its grace. Then the ticket with the least slack.
    DEADLINE = "deadline"


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
    # Priority-care customers go first among the tickets a counter may serve (after those sent
    # to it, due appointments and anyone past the maximum wait). False: they wait like anyone.
    priority_care: bool = True
    # The `deadline` ordering: nobody waits more than this many times the longest wait a plain
    # queue would have given today (`fair_wait`), and never less than `fair_floor` is allowed
    # (a short wait is nobody's problem).
    fair_factor: float = 1.0
    fair_floor: timedelta = timedelta(minutes=5)
    # The longest plain-queue wait of the day so far (`plain_queue_wait` at each call): the
    # yardstick of those deadlines. It never decreases within a day, so a ticket's deadline is
    # never taken back; the live engine keeps it on the store row, the simulator in its hall.
    fair_wait: float = 0.0
    # How long the store's customers wait before giving up, from its earlier days
    # (`patience.learned_patience`; None: not known). With it, a yardstick past the store's
    # maximum wait counts only the work of those who will still be there when their turn comes
    # (how long a plain queue would really make anyone wait on such a day), and the deadlines
    # may then pass the maximum wait as far as that yardstick (`allowed_wait`).
    patience: Patience | None = None


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
    PRIORITY_CARE = "priority_care"
    BEST_RATIO = "best_ratio"
    DUE_SOON = "due_soon"


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
    lanes = Lane.APPOINTMENT in counter.lanes or item.service_lane in counter.lanes
    return lanes and counter.takes(item)


def not_yet_due(item: QueueItem, now: datetime | None) -> bool:
    """An early arrival's appointment before its slot: it waits for its time, whoever else is
    idle (the customer was promised the slot, not an earlier call, and may have stepped out)."""
    return item.waits_for_slot and now is not None and item.due_at is not None and now < item.due_at


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


def _goes_first(
    pool: list[QueueItem], policy: QueuePolicy, now: datetime | None, recent_lanes: Sequence[Lane]
) -> Decision | None:
    """Whoever goes ahead of the ordering: a ticket past the store's maximum wait; else a
    priority-care customer; else a VIP, within the VIP share. The oldest of them first."""
    if policy.max_wait is not None and now is not None:
        starving = [i for i in pool if now - i.queue_at >= policy.max_wait]
        if starving:
            head = min(starving, key=_order_key)
            return Decision(head.ticket_id, Reason.WAITED_LONG, head.lane)
    cared = [i for i in pool if i.care] if policy.priority_care else []
    if cared:
        head = min(cared, key=_order_key)
        return Decision(head.ticket_id, Reason.PRIORITY_CARE, head.lane)
    vips = [i for i in pool if i.lane == Lane.VIP]
    if vips and len(vips) < len(pool) and vip_turn(policy, recent_lanes):
        head = min(vips, key=_order_key)
        return Decision(head.ticket_id, Reason.VIP_FIRST, head.lane)
    return None


def plain_queue_wait(
    items: Iterable[QueueItem],
    serving: int,
    now: datetime | None = None,
    patience: Patience | None = None,
) -> float:
    """Minutes a newcomer would wait in one plain queue now: the work waiting (each group's
    head stands for its whole group) shared by the open counters. With `patience` (and `now`),
    in queue order, each ticket's work counts as much as the chance that it is still there when
    the work ahead of it is done (a group's at its head's place and wait): a backlog that a
    fifth of the hall will walk away from does not make anyone wait as long as all of it."""
    counters = max(serving, 1)
    if patience is None or now is None:
        return sum(i.group_size * max(i.expected_minutes, 0.5) for i in items) / counters
    ahead = 0.0
    for item in sorted(group_heads(items), key=_order_key):
        waited = max((now - item.queue_at).total_seconds() / 60, 0.0)
        stays = patience.stays(waited, ahead)
        ahead += stays * item.group_size * max(item.expected_minutes, 0.5) / counters
    return ahead


GroupKey = tuple[str, Lane, int | None, bool]


def group_key(item: QueueItem) -> GroupKey:
    """Tickets that keep their order among themselves (as call-next's candidates: commands.py):
    one service, lane and target counter, priority care apart from the others."""
    return (item.service, item.lane, item.only_counter, item.care)


def group_heads(items: Iterable[QueueItem]) -> list[QueueItem]:
    """The queue as a call sees it (`call_next`'s candidates, the simulator's heads): the oldest
    ticket of each group (`group_key`) standing for all of it (`group_size`), every appointment
    on its own. Heads already are their own groups."""
    groups: dict[GroupKey, list[QueueItem]] = {}
    out: list[QueueItem] = []
    for item in items:
        if item.lane == Lane.APPOINTMENT:
            out.append(item)
        else:
            groups.setdefault(group_key(item), []).append(item)
    for group in groups.values():
        head = min(group, key=_order_key)
        out.append(replace(head, group_size=sum(i.group_size for i in group)))
    return out


def raise_fair_wait(
    policy: QueuePolicy, items: Iterable[QueueItem], serving: int, now: datetime | None = None
) -> QueuePolicy:
    """The policy with the day's yardstick raised to the plain-queue wait now (the deadline order
    only): what a call computes first, and what a screen predicting the next call must too.
    Past the store's maximum wait, with the store's `patience`, the wait counts who leaves: how
    long a plain queue would really make anyone wait on such a day."""
    if policy.ordering is not Ordering.DEADLINE:
        return policy
    now_wait = plain_queue_wait(items, serving)
    limit = policy.max_wait.total_seconds() / 60 if policy.max_wait is not None else None
    if policy.patience is not None and now is not None and limit is not None and now_wait > limit:
        now_wait = max(limit, plain_queue_wait(items, serving, now, policy.patience))
    return policy if now_wait <= policy.fair_wait else replace(policy, fair_wait=now_wait)


def slack(item: QueueItem, policy: QueuePolicy, now: datetime, allowed: timedelta) -> float:
    """Minutes left before the ticket waits too long: an appointment from the end of its grace
    window, anyone else from `allowed` after it joined the queue. Negative: already late."""
    if item.due_at is not None and policy.appointment_grace is not None:
        due = item.due_at + policy.appointment_grace
    else:
        due = item.queue_at + allowed
    return (due - now).total_seconds() / 60


def allowed_wait(policy: QueuePolicy, plain_wait: float) -> timedelta:
    """How long anyone may wait under the deadline ordering: the factor times the yardstick, at
    least the floor, at most the store's maximum wait, or the yardstick itself when it is longer
    and counts who leaves (the policy knows the store's `patience`): on a day when a plain queue
    would make people wait longer than the maximum, holding everyone to the maximum would make
    the order first come, first served among the late, and more people leave."""
    fair = max(policy.fair_floor, timedelta(minutes=policy.fair_factor * plain_wait))
    if policy.max_wait is None:
        return fair
    if policy.patience is None:
        return min(fair, policy.max_wait)
    return min(fair, max(policy.max_wait, timedelta(minutes=plain_wait)))


def _due_soon(
    chosen: Decision,
    helpable: Sequence[QueueItem],
    policy: QueuePolicy,
    now: datetime,
    allowed: timedelta,
) -> Decision:
    """The chosen ticket, unless serving it first makes another ticket this counter could serve
    late: then the one with the least slack (the most overdue first)."""
    picked = next(i for i in helpable if i.ticket_id == chosen.ticket_id)
    slacks = {i.ticket_id: slack(i, policy, now, allowed) for i in helpable}
    tightest = min(helpable, key=lambda i: (slacks[i.ticket_id], *_order_key(i)))
    if tightest is picked or slacks[tightest.ticket_id] >= picked.expected_minutes:
        return chosen
    late = policy.max_wait is not None and now - tightest.queue_at >= policy.max_wait
    reason = Reason.WAITED_LONG if late else Reason.DUE_SOON
    return Decision(tightest.ticket_id, reason, tightest.lane)


def choose_next(
    counter: CounterView,
    waiting: Iterable[QueueItem],
    policy: QueuePolicy = QueuePolicy(),
    now: datetime | None = None,
    recent_lanes: Sequence[Lane] = (),
) -> Decision:
    """Which ticket a counter calls next, and why.

    In order: a customer a colleague sent to this counter; a checked-in appointment whose slot
    has begun, at the next counter able to serve it; then among the tickets of the counter's own
    lanes, those that go first (`_goes_first`), else the policy's ordering. With work
    conservation a counter whose own lanes are empty helps the others, so no counter idles while
    someone it could serve waits. The deadline ordering then checks the choice against every
    ticket the counter could help (`_due_soon`), with deadlines relative to the policy's
    `fair_wait`.
    """
    if counter.status == CounterStatus.PAUSED:
        return Decision(None, Reason.COUNTER_PAUSED)
    eligible = [
        i
        for i in waiting
        if i.only_counter in (None, counter.number)
        and counter.takes(i)
        and not (not_yet_due(i, now) and i.only_counter is None)
    ]
    sent_here = [i for i in eligible if i.only_counter == counter.number]
    if sent_here:
        # A clerk sent this customer here on purpose: serve them before the queue.
        head = min(sent_here, key=_order_key)
        return Decision(head.ticket_id, Reason.TRANSFERRED_HERE, head.lane)
    appointment = due_appointment(counter, eligible, policy, now)
    if appointment is not None:
        return Decision(appointment.ticket_id, Reason.APPOINTMENT_DUE, appointment.lane)
    own = [i for i in eligible if i.lane in counter.lanes]
    helps = policy.work_conserving and not counter.reserved
    helping = not own and helps
    pool = own or (eligible if helps else [])
    if not pool:
        return Decision(None, Reason.QUEUE_EMPTY)
    deadline = policy.ordering is Ordering.DEADLINE and now is not None
    first = _goes_first(
        pool, replace(policy, max_wait=None) if deadline else policy, now, recent_lanes
    )
    if first is None:
        item, reason = _pick(pool, counter, policy, now)
        first = Decision(item.ticket_id, Reason.HELPING_LANE if helping else reason, item.lane)
    if deadline and now is not None:
        helpable = eligible if helps else own
        allowed = allowed_wait(policy, policy.fair_wait)
        return _due_soon(first, helpable, policy, now, allowed)
    return first


def may_call(
    counter: CounterView, item: QueueItem, policy: QueuePolicy, now: datetime | None = None
) -> bool:
    """Could this counter's calls ever pick this ticket (the counter's own list)? The same rules
    as `choose_next`: a ticket sent to another counter is that counter's; otherwise the counter's
    own lanes, a due appointment it can serve, or any lane when idle counters help the others."""
    if counter.status == CounterStatus.PAUSED:
        return False
    if item.only_counter is not None:
        return item.only_counter == counter.number
    if not counter.takes(item):
        return False
    if item.lane in counter.lanes or (policy.work_conserving and not counter.reserved):
        return True
    return due_appointment(counter, [item], policy, now) is not None


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
