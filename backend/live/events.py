"""Every Socket.IO event name and payload, declared once, and the one place that emits them.

The engine stages events while its transaction is open (payloads are built from the state it is
about to commit); they are emitted only after COMMIT and dropped on ROLLBACK, so a client never
sees a change that did not happen. static/js/common.js uses the same names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask import current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from backend.extensions import socketio
from backend.policy import Action

OUTBOX_KEY = "event_outbox"


class EventName(StrEnum):
    # To a store's displays and counters. Payload: StoreEvent below.
    ISSUED = "issued"
    CALLED = "called"
    RECALLED = "recalled"
    STARTED = "started"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"
    REJOINED = "rejoined"
    PARKED = "parked"
    RESUMED = "resumed"
    # To displays and counters when a counter opens, pauses or changes hands.
    COUNTER_CHANGED = "counter_changed"
    # To one ticket's watchers: {"version", "ticket": public ticket view}.
    TICKET = "ticket"


EVENT_FOR_ACTION: dict[Action, EventName] = {
    Action.ISSUE: EventName.ISSUED,
    Action.CALL: EventName.CALLED,
    Action.RECALL: EventName.RECALLED,
    Action.START: EventName.STARTED,
    Action.COMPLETE: EventName.COMPLETED,
    Action.NO_SHOW: EventName.NO_SHOW,
    Action.CANCEL: EventName.CANCELLED,
    Action.TRANSFER: EventName.TRANSFERRED,
    Action.REJOIN: EventName.REJOINED,
    Action.PARK: EventName.PARKED,
    Action.RESUME: EventName.RESUMED,
}


def display_room(store_code: str) -> str:
    return f"store:{store_code}:display"


def counter_room(store_code: str) -> str:
    return f"store:{store_code}:counter"


TICKET_ROOM_PREFIX = "ticket:"


def ticket_room(ticket_id: int) -> str:
    return f"{TICKET_ROOM_PREFIX}{ticket_id}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    name: EventName
    payload: dict[str, Any]
    rooms: tuple[str, ...]


def stage(session: Any, outgoing: Outgoing) -> None:
    session.info.setdefault(OUTBOX_KEY, []).append(outgoing)


def stage_store_event(
    session: Any,
    store_code: str,
    action: Action,
    *,
    version: int,
    ticket: dict[str, Any],
    counter: int | None,
    counters: list[dict[str, Any]],
    lanes: list[dict[str, Any]],
    missed: list[dict[str, Any]],
) -> None:
    """StoreEvent: {version, event, ticket (brief), counter, counters, lanes, missed}.
    Ticket numbers and counters only: no personal data ever reaches these rooms."""
    name = EVENT_FOR_ACTION[action]
    payload = {
        "version": version,
        "event": name.value,
        "ticket": ticket,
        "counter": counter,
        "counters": counters,
        "lanes": lanes,
        "missed": missed,
    }
    stage(session, Outgoing(name, payload, (display_room(store_code), counter_room(store_code))))


def stage_counter_event(
    session: Any,
    store_code: str,
    *,
    version: int,
    counter: int,
    counters: list[dict[str, Any]],
    lanes: list[dict[str, Any]],
) -> None:
    """A counter opened, paused or changed hands: {version, event, counter, counters, lanes}."""
    payload = {
        "version": version,
        "event": EventName.COUNTER_CHANGED.value,
        "ticket": None,
        "counter": counter,
        "counters": counters,
        "lanes": lanes,
    }
    rooms = (display_room(store_code), counter_room(store_code))
    stage(session, Outgoing(EventName.COUNTER_CHANGED, payload, rooms))


def stage_ticket_event(session: Any, version: int, ticket: dict[str, Any]) -> None:
    payload = {"version": version, "ticket": ticket}
    stage(session, Outgoing(EventName.TICKET, payload, (ticket_room(ticket["id"]),)))


def _occupied_rooms() -> set[str]:
    server = socketio.server
    if server is None:
        return set()
    # list() copies under the GIL: the manager may change the dict from another thread.
    rooms = list(server.manager.rooms.get("/", {}).items())
    return {room for room, members in rooms if room and members}


def _rooms_are_local() -> bool:
    # With a message queue, watchers may be connected to another process: assume they exist.
    return not current_app.config.get("SOCKETIO_MESSAGE_QUEUE")


def watching_any_ticket() -> bool:
    if not _rooms_are_local():
        return True
    return any(room.startswith(TICKET_ROOM_PREFIX) for room in _occupied_rooms())


def watched_tickets(ticket_ids: set[int]) -> set[int]:
    """The tickets that have a status page open (all of them when that cannot be known)."""
    if not _rooms_are_local():
        return set(ticket_ids)
    rooms = _occupied_rooms()
    return {ticket_id for ticket_id in ticket_ids if ticket_room(ticket_id) in rooms}


def publish(outgoing: Outgoing) -> None:
    for room in outgoing.rooms:
        socketio.emit(outgoing.name.value, outgoing.payload, to=room)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Any) -> None:
    for outgoing in session.info.pop(OUTBOX_KEY, []):
        publish(outgoing)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Any, _previous_transaction: Any) -> None:
    session.info.pop(OUTBOX_KEY, None)
