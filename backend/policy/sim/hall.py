"""One simulated day under one policy: an event loop over the live policy code.

Arrivals, completions, staffing changes, abandonment, appointment slots and the closing of the
doors are events on a simulated clock (minutes after opening); with a scenario's [behaviour],
also the walk to the counter, missed calls and rejoins; with [remote], [learning] and
[transfers], remote joiners who arrive later, the store's learned service times and second
services. Every call is the live engine's `choose_next`, every status change its
`next_status`, every queue time its `next_queue_at`.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from ..enums import Action, CounterStatus, Lane, TicketStatus
from ..eta import (
    ARRIVAL_HORIZON_MINUTES,
    CALL_GAP_CALLS,
    ArrivalRate,
    Patience,
    PatienceTally,
    call_minutes,
    observed_patience,
    tally_patience,
)
from ..learning import trusted_minutes
from ..ordering import (
    CounterView,
    Ordering,
    QueueItem,
    choose_next,
    raise_fair_wait,
)
from ..queueing import can_rejoin, next_queue_at, rejoin_queue_at
from ..transitions import next_status
from .customers import Customer, clerk_speeds, learn_visit, learned_start
from .scenario import Scenario
from .setups import PolicySetup

# The simulated day starts at this instant (a Monday); sim time is minutes after opening.
DAY = datetime(2026, 3, 2, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
# What happens first when events fall on the same instant.
STAFF, COMPLETE, ABANDON, ARRIVE, DUE, CLOSE, BEGIN, MISS, REJOIN = range(9)
# A clerk's unplanned pause begins (after the customer at the desk) and ends (sim/pauses.py).
PAUSE, UNPAUSE = 9, 10


@dataclass(slots=True)
class Ticket:
    customer: Customer
    item: QueueItem
    status: TicketStatus = TicketStatus.WAITING
    called_at: float | None = None
    counter: int | None = None
    calls: int = 0
    left_at: float | None = None  # gave up waiting then
    # The wait so far: earlier spells in the queue (before a missed call) and the current one's
    # start; a wait ends at the call.
    waited: float = 0.0
    queued_since: float = 0.0
    gives_up_at: float = math.inf
    balked: bool = False  # took no ticket: the estimate was longer than the customer would wait
    missed_at: float | None = None  # did not come when called
    part: int = 0  # 1: back in the queue for its second service ([transfers])
    remote_missed: bool = False  # a remote joiner called before reaching the hall
    served_minutes: float = 0.0  # the service under way's duration (learned on completion)

    @property
    def key(self) -> tuple[datetime, datetime, int]:
        """The live engine's order within a group: earliest slot, then queue time, then id."""
        return (self.item.due_at or DAY, self.item.queue_at, self.item.ticket_id)

    @property
    def group(self) -> tuple[str, Lane, int | None]:
        return (self.item.service, self.item.lane, self.item.only_counter)


@dataclass(slots=True)
class Desk:
    """A counter's simulated state and its time accounts (minutes)."""

    view: CounterView
    is_open: bool = False
    closing: bool = False
    current: Ticket | None = None
    expected_end: float = 0.0
    opened_at: float = 0.0
    idle_since: float = 0.0
    open_time: float = 0.0
    busy_time: float = 0.0
    away: bool = False  # on an unplanned pause: staffed, but calls nobody
    pause_due: float | None = None  # an unplanned pause's minutes, once the visit is done


@dataclass
class DayResult:
    """What happened to every ticket, plus the counters' accounts and the wait forecasts."""

    policy: str
    tickets: list[Ticket]
    desks: list[Desk]
    forecasts: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    log: list[tuple[str, float, int, int]] = field(default_factory=list)


def at(t: float) -> datetime:
    return DAY + timedelta(minutes=t)


class CounterSeen(NamedTuple):
    """A counter as the forecast sees it (minutes after opening)."""

    view: CounterView
    free: float
    began: float | None
    expected: float | None
    back_at: float | None  # a paused counter's planned return
    serving: QueueItem | None = None  # the visit under way


Forecaster = Callable[["Hall", Ticket], tuple[float, float, float] | None]


class Hall:
    """The event loop: arrivals, completions, staffing changes, abandonment, appointment slots."""

    def __init__(
        self,
        scenario: Scenario,
        setup: PolicySetup,
        customers: Sequence[Customer],
        forecaster: Forecaster | None = None,
    ) -> None:
        self.scenario = scenario
        self.behaviour = scenario.behaviour
        # Each counter's factor on service durations (drawn ones: `with_clerk_speeds`).
        self.speeds = clerk_speeds(scenario)
        self.setup = setup
        # The setup's policy, with the day's fair wait as it grows (the deadline ordering).
        self.policy = setup.policy
        self.customers = customers
        self.forecaster = forecaster
        self.desks = {c.number: Desk(c) for c in setup.counters}
        self.groups: dict[tuple[str, Lane, int | None], list[Ticket]] = {}
        self.tickets: dict[int, Ticket] = {}
        self.recent: list[Lane] = []
        self.events: list[tuple[float, int, int, int]] = []
        self.last_queue_at: datetime | None = None
        self.forecasts: dict[int, tuple[float, float, float]] = {}
        self.now = 0.0
        # What happened, in order: ("issue" | "call" | "complete", minute, counter, ticket id).
        # tests/test_live_equals_sim.py replays it against the live engine.
        self.log: list[tuple[str, float, int, int]] = []
        # Minutes from each call to its service's start, or to the call given up as missed (as
        # the live read model measures them on its last calls: eta.call_minutes).
        self.call_gaps: list[float] = []
        # The store's service times ([learning]): code -> [learned or None, visits, configured].
        self.learned: dict[str, list[Any]] = {
            code: [learned, count, configured]
            for code, learned, count, configured in learned_start(scenario)
        }

    # -- events

    def push(self, t: float, kind: int, arg: int) -> None:
        heapq.heappush(self.events, (t, kind, arg, len(self.events)))

    def run(self) -> DayResult:
        for index, (t, _) in enumerate(self.scenario.staffing):
            self.push(t, STAFF, index)
        for c in self.customers:
            self.push(c.arrival, ARRIVE, c.ticket_id)
        for index, (t, _, _) in enumerate(self.scenario.pauses.drawn):
            self.push(t, PAUSE, index)
        self.push(self.scenario.length, CLOSE, 0)
        while self.events:
            self.step()
        self.close_all()
        return DayResult(
            self.setup.name,
            [self.tickets[c.ticket_id] for c in self.customers],
            list(self.desks.values()),
            self.forecasts,
            self.log,
        )

    def step(self) -> None:
        """The next event on the clock, then every free counter calls (the oracle's replays
        advance the same way)."""
        handlers = {
            STAFF: self.on_staffing,
            COMPLETE: self.on_complete,
            ABANDON: self.on_abandon,
            ARRIVE: self.on_arrival,
            DUE: self.wake,
            CLOSE: self.wake,
            BEGIN: self.on_begin,
            MISS: self.on_miss,
            REJOIN: self.on_rejoin,
            PAUSE: self.on_pause,
            UNPAUSE: self.on_unpause,
        }
        self.now, kind, arg, _ = heapq.heappop(self.events)
        handlers[kind](arg)
        self.dispatch()

    def on_staffing(self, index: int) -> None:
        """Open the plan's counters; close the others (a busy one after its customer)."""
        if self.now >= self.scenario.length:
            return  # after closing time the counters open then serve whoever is still inside
        wanted = self.scenario.staffing[index][1]
        for number, desk in self.desks.items():
            if number in wanted:
                self.open_desk(desk)
            elif desk.is_open:
                desk.closing = True
                if desk.current is None:
                    self.close_desk(desk)

    def on_arrival(self, ticket_id: int) -> None:
        customer = self.customers[ticket_id - 1]
        last_queue_at = self.last_queue_at
        ticket = self.issue(customer)
        self.enqueue(ticket)
        found = self.forecaster(self, ticket) if self.forecaster is not None else None
        if self.balks(ticket, found):
            self.balk(ticket, last_queue_at)
            return
        self.log.append(("issue", self.now, 0, ticket_id))
        if found is not None:
            self.forecasts[ticket_id] = found
        patience = customer.patience
        if found is not None and self.behaviour.promise_factor > 0:
            # A customer told a long wait expects to wait long.
            patience = max(patience, self.behaviour.promise_factor * found[0])
        self.give_up_after(ticket, customer.arrival + patience)
        if ticket.item.due_at is not None and customer.slot is not None:
            self.push(max(customer.slot, self.now), DUE, ticket_id)

    def balks(self, ticket: Ticket, found: tuple[float, float, float] | None) -> bool:
        """Whether the estimate (printed, else the customer's own guess) is longer than the
        customer will wait for. A booked customer keeps the appointment."""
        customer = ticket.customer
        if math.isinf(customer.tolerance) or customer.checked_in:
            return False
        guess = found[0] if found is not None else self.own_guess()
        return guess > customer.tolerance

    def own_guess(self) -> float:
        """The wait a customer guesses without a printed estimate: the people waiting ahead ×
        the mean service ÷ the counters open (infinite with people waiting and none open)."""
        waiting = sum(len(queue) for queue in self.groups.values()) - 1  # not the customer
        if waiting <= 0:
            return 0.0
        serving = sum(1 for d in self.desks.values() if d.is_open and not d.closing)
        services = self.scenario.services
        mean = sum(s.share * s.mean for s in services) / sum(s.share for s in services)
        return waiting * mean / serving if serving else math.inf

    def balk(self, ticket: Ticket, last_queue_at: datetime | None) -> None:
        """The customer takes no ticket after all: out of the queue, the numbering as before."""
        self.dequeue(ticket)
        self.last_queue_at = last_queue_at
        ticket.status = next_status(Action.CANCEL, ticket.status)
        ticket.balked = True
        self.log.append(("balk", self.now, 0, ticket.item.ticket_id))

    def give_up_after(self, ticket: Ticket, moment: float) -> None:
        ticket.gives_up_at = moment
        if math.isfinite(moment):
            self.push(moment, ABANDON, ticket.item.ticket_id)

    def wake(self, _: int) -> None:
        """An appointment's slot begins, or the doors close: idle counters look again (dispatch
        follows; after closing time an idle counter with nobody it could serve closes)."""

    def on_abandon(self, ticket_id: int) -> None:
        ticket = self.tickets[ticket_id]
        # A rejoined ticket gives up on its new clock, not on the one of its first spell.
        requeued = ticket.missed_at is not None or ticket.part > 0
        renewed = requeued and self.now < ticket.gives_up_at
        if ticket.status is TicketStatus.WAITING and not renewed:
            ticket.status = next_status(Action.CANCEL, ticket.status)
            ticket.left_at = self.now
            self.dequeue(ticket)

    def on_complete(self, number: int) -> None:
        desk = self.desks[number]
        ticket = desk.current
        assert ticket is not None
        if self.scenario.learning.live:
            self.learn(ticket.item.service, ticket.served_minutes)
        if ticket.customer.then is not None and ticket.part == 0:
            self.transfer(desk, ticket)
            return
        ticket.status = next_status(Action.COMPLETE, ticket.status)
        self.log.append(("complete", self.now, number, ticket.item.ticket_id))
        self.free_desk(desk)

    def transfer(self, desk: Desk, ticket: Ticket) -> None:
        """The first service done, the ticket goes on to its second service's queue as the live
        transfer sends it: the same ticket and queue time (no place lost), a fresh patience."""
        service = self.scenario.service(ticket.customer.then or "")
        ticket.status = next_status(Action.TRANSFER, ticket.status)
        assert ticket.called_at is not None
        ticket.waited += ticket.called_at - ticket.queued_since
        ticket.called_at = ticket.counter = None
        ticket.queued_since, ticket.part = self.now, 1
        lane = ticket.item.lane if ticket.item.lane == Lane.VIP else service.lane
        ticket.item = replace(
            ticket.item,
            lane=lane,
            service=service.code,
            due_at=None,
            service_lane=service.lane,
            expected_minutes=self.expected(service.code),
        )
        self.log.append(("transfer", self.now, desk.view.number, ticket.item.ticket_id))
        self.enqueue(ticket)
        self.give_up_after(ticket, self.now + ticket.customer.patience)
        self.free_desk(desk)

    def learn(self, code: str, observed: float) -> None:
        """The live rule on one completed service: its minutes from the start (the walk, as
        the live rule with a start, not counted)."""
        state = self.learned[code]
        new = learn_visit(state[0] if state[0] is not None else state[2], observed)
        if new is not None:
            state[0], state[1] = new, state[1] + 1

    def expected(self, code: str) -> float:
        """A service's expected duration as the store knows it: learned once trusted, else
        configured ([learning]); without [learning] the true mean."""
        if code not in self.learned:
            return self.scenario.service(code).mean
        learned, count, configured = self.learned[code]
        return trusted_minutes(configured, learned, count)

    def free_desk(self, desk: Desk) -> None:
        desk.current = None
        desk.idle_since = self.now
        if desk.closing:
            self.close_desk(desk)
        elif desk.pause_due is not None:
            minutes, desk.pause_due = desk.pause_due, None
            self.step_away(desk, minutes)

    def on_pause(self, index: int) -> None:
        """A clerk steps away unplanned, saying no return time: at once if the desk is free,
        else after its customer. Not from a desk that is closed, closing or already paused."""
        _, number, minutes = self.scenario.pauses.drawn[index]
        desk = self.desks[number]
        if not desk.is_open or desk.closing or desk.away or desk.pause_due is not None:
            return
        if desk.current is None:
            self.step_away(desk, minutes)
        else:
            desk.pause_due = minutes

    def step_away(self, desk: Desk, minutes: float) -> None:
        desk.away = True
        self.log.append(("pause", self.now, desk.view.number, 0))
        self.push(self.now + minutes, UNPAUSE, desk.view.number)

    def on_unpause(self, number: int) -> None:
        """The clerk is back (dispatch follows: the desk calls again if it is open)."""
        self.desks[number].away = False
        self.log.append(("unpause", self.now, number, 0))

    def on_begin(self, number: int) -> None:
        """The called customer reaches the counter: the service begins."""
        desk = self.desks[number]
        ticket = desk.current
        assert ticket is not None and ticket.called_at is not None
        self.call_gaps.append(self.now - ticket.called_at)
        ticket.status = next_status(Action.START, ticket.status)
        self.push(self.now + self.service_minutes(desk, ticket), COMPLETE, number)

    def on_miss(self, number: int) -> None:
        """The called customer did not come within the recall time: marked missed; they come
        back later or never."""
        desk = self.desks[number]
        ticket = desk.current
        assert ticket is not None
        ticket.status = next_status(Action.NO_SHOW, ticket.status)
        assert ticket.called_at is not None
        self.call_gaps.append(self.now - ticket.called_at)
        ticket.waited += ticket.called_at - ticket.queued_since
        ticket.called_at = ticket.counter = None
        ticket.missed_at = self.now
        self.log.append(("miss", self.now, number, ticket.item.ticket_id))
        returns_after = ticket.customer.returns_after
        if ticket.remote_missed:  # on the way: rejoins on reaching the hall
            back = max(ticket.customer.present_at or 0.0, self.now)
            self.push(back, REJOIN, ticket.item.ticket_id)
        elif returns_after is not None:
            self.push(self.now + returns_after, REJOIN, ticket.item.ticket_id)
        self.free_desk(desk)

    def on_rejoin(self, ticket_id: int) -> None:
        """A missed customer back at the kiosk rejoins as live (`rejoin_queue_at`: the store's
        places behind the head of the lane), within the store's window and before closing."""
        ticket = self.tickets[ticket_id]
        assert ticket.missed_at is not None
        window = int(self.behaviour.rejoin_minutes)
        if self.now >= self.scenario.length or not can_rejoin(
            at(ticket.missed_at), 0, window, at(self.now)
        ):
            return  # lost: stays missed
        lane = ticket.item.lane
        lane_queue = sorted(
            (t.item.queue_at, t.item.ticket_id)
            for queue in self.groups.values()
            for t in queue
            if t.item.lane == lane
        )
        queue_at = rejoin_queue_at(
            [q for q, _ in lane_queue], self.behaviour.rejoin_places, at(self.now)
        )
        if self.last_queue_at is None or queue_at > self.last_queue_at:
            self.last_queue_at = queue_at
        ticket.status = next_status(Action.REJOIN, ticket.status)
        ticket.item = replace(ticket.item, queue_at=queue_at)
        ticket.queued_since = self.now
        self.log.append(("rejoin", self.now, 0, ticket_id))
        self.enqueue(ticket)
        self.give_up_after(ticket, self.now + ticket.customer.patience)

    # -- tickets and the queue

    def issue(self, customer: Customer) -> Ticket:
        """The ticket as the live kiosk/check-in would queue it."""
        service = self.scenario.service(customer.service)
        appointment = customer.checked_in and self.setup.appointments_lane
        queue_at = next_queue_at(self.last_queue_at, at(self.now))
        self.last_queue_at = queue_at
        item = QueueItem(
            ticket_id=customer.ticket_id,
            lane=Lane.APPOINTMENT if appointment else service.lane,
            queue_at=queue_at,
            service=service.code,
            due_at=at(customer.slot) if appointment and customer.slot is not None else None,
            service_lane=service.lane,
            expected_minutes=self.expected(service.code),
        )
        ticket = Ticket(customer, item, queued_since=customer.arrival)
        self.tickets[customer.ticket_id] = ticket
        return ticket

    def enqueue(self, ticket: Ticket) -> None:
        queue = self.groups.setdefault(ticket.group, [])
        bisect.insort(queue, ticket, key=lambda t: t.key)

    def dequeue(self, ticket: Ticket) -> None:
        self.groups[ticket.group].remove(ticket)

    def heads(self) -> list[QueueItem]:
        """The oldest ticket of each (service, lane, only_counter) group, and every checked-in
        appointment (as the live engine's candidates: a later booking may be due first)."""
        out: list[QueueItem] = []
        for (_, lane, _), queue in self.groups.items():
            if lane == Lane.APPOINTMENT:
                out.extend(t.item for t in queue)
            elif queue:
                out.append(replace(queue[0].item, group_size=len(queue)))
        return out

    def waiting(self) -> list[QueueItem]:
        return [t.item for queue in self.groups.values() for t in queue]

    # -- counters

    def open_desk(self, desk: Desk) -> None:
        desk.closing = False
        if not desk.is_open:
            desk.is_open = True
            desk.opened_at = desk.idle_since = self.now

    def close_desk(self, desk: Desk) -> None:
        desk.is_open = desk.closing = False
        desk.open_time += self.now - desk.opened_at

    def close_all(self) -> None:
        for desk in self.desks.values():
            if desk.is_open:
                self.close_desk(desk)

    def dispatch(self) -> None:
        """Every free open counter calls next, the longest idle first."""
        free = [
            d
            for d in self.desks.values()
            if d.is_open and not d.closing and not d.current and not d.away
        ]
        for desk in sorted(free, key=lambda d: (d.idle_since, d.view.number)):
            if not self.call_next(desk) and self.now >= self.scenario.length:
                self.close_desk(desk)  # after hours: nobody left that it could serve

    def recent_lanes(self) -> list[Lane]:
        """The lanes of the last calls, as many as the live engine passes (vip_window - 1)."""
        count = self.setup.policy.vip_window - 1
        return self.recent[-count:] if count > 0 else []

    def call_next(self, desk: Desk) -> bool:
        policy = self.policy
        heads = self.heads()
        if policy.ordering is Ordering.DEADLINE:
            serving = sum(1 for d in self.desks.values() if d.is_open and not d.closing)
            policy = self.policy = raise_fair_wait(policy, heads, serving, at(self.now))
        decision = choose_next(desk.view, heads, policy, at(self.now), self.recent_lanes())
        if decision.ticket_id is None:
            return False
        self.serve(desk, self.tickets[decision.ticket_id])
        return True

    def serve(self, desk: Desk, ticket: Ticket) -> None:
        """Call one ticket to a counter; the service starts when the customer is there (at once
        without a walk), and a customer who misses the call costs the counter the recall time.
        The counter is occupied throughout."""
        self.dequeue(ticket)
        ticket.status = next_status(Action.CALL, ticket.status)
        ticket.called_at, ticket.counter = self.now, desk.view.number
        ticket.calls += 1
        self.log.append(("call", self.now, desk.view.number, ticket.item.ticket_id))
        self.recent = [*self.recent[-9:], ticket.item.lane]
        desk.current = ticket
        desk.expected_end = self.now + ticket.item.expected_minutes
        number, customer = desk.view.number, ticket.customer
        away = self.away(ticket)
        if self.misses(ticket, away):
            desk.busy_time += self.behaviour.recall_minutes
            self.push(self.now + self.behaviour.recall_minutes, MISS, number)
        elif customer.walk > 0 or away > 0:
            desk.busy_time += away + customer.walk
            self.push(self.now + away + customer.walk, BEGIN, number)
        else:
            self.call_gaps.append(0.0)
            ticket.status = next_status(Action.START, ticket.status)
            self.push(self.now + self.service_minutes(desk, ticket), COMPLETE, number)

    def away(self, ticket: Ticket) -> float:
        """Minutes until a remote joiner reaches the hall (0 for anyone in it)."""
        present_at = ticket.customer.present_at
        return 0.0 if present_at is None else max(0.0, present_at - self.now)

    def misses(self, ticket: Ticket, away: float) -> bool:
        """Whether the called customer does not come: one who misses a first call, or a remote
        joiner not in the hall before the counter stops waiting (then marked `remote_missed`)."""
        if ticket.missed_at is not None:
            return False  # back after a miss: comes
        if away > self.behaviour.recall_minutes:
            ticket.remote_missed = True
        return ticket.customer.misses or ticket.remote_missed

    def service_minutes(self, desk: Desk, ticket: Ticket) -> float:
        """The drawn duration at this counter's speed, added to its busy time."""
        customer = ticket.customer
        drawn = customer.then_duration if ticket.part else customer.duration
        minutes = drawn * self.speeds[desk.view.number]
        desk.busy_time += minutes
        ticket.served_minutes = minutes
        return minutes

    def arrival_rates(self) -> list[ArrivalRate]:
        """Walk-ins per minute by service over the last hour, as the live system measures it."""
        since = self.now - ARRIVAL_HORIZON_MINUTES
        counts: dict[str, int] = {}
        for ticket in self.tickets.values():
            if ticket.balked or ticket.item.lane == Lane.APPOINTMENT:
                continue  # a customer who balked took no ticket
            if ticket.customer.arrival > since:
                counts[ticket.item.service] = counts.get(ticket.item.service, 0) + 1
        out = []
        for code, count in counts.items():
            service = self.scenario.service(code)
            rate = count / ARRIVAL_HORIZON_MINUTES
            out.append(ArrivalRate(code, service.lane, self.expected(code), rate))
        return out

    def call_gap(self) -> float:
        """The counter time of a call before its service begins, over the last calls."""
        return call_minutes(self.call_gaps[-CALL_GAP_CALLS:])

    def patience(self, history: PatienceTally | None = None) -> Patience | None:
        """How customers have been giving up today, measured as the live system does from its
        rows (readmodel.py): every ticket's minutes waited since its queue time — until its
        call, its leaving, or now — and whether it left; `history`, the earlier days', while
        today has seen too few leave."""
        waits = patience_waits(self.tickets.values(), self.now)
        return observed_patience(tally_patience(waits), history)

    def counter_views(self) -> list[CounterSeen]:
        """Each counter as the live system would see it now: its expected free time and, for a
        visit under way, when it began and how long it is expected to take. A counter that is
        not open, or closes after its current customer, is paused (as a clerk pauses while
        finishing a visit), with the plan's next opening as its planned return (the clerk's
        "back at"); one the plan does not open again today is left out, as the live system
        leaves out a counter nobody is signed in at. One whose clerk is away unplanned is
        paused with no return said."""
        out: list[CounterSeen] = []
        for desk in self.desks.values():
            serving = desk.is_open and not desk.closing and not desk.away
            status = CounterStatus.OPEN if serving else CounterStatus.PAUSED
            view = replace(desk.view, status=status)
            # A clerk away unplanned said no time; the others return when the plan opens them.
            planned = not serving and not desk.away
            back_at = self.planned_return(desk.view.number) if planned else None
            if planned and back_at is None:
                continue  # closed for the rest of the day: no clerk to come back (as live)
            if desk.current is None:
                out.append(CounterSeen(view, self.now, None, None, back_at))
                continue
            expected = desk.current.item.expected_minutes
            began = desk.expected_end - expected
            out.append(
                CounterSeen(
                    view,
                    max(desk.expected_end, self.now),
                    began,
                    expected,
                    back_at,
                    desk.current.item,
                )
            )
        return out

    def planned_return(self, number: int) -> float | None:
        """The next time the staffing plan opens this counter, None if it does not today."""
        return next(
            (
                t
                for t, wanted in self.scenario.staffing
                if t > self.now and t < self.scenario.length and number in wanted
            ),
            None,
        )


def patience_waits(tickets: Iterable[Ticket], now: float | None) -> list[tuple[float, bool]]:
    """(minutes waited, left) per ticket: until its call, its leaving, or `now`; with `now`
    None (a day over), a ticket that neither was called nor left is not counted, as the live
    system leaves out an earlier day's tickets still marked waiting."""
    waits = []
    for ticket in tickets:
        queued = (ticket.item.queue_at - DAY) / MINUTE
        end = ticket.called_at if ticket.called_at is not None else ticket.left_at
        if end is None:
            if now is None:
                continue
            end = now
        waits.append((end - queued, ticket.left_at is not None))
    return waits


def simulate(
    scenario: Scenario,
    setup: PolicySetup,
    customers: Sequence[Customer],
    forecaster: Forecaster | None = None,
) -> DayResult:
    """One day of these customers under this setup (a scenario drawing clerk speeds per seed:
    that of `with_clerk_speeds(scenario, seed)`)."""
    return Hall(scenario, setup, customers, forecaster).run()
