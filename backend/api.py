"""The public JSON API (/api/v1). Views parse input, make one engine call and answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from . import engine
from .auth import staff_user
from .i18n import current_lang
from .models import User, hash_token, new_token
from .openapi import ApiRegistry
from .policy import Channel, Decision, Reason
from .queue_state import StoreQueue
from .schemas import (
    CallNextOut,
    CancelIn,
    EmptyIn,
    FeedbackIn,
    FeedbackOut,
    HolderIn,
    IssueTicketIn,
    ServicesOut,
    SnapshotOut,
    TicketOut,
    TransferIn,
)
from .serializers import counter_name, service_public, snapshot, ticket_brief, ticket_public

bp = Blueprint("api", __name__, url_prefix="/api/v1")
registry = ApiRegistry("Hall queue API", "1", "/api/v1")
route = registry.route


def _queue_for(store: Any) -> StoreQueue:
    return StoreQueue.load(store, engine.now())


def _ticket_json(ticket: Any, *, with_token: bool = False) -> dict[str, Any]:
    return ticket_public(ticket, _queue_for(ticket.store), current_lang(), with_token=with_token)


@route(
    bp,
    "/stores/<store>/services",
    "GET",
    summary="Services with live waiting counts and estimates",
    tag="public",
    response=ServicesOut,
)
def services(store: str) -> Any:
    found = engine.find_store(store)
    queue = _queue_for(found)
    lang = current_lang()
    return {"services": [service_public(s, queue, lang) for s in queue.services if s.active]}


@route(
    bp,
    "/stores/<store>/snapshot",
    "GET",
    summary="Full state of a store's queue with its version",
    tag="public",
    response=SnapshotOut,
)
def store_snapshot(store: str) -> Any:
    return snapshot(_queue_for(engine.find_store(store)), current_lang())


KIOSK_COOKIE = "kiosk_device"
KIOSK_HEADER = "X-Kiosk-Token"
REMOTE_COOKIE = "queue_client"
REMOTE_COOKIE_MAX_AGE = 24 * 3600


def _is_staff_request() -> bool:
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    return bearer or bool(current_user.is_authenticated)


def _origin(channel: str | None) -> tuple[engine.Origin, User | None, str | None]:
    """The ticket's origin from the caller's credentials, and a new remote cookie to set."""
    if channel == "remote":
        client = request.cookies.get(REMOTE_COOKIE)
        fresh = None if client else new_token()
        remote = hash_token(client or fresh or "")
        return engine.Origin(Channel.REMOTE, remote_client=remote), None, fresh
    kiosk = engine.find_kiosk(
        request.headers.get(KIOSK_HEADER) or request.cookies.get(KIOSK_COOKIE)
    )
    if channel != "staff" and (kiosk is not None or not _is_staff_request()):
        return engine.Origin(Channel.KIOSK, kiosk=kiosk), None, None
    return engine.Origin(Channel.STAFF), staff_user(), None


@route(
    bp,
    "/stores/<store>/tickets",
    "POST",
    summary="Take a ticket for a service",
    tag="public",
    body=IssueTicketIn,
    response=TicketOut,
    status=201,
)
def issue_ticket(store: str, body: IssueTicketIn) -> Any:
    origin, actor, new_client = _origin(body.channel)
    ticket = engine.issue_ticket(store, body.service, origin, actor)
    response = jsonify(_ticket_json(ticket, with_token=True))
    if new_client:
        response.set_cookie(
            REMOTE_COOKIE,
            new_client,
            max_age=REMOTE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response, 201


@route(
    bp,
    "/tickets/<token>",
    "GET",
    summary="A ticket's public view, for the holder of its token",
    tag="public",
    response=TicketOut,
)
def ticket_by_token(token: str) -> Any:
    return _ticket_json(engine.find_ticket_by_token(token), with_token=True)


REASON_TEXT = {
    Reason.LANE_HEAD: lambda lane: _("Next in the %(lane)s queue.", lane=lane_name(lane)),
    Reason.HELPING_LANE: lambda lane: _("Helping the %(lane)s queue.", lane=lane_name(lane)),
    Reason.QUEUE_EMPTY: lambda lane: _("Nobody is waiting."),
    Reason.COUNTER_PAUSED: lambda lane: _("This counter is paused."),
}


def lane_name(lane: Any) -> str:
    names = {
        "fast": _("fast lane"),
        "standard": _("standard"),
        "vip": _("VIP"),
        "appointment": _("appointment"),
    }
    return names.get(str(lane), str(lane))


def _reason_message(decision: Decision, completed: Any) -> str:
    text = REASON_TEXT[decision.reason](decision.lane)
    if completed is not None:
        text = _("%(label)s was completed automatically.", label=completed.label) + " " + text
    return text


@route(
    bp,
    "/stores/<store>/counters/<int:counter>/call-next",
    "POST",
    summary="Call the next ticket for a counter",
    tag="staff",
    body=EmptyIn,
    response=CallNextOut,
    auth="staff",
)
def call_next(store: str, counter: int, body: EmptyIn) -> Any:
    result = engine.call_next(store, counter, staff_user())
    return {
        "ticket": _ticket_json(result.ticket) if result.ticket else None,
        "reason": result.decision.reason_code,
        "message": _reason_message(result.decision, result.completed),
        "completed": ticket_brief(result.completed) if result.completed else None,
        "counter_name": counter_name(counter, current_lang()),
    }


def _staff_action(name: str, summary: str, action: Any) -> None:
    def view(ticket_id: int, body: EmptyIn) -> Any:
        return _ticket_json(action(ticket_id, staff_user()))

    view.__name__ = f"ticket_{name.replace('-', '_')}"
    route(
        bp,
        f"/tickets/<int:ticket_id>/{name}",
        "POST",
        summary=summary,
        tag="staff",
        body=EmptyIn,
        response=TicketOut,
        auth="staff",
    )(view)


_staff_action("recall", "Call a called ticket again", engine.recall_ticket)
_staff_action("start", "Start serving a called ticket", engine.start_ticket)
_staff_action("complete", "Complete a called or serving ticket", engine.complete_ticket)
_staff_action("no-show", "Mark a called ticket as missed (no-show)", engine.mark_no_show)


@route(
    bp,
    "/tickets/<int:ticket_id>/transfer",
    "POST",
    summary="Send a ticket to another service",
    tag="staff",
    body=TransferIn,
    response=TicketOut,
    auth="staff",
)
def transfer(ticket_id: int, body: TransferIn) -> Any:
    return _ticket_json(engine.transfer_ticket(ticket_id, body.service, staff_user()))


@route(
    bp,
    "/tickets/<int:ticket_id>/cancel",
    "POST",
    summary="Cancel a ticket (staff, or the customer with the ticket's token)",
    tag="staff",
    body=CancelIn,
    response=TicketOut,
    auth="staff",
)
def cancel(ticket_id: int, body: CancelIn) -> Any:
    if body.token is not None:
        return _ticket_json(engine.cancel_by_holder(ticket_id, body.token), with_token=True)
    return _ticket_json(engine.cancel_ticket(ticket_id, staff_user()))


@route(
    bp,
    "/tickets/<int:ticket_id>/rejoin",
    "POST",
    summary="Rejoin the queue after a missed call (the customer, with the ticket's token)",
    tag="public",
    body=HolderIn,
    response=TicketOut,
)
def rejoin(ticket_id: int, body: HolderIn) -> Any:
    return _ticket_json(engine.rejoin_ticket(ticket_id, body.token), with_token=True)


@route(
    bp,
    "/tickets/<int:ticket_id>/feedback",
    "POST",
    summary="Rate a finished visit once (1-5 stars, optional comment)",
    tag="public",
    body=FeedbackIn,
    response=FeedbackOut,
    status=201,
)
def feedback(ticket_id: int, body: FeedbackIn) -> Any:
    saved = engine.rate_visit(ticket_id, body.token, body.stars, body.comment)
    return jsonify({"stars": saved.stars, "comment": saved.comment}), 201
