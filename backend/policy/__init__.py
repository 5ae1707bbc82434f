"""The pure policy core: no Flask, no database. State goes in, a decision comes out.

The live engine, the read model's estimate and the simulator (`backend.policy.sim`) all call these
functions, so the order and the waits customers see are the ones the simulator measured.
"""

from .enums import (
    Action,
    AppointmentStatus,
    Channel,
    CounterStatus,
    Lane,
    Level,
    Outcome,
    PauseReason,
    Role,
    TicketStatus,
)
from .ordering import (
    CounterView,
    Decision,
    Ordering,
    QueueItem,
    QueuePolicy,
    Reason,
    can_serve,
    choose_next,
    due_appointment,
    may_call,
    oldest_by_lane,
    positions,
    response_ratio,
    vip_turn,
)
from .queueing import (
    ONE_TICK,
    QUEUE_SPACING,
    can_rejoin,
    format_label,
    next_queue_at,
    rejoin_queue_at,
    service_day,
)
from .transitions import (
    AT_COUNTER,
    TRANSITIONS,
    IllegalTransitionError,
    allowed_actions,
    next_status,
)

__all__ = [
    "AT_COUNTER",
    "ONE_TICK",
    "QUEUE_SPACING",
    "TRANSITIONS",
    "Action",
    "AppointmentStatus",
    "Channel",
    "CounterStatus",
    "CounterView",
    "Decision",
    "IllegalTransitionError",
    "Lane",
    "Level",
    "Ordering",
    "Outcome",
    "PauseReason",
    "QueueItem",
    "QueuePolicy",
    "Reason",
    "Role",
    "TicketStatus",
    "allowed_actions",
    "can_rejoin",
    "can_serve",
    "choose_next",
    "due_appointment",
    "format_label",
    "may_call",
    "next_queue_at",
    "next_status",
    "oldest_by_lane",
    "positions",
    "rejoin_queue_at",
    "response_ratio",
    "service_day",
    "vip_turn",
]
