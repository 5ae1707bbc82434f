"""The ticket state machine: (action, from-status) -> to-status; anything absent is illegal."""

from __future__ import annotations

from .enums import Action, TicketStatus

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
    (Action.ARRIVE, TicketStatus.WAITING): TicketStatus.WAITING,
    (Action.NEXT_PART, TicketStatus.CALLED): TicketStatus.WAITING,
    (Action.NEXT_PART, TicketStatus.SERVING): TicketStatus.WAITING,
    (Action.NEXT_PART, TicketStatus.PARKED): TicketStatus.WAITING,
    (Action.LET_AHEAD, TicketStatus.WAITING): TicketStatus.WAITING,
}

# Moves the engine makes as part of another command, never asked for on their own.
ENGINE_MOVES = frozenset({Action.NEXT_PART})

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
    return [action for (action, src) in TRANSITIONS if src == status and action not in ENGINE_MOVES]
