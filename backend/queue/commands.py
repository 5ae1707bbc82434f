"""The queue engine's commands: the only code that changes queue state.

Each command is one write transaction (core.db.write_transaction). Inside it, and only there, it
locks the store, reads what its decision needs (the candidates, this counter's current ticket; the
lanes of the last calls live on the store row), checks the state machine, changes rows, appends a
TicketEvent per transition, bumps the store's version once per transition and stages a thin event
for each. Nothing else happens under the lock: no read model, no forecast, no per-watcher work —
the publisher (backend.live.publisher) does that after COMMIT. Views call exactly one command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.core import db as core_db
from backend.core.clock import now
from backend.core.db import write_transaction
from backend.core.errors import BadInput, Conflict, Forbidden, NotFound, TooManyRequests
from backend.extensions import db
from backend.kiosks.models import KioskRef
from backend.live import events
from backend.messaging import commands as outbox
from backend.policy import (
    AT_COUNTER,
    PAUSE_MINUTES_MAX,
    PAUSE_MINUTES_MIN,
    Action,
    AppointmentStatus,
    Channel,
    CounterStatus,
    Decision,
    IllegalTransitionError,
    Lane,
    Level,
    Ordering,
    Outcome,
    PauseReason,
    QueueItem,
    QueuePolicy,
    Reason,
    Role,
    TicketStatus,
    can_rejoin,
    choose_next,
    format_label,
    let_ahead_queue_at,
    next_queue_at,
    next_status,
    raise_fair_wait,
    rejoin_queue_at,
    service_day,
)
from backend.policy.learning import learn, trusted_minutes
from backend.queue.models import DailySequence, Ticket, TicketEvent, VisitPart
from backend.queue.readmodel import learned_store_patience
from backend.staff.models import User
from backend.stores.models import Counter, Service, Store
from backend.stores.operations import find_counter, lock_store
from backend.stores.settings import ServiceInfo, StoreConfig, StoreSettings, store_config

# Lanes of the last calls kept on the store row (the VIP share looks at the last few).
RECENT_LANES_KEPT = 10


def _authorize(actor: User | None, store: Store) -> None:
    if actor is not None and not actor.can_act_in(store):
        raise Forbidden(_l("Your account does not belong to this store."))


# --- the command frame ----------------------------------------------------------------------


class Command:
    """State of one running command: the locked store, the clock reading, the changes."""

    def __init__(self, store: Store, moment: datetime, actor: User | None) -> None:
        self.store = store
        self.now = moment
        self.actor = actor
        self.day = service_day(moment, store.timezone)
        self.settings = StoreSettings.of(store)
        self.config: StoreConfig = store_config(store.id, store.config_version)
        # (ticket, action, counter number) per transition, in order; one version each.
        self.changes: list[tuple[Ticket, Action, int | None]] = []
        self.trail: list[tuple[Ticket, dict[str, Any]]] = []
        self.counters_changed: list[Counter] = []

    def brief(self, ticket: Ticket) -> dict[str, Any]:
        """The thin event's ticket: numbers only, built without a query."""
        service = self.config.service_by_id(ticket.service_id)
        return {
            "id": ticket.id,
            "label": ticket.label,
            "service": service.code,
            "lane": str(ticket.lane),
            "status": str(ticket.status),
            "channel": str(ticket.channel),
            "counter": self.config.number_of(ticket.counter_id),
            "issued_at": _iso(ticket.issued_at),
            "called_at": _iso(ticket.called_at),
            "recall_count": ticket.recall_count,
        }

    def next_status(self, ticket: Ticket, action: Action) -> TicketStatus:
        """Where `action` takes the ticket; a 409 naming its status if it cannot from there."""
        try:
            return next_status(action, TicketStatus(ticket.status))
        except IllegalTransitionError as exc:
            raise Conflict(
                _l(
                    "Ticket %(label)s is %(status)s; it cannot be changed like that.",
                    label=ticket.label,
                    status=status_text(exc.status),
                ),
                status=str(exc.status),
            ) from None

    def transition(
        self,
        ticket: Ticket,
        action: Action,
        counter: Counter | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Move the ticket through the state machine (409 if the move is illegal), log it."""
        target = self.next_status(ticket, action)
        before = TicketStatus(ticket.status)
        ticket.status = target
        where = counter.id if counter is not None else ticket.counter_id
        self._record(ticket, action, before, where, detail)
        self.changes.append((ticket, action, counter.number if counter else None))

    def record_issue(self, ticket: Ticket) -> None:
        self._record(ticket, Action.ISSUE, None, None, None)
        self.changes.append((ticket, Action.ISSUE, None))

    def _record(
        self,
        ticket: Ticket,
        action: Action,
        before: TicketStatus | None,
        counter_id: int | None,
        detail: dict[str, Any] | None,
    ) -> None:
        self.store.version += 1
        ticket.version = self.store.version
        row = {
            "store_id": self.store.id,
            "at": self.now,
            "action": action.value,
            "from_status": before.value if before else None,
            "to_status": str(ticket.status),  # as this transition left it
            "counter_id": counter_id,
            "actor_id": self.actor.id if self.actor else None,
            "detail": detail,
        }
        self.trail.append((ticket, row))

    def counter_changed(self, counter: Counter) -> None:
        if counter not in self.counters_changed:
            self.counters_changed.append(counter)

    def finish(self) -> None:
        """Append the events and stage the thin events (payloads from the rows just written)."""
        session = db.session
        if any(action is Action.ISSUE for _, action, _ in self.changes):
            session.flush()  # new tickets get their ids
        if self.trail:  # append-only rows: one INSERT for all of them, no objects to track
            session.execute(
                insert(TicketEvent), [{"ticket_id": ticket.id, **row} for ticket, row in self.trail]
            )
        version = self.store.version - len(self.changes)
        for ticket, action, counter in self.changes:
            version += 1
            where = counter if counter is not None else self.config.number_of(ticket.counter_id)
            self._stage(version, events.EVENT_FOR_ACTION[action], ticket, where)
        for changed in self.counters_changed:
            self.store.version += 1
            self._stage(self.store.version, events.EventName.COUNTER_CHANGED, None, changed.number)

    def _stage(
        self, version: int, name: events.EventName, ticket: Ticket | None, counter: int | None
    ) -> None:
        brief = self.brief(ticket) if ticket is not None else None
        core_db.stage(
            events.store_event(
                self.store.id, self.store.code, name, version=version, ticket=brief, counter=counter
            )
        )


@contextmanager
def command(
    *, store_id: int | None = None, code: str | None = None, actor: User | None = None
) -> Iterator[Command]:
    with write_transaction():
        store = lock_store(store_id=store_id, code=code)
        _authorize(actor, store)
        cmd = Command(store, now(), actor)
        yield cmd
        cmd.finish()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


# --- issuing ---------------------------------------------------------------------------------


def next_number(cmd: Command, prefix: str) -> int:
    """The per-store, per-prefix, per-day counter row, incremented in one statement."""
    return next_sequence(cmd.store.id, prefix, cmd.day)


def next_sequence(store_id: int, prefix: str, day: date) -> int:
    """One counter row's next number (tickets per prefix, complaint cases under their own)."""
    table = DailySequence.__table__
    assert isinstance(table, Table)
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(store_id=store_id, prefix=prefix, service_day=day, last_number=1)
        .on_conflict_do_update(
            index_elements=[table.c.store_id, table.c.prefix, table.c.service_day],
            set_={"last_number": table.c.last_number + 1},
        )
        .returning(table.c.last_number)
    )
    return int(db.session.execute(statement).scalar_one())


def _find_service(cmd: Command, code: str) -> ServiceInfo:
    service = cmd.config.service(code)
    if service is None or not service.active:
        raise BadInput(_l("Unknown service: %(code)s.", code=code), error_code="unknown_service")
    return service


@dataclass(frozen=True)
class Origin:
    """Who takes a ticket: a registered kiosk, a phone joining remotely, or staff."""

    channel: Channel
    kiosk: KioskRef | None = None
    remote_client: str | None = None  # hash of the browser's remote-join cookie
    # A remote joiner's mobile number for the "almost your turn" SMS, given with consent, and
    # the language of that SMS.
    phone: str | None = None
    phone_language: str | None = None


KIOSK_ORIGIN_REQUIRED = _l("This screen is not registered as a kiosk. Please ask our staff.")


def _check_origin(cmd: Command, origin: Origin, service: ServiceInfo) -> None:
    store = cmd.store
    if origin.channel == Channel.KIOSK:
        if origin.kiosk is None or origin.kiosk.store_id != store.id:
            raise Forbidden(KIOSK_ORIGIN_REQUIRED, error_code="kiosk_not_registered")
        _check_public(cmd, service, store.kiosk_cutoff_minutes)
        _check_kiosk_rate(cmd, origin.kiosk)
    elif origin.channel == Channel.REMOTE:
        if not store.remote_join:
            raise Forbidden(
                _l("Joining the queue from a phone is not available in this store today."),
                error_code="remote_join_closed",
            )
        if not origin.remote_client:
            raise BadInput(
                _l("Please open the join page first (and allow cookies) to join the queue."),
                error_code="no_client",
            )
        _check_public(cmd, service, store.remote_cutoff_minutes)
        _check_one_remote_ticket(cmd, origin.remote_client)
        _check_remote_cap(cmd)
        if origin.phone is not None and not re.fullmatch(store.phone_pattern, origin.phone):
            raise BadInput(_l("Please enter a valid mobile number."), error_code="bad_phone")
    elif cmd.actor is None:
        raise Forbidden()


def _check_public(cmd: Command, service: ServiceInfo, cutoff_minutes: int) -> None:
    """The kiosk and the phone issue only while the hall is open (minus the store's cut-off
    before closing), and VIP only where the store offers it publicly. Staff may always issue."""
    if not cmd.settings.public_service(service):
        raise Forbidden(
            _l("Please ask our staff for this service."), error_code="staff_issues_this_service"
        )
    state = cmd.settings.open_state(cmd.now)
    cutoff = timedelta(minutes=max(cutoff_minutes, 0))
    if state.open and state.closes_at is not None and cmd.now < state.closes_at - cutoff:
        return
    extra: dict[str, Any] = {"next_open": _iso(state.next_open)}
    if state.open and state.closes_at is not None:
        raise Conflict(
            _l("We have stopped taking new numbers for today. Thank you for your understanding."),
            error_code="closing_soon",
            closes_at=_iso(state.closes_at),
            **extra,
        )
    raise Conflict(_l("The hall is closed now."), error_code="store_closed", **extra)


def _check_remote_cap(cmd: Command) -> None:
    cap = cmd.store.remote_max_open
    if cap <= 0:
        return
    open_remote = db.session.scalar(
        select(func.count()).where(
            Ticket.store_id == cmd.store.id,
            Ticket.service_day == cmd.day,
            Ticket.channel == Channel.REMOTE,
            Ticket.status.in_([TicketStatus.WAITING, *AT_COUNTER]),
        )
    )
    if (open_remote or 0) >= cap:
        raise Conflict(
            _l(
                "Many people have joined from their phones already. Please take a number at "
                "the hall's kiosk."
            ),
            error_code="remote_full",
        )


def _check_kiosk_rate(cmd: Command, kiosk: KioskRef) -> None:
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
    active = db.session.execute(
        select(Ticket.label, Ticket.token).where(
            Ticket.store_id == cmd.store.id,
            Ticket.remote_client == client,
            Ticket.service_day == cmd.day,
            Ticket.status.in_([TicketStatus.WAITING, *AT_COUNTER]),
        )
    ).first()
    if active is not None:
        raise Conflict(
            _l("You already have number %(label)s in this queue.", label=active.label),
            error_code="already_in_queue",
            status_url=url_for("kiosk.ticket_status", token=active.token),
        )


def queue_ticket(
    cmd: Command, service: ServiceInfo, lane: Lane, prefix: str, channel: Channel, **extra: Any
) -> Ticket:
    """Number a new ticket and put it at the end of the queue: the one way a ticket enters it,
    from a kiosk, a phone, staff or a check-in."""
    number = next_number(cmd, prefix)
    queue_at = next_queue_at(cmd.store.last_queue_at, cmd.now)
    cmd.store.last_queue_at = queue_at
    ticket = Ticket(
        store_id=cmd.store.id,
        service_id=service.id,
        lane=lane,
        label=format_label(prefix, number),
        number=number,
        service_day=cmd.day,
        channel=channel,
        status=TicketStatus.WAITING,
        issued_at=cmd.now,
        queue_at=queue_at,
        **extra,
    )
    cmd.record_issue(ticket)
    db.session.add(ticket)
    return ticket


def issue_ticket(
    store_code: str,
    service_code: str,
    origin: Origin = Origin(Channel.STAFF),
    actor: User | None = None,
    *,
    idempotency_key: str | None = None,
    expected_wait: tuple[int, int] | None = None,
    level: Level = Level.NORMAL,
    note: str | None = None,
    then: Sequence[str] = (),
) -> Ticket:
    """A new ticket, or with an `idempotency_key` already used, the ticket that key made (a
    retry after a dropped connection prints nothing twice). `expected_wait` (from the read
    model, before the lock) refuses a public ticket that would be called after closing. Staff
    (a greeter on the floor) may give the customer a `level` (VIP, priority care) and a `note`
    for the clerk; a kiosk or a phone may not."""
    if (level is not Level.NORMAL or note) and origin.channel != Channel.STAFF:
        raise Forbidden(
            _l("Only staff can give a ticket a priority or a note."), error_code="staff_only"
        )
    with command(code=store_code, actor=actor) as cmd:
        if idempotency_key:
            made = db.session.scalar(
                select(Ticket).where(
                    Ticket.store_id == cmd.store.id, Ticket.idempotency_key == idempotency_key
                )
            )
            if made is not None:
                return _same_request(cmd, made, service_code)
        service = _find_service(cmd, service_code)
        _check_origin(cmd, origin, service)
        plan = _plan(cmd, origin, service, then)
        if origin.channel != Channel.STAFF:
            _check_call_before_closing(cmd, expected_wait)
        ticket = queue_ticket(
            cmd,
            service,
            Lane.VIP if level is Level.VIP else service.lane,
            service.prefix,
            origin.channel,
            kiosk_id=origin.kiosk.id if origin.kiosk else None,
            remote_client=origin.remote_client,
            phone=origin.phone if origin.channel == Channel.REMOTE else None,
            phone_language=origin.phone_language if origin.phone else None,
            idempotency_key=idempotency_key or None,
            priority_care=level is Level.PRIORITY_CARE,
            note=note.strip() if note and note.strip() else None,
            plan=plan,
        )
    return ticket


# A visit may ask for at most this many services in a row.
MAX_PLAN = 3


def _plan(
    cmd: Command, origin: Origin, first: ServiceInfo, then: Sequence[str]
) -> list[int] | None:
    """The services of a visit for several, by id in order (None for one service): each known,
    active and offered to this origin, none twice."""
    if not then:
        return None
    if len(then) + 1 > MAX_PLAN:
        raise BadInput(
            _l("At most %(n)s services in one visit.", n=MAX_PLAN), error_code="plan_too_long"
        )
    services = [first]
    for code in then:
        service = _find_service(cmd, code)
        if origin.channel != Channel.STAFF and not cmd.settings.public_service(service):
            raise Forbidden(
                _l("Please ask our staff for this service."),
                error_code="staff_issues_this_service",
            )
        if service.lane == Lane.APPOINTMENT:
            raise BadInput(
                _l("Appointments are checked in with their code, not added to a visit."),
                error_code="plan_appointment",
            )
        if any(s.id == service.id for s in services):
            raise BadInput(
                _l("Each service only once in a visit: %(code)s.", code=code),
                error_code="plan_repeats",
            )
        services.append(service)
    return [s.id for s in services]


def _same_request(cmd: Command, made: Ticket, service_code: str) -> Ticket:
    if cmd.config.service_by_id(made.service_id).code != service_code:
        raise Conflict(
            _l("This request key was already used for another ticket."),
            error_code="idempotency_key_reused",
        )
    return made


def _check_call_before_closing(cmd: Command, expected_wait: tuple[int, int] | None) -> None:
    state = cmd.settings.open_state(cmd.now)
    if expected_wait is None or state.closes_at is None:
        return
    if cmd.now + timedelta(minutes=expected_wait[0]) > state.closes_at:
        raise Conflict(
            _l(
                "The wait today would go past our closing time, so we cannot take a new "
                "number for this service now. Please come back tomorrow or book a time."
            ),
            error_code="after_closing",
            closes_at=_iso(state.closes_at),
        )


def confirm_arrival(ticket_id: int, token: str) -> Ticket:
    """The remote customer says "I am here" (status page, or the QR at the door)."""
    _holder_ticket(ticket_id, token)

    def body(cmd: Command, ticket: Ticket) -> None:
        if ticket.status != TicketStatus.WAITING:
            raise Conflict(_l("This number is not waiting any more."), error_code="not_waiting")
        if ticket.arrived_at is None:
            ticket.arrived_at = cmd.now
            cmd.transition(ticket, Action.ARRIVE)

    return _ticket_command(ticket_id, None, body)


# --- calling ---------------------------------------------------------------------------------


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


def _current_at(cmd: Command, counter: Counter) -> Ticket | None:
    return db.session.scalar(
        select(Ticket)
        .where(
            Ticket.store_id == cmd.store.id,
            Ticket.service_day == cmd.day,
            Ticket.counter_id == counter.id,
            Ticket.status.in_(AT_COUNTER),
        )
        .order_by(Ticket.called_at.desc())
        .limit(1)
    )


# Call requests remembered per counter: a retried or doubled click is answered, never acted on.
REQUEST_IDS_KEPT = 16


def _repeated(counter: Counter, request_id: str | None) -> bool:
    return bool(request_id) and request_id in (counter.recent_request_ids or ())


def _remember(counter: Counter, request_id: str | None) -> None:
    if request_id:
        kept = [*(counter.recent_request_ids or ()), request_id]
        counter.recent_request_ids = kept[-REQUEST_IDS_KEPT:]


def _free_counter(cmd: Command, current: Ticket | None, counter: Counter) -> Ticket | None:
    """ "Forgot to press complete": calling someone new ends the visit being served at the
    counter. A customer only called (perhaps still walking over) is never counted as served:
    the clerk starts, recalls or marks them missed first."""
    if current is None:
        return None
    if current.status == TicketStatus.CALLED:
        raise Conflict(
            _l(
                "%(label)s has been called but not served yet. Start serving, call again, "
                "or mark the number as missed first.",
                label=current.label,
            ),
            error_code="still_called",
            ticket=current.id,
        )
    following = _next_service(cmd, current)
    if following is not None:  # a visit for several services goes on to its next part
        _next_part(cmd, current, Outcome.DONE.value, following)
        return current
    current.outcome = Outcome.DONE
    _release(cmd, current, Action.COMPLETE, counter, {"auto": True})
    return current


def _candidates(cmd: Command) -> list[QueueItem]:
    """The oldest waiting ticket of each service (within one service the oldest always outranks
    the others), and every checked-in appointment: the only tickets call-next can pick. One
    statement, however long the queue."""
    # Tickets sent to one counter queue apart from the rest of their service, appointments apart
    # from walk-ins (earliest slot first), and priority care apart from the others (each such
    # ticket can go first).
    group = (Ticket.service_id, Ticket.lane, Ticket.target_counter_id, Ticket.priority_care)
    ranked = (
        select(
            Ticket.id,
            Ticket.lane,
            Ticket.queue_at,
            Ticket.service_id,
            Ticket.target_counter_id,
            Ticket.due_at,
            Ticket.priority_care,
            Ticket.waits_for_slot,
            func.row_number()
            .over(partition_by=group, order_by=(Ticket.due_at, Ticket.queue_at, Ticket.id))
            .label("rank"),
            # The group's size: the head stands for the whole group in the backlog.
            func.count().over(partition_by=group).label("waiting"),
        )
        .where(
            Ticket.store_id == cmd.store.id,
            Ticket.service_day == cmd.day,
            Ticket.status == TicketStatus.WAITING,
            *_callable_only(cmd),
        )
        .subquery()
    )
    rows = db.session.execute(
        select(ranked, Service.learned_minutes, Service.learned_count)
        .join(Service, Service.id == ranked.c.service_id)
        .where(or_(ranked.c.rank == 1, ranked.c.lane == Lane.APPOINTMENT.value))
    ).all()
    items = []
    for row in rows:
        service = cmd.config.service_by_id(row.service_id)
        minutes = trusted_minutes(service.expected_minutes, row.learned_minutes, row.learned_count)
        items.append(
            QueueItem(
                row.id,
                Lane(row.lane),
                row.queue_at,
                service.code,
                cmd.config.number_of(row.target_counter_id),
                row.due_at,
                service.lane,
                minutes,
                bool(row.priority_care),
                bool(row.waits_for_slot),
                group_size=row.waiting,
            )
        )
    return items


def _call_policy(cmd: Command, candidates: Sequence[QueueItem]) -> QueuePolicy:
    """The store's call order; for the deadline order, with the day's longest plain-queue wait
    raised to the one now (kept on the store row: it never decreases within a day), counting
    who leaves as the store's earlier days showed (`learned_store_patience`)."""
    if Ordering(cmd.settings.ordering) is not Ordering.DEADLINE:
        return cmd.settings.policy(cmd.day)
    learned = learned_store_patience(cmd.store.id, cmd.day, cmd.store.timezone)
    policy = cmd.settings.policy(cmd.day, learned)
    serving = db.session.scalar(
        select(func.count())
        .select_from(Counter)
        .where(
            Counter.store_id == cmd.store.id,
            Counter.status == CounterStatus.OPEN,
            Counter.clerk_id.is_not(None),  # staffed: as the estimate counts them
            Counter.archived.is_(False),
        )
    )
    raised = raise_fair_wait(policy, candidates, serving or 0, cmd.now)
    if raised.fair_wait != policy.fair_wait:
        cmd.store.fair_wait_minutes = raised.fair_wait
        cmd.store.fair_wait_day = cmd.day
    return raised


def _callable_only(cmd: Command) -> list[Any]:
    """A remote ticket waits for its "I am here" when the store asks for it: skipped, not lost."""
    if not cmd.store.remote_requires_arrival:
        return []
    return [or_(Ticket.channel != Channel.REMOTE, Ticket.arrived_at.is_not(None))]


def _call(cmd: Command, ticket: Ticket, counter: Counter, reason: str) -> None:
    ticket.counter_id = counter.id
    ticket.target_counter_id = None
    ticket.clerk_id = cmd.actor.id if cmd.actor else None
    ticket.called_at = cmd.now
    cmd.transition(ticket, Action.CALL, counter, {"reason": reason})
    outbox.note_called(cmd.store.id, ticket, counter.number, cmd.now)
    lanes = [*(cmd.store.recent_lanes or ()), str(ticket.lane)]
    cmd.store.recent_lanes = lanes[-RECENT_LANES_KEPT:]


def call_next(
    store_code: str, counter_number: int, actor: User | None, request_id: str | None = None
) -> CallResult:
    with command(code=store_code, actor=actor) as cmd:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        current = _current_at(cmd, counter)
        if _repeated(counter, request_id):
            # The same click arrived twice (or an older one late): answer, call nobody else.
            return CallResult(current, Decision(None, Reason.DUPLICATE_REQUEST))
        _remember(counter, request_id)
        completed = _free_counter(cmd, current, counter)
        view = counter.view
        recent = [Lane(lane) for lane in cmd.store.recent_lanes or ()]
        # The changes so far (the visit completed, the request remembered) touch no waiting
        # ticket: the reads below need not flush them first (one store UPDATE, not two).
        with db.session.no_autoflush:
            candidates = _candidates(cmd)
            policy = _call_policy(cmd, candidates)
            decision = choose_next(view, candidates, policy, cmd.now, recent[-RECENT_LANES_KEPT:])
            ticket = None
            if decision.ticket_id is not None:
                ticket = db.session.get(Ticket, decision.ticket_id)
                assert ticket is not None  # a candidate of this very transaction
                _call(cmd, ticket, counter, decision.reason_code)
    return CallResult(ticket, decision, completed)


def call_ticket(
    ticket_id: int, counter_number: int, actor: User | None, request_id: str | None = None
) -> CallResult:
    """Call one chosen waiting ticket (picked from the list) to a counter."""
    completed: list[Ticket | None] = []

    def body(cmd: Command, ticket: Ticket) -> None:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        if _repeated(counter, request_id) and ticket.counter_id == counter.id:
            return
        if ticket.target_counter_id not in (None, counter.id):
            raise Conflict(
                _l("This customer was sent to another counter."), error_code="other_counter"
            )
        _remember(counter, request_id)
        if ticket.status != TicketStatus.WAITING:
            cmd.transition(ticket, Action.CALL)  # raises the state machine's conflict
        completed.append(_free_counter(cmd, _current_at(cmd, counter), counter))
        _call(cmd, ticket, counter, Reason.CHOSEN_BY_CLERK.value)

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
    ticket.finished_at = cmd.now
    cmd.transition(ticket, action, counter, detail)
    # A booking's ticket: in the appointment lane, or the walk-in ticket an early customer took
    # instead (its channel says it came from the booking).
    booked = ticket.lane == Lane.APPOINTMENT or ticket.channel == Channel.APPOINTMENT
    if action in APPOINTMENT_AFTER and booked:
        appointment = ticket.appointment
        if appointment is not None:
            appointment.status = APPOINTMENT_AFTER[action]
            appointment.closed_at = cmd.now


def _ticket_store(ticket_id: int) -> int:
    store_id = db.session.scalar(select(Ticket.store_id).where(Ticket.id == ticket_id))
    if store_id is None:
        raise NotFound(_l("Unknown ticket."))
    return int(store_id)


def _ticket_command(
    ticket_id: int, actor: User | None, body: Callable[[Command, Ticket], None]
) -> Ticket:
    store_id = _ticket_store(ticket_id)
    with command(store_id=store_id, actor=actor) as cmd:
        ticket = db.session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).execution_options(populate_existing=True)
        )
        if ticket is None:
            raise NotFound(_l("Unknown ticket."))
        _check_counter_holder(cmd, ticket, actor)
        body(cmd, ticket)
    return ticket


def _check_counter_holder(cmd: Command, ticket: Ticket, actor: User | None) -> None:
    """A customer at a counter is served by the clerk signed in there: a clerk whose counter was
    taken over cannot keep acting on its customer. Managers may step in anywhere."""
    if actor is None or actor.role in (Role.MANAGER, Role.ADMIN):
        return
    held = ticket.status in (*AT_COUNTER, TicketStatus.PARKED)
    if ticket.counter_id is None or not held:
        return
    clerk = db.session.scalar(select(Counter.clerk_id).where(Counter.id == ticket.counter_id))
    if clerk != actor.id:
        raise Forbidden(
            _l(
                "%(label)s is being served at counter %(n)s by another clerk.",
                label=ticket.label,
                n=cmd.config.number_of(ticket.counter_id),
            ),
            error_code="not_your_counter",
        )


def recall_ticket(ticket_id: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        ticket.recall_count += 1
        cmd.transition(ticket, Action.RECALL, detail={"recall": ticket.recall_count})
        outbox.note_called(
            cmd.store.id, ticket, cmd.config.number_of(ticket.counter_id), cmd.now, recall=True
        )

    return _ticket_command(ticket_id, actor, body)


def start_ticket(ticket_id: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        ticket.started_at = cmd.now
        cmd.transition(ticket, Action.START)

    return _ticket_command(ticket_id, actor, body)


STANDARD_OUTCOMES = frozenset(o.value for o in Outcome)


def complete_ticket(
    ticket_id: int, actor: User | None, outcome: str | None = None, case: Any = None
) -> Ticket:
    """Complete a visit with a standard outcome or one of its service's own codes; a complaint
    with its details (`case`: a backend.cases CaseInput) opens its case in the same transaction."""
    code = outcome or Outcome.DONE.value
    if case is not None and code != Outcome.COMPLAINT.value:
        raise BadInput(
            _l("A case is opened only with the complaint outcome."), error_code="case_not_complaint"
        )

    def body(cmd: Command, ticket: Ticket) -> None:
        service = cmd.config.service_by_id(ticket.service_id)
        if code not in STANDARD_OUTCOMES and code not in service.outcome_codes():
            raise BadInput(
                _l("Unknown outcome: %(code)s.", code=code), error_code="unknown_outcome"
            )
        following = _next_service(cmd, ticket)
        if following is None:
            ticket.outcome = code
            _release(cmd, ticket, Action.COMPLETE, None, {"outcome": code})
            _learn_duration(cmd, ticket)
        else:
            _next_part(cmd, ticket, code, following)
        if case is not None:
            from backend.cases.commands import CaseSource, open_case_in  # cases number by ours

            open_case_in(cmd.store, case, actor, CaseSource.COUNTER, ticket_id=ticket.id)

    return _ticket_command(ticket_id, actor, body)


def _next_service(cmd: Command, ticket: Ticket) -> ServiceInfo | None:
    """The service a visit for several goes on to after this part (None: this is its last, or
    the rest of its plan is no longer offered)."""
    plan = ticket.plan or []
    step = ticket.plan_step + 1
    if step >= len(plan):
        return None
    following = cmd.config.service_by_id(plan[step])
    return following if following.active else None


def _next_part(cmd: Command, ticket: Ticket, code: str, following: ServiceInfo) -> None:
    """A part of a visit is done: kept as a VisitPart (what the reports count), and the ticket
    waits for the next service with its label, its link and its first `queue_at` (its place for
    fairness); the part's promise stays with the part."""
    db.session.add(
        VisitPart(
            ticket_id=ticket.id,
            store_id=ticket.store_id,
            step=ticket.plan_step,
            service_id=ticket.service_id,
            lane=ticket.lane,
            service_day=ticket.service_day,
            counter_id=ticket.counter_id,
            clerk_id=ticket.clerk_id,
            queued_at=ticket.part_at or ticket.issued_at,
            called_at=ticket.called_at,
            started_at=ticket.started_at,
            finished_at=cmd.now,
            outcome=code,
            promised_minutes=ticket.promised_minutes,
            promised_low=ticket.promised_low,
            promised_high=ticket.promised_high,
            promised_at=ticket.promised_at,
            promised_scale=ticket.promised_scale,
        )
    )
    ticket.finished_at = cmd.now
    _learn_duration(cmd, ticket)
    ticket.finished_at = None
    service = cmd.config.service_by_id(ticket.service_id)
    detail = {"outcome": code, "from_service": service.code, "to_service": following.code}
    cmd.transition(ticket, Action.NEXT_PART, None, detail)
    ticket.service_id = following.id
    if ticket.lane != Lane.VIP:  # a VIP stays one from part to part
        ticket.lane = following.lane
    ticket.plan_step += 1
    ticket.part_at = cmd.now
    ticket.counter_id = ticket.clerk_id = ticket.target_counter_id = None
    ticket.called_at = ticket.started_at = None
    ticket.outcome = None
    ticket.recall_count = 0
    ticket.promised_minutes = ticket.promised_low = ticket.promised_high = None
    ticket.promised_at = ticket.promised_scale = None


# A duration this many times the current estimate is a forgotten "complete", not a visit.
OUTLIER_FACTOR = 5


def _learn_duration(cmd: Command, ticket: Ticket) -> None:
    """Feed the visit's duration (start, or call, to completion) into the service's estimate."""
    began = ticket.started_at or ticket.called_at
    if began is None or ticket.finished_at is None:
        return
    service = db.session.get(Service, ticket.service_id)
    if service is None:
        return
    minutes = (ticket.finished_at - began).total_seconds() / 60
    current = service.learned_minutes or service.expected_minutes
    if minutes <= 0 or minutes > OUTLIER_FACTOR * current:
        return
    service.learned_minutes = learn(current, minutes)
    service.learned_count += 1


def mark_no_show(ticket_id: int, actor: User | None) -> Ticket:
    return _ticket_command(ticket_id, actor, lambda cmd, t: _release(cmd, t, Action.NO_SHOW, None))


def cancel_ticket(ticket_id: int, actor: User | None) -> Ticket:
    """Staff cancel any waiting or called ticket; a customer cancels through their token."""
    return _ticket_command(ticket_id, actor, lambda cmd, t: _release(cmd, t, Action.CANCEL, None))


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
        from_service = cmd.config.service_by_id(ticket.service_id)
        detail: dict[str, Any] = {"from_service": from_service.code}
        target = _find_service(cmd, service_code) if service_code else None
        if target is not None:
            if target.id == ticket.service_id and counter_number is None:
                raise BadInput(
                    _l("The ticket is already for this service."), error_code="same_service"
                )
            detail["to_service"] = target.code
        target_counter = cmd.config.counter(counter_number) if counter_number else None
        if counter_number and target_counter is None:
            raise NotFound(_l("Unknown counter."))
        if target_counter is not None:
            lane = target.lane if target is not None else Lane(ticket.lane)
            service_lane = target.lane if target is not None else from_service.lane
            if lane not in target_counter.lanes and service_lane not in target_counter.lanes:
                raise Conflict(
                    _l(
                        "Counter %(n)s does not serve this business. Choose a counter that does.",
                        n=target_counter.number,
                    ),
                    error_code="counter_cannot_serve",
                )
            detail["to_counter"] = target_counter.number
        cmd.transition(ticket, Action.TRANSFER, None, detail)
        if target is not None:
            _change_service(ticket, target)
        ticket.target_counter_id = target_counter.id if target_counter else None
        if note is not None and note.strip():
            ticket.note = note.strip()
        ticket.counter_id = None
        ticket.clerk_id = None
        ticket.called_at = None
        ticket.started_at = None

    return _ticket_command(ticket_id, actor, body)


def _change_service(ticket: Ticket, target: ServiceInfo) -> None:
    ticket.service_id = target.id
    ticket.lane = target.lane
    if ticket.plan:  # a visit for several services: this part is now for the target
        ticket.plan = [
            target.id if step == ticket.plan_step else service_id
            for step, service_id in enumerate(ticket.plan)
        ]


def park_ticket(ticket_id: int, actor: User | None) -> Ticket:
    """The customer steps away (to fetch a document); the counter may serve others meanwhile."""
    return _ticket_command(ticket_id, actor, lambda cmd, t: cmd.transition(t, Action.PARK))


def resume_ticket(ticket_id: int, counter_number: int, actor: User | None) -> Ticket:
    def body(cmd: Command, ticket: Ticket) -> None:
        counter = find_counter(cmd.store, counter_number)
        _require_signed_in(counter, actor)
        # A ticket that is not parked is told so (not "parked at another counter").
        cmd.next_status(ticket, Action.RESUME)
        if ticket.counter_id != counter.id:
            raise Conflict(
                _l("This customer was parked at another counter."), error_code="other_counter"
            )
        if _current_at(cmd, counter) is not None:
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
    with command(code=store_code, actor=actor) as cmd:
        counter = find_counter(cmd.store, number)
        before = (counter.clerk_id, counter.status, counter.pause_reason, counter.back_at)
        body(cmd, counter)
        if (counter.clerk_id, counter.status, counter.pause_reason, counter.back_at) != before:
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
            counter.back_at = None  # nobody is coming back to it

    return _counter_command(store_code, number, actor, body)


def _pause_minutes(minutes: object) -> int | None:
    """The planned length of a pause: None (not said), else whole minutes within bounds."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise BadInput(
            _l("The pause length must be a whole number of minutes."),
            error_code="invalid_minutes",
            fields=["minutes"],
        )
    if not PAUSE_MINUTES_MIN <= minutes <= PAUSE_MINUTES_MAX:
        raise BadInput(
            _l(
                "The pause length must be between %(low)s and %(high)s minutes.",
                low=PAUSE_MINUTES_MIN,
                high=PAUSE_MINUTES_MAX,
            ),
            error_code="invalid_minutes",
            fields=["minutes"],
        )
    return minutes


def pause_counter(
    store_code: str, number: int, actor: User, reason: str, minutes: object = None
) -> Counter:
    """Pause a counter, with a planned return `minutes` from the store's clock if the clerk said
    how long (none: "not sure"). Pausing again sets the return anew from the same request."""
    try:
        why = PauseReason(reason)
    except ValueError:
        raise BadInput(
            _l("Unknown reason: %(code)s.", code=reason), error_code="unknown_reason"
        ) from None
    length = _pause_minutes(minutes)

    def body(cmd: Command, counter: Counter) -> None:
        counter.status = CounterStatus.PAUSED
        counter.pause_reason = why.value
        counter.back_at = None if length is None else cmd.now + timedelta(minutes=length)

    return _counter_command(store_code, number, actor, body)


def resume_counter(store_code: str, number: int, actor: User) -> Counter:
    def body(cmd: Command, counter: Counter) -> None:
        counter.status = CounterStatus.OPEN
        counter.pause_reason = None
        counter.back_at = None

    return _counter_command(store_code, number, actor, body)


# --- the customer's own commands (authorised by the ticket's token) -------------------------


def _holder_ticket(ticket_id: int, token: str) -> None:
    found = db.session.scalar(select(Ticket.id).where(Ticket.token == token)) if token else None
    if found is None:
        raise NotFound(_l("This ticket link is not valid or has expired."))
    if found != ticket_id:
        raise Forbidden(_l("This ticket link does not match the ticket."))


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
        if store.last_queue_at is None or ticket.queue_at > store.last_queue_at:
            store.last_queue_at = ticket.queue_at
        ticket.rejoin_count += 1
        ticket.counter_id = None
        ticket.called_at = None
        ticket.finished_at = None

    return _ticket_command(ticket_id, None, body)


@dataclass(frozen=True)
class LetAheadResult:
    """The ticket after letting others go ahead, how many were asked for and how many went."""

    ticket: Ticket
    asked: int
    moved: int


def let_ahead(ticket_id: int, token: str, places: int) -> LetAheadResult:
    """让号: a waiting customer lets up to `places` people behind them go ahead, once per ticket,
    at most the store's `let_ahead_places`. The places are counted in the ticket's own queue (its
    service, lane, and kind: the tickets the same counters call in queue-time order whatever the
    ordering), among the tickets that can be called now; with fewer people behind, it moves
    behind the last of them (the answer says how many)."""
    _holder_ticket(ticket_id, token)
    moved: list[int] = []

    def body(cmd: Command, ticket: Ticket) -> None:
        allowed = cmd.store.let_ahead_places
        if allowed <= 0:
            raise Conflict(
                _l("Letting others go ahead is not available in this store."),
                error_code="let_ahead_off",
            )
        if ticket.status != TicketStatus.WAITING:
            raise Conflict(_l("This number is not waiting any more."), error_code="not_waiting")
        if ticket.let_ahead_count > 0:
            raise Conflict(
                _l("You have already let others go ahead once with this number."),
                error_code="already_let_ahead",
            )
        if places > allowed:
            raise BadInput(
                _l("You can let at most %(n)s people go ahead.", n=allowed),
                error_code="too_many_places",
                allowed=allowed,
            )
        if ticket.lane == Lane.APPOINTMENT or ticket.target_counter_id is not None:
            raise Conflict(
                _l("This number is called at its own time, so it cannot let others go ahead."),
                error_code="own_time",
            )
        behind = _behind_in_queue(cmd, ticket)
        if not behind:
            raise Conflict(
                _l(
                    "Nobody is waiting behind you for this business, so there is nobody to let "
                    "go ahead."
                ),
                error_code="nobody_behind",
            )
        count = min(places, len(behind))
        try:
            queue_at = let_ahead_queue_at(behind, count)
        except ValueError:
            raise Conflict(_l("Please try again in a moment."), error_code="try_again") from None
        cmd.transition(
            ticket,
            Action.LET_AHEAD,
            detail={"asked": places, "places": count, "reason": "let_ahead"},
        )
        ticket.queue_at = queue_at
        if cmd.store.last_queue_at is None or queue_at > cmd.store.last_queue_at:
            cmd.store.last_queue_at = queue_at
        ticket.let_ahead_count += 1
        moved.append(count)

    ticket = _ticket_command(ticket_id, None, body)
    return LetAheadResult(ticket, places, moved[0])


def _behind_in_queue(cmd: Command, ticket: Ticket) -> list[datetime]:
    """The queue times of the callable tickets after this one in its own queue, oldest first."""
    return list(
        db.session.scalars(
            select(Ticket.queue_at)
            .where(
                Ticket.store_id == cmd.store.id,
                Ticket.service_day == ticket.service_day,
                Ticket.status == TicketStatus.WAITING,
                Ticket.service_id == ticket.service_id,
                Ticket.lane == ticket.lane,
                Ticket.target_counter_id.is_(None),
                Ticket.priority_care == ticket.priority_care,
                Ticket.id != ticket.id,
                or_(
                    Ticket.queue_at > ticket.queue_at,
                    (Ticket.queue_at == ticket.queue_at) & (Ticket.id > ticket.id),
                ),
                *_callable_only(cmd),
            )
            .order_by(Ticket.queue_at, Ticket.id)
        )
    )


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


# --- the live floor: a manager calls a customer to a clerk's counter -------------------------


def call_ticket_to_counter(ticket_id: int, counter_number: int, actor: User) -> CallResult:
    """A manager (the console's live floor) calls one waiting ticket to a counter where a clerk is
    signed in, open and free; the clerk there serves it (the visit is theirs, the event names the
    manager). Never to a closed, paused or busy counter: nobody is called to an empty desk, and
    the clerk's own customer is never completed by someone else's call."""
    if actor.role not in (Role.MANAGER, Role.ADMIN):
        raise Forbidden(_l("Only a manager may call a customer to another clerk's counter."))

    def body(cmd: Command, ticket: Ticket) -> None:
        counter = find_counter(cmd.store, counter_number)
        if counter.clerk_id is None:
            raise Conflict(
                _l("Nobody is signed in at counter %(n)s.", n=counter.number),
                error_code="counter_closed",
            )
        if counter.status == CounterStatus.PAUSED:
            raise Conflict(
                _l("Counter %(n)s is paused.", n=counter.number), error_code="counter_paused"
            )
        if ticket.target_counter_id not in (None, counter.id):
            raise Conflict(
                _l("This customer was sent to another counter."), error_code="other_counter"
            )
        if ticket.status != TicketStatus.WAITING:
            cmd.transition(ticket, Action.CALL)  # raises the state machine's conflict
        current = _current_at(cmd, counter)
        if current is not None:
            raise Conflict(
                _l("Counter %(n)s is busy with %(label)s.", n=counter.number, label=current.label),
                error_code="counter_busy",
            )
        _call(cmd, ticket, counter, Reason.CHOSEN_BY_CLERK.value)
        ticket.clerk_id = counter.clerk_id

    ticket = _ticket_command(ticket_id, actor, body)
    return CallResult(ticket, Decision(ticket.id, Reason.CHOSEN_BY_CLERK, Lane(ticket.lane)))
