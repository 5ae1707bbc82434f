"""The queue engine: the only code that changes queue state.

Each command is one write transaction (database.write_transaction): it locks the store, checks the
state machine (policy.next_status), changes the ticket, appends a TicketEvent, bumps the store's
version and stages the events, which events.py emits after COMMIT. Views call exactly one command.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backend.core.clock import Clock, SystemClock
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound, TooManyRequests
from backend.extensions import db
from backend.live import events
from backend.models import (
    Counter,
    DailySequence,
    Feedback,
    Kiosk,
    Service,
    Store,
    Ticket,
    TicketEvent,
    User,
    hash_token,
)
from backend.policy import (
    AT_COUNTER,
    Action,
    AppointmentStatus,
    Channel,
    CounterStatus,
    Decision,
    IllegalTransitionError,
    Lane,
    Outcome,
    PauseReason,
    Reason,
    Role,
    TicketStatus,
    can_rejoin,
    choose_next,
    format_label,
    next_queue_at,
    next_status,
    rejoin_queue_at,
    service_day,
)
from backend.policy.learning import learn
from backend.queue.readmodel import StoreQueue
from backend.queue.serializers import (
    counter_state,
    lanes_summary,
    missed_list,
    ticket_brief,
    ticket_public,
)

CLOCK_KEY = "hallqueue.clock"


def get_clock() -> Clock:
    return current_app.extensions.get(CLOCK_KEY) or SystemClock()


def now() -> datetime:
    return get_clock().now()


# --- look-ups -----------------------------------------------------------------------------


def find_store(code: str) -> Store:
    store = db.session.scalar(select(Store).where(Store.code == code))
    if store is None:
        raise NotFound(_l("Unknown store."), error_detail="store")
    return store


def find_ticket_by_token(token: str) -> Ticket:
    ticket = db.session.scalar(select(Ticket).where(Ticket.token == token)) if token else None
    if ticket is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    return ticket


def find_counter(store: Store, number: int) -> Counter:
    counter = db.session.scalar(
        select(Counter).where(Counter.store_id == store.id, Counter.number == number)
    )
    if counter is None:
        raise NotFound(_l("Unknown counter."))
    return counter


def lock_store(store_id: int) -> Store:
    """Serialise the store's commands: a row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE already
    holds the database write lock and FOR UPDATE is ignored."""
    store = db.session.scalar(
        select(Store)
        .where(Store.id == store_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if store is None:
        raise NotFound(_l("Unknown store."))
    return store


def _reload_ticket(ticket_id: int) -> Ticket:
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
    )
    if ticket is None:
        raise NotFound(_l("Unknown ticket."))
    return ticket


def _authorize(actor: User | None, store: Store) -> None:
    if actor is not None and not actor.can_act_in(store):
        raise Forbidden(_l("Your account does not belong to this store."))


# --- the command frame ----------------------------------------------------------------------


@dataclass
class Change:
    """One transition made inside a command, to be logged and announced."""

    ticket: Ticket
    action: Action
    from_status: TicketStatus | None
    counter: Counter | None
    detail: dict[str, Any] | None = None


class Command:
    """State of one running command: the locked store, the clock reading, the changes."""

    def __init__(self, store: Store, moment: datetime, actor: User | None) -> None:
        self.store = store
        self.now = moment
        self.actor = actor
        self.changes: list[Change] = []
        self.counters_changed: list[Counter] = []

    def counter_changed(self, counter: Counter) -> None:
        if counter not in self.counters_changed:
            self.counters_changed.append(counter)

    def transition(
        self,
        ticket: Ticket,
        action: Action,
        counter: Counter | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        try:
            target = next_status(action, TicketStatus(ticket.status))
        except IllegalTransitionError as exc:
            raise Conflict(
                _l(
                    "Ticket %(label)s is %(status)s; it cannot be changed like that.",
                    label=ticket.label,
                    status=status_text(exc.status),
                ),
                status=str(exc.status),
            ) from None
        before = TicketStatus(ticket.status)
        ticket.status = target
        self.changes.append(Change(ticket, action, before, counter or ticket.counter, detail))

    def record_issue(self, ticket: Ticket) -> None:
        self.changes.append(Change(ticket, Action.ISSUE, None, None))

    def finish(self) -> None:
        """Log every change, bump the version once per change, stage the events."""
        session = db.session
        for change in self.changes:
            session.add(
                TicketEvent(
                    ticket_id=change.ticket.id,
                    store_id=self.store.id,
                    at=self.now,
                    action=change.action.value,
                    from_status=change.from_status.value if change.from_status else None,
                    to_status=str(change.ticket.status),
                    counter_id=change.counter.id if change.counter else None,
                    actor_id=self.actor.id if self.actor else None,
                    detail=change.detail,
                )
            )
        session.flush()
        queue = StoreQueue.load(self.store, self.now)
        queue.remember()
        counters = [counter_state(c, queue) for c in queue.counters]
        lanes = lanes_summary(queue)
        missed = missed_list(queue)
        for change in self.changes:
            self.store.version += 1
            events.stage_store_event(
                session,
                self.store.code,
                change.action,
                version=self.store.version,
                ticket=ticket_brief(change.ticket),
                counter=change.counter.number if change.counter else None,
                counters=counters,
                lanes=lanes,
                missed=missed,
            )
        for counter in self.counters_changed:
            self.store.version += 1
            events.stage_counter_event(
                session,
                self.store.code,
                version=self.store.version,
                counter=counter.number,
                counters=counters,
                lanes=lanes,
            )
        if self.changes:
            self._stage_ticket_updates(queue)

    def _stage_ticket_updates(self, queue: StoreQueue) -> None:
        """Tell each watched ticket page its new state: the changed tickets, and in the lanes a
        call, cancel or transfer reordered, everyone behind. Unwatched tickets cost nothing."""
        changed = {change.ticket.id: change.ticket for change in self.changes}
        moved_lanes = {c.ticket.lane for c in self.changes if c.action in REORDERS_QUEUE}
        candidates = set(changed)
        if moved_lanes and events.watching_any_ticket():
            candidates |= {t.id for t in queue.waiting if t.lane in moved_lanes}
        watched = events.watched_tickets(candidates)
        if not watched:
            return
        tickets = {t.id: t for t in queue.waiting if t.id in watched} | changed
        for ticket_id in sorted(watched):
            events.stage_ticket_event(
                db.session, self.store.version, ticket_public(tickets[ticket_id], queue, "zh")
            )


# Actions after which people behind the ticket in its lane have a new position.
REORDERS_QUEUE = frozenset({Action.CALL, Action.CANCEL, Action.TRANSFER, Action.REJOIN})


@contextmanager
def command(store_id: int, actor: User | None = None) -> Iterator[Command]:
    with write_transaction():
        store = lock_store(store_id)
        _authorize(actor, store)
        cmd = Command(store, now(), actor)
        yield cmd
        if cmd.changes or cmd.counters_changed:
            cmd.finish()


# --- commands ---------------------------------------------------------------------------------


def next_number(store: Store, prefix: str, day: Any) -> int:
    seq = db.session.get(DailySequence, (store.id, prefix, day))
    if seq is None:
        seq = DailySequence(store_id=store.id, prefix=prefix, service_day=day, last_number=0)
        db.session.add(seq)
    seq.last_number += 1
    return seq.last_number


def _find_service(store: Store, code: str) -> Service:
    service = db.session.scalar(
        select(Service).where(Service.store_id == store.id, Service.code == code)
    )
    if service is None or not service.active:
        raise BadInput(_l("Unknown service: %(code)s.", code=code), error_code="unknown_service")
    return service


@dataclass(frozen=True)
class Origin:
    """Who takes a ticket: a registered kiosk, a phone joining remotely, or staff."""

    channel: Channel
    kiosk: Kiosk | None = None
    remote_client: str | None = None  # hash of the browser's remote-join cookie


KIOSK_ORIGIN_REQUIRED = _l("This screen is not registered as a kiosk. Please ask our staff.")


def _check_origin(cmd: Command, origin: Origin) -> None:
    store = cmd.store
    if origin.channel == Channel.KIOSK:
        if origin.kiosk is None or origin.kiosk.store_id != store.id:
            raise Forbidden(KIOSK_ORIGIN_REQUIRED, error_code="kiosk_not_registered")
        _check_kiosk_rate(cmd, origin.kiosk)
    elif origin.channel == Channel.REMOTE:
        if not store.remote_join:
            raise Forbidden(
                _l("Joining the queue from a phone is not available in this store today."),
                error_code="remote_join_closed",
            )
        if not origin.remote_client:
            raise BadInput(_l("Please allow cookies to join the queue."), error_code="no_client")
        _check_one_remote_ticket(cmd, origin.remote_client)
    elif cmd.actor is None:
        raise Forbidden()


def _check_kiosk_rate(cmd: Command, kiosk: Kiosk) -> None:
    limit = cmd.store.kiosk_rate_per_minute
    if limit <= 0:
        return
    window_start = cmd.now - timedelta(minutes=1)
    recent = list(
        db.session.scalars(
            select(Ticket.issued_at)
            .where(Ticket.kiosk_id == kiosk.id, Ticket.issued_at > window_start)
            .order_by(Ticket.issued_at)
        )
    )
    if len(recent) >= limit:
        # The oldest print in the window leaves it first: that is when one more is allowed.
        retry_after = max(1, math.ceil((recent[-limit] - window_start).total_seconds()))
        raise TooManyRequests(
            _l(
                "This kiosk has printed many tickets in the last minute. "
                "Please wait a moment, or ask our staff for help."
            ),
            retry_after=retry_after,
        )


def _check_one_remote_ticket(cmd: Command, client: str) -> None:
    active = db.session.scalar(
        select(Ticket).where(
            Ticket.store_id == cmd.store.id,
            Ticket.remote_client == client,
            Ticket.service_day == service_day(cmd.now, cmd.store.timezone),
            Ticket.status.in_([TicketStatus.WAITING, *AT_COUNTER]),
        )
    )
    if active is not None:
        raise Conflict(
            _l("You already have number %(label)s in this queue.", label=active.label),
            error_code="already_in_queue",
            status_url=url_for("kiosk.ticket_status", token=active.token),
        )


def queue_ticket(
    cmd: Command, service: Service, lane: Lane, prefix: str, channel: Channel, **extra: Any
) -> Ticket:
    """Number a new ticket (per-store, per-prefix, per-day counter row) and put it at the end of
    the queue: the one way a ticket enters it, from a kiosk, a phone, staff or a check-in."""
    day = service_day(cmd.now, cmd.store.timezone)
    number = next_number(cmd.store, prefix, day)
    last_queued = db.session.scalar(
        select(func.max(Ticket.queue_at)).where(
            Ticket.store_id == cmd.store.id, Ticket.service_day == day
        )
    )
    ticket = Ticket(
        store=cmd.store,
        service=service,
        lane=lane,
        label=format_label(prefix, number),
        number=number,
        service_day=day,
        channel=channel,
        status=TicketStatus.WAITING,
        issued_at=cmd.now,
        queue_at=next_queue_at(last_queued, cmd.now),
        **extra,
    )
    db.session.add(ticket)
    db.session.flush()
    cmd.record_issue(ticket)
    return ticket


def issue_ticket(
    store_code: str,
    service_code: str,
    origin: Origin = Origin(Channel.STAFF),
    actor: User | None = None,
) -> Ticket:
    store_id = find_store(store_code).id
    with command(store_id, actor) as cmd:
        service = _find_service(cmd.store, service_code)
        _check_origin(cmd, origin)
        ticket = queue_ticket(
            cmd,
            service,
            Lane(service.lane),
            service.prefix,
            origin.channel,
            kiosk_id=origin.kiosk.id if origin.kiosk else None,
            remote_client=origin.remote_client,
        )
    return ticket


@dataclass(frozen=True)
class CallResult:
    ticket: Ticket | None
    decision: Decision
    completed: Ticket | None = None


NOT_SIGNED_IN = _l("Please sign in to this counter first.")


def _require_signed_in(counter: Counter, actor: User | None) -> None:
    """Only the clerk signed in at a counter calls customers to it."""
    if actor is None or counter.clerk_id != actor.id:
        raise Conflict(NOT_SIGNED_IN, error_code="not_signed_in")


def _free_counter(cmd: Command, queue: StoreQueue, counter: Counter) -> Ticket | None:
    """ "Forgot to press complete": calling someone new ends the visit still open at the counter."""
    current = queue.current_at(counter)
    if current is not None:
        _release(cmd, current, Action.COMPLETE, counter, {"auto": True})
        current.outcome = Outcome.DONE
    return current


def _call(cmd: Command, ticket: Ticket, counter: Counter, reason: str) -> None:
    cmd.transition(ticket, Action.CALL, counter, {"reason": reason})
    ticket.counter = counter
    ticket.target_counter_id = None
    ticket.clerk_id = cmd.actor.id if cmd.actor else None
    ticket.called_at = cmd.now


def call_next(
    store_code: str, counter_number: int, actor: User | None, request_id: str | None = None
) -> CallResult:
    store_id = find_store(store_code).id
    with command(store_id, actor) as cmd:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        queue = StoreQueue.load(cmd.store, cmd.now)
        if request_id and counter.last_request_id == request_id:
            # The same click arrived twice: answer it again, call nobody else.
            current = queue.current_at(counter)
            return CallResult(current, Decision(None, Reason.DUPLICATE_REQUEST))
        counter.last_request_id = request_id
        completed = _free_counter(cmd, queue, counter)
        candidates = queue.candidates()
        decision = choose_next(
            queue.counter_view(counter),
            queue.items(candidates),
            queue.policy,
            cmd.now,
            queue.recent_lanes,
        )
        ticket = None
        if decision.ticket_id is not None:
            ticket = next(t for t in candidates if t.id == decision.ticket_id)
            _call(cmd, ticket, counter, decision.reason_code)
    return CallResult(ticket, decision, completed)


def call_ticket(
    ticket_id: int, counter_number: int, actor: User | None, request_id: str | None = None
) -> CallResult:
    """Call one chosen waiting ticket (picked from the list) to a counter."""

    def body(cmd: Command, ticket: Ticket) -> None:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        if request_id and counter.last_request_id == request_id and ticket.counter_id == counter.id:
            return
        if ticket.target_counter_id not in (None, counter.id):
            raise Conflict(
                _l("This customer was sent to another counter."), error_code="other_counter"
            )
        counter.last_request_id = request_id
        queue = StoreQueue.load(cmd.store, cmd.now)
        completed.append(_free_counter(cmd, queue, counter))
        _call(cmd, ticket, counter, Reason.CHOSEN_BY_CLERK.value)

    completed: list[Ticket | None] = []
    ticket = _ticket_command(ticket_id, actor, body)
    decision = Decision(ticket.id, Reason.CHOSEN_BY_CLERK, Lane(ticket.lane))
    return CallResult(ticket, decision, completed[0] if completed else None)


APPOINTMENT_AFTER = {
    Action.COMPLETE: AppointmentStatus.DONE,
    Action.NO_SHOW: AppointmentStatus.NO_SHOW,
    Action.CANCEL: AppointmentStatus.CANCELLED,
}


def _release(
    cmd: Command, ticket: Ticket, action: Action, counter: Counter | None, detail: Any = None
) -> None:
    cmd.transition(ticket, action, counter, detail)
    ticket.finished_at = cmd.now
    if ticket.appointment is not None and action in APPOINTMENT_AFTER:
        ticket.appointment.status = APPOINTMENT_AFTER[action]
        ticket.appointment.closed_at = cmd.now


def _ticket_command(
    ticket_id: int, actor: User | None, body: Callable[[Command, Ticket], None]
) -> Ticket:
    found = db.session.get(Ticket, ticket_id)
    if found is None:
        raise NotFound(_l("Unknown ticket."))
    with command(found.store_id, actor) as cmd:
        ticket = _reload_ticket(ticket_id)
        _check_counter_holder(ticket, actor)
        body(cmd, ticket)
    return ticket


def _check_counter_holder(ticket: Ticket, actor: User | None) -> None:
    """A customer at a counter is served by the clerk signed in there: a clerk whose counter was
    taken over cannot keep acting on its customer. Managers may step in anywhere."""
    if actor is None or actor.role in (Role.MANAGER, Role.ADMIN):
        return
    counter = ticket.counter
    held = ticket.status in (*AT_COUNTER, TicketStatus.PARKED)
    if counter is not None and held and counter.clerk_id != actor.id:
        raise Forbidden(
            _l(
                "%(label)s is being served at counter %(n)s by another clerk.",
                label=ticket.label,
                n=counter.number,
            ),
            error_code="not_your_counter",
        )


def recall_ticket(ticket_id: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        cmd.transition(ticket, Action.RECALL, detail={"recall": ticket.recall_count + 1})
        ticket.recall_count += 1

    return _ticket_command(ticket_id, actor, body)


def start_ticket(ticket_id: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        cmd.transition(ticket, Action.START)
        ticket.started_at = cmd.now

    return _ticket_command(ticket_id, actor, body)


def complete_ticket(ticket_id: int, actor: User | None, outcome: str | None = None) -> Ticket:
    try:
        chosen = Outcome(outcome or Outcome.DONE)
    except ValueError:
        raise BadInput(
            _l("Unknown outcome: %(code)s.", code=outcome), error_code="unknown_outcome"
        ) from None

    def body(cmd: Command, ticket: Ticket) -> None:
        _release(cmd, ticket, Action.COMPLETE, ticket.counter, {"outcome": chosen.value})
        ticket.outcome = chosen
        _learn_duration(ticket)

    return _ticket_command(ticket_id, actor, body)


# A duration this many times the current estimate is a forgotten "complete", not a visit.
OUTLIER_FACTOR = 5


def _learn_duration(ticket: Ticket) -> None:
    """Feed the visit's duration (start, or call, to completion) into the service's estimate."""
    began = ticket.started_at or ticket.called_at
    if began is None or ticket.finished_at is None:
        return
    service = ticket.service
    minutes = (ticket.finished_at - began).total_seconds() / 60
    current = service.learned_minutes or service.expected_minutes
    if minutes <= 0 or minutes > OUTLIER_FACTOR * current:
        return
    service.learned_minutes = learn(current, minutes)
    service.learned_count += 1


def mark_no_show(ticket_id: int, actor: User | None) -> Ticket:
    return _ticket_command(
        ticket_id, actor, lambda cmd, t: _release(cmd, t, Action.NO_SHOW, t.counter)
    )


def cancel_ticket(ticket_id: int, actor: User | None) -> Ticket:
    """Staff cancel any waiting or called ticket; a customer cancels through their token."""
    return _ticket_command(
        ticket_id, actor, lambda cmd, t: _release(cmd, t, Action.CANCEL, t.counter)
    )


def transfer_ticket(
    ticket_id: int,
    service_code: str | None,
    actor: User | None,
    counter_number: int | None = None,
    note: str | None = None,
) -> Ticket:
    """Send a ticket to another service's queue and/or to one counter, with a note for the clerk
    there. It keeps its label, its link and its issue time, so it loses no place for fairness."""
    if not service_code and counter_number is None:
        raise BadInput(_l("Choose a service or a counter to transfer to."), error_code="no_target")

    def body(cmd: Command, ticket: Ticket) -> None:
        detail: dict[str, Any] = {"from_service": ticket.service.code}
        if service_code:
            target = _find_service(cmd.store, service_code)
            if target.id == ticket.service_id and counter_number is None:
                raise BadInput(
                    _l("The ticket is already for this service."), error_code="same_service"
                )
            detail["to_service"] = target.code
        target_counter = find_counter(cmd.store, counter_number) if counter_number else None
        if target_counter is not None:
            detail["to_counter"] = target_counter.number
        cmd.transition(ticket, Action.TRANSFER, ticket.counter, detail)
        if service_code:
            ticket.service = target
            ticket.lane = Lane(target.lane)
        ticket.target_counter = target_counter
        if note is not None and note.strip():
            ticket.note = note.strip()
        ticket.counter = None
        ticket.clerk_id = None
        ticket.called_at = None
        ticket.started_at = None

    return _ticket_command(ticket_id, actor, body)


def park_ticket(ticket_id: int, actor: User | None) -> Ticket:
    """The customer steps away (to fetch a document); the counter may serve others meanwhile."""
    return _ticket_command(ticket_id, actor, lambda cmd, t: cmd.transition(t, Action.PARK))


def resume_ticket(ticket_id: int, counter_number: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        if ticket.counter_id != counter.id:
            raise Conflict(
                _l("This customer was parked at another counter."), error_code="other_counter"
            )
        if StoreQueue.load(cmd.store, cmd.now).current_at(counter) is not None:
            raise Conflict(
                _l("Finish the current customer before resuming another."),
                error_code="counter_busy",
            )
        cmd.transition(ticket, Action.RESUME, counter)

    return _ticket_command(ticket_id, actor, body)


# --- counters -----------------------------------------------------------------------------------


def _counter_command(
    store_code: str, number: int, actor: User | None, body: Callable[[Command, Counter], None]
) -> Counter:
    store_id = find_store(store_code).id
    with command(store_id, actor) as cmd:
        counter = find_counter(cmd.store, number)
        before = (counter.clerk_id, counter.status, counter.pause_reason)
        body(cmd, counter)
        if (counter.clerk_id, counter.status, counter.pause_reason) != before:
            cmd.counter_changed(counter)
    return counter


def sign_in_counter(store_code: str, number: int, actor: User, takeover: bool = False) -> Counter:
    """One clerk per counter, one counter per clerk; taking over a held counter must be asked."""

    def body(cmd: Command, counter: Counter) -> None:
        if counter.clerk_id not in (None, actor.id) and not takeover:
            holder = counter.clerk
            raise Conflict(
                _l(
                    "Counter %(n)s is signed in by %(name)s.",
                    n=counter.number,
                    name=holder.display_name if holder else "",
                ),
                error_code="counter_taken",
                clerk=holder.display_name if holder else None,
            )
        for other in db.session.scalars(
            select(Counter).where(Counter.clerk_id == actor.id, Counter.id != counter.id)
        ):
            other.clerk_id = None
            cmd.counter_changed(other)
        counter.clerk_id = actor.id

    return _counter_command(store_code, number, actor, body)


def sign_out_counter(store_code: str, number: int, actor: User) -> Counter:
    def body(cmd: Command, counter: Counter) -> None:
        if counter.clerk_id == actor.id:
            counter.clerk_id = None

    return _counter_command(store_code, number, actor, body)


def pause_counter(store_code: str, number: int, actor: User, reason: str) -> Counter:
    try:
        why = PauseReason(reason)
    except ValueError:
        raise BadInput(
            _l("Unknown reason: %(code)s.", code=reason), error_code="unknown_reason"
        ) from None

    def body(cmd: Command, counter: Counter) -> None:
        counter.status = CounterStatus.PAUSED
        counter.pause_reason = why.value

    return _counter_command(store_code, number, actor, body)


def resume_counter(store_code: str, number: int, actor: User) -> Counter:
    def body(cmd: Command, counter: Counter) -> None:
        counter.status = CounterStatus.OPEN
        counter.pause_reason = None

    return _counter_command(store_code, number, actor, body)


@dataclass(frozen=True)
class ClerkDay:
    served: int
    avg_service_minutes: float | None
    no_shows: int


def clerk_day(store: Store, clerk: User) -> ClerkDay:
    """The clerk's own figures for today: visits completed, mean service time, no-shows."""
    day = service_day(now(), store.timezone)
    rows = db.session.execute(
        select(Ticket.status, Ticket.called_at, Ticket.started_at, Ticket.finished_at).where(
            Ticket.store_id == store.id,
            Ticket.service_day == day,
            Ticket.clerk_id == clerk.id,
            Ticket.status.in_([TicketStatus.DONE, TicketStatus.NO_SHOW]),
        )
    ).all()
    durations = [
        (finished - (started or called)).total_seconds() / 60
        for status, called, started, finished in rows
        if status == TicketStatus.DONE and finished and (started or called)
    ]
    return ClerkDay(
        served=sum(1 for row in rows if row.status == TicketStatus.DONE),
        avg_service_minutes=round(sum(durations) / len(durations), 1) if durations else None,
        no_shows=sum(1 for row in rows if row.status == TicketStatus.NO_SHOW),
    )


# --- the customer's own commands (authorised by the ticket's token) -------------------------


def _holder_ticket(ticket_id: int, token: str) -> Ticket:
    ticket = find_ticket_by_token(token)
    if ticket.id != ticket_id:
        raise Forbidden(_l("This ticket link does not match the ticket."))
    return ticket


def cancel_by_holder(ticket_id: int, token: str) -> Ticket:
    _holder_ticket(ticket_id, token)
    return cancel_ticket(ticket_id, None)


def rejoin_ticket(ticket_id: int, token: str) -> Ticket:
    """A missed ticket rejoins once, inside the store's window, a few places behind the head."""
    _holder_ticket(ticket_id, token)

    def body(cmd: Command, ticket: Ticket) -> None:
        store = cmd.store
        if ticket.status == TicketStatus.NO_SHOW:
            if ticket.rejoin_count > 0:
                raise Conflict(
                    _l("This number has already rejoined the queue once."),
                    error_code="already_rejoined",
                )
            if not can_rejoin(ticket.finished_at, 0, store.rejoin_minutes, cmd.now):
                raise Conflict(
                    _l("The time to rejoin has passed. Please take a new number."),
                    error_code="rejoin_expired",
                )
        lane_queue = list(
            db.session.scalars(
                select(Ticket.queue_at)
                .where(
                    Ticket.store_id == store.id,
                    Ticket.service_day == ticket.service_day,
                    Ticket.status == TicketStatus.WAITING,
                    Ticket.lane == ticket.lane,
                )
                .order_by(Ticket.queue_at, Ticket.id)
            )
        )
        cmd.transition(ticket, Action.REJOIN, detail={"places": store.rejoin_places})
        ticket.queue_at = rejoin_queue_at(lane_queue, store.rejoin_places, cmd.now)
        ticket.rejoin_count += 1
        ticket.counter = None
        ticket.called_at = None
        ticket.finished_at = None

    return _ticket_command(ticket_id, None, body)


def rate_visit(ticket_id: int, token: str, stars: int, comment: str) -> Feedback:
    """One rating per finished visit, kept with its service, counter and clerk."""
    store_id = _holder_ticket(ticket_id, token).store_id
    with write_transaction():
        lock_store(store_id)  # two taps at once: the second sees the first rating
        ticket = _reload_ticket(ticket_id)
        if ticket.status != TicketStatus.DONE:
            raise Conflict(_l("You can rate a visit once it is complete."))
        if db.session.scalar(select(Feedback).where(Feedback.ticket_id == ticket_id)):
            raise Conflict(
                _l("Thank you, this visit is already rated."), error_code="already_rated"
            )
        feedback = Feedback(
            ticket_id=ticket.id,
            store_id=ticket.store_id,
            service_id=ticket.service_id,
            counter_id=ticket.counter_id,
            clerk_id=ticket.clerk_id,
            stars=stars,
            comment=comment.strip(),
            created_at=now(),
        )
        db.session.add(feedback)
    return feedback


# --- kiosks -----------------------------------------------------------------------------------


def register_kiosk(store_code: str, name: str, auto_print: bool = True) -> str:
    """Register a kiosk; returns its token (shown once, kept by the kiosk's browser)."""
    store_id = find_store(store_code).id
    with write_transaction():
        kiosk, token = Kiosk.register(lock_store(store_id), name, now(), auto_print)
        db.session.add(kiosk)
    return token


def find_kiosk(token: str | None) -> Kiosk | None:
    if not token:
        return None
    kiosk = db.session.scalar(select(Kiosk).where(Kiosk.token_hash == hash_token(token)))
    return kiosk if kiosk is not None and kiosk.revoked_at is None else None


STATUS_TEXT = {
    TicketStatus.WAITING: _l("waiting"),
    TicketStatus.CALLED: _l("called"),
    TicketStatus.SERVING: _l("being served"),
    TicketStatus.DONE: _l("done"),
    TicketStatus.NO_SHOW: _l("missed (no-show)"),
    TicketStatus.CANCELLED: _l("cancelled"),
    TicketStatus.PARKED: _l("parked (customer stepped away)"),
}


def status_text(status: TicketStatus) -> str:
    return str(STATUS_TEXT[status])
