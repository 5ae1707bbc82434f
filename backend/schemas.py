"""Request and response schemas. Requests are validated with them; the OpenAPI document is
generated from them (openapi.py), so the document cannot drift from what the API accepts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LaneName = Literal["fast", "standard", "vip", "appointment"]
StatusName = Literal["waiting", "called", "serving", "done", "no_show", "cancelled"]
EtaRange = tuple[int, int]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -------------------------------------------------------------------------------


class IssueTicketIn(Strict):
    service: str = Field(min_length=1, max_length=32, description="Service code, e.g. `A`.")


class TransferIn(Strict):
    service: str = Field(min_length=1, max_length=32, description="Code of the target service.")


class CancelIn(Strict):
    token: str | None = Field(
        default=None, max_length=64, description="The ticket's token, when the customer cancels."
    )


class EmptyIn(Strict):
    pass


# --- responses ------------------------------------------------------------------------------


class TicketBrief(BaseModel):
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


class TicketOut(TicketBrief):
    service_name: str
    service_name_zh: str
    service_name_en: str
    store: str
    position: int | None = Field(
        description="People ahead in the ticket's lane; null unless waiting."
    )
    eta_minutes: EtaRange | None = Field(description="Estimated wait in minutes, [low, high].")
    token: str | None = Field(default=None, description="Only to the ticket's holder.")
    status_url: str | None = None
    print_url: str | None = None


class CallNextOut(BaseModel):
    ticket: TicketOut | None
    reason: str = Field(
        description="Why this ticket: e.g. `fast_lane_head`, `helping_standard_lane`."
    )
    message: str
    completed: TicketBrief | None = Field(
        default=None, description="A ticket the counter still held, completed automatically."
    )


class ServiceOut(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str
    lane: LaneName
    prefix: str
    expected_minutes: float
    waiting: int
    eta_minutes: EtaRange | None


class ServicesOut(BaseModel):
    services: list[ServiceOut]


class CounterOut(BaseModel):
    number: int
    name: str
    name_en: str
    lanes: list[LaneName]
    status: Literal["open", "paused"]
    current: TicketBrief | None


class LaneOut(BaseModel):
    lane: LaneName
    waiting: int
    eta_minutes: EtaRange | None


class StoreOut(BaseModel):
    code: str
    name: str
    name_zh: str
    name_en: str


class RecentCall(BaseModel):
    ticket_id: int
    label: str
    counter: int | None
    lane: LaneName
    called_at: str | None


class SnapshotOut(BaseModel):
    version: int
    store: StoreOut
    services: list[ServiceOut]
    counters: list[CounterOut]
    lanes: list[LaneOut]
    waiting: list[TicketBrief]
    recent_calls: list[RecentCall]


class ErrorOut(BaseModel):
    error: str = Field(description="A stable machine-readable code.")
    message: str = Field(description="A sentence in the caller's language.")
