"""Every Socket.IO event name, room and payload, declared once.

Two kinds of events leave the server:

- **thin store events** (`issued`, `called`, … `counter_changed`), staged by a command inside its
  transaction and emitted right after COMMIT to the store's display and counter rooms:
  `{version, event, ticket: brief or null, counter: number or null}`. Each adds exactly 1 to the
  store's version, so a client that sees a gap reloads the snapshot.
- **projection updates**, computed after commit from the read model (backend.queue.readmodel) by
  the publisher, debounced per store: `queue_updated` to displays and counters
  `{version, counters, lanes, missed, now_calling, recent_calls}` (counters also get `waiting`),
  and `ticket` to one ticket's status pages `{version, ticket: public view in the page's language}`.

The browser imports the same names from static/js/lib/events.js, generated from this module
(`make generate`; tests/test_events.py fails when the file is out of date).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backend.policy import Action


class EventName(StrEnum):
    # Thin store events, to a store's displays and counters.
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
    ARRIVED = "arrived"
    # A part of a visit for several services is done: the ticket waits for the next service.
    NEXT_PART = "next_part"
    LET_AHEAD = "let_ahead"
    # A counter opened, paused or changed hands.
    COUNTER_CHANGED = "counter_changed"
    # The manager changed the store's rules, a service or a counter (screens reload the snapshot).
    SETTINGS_CHANGED = "settings_changed"
    # The thin events of one command, when it made more than one, in one frame and in order:
    # {version (the last one's), events: [thin event, ...]}. A call that completes the visit
    # under way reaches every display in one pass, and no screen draws the state in between.
    STEPS = "steps"
    # Projection updates.
    QUEUE_UPDATED = "queue_updated"
    TICKET = "ticket"
    # One store's line of the chain's overview (the administrators' room).
    CHAIN_STORE = "chain_store"


STORE_EVENTS: tuple[EventName, ...] = (
    EventName.ISSUED,
    EventName.CALLED,
    EventName.RECALLED,
    EventName.STARTED,
    EventName.COMPLETED,
    EventName.NO_SHOW,
    EventName.CANCELLED,
    EventName.TRANSFERRED,
    EventName.REJOINED,
    EventName.PARKED,
    EventName.RESUMED,
    EventName.ARRIVED,
    EventName.NEXT_PART,
    EventName.LET_AHEAD,
    EventName.COUNTER_CHANGED,
    EventName.SETTINGS_CHANGED,
)

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
    Action.ARRIVE: EventName.ARRIVED,
    Action.NEXT_PART: EventName.NEXT_PART,
    Action.LET_AHEAD: EventName.LET_AHEAD,
}

LANGUAGES = ("zh", "en")


def display_room(store_code: str) -> str:
    return f"store:{store_code}:display"


def counter_room(store_code: str) -> str:
    return f"store:{store_code}:counter"


def chain_room() -> str:
    """The administrators' overview of every store: one line per store as it changes."""
    return "chain"


TICKET_ROOM_PREFIX = "ticket:"


def ticket_room(ticket_id: int, lang: str) -> str:
    """One ticket's status pages in one language (each page gets its own language's view)."""
    return f"{TICKET_ROOM_PREFIX}{ticket_id}:{lang}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    name: EventName
    payload: dict[str, Any]
    rooms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreChange:
    """Staged by a command: the thin event, and which ticket (if any) its watchers must hear of."""

    store_id: int
    outgoing: Outgoing
    ticket_id: int | None


@dataclass(frozen=True, slots=True)
class TicketChange:
    """Staged by a command that changed what a ticket's holder sees without moving the queue
    (its complaint case): the ticket's open status pages get its new view, nothing else."""

    store_id: int
    ticket_id: int


def steps(changes: list[StoreChange]) -> list[Outgoing]:
    """What one command's thin events go out as: one frame per store (a `steps` frame when the
    command made several), in the order they were made. Every thin event of a store goes to the
    same rooms (its display and counter rooms)."""
    out: list[Outgoing] = []
    by_store: dict[int, list[Outgoing]] = {}
    for change in changes:
        by_store.setdefault(change.store_id, []).append(change.outgoing)
    for outgoing in by_store.values():
        if len(outgoing) == 1:
            out.append(outgoing[0])
            continue
        payload = {
            "version": outgoing[-1].payload["version"],
            "events": [o.payload for o in outgoing],
        }
        out.append(Outgoing(EventName.STEPS, payload, outgoing[0].rooms))
    return out


def store_event(
    store_id: int,
    store_code: str,
    name: EventName,
    *,
    version: int,
    ticket: dict[str, Any] | None,
    counter: int | None,
) -> StoreChange:
    """A thin store event: ticket numbers and counters only, never personal data."""
    payload = {"version": version, "event": name.value, "ticket": ticket, "counter": counter}
    rooms = (display_room(store_code), counter_room(store_code))
    return StoreChange(
        store_id, Outgoing(name, payload, rooms), ticket["id"] if ticket is not None else None
    )


def chain_store(line: dict[str, Any]) -> Outgoing:
    """One store's line of the chain's overview, to the administrators' room."""
    return Outgoing(EventName.CHAIN_STORE, line, (chain_room(),))


def queue_updated(
    store_code: str, public: dict[str, Any], staff_extra: dict[str, Any]
) -> list[Outgoing]:
    """The projection's update: the public part to displays, with the waiting list to counters."""
    return [
        Outgoing(EventName.QUEUE_UPDATED, public, (display_room(store_code),)),
        Outgoing(EventName.QUEUE_UPDATED, public | staff_extra, (counter_room(store_code),)),
    ]


def ticket_update(version: int, ticket: dict[str, Any], lang: str) -> Outgoing:
    payload = {"version": version, "ticket": ticket}
    return Outgoing(EventName.TICKET, payload, (ticket_room(ticket["id"], lang),))


def js_module() -> str:
    """static/js/lib/events.js: the same names for the browser."""
    names = "\n".join(f"  {e.name}: '{e.value}'," for e in EventName)
    store = ", ".join(f"'{e.value}'" for e in STORE_EVENTS)
    return (
        "// Generated from backend/live/events.py by `make generate`: do not edit by hand.\n"
        f"export const EVENTS = Object.freeze({{\n{names}\n}});\n"
        "// Thin store events: {version, event, ticket (brief) or null, counter or null}; "
        "each adds 1 to the version. A command's several come as one `steps` frame:\n"
        "// {version, events: [thin event, ...]}.\n"
        f"export const STORE_EVENTS = Object.freeze([{store}]);\n"
    )


if __name__ == "__main__":
    print(js_module(), end="")
