"""The domain's named values: lanes, statuses, actions, channels, roles (stored as text)."""

from __future__ import annotations

from enum import StrEnum


class Lane(StrEnum):
    FAST = "fast"
    STANDARD = "standard"
    VIP = "vip"
    APPOINTMENT = "appointment"


class Level(StrEnum):
    """What staff may set on a ticket they issue: a VIP (金牌客户) joins the VIP lane; priority
    care (爱心: elderly, disabled, pregnant) goes first at the counters of its lane."""

    NORMAL = "normal"
    VIP = "vip"
    PRIORITY_CARE = "priority_care"


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
    # A remote customer confirms being in the hall (when the store asks for it).
    ARRIVE = "arrive"
    # A visit for several services: completing a part that is not the last sends the ticket on
    # to the next service's queue (the engine's move, made by "complete": no button of its own).
    NEXT_PART = "next_part"
    # A waiting customer lets a few people behind go ahead (让号), once.
    LET_AHEAD = "let_ahead"


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


# A pause's planned length, in whole minutes: at least one, at most a working day's eight hours.
PAUSE_MINUTES_MIN = 1
PAUSE_MINUTES_MAX = 480
# The lengths the counter terminal offers (besides "not sure").
PAUSE_MINUTES_CHOICES = (15, 30, 60)


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
