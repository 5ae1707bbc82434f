"""Request and response schemas. Requests are validated with them; the OpenAPI document is
generated from them (openapi.py), so the document cannot drift from what the API accepts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from backend.api.openapi import Out
from backend.policy import PAUSE_MINUTES_MAX, PAUSE_MINUTES_MIN, PauseReason

LaneName = Literal["fast", "standard", "vip", "appointment"]
StatusName = Literal["waiting", "called", "serving", "done", "no_show", "cancelled", "parked"]
EtaRange = tuple[int, int]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def one_of(choices: type[StrEnum]) -> WithJsonSchema:
    """Documents a text field's allowed values; the command refuses any other with its own code
    and message (e.g. `unknown_outcome`), which a validation error would not give."""
    return WithJsonSchema({"type": "string", "enum": [choice.value for choice in choices]})


# --- requests -------------------------------------------------------------------------------


class IssueTicketIn(Strict):
    service: str = Field(min_length=1, max_length=32, description="Service code, e.g. `A`.")
    channel: Literal["kiosk", "remote", "staff"] | None = Field(
        default=None,
        description="`kiosk` (a registered kiosk: X-Kiosk-Token header or its cookie), `remote` "
        "(a phone joining from the poster: one active ticket per browser), `staff` (a bearer "
        "token or staff session). Omitted: the caller's credentials decide.",
    )
    level: Literal["normal", "vip", "priority_care"] = Field(
        default="normal",
        description="Staff only: `vip` (the VIP lane) or `priority_care` (爱心: elderly, "
        "disabled, pregnant — goes first at the counters of its lane).",
    )
    note: str | None = Field(default=None, max_length=500, description="Staff only: for the clerk.")
    then: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list,
        max_length=2,
        description="A visit for several services: the codes of the services to be served after "
        "`service`, in order (at most two more, no service twice). One number for the whole "
        "visit; each next part keeps the first issue time for its place.",
    )
    phone: str | None = Field(
        default=None,
        max_length=32,
        description='Remote only, optional: a mobile number for the "almost your turn" SMS '
        "(when the store sends SMS), erased with the store's retention; needs `sms_consent`.",
    )
    sms_consent: bool = Field(default=False, description="The customer agreed to that SMS.")


class TransferIn(Strict):
    service: str | None = Field(
        default=None, min_length=1, max_length=32, description="Code of the target service."
    )
    counter: int | None = Field(default=None, ge=1, description="Send to this counter only.")
    note: str | None = Field(default=None, max_length=500, description="For the next clerk.")


class CallNextIn(Strict):
    request_id: str | None = Field(
        default=None,
        max_length=64,
        description="One id per click: a repeated request returns the same answer.",
    )


class CallTicketIn(CallNextIn):
    counter: int = Field(ge=1)


class CompleteIn(Strict):
    outcome: str | None = Field(
        default=None,
        max_length=32,
        pattern=r"^[a-z0-9_]{1,32}$",
        description="A standard outcome (`done`, `follow_up`, `complaint`, `referred`) or one of "
        "the ticket's service's own codes (the `outcomes` of the ticket on the counter's panel). "
        "Default `done`; any other code is refused with `unknown_outcome`.",
    )
    case: CaseIn | None = Field(
        default=None, description="With `complaint`: opens a complaint case in the same step."
    )


class CaseIn(Strict):
    """A complaint's case, opened with the complaint outcome."""

    category: str = Field(
        max_length=32,
        description="billing, network, service_attitude, plan_contract, device or other",
    )
    description: str = Field(max_length=1000)
    consent: bool = False
    name: str = Field(default="", max_length=40)
    phone: str = Field(default="", max_length=20)


class CounterIn(Strict):
    counter: int = Field(ge=1)


class SignInIn(Strict):
    takeover: bool = False


class PauseIn(Strict):
    reason: Annotated[str, Field(max_length=32), one_of(PauseReason)] = "break"
    minutes: int | None = Field(
        default=None,
        strict=True,
        ge=PAUSE_MINUTES_MIN,
        le=PAUSE_MINUTES_MAX,
        description="The planned length of the pause in whole minutes; the counter shows its "
        "return time and the wait estimate counts on it from then. Omitted or null: not sure.",
    )


class CancelIn(Strict):
    token: str | None = Field(
        default=None, max_length=64, description="The ticket's token, when the customer cancels."
    )


class EmptyIn(Strict):
    pass


class HolderIn(Strict):
    token: str = Field(min_length=1, max_length=64, description="The ticket's token.")


class LetAheadIn(Strict):
    token: str = Field(min_length=1, max_length=64, description="The ticket's token.")
    places: int = Field(
        ge=1, le=50, description="How many people behind to let go ahead (at most the store's)."
    )


class FeedbackIn(Strict):
    token: str = Field(min_length=1, max_length=64)
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)


class FeedbackOut(Out):
    stars: int
    comment: str


class PublicCaseOut(Out):
    number: str
    status: str
    promised_by: str | None = Field(description="Only when the customer agreed to be contacted.")
    can_answer: bool
    answered: bool


# --- responses ------------------------------------------------------------------------------


class CodeName(Out):
    code: str
    name: str


class TicketBrief(Out):
    id: int
    label: str
    service: str
    lane: LaneName
    status: StatusName
    channel: str
    counter: int | None
    issued_at: str
    called_at: str | None
    recall_count: int


class PlanPartOut(Out):
    step: int = Field(description="1, 2 or 3: the part's place in the visit.")
    service: str
    service_name: str
    state: Literal["done", "current", "next"]


PLAN_FIELD: Any = Field(
    default_factory=list,
    description="A visit for several services, part by part; empty for a single service. When "
    "a part but the last is completed the ticket waits for the next service, keeping its label "
    "and its first issue time.",
)


class CounterStatusOut(Out):
    number: int
    status: Literal["open", "paused", "closed"]


class TicketOut(TicketBrief):
    version: int = Field(description="The store's version this view was computed at.")
    service_name: str
    service_name_zh: str
    service_name_en: str
    store: str
    position: int | None = Field(
        description="People the store will call before this ticket, in the call order's own "
        "order (not its lane's); null unless waiting."
    )
    is_next: bool = Field(description="A staffed counter's next call would be this ticket.")
    eta_minutes: EtaRange | None = Field(
        description="Estimated wait in minutes, [low, high]; null when it cannot be told."
    )
    eta_reason: Literal["no_staffed_counter", "confirm_arrival"] | None = Field(
        description="Why there is no estimate: no staffed counter serves it now, or the store "
        "waits for the customer's arrival."
    )
    eta_call_at: str | None = Field(description="When the call is expected (clock time).")
    called_from: str | None = Field(
        default=None,
        description="An early arrival's appointment ticket: not called before this moment (its "
        "booked slot).",
    )
    counters: list[CounterStatusOut] = Field(
        description="The counters that serve this ticket's lane, open, paused or closed."
    )
    arrival_required: bool = Field(
        description="A remote ticket that is called only after the customer confirms arrival."
    )
    transferred_to: int | None = Field(description="Sent to this counter by a colleague.")
    token: str | None = Field(default=None, description="Only to the ticket's holder.")
    status_url: str | None = None
    print_url: str | None = None
    store_name: str
    serving_counters: list[int] = Field(description="Open counters whose profile lists the lane.")
    can_cancel: bool
    can_rejoin: bool
    rejoin_until: str | None
    rejoin_places: int
    can_let_ahead: bool = Field(
        description="The holder may let a few people behind go ahead now (让号, once)."
    )
    let_ahead_places: int = Field(
        description="How many people the holder may let go ahead at most (0: the store has it off)."
    )
    can_rate: bool
    feedback: FeedbackOut | None
    case: PublicCaseOut | None = Field(
        default=None, description="The visit's complaint case (no personal data)."
    )
    plan: list[PlanPartOut] = PLAN_FIELD


class LetAheadOut(TicketOut):
    places_asked: int = Field(description="The places the customer asked to move back.")
    places_moved: int = Field(
        description="The places it moved back: fewer than asked when fewer people wait behind."
    )
    message: str = Field(description="What happened, in the caller's language.")


class CallNextOut(Out):
    ticket: TicketOut | None
    reason: str = Field(
        description="Why this ticket: e.g. `fast_lane_head`, `helping_standard_lane`."
    )
    message: str
    counter_name: str = Field(description="The counter's name in the caller's language.")
    completed: TicketBrief | None = Field(
        default=None, description="A ticket the counter still held, completed automatically."
    )


class ServiceOut(Out):
    code: str
    name: str
    name_zh: str
    name_en: str
    category: str
    category_name: str
    icon: str
    description: str
    lane: LaneName
    prefix: str
    expected_minutes: float
    bookable: bool
    slot_minutes: int
    waiting: int
    eta_minutes: EtaRange | None
    eta_reason: Literal["no_staffed_counter", "store_closed"] | None
    staff_only: bool = Field(description="Issued by staff only (VIP, unless the store opens it).")


class ServicesOut(Out):
    services: list[ServiceOut]


class CounterOut(Out):
    number: int
    name: str
    name_en: str
    own_name_zh: str = Field(description="The counter's own name besides its number, or empty.")
    own_name_en: str
    reserved: bool = Field(description="Held for appointments: it calls booked customers only.")
    lanes: list[LaneName]
    status: Literal["open", "paused", "closed"] = Field(
        description="closed: nobody is signed in at the counter."
    )
    pause_reason: str | None
    back_at: str | None = Field(
        description="A paused counter's planned return (UTC) while it is still to come, else null."
    )
    clerk: str | None
    current: TicketBrief | None


class LaneOut(Out):
    lane: LaneName
    waiting: int
    eta_minutes: EtaRange | None
    eta_reason: Literal["no_staffed_counter", "store_closed"] | None = Field(
        description="Why there is no estimate: no staffed counter serves the lane, or the hall "
        "is closed (none for appointments, which have no walk-in estimate)."
    )


class HoursOut(Out):
    open: bool
    closes_at: str | None
    next_open: str | None


class StoreOut(Out):
    code: str
    name: str
    name_zh: str
    name_en: str
    notices: list[str]
    announce_langs: list[str]
    rejoin_minutes: int
    rejoin_places: int
    remote_join: bool
    recall_limit: int
    hours: HoursOut


class MissedOut(Out):
    ticket_id: int
    label: str
    lane: LaneName
    counter: int | None
    until: str | None


class RecentCall(Out):
    ticket_id: int
    label: str
    counter: int | None
    lane: LaneName
    called_at: str | None
    status: StatusName = Field(description="What became of the call: called, serving, done…")
    recall_count: int


class NowCalling(Out):
    ticket_id: int
    label: str
    counter: int | None
    lane: LaneName
    channel: str
    called_at: str | None
    recall_count: int


class WaitingOut(TicketBrief):
    target_counter: int | None = Field(description="Sent to this counter by a colleague.")


class NextCallOut(Out):
    ticket_id: int | None
    reason: str


class CounterQueueOut(Out):
    counter: int
    next: NextCallOut
    queue: list[int] = Field(description="Ticket ids this counter may call, in call order.")


class SnapshotOut(Out):
    version: int
    store: StoreOut
    services: list[ServiceOut]
    counters: list[CounterOut]
    lanes: list[LaneOut]
    waiting: list[WaitingOut] = Field(description="In the order the store will call them.")
    recent_calls: list[RecentCall]
    missed: list[MissedOut] = Field(description="No-shows that may still rejoin (过号).")
    now_calling: list[NowCalling] = Field(
        description="The tickets in status `called` right now, each with its counter."
    )
    hours: HoursOut
    counter_queues: list[CounterQueueOut]


class StaffTicketOut(TicketBrief):
    service_name: str
    waited_minutes: int
    note: str | None
    priority_care: bool = Field(description="爱心: elderly, disabled or pregnant (set by staff).")
    outcome: str | None
    started_at: str | None
    target_counter: int | None
    due_at: str | None
    customer: dict[str, str] | None
    allowed_actions: list[str] = Field(
        description="What the state machine allows now: the terminal enables these buttons."
    )
    outcomes: list[CodeName] = Field(
        description="What the ticket may be completed with: the standard outcomes, then its "
        "service's own codes."
    )
    plan: list[PlanPartOut] = PLAN_FIELD


class ClerkComment(Out):
    day: str = Field(description="The day only (the store's date): nothing ties it to a visit.")
    stars: int
    comment: str


class ClerkStatsOut(Out):
    served: int
    avg_service_minutes: float | None
    no_shows: int
    ratings: int = Field(default=0, description="The clerk's own ratings today.")
    mean_stars: float | None = None
    comments: list[ClerkComment] = Field(
        default_factory=list,
        description="The latest comments on the clerk's own visits: no ticket, no name, the day.",
    )


class CounterDetailOut(Out):
    counter: CounterOut
    current: StaffTicketOut | None
    parked: list[StaffTicketOut]
    stats: ClerkStatsOut
    outcomes: list[CodeName]
    pause_reasons: list[CodeName]
    pause_lengths: list[int] = Field(description="The pause lengths (minutes) the terminal offers.")
    recall_limit: int
