"""The queue part of the JSON API (/api/v1): views parse input, make one engine call, answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from backend.api import bp, route
from backend.api.openapi import Param
from backend.cases.commands import CaseInput, record_follow_up
from backend.core.errors import BadInput
from backend.core.i18n import current_lang
from backend.core.text import normalise_phone
from backend.core.tokens import hash_token
from backend.extensions import limiter
from backend.feedback.commands import rate_visit
from backend.kiosks.operations import REMOTE_COOKIE, refuse_revoked, request_kiosk
from backend.messaging.sms import sms_enabled
from backend.policy import Channel, Level, Reason
from backend.queue import commands as engine
from backend.queue import reads
from backend.queue.models import Ticket
from backend.queue.readmodel import latest
from backend.queue.schemas import (
    CallNextIn,
    CallNextOut,
    CallTicketIn,
    CancelIn,
    CompleteIn,
    CounterDetailOut,
    CounterIn,
    EmptyIn,
    FeedbackIn,
    FeedbackOut,
    HolderIn,
    IssueTicketIn,
    LetAheadIn,
    LetAheadOut,
    PauseIn,
    ServicesOut,
    SignInIn,
    SnapshotOut,
    TicketOut,
    TransferIn,
)
from backend.queue.serializers import counter_name, ticket_brief
from backend.staff.auth import staff_user
from backend.staff.models import User


def _ticket_json(
    ticket: Ticket, *, with_token: bool = False, fresh: bool = False
) -> dict[str, Any]:
    return reads.ticket_view(ticket, current_lang(), with_token=with_token, fresh=fresh)


@route(
    bp,
    "/stores/<store>/services",
    "GET",
    summary="Services with live waiting counts and estimates",
    tag="public",
    response=ServicesOut,
)
def services(store: str) -> Any:
    return {"services": reads.services_view(store, current_lang())}


@route(
    bp,
    "/stores/<store>/snapshot",
    "GET",
    summary="Full state of a store's queue with its version",
    tag="public",
    response=SnapshotOut,
)
def store_snapshot(store: str) -> Any:
    return reads.snapshot_view(store, current_lang())


# Remote joining: per browser and per address (a phone, not a ticket printer), and the header
# that makes a retried POST return the ticket already made.
REMOTE_RATE = "5 per minute;20 per hour"
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 64


def _is_staff_request() -> bool:
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    return bearer or bool(current_user.is_authenticated)


def remote_client_key() -> str:
    """The remote-join limits count per browser (its cookie) as well as per address."""
    return "remote:" + (request.cookies.get(REMOTE_COOKIE) or request.remote_addr or "")


def _is_remote() -> bool:
    body = request.get_json(silent=True, force=True)
    return isinstance(body, dict) and body.get("channel") == "remote"


def _origin(channel: str | None) -> tuple[engine.Origin, User | None]:
    """The ticket's origin from the caller's credentials. A remote ticket needs the cookie the
    join page sets (a script without it gets no ticket)."""
    if channel == "remote":
        client = request.cookies.get(REMOTE_COOKIE)
        remote = hash_token(client) if client else None
        return engine.Origin(Channel.REMOTE, remote_client=remote), None
    kiosk = request_kiosk(request)
    if channel != "staff" and (kiosk is not None or not _is_staff_request()):
        if kiosk is None:
            refuse_revoked(request)
        return engine.Origin(Channel.KIOSK, kiosk=kiosk.ref if kiosk else None), None
    return engine.Origin(Channel.STAFF), staff_user()


def _sms_number(body: IssueTicketIn) -> str | None:
    """A remote joiner's number for the "almost your turn" SMS: only with consent, only from a
    phone joining, only where SMS really goes out (no number is kept for nothing)."""
    phone = normalise_phone(body.phone or "")
    if not phone:
        return None
    if body.channel != "remote" or not sms_enabled(current_app.config):
        raise BadInput(
            _("This store sends no SMS to numbers taken here."), error_code="sms_unavailable"
        )
    if not body.sms_consent:
        raise BadInput(
            _("Please agree to the use of your number for this SMS."),
            error_code="consent_required",
        )
    return phone


@route(
    bp,
    "/stores/<store>/tickets",
    "POST",
    summary="Take a ticket for a service",
    tag="public",
    body=IssueTicketIn,
    response=TicketOut,
    status=201,
    parameters=(
        Param(
            IDEMPOTENCY_HEADER,
            "header",
            "A retried request with the same key returns the ticket already made.",
            max_length=IDEMPOTENCY_KEY_MAX,
        ),
    ),
)
@limiter.limit(REMOTE_RATE, methods=["POST"], exempt_when=lambda: not _is_remote())
@limiter.limit(
    REMOTE_RATE, methods=["POST"], key_func=remote_client_key, exempt_when=lambda: not _is_remote()
)
def issue_ticket(store: str, body: IssueTicketIn) -> Any:
    origin, actor = _origin(body.channel)
    phone = _sms_number(body)
    if phone is not None:
        origin = replace(origin, phone=phone, phone_language=current_lang())
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip() or None
    if key is not None and (len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable()):
        raise BadInput(_("The request key is not valid."), error_code="bad_idempotency_key")
    ticket = engine.issue_ticket(
        store,
        body.service,
        origin,
        actor,
        idempotency_key=key,
        expected_wait=reads.expected_wait(store, body.service),
        level=Level(body.level),
        note=body.note,
        then=body.then,
    )
    # A ticket that does not simply join the end of its lane (priority care, VIP) is answered
    # from the projection of its own version: its place is not the last one's.
    ranked = body.level != Level.NORMAL
    response = jsonify(reads.issued_view(ticket, current_lang(), fresh=ranked))
    if key is not None:
        response.headers[IDEMPOTENCY_HEADER] = key
    return response, 201


@route(
    bp,
    "/tickets/<int:ticket_id>/arrived",
    "POST",
    summary="A remote customer confirms being in the hall (the store may ask before the call)",
    tag="public",
    body=HolderIn,
    response=TicketOut,
)
def arrived(ticket_id: int, body: HolderIn) -> Any:
    ticket = engine.confirm_arrival(ticket_id, body.token)
    return _ticket_json(ticket, with_token=True, fresh=True)


@route(
    bp,
    "/tickets/<token>",
    "GET",
    summary="A ticket's public view, for the holder of its token",
    tag="public",
    response=TicketOut,
)
def ticket_by_token(token: str) -> Any:
    return _ticket_json(reads.find_ticket_by_token(token), with_token=True, fresh=True)


REASON_TEXT = {
    Reason.LANE_HEAD: lambda lane: _("Next in the %(lane)s queue.", lane=lane_name(lane)),
    Reason.HELPING_LANE: lambda lane: _("Helping the %(lane)s queue.", lane=lane_name(lane)),
    Reason.QUEUE_EMPTY: lambda lane: _("Nobody is waiting."),
    Reason.COUNTER_PAUSED: lambda lane: _("This counter is paused."),
    Reason.DUPLICATE_REQUEST: lambda lane: _("Already called: this was the same click."),
    Reason.CHOSEN_BY_CLERK: lambda lane: _("Called from the list."),
    Reason.TRANSFERRED_HERE: lambda lane: _("Sent to this counter by a colleague."),
    Reason.APPOINTMENT_DUE: lambda lane: _("An appointment whose time has come."),
    Reason.WAITED_LONG: lambda lane: _("Waited longer than the store's target: goes first."),
    Reason.DUE_SOON: lambda lane: _("Would soon wait longer than the store allows: goes first."),
    Reason.VIP_FIRST: lambda lane: _("VIP customer, within the VIP share."),
    Reason.PRIORITY_CARE: lambda lane: _("Priority care (elderly, disabled or pregnant): first."),
    Reason.BEST_RATIO: lambda lane: _(
        "Longest wait for the shortest business (%(lane)s).", lane=lane_name(lane)
    ),
}


def lane_name(lane: Any) -> str:
    names = {
        "fast": _("fast lane"),
        "standard": _("standard"),
        "vip": _("VIP"),
        "appointment": _("appointment"),
    }
    return names.get(str(lane), str(lane))


def _call_answer(result: engine.CallResult, counter: int) -> dict[str, Any]:
    text = REASON_TEXT[result.decision.reason](result.decision.lane)
    if result.completed is not None:
        done = _("%(label)s was completed automatically.", label=result.completed.label)
        text = f"{done} {text}"
    return {
        "ticket": _ticket_json(result.ticket) if result.ticket else None,
        "reason": result.decision.reason_code,
        "message": text,
        "completed": _brief(result.completed) if result.completed else None,
        "counter_name": counter_name(counter, current_lang()),
    }


@route(
    bp,
    "/stores/<store>/counters/<int:counter>/call-next",
    "POST",
    summary="Call the next ticket for a counter",
    tag="staff",
    body=CallNextIn,
    response=CallNextOut,
    auth="staff",
)
def call_next(store: str, counter: int, body: CallNextIn) -> Any:
    return _call_answer(engine.call_next(store, counter, staff_user(), body.request_id), counter)


@route(
    bp,
    "/tickets/<int:ticket_id>/call",
    "POST",
    summary="Call one chosen waiting ticket to a counter",
    tag="staff",
    body=CallTicketIn,
    response=CallNextOut,
    auth="staff",
)
def call_ticket(ticket_id: int, body: CallTicketIn) -> Any:
    result = engine.call_ticket(ticket_id, body.counter, staff_user(), body.request_id)
    return _call_answer(result, body.counter)


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
_staff_action("no-show", "Mark a called ticket as missed (no-show)", engine.mark_no_show)
_staff_action("park", "Park a ticket being served (the customer steps away)", engine.park_ticket)


@route(
    bp,
    "/tickets/<int:ticket_id>/complete",
    "POST",
    summary="Complete a called, serving or parked ticket with an outcome",
    tag="staff",
    body=CompleteIn,
    response=TicketOut,
    auth="staff",
)
def complete(ticket_id: int, body: CompleteIn) -> Any:
    case = CaseInput(**body.case.model_dump()) if body.case is not None else None
    return _ticket_json(engine.complete_ticket(ticket_id, staff_user(), body.outcome, case))


@route(
    bp,
    "/tickets/<int:ticket_id>/resume",
    "POST",
    summary="Resume serving a parked ticket at its counter",
    tag="staff",
    body=CounterIn,
    response=TicketOut,
    auth="staff",
)
def resume(ticket_id: int, body: CounterIn) -> Any:
    return _ticket_json(engine.resume_ticket(ticket_id, body.counter, staff_user()))


@route(
    bp,
    "/tickets/<int:ticket_id>/transfer",
    "POST",
    summary="Send a ticket to another service and/or one counter, with a note",
    tag="staff",
    body=TransferIn,
    response=TicketOut,
    auth="staff",
)
def transfer(ticket_id: int, body: TransferIn) -> Any:
    ticket = engine.transfer_ticket(
        ticket_id, body.service, staff_user(), counter_number=body.counter, note=body.note
    )
    return _ticket_json(ticket)


def _counter_detail(store_code: str, number: int) -> dict[str, Any]:
    return reads.counter_panel(store_code, number, staff_user(), current_lang())


@route(
    bp,
    "/stores/<store>/counters/<int:counter>",
    "GET",
    summary="A counter's panel: current and parked tickets, the clerk's figures today",
    tag="staff",
    response=CounterDetailOut,
    auth="staff",
)
def counter_panel(store: str, counter: int) -> Any:
    return _counter_detail(store, counter)


def _counter_action(name: str, summary: str, body_model: Any, action: Any) -> None:
    def view(store: str, counter: int, body: Any) -> Any:
        action(store, counter, staff_user(), body)
        return _counter_detail(store, counter)

    view.__name__ = f"counter_{name.replace('-', '_')}"
    route(
        bp,
        f"/stores/<store>/counters/<int:counter>/{name}",
        "POST",
        summary=summary,
        tag="staff",
        body=body_model,
        response=CounterDetailOut,
        auth="staff",
    )(view)


_counter_action(
    "sign-in",
    "Sign in to a counter (takeover: true to take it from another clerk)",
    SignInIn,
    lambda s, n, u, b: engine.sign_in_counter(s, n, u, b.takeover),
)
_counter_action(
    "sign-out",
    "Sign out of a counter",
    EmptyIn,
    lambda s, n, u, b: engine.sign_out_counter(s, n, u),
)
_counter_action(
    "pause",
    "Pause a counter (skipped by call-next, closed on the display), optionally for planned minutes",
    PauseIn,
    lambda s, n, u, b: engine.pause_counter(s, n, u, b.reason, b.minutes),
)
_counter_action(
    "resume",
    "Open a paused counter again",
    EmptyIn,
    lambda s, n, u, b: engine.resume_counter(s, n, u),
)


@route(
    bp,
    "/tickets/<int:ticket_id>/cancel",
    "POST",
    summary="Cancel a ticket (staff, or the customer with the ticket's token)",
    tag="public",
    body=CancelIn,
    response=TicketOut,
    auth="staff_or_token",
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
    "/tickets/<int:ticket_id>/let-ahead",
    "POST",
    summary="Let a few people behind go ahead (让号; the customer, with the ticket's token, once)",
    tag="public",
    body=LetAheadIn,
    response=LetAheadOut,
)
def let_ahead(ticket_id: int, body: LetAheadIn) -> Any:
    result = engine.let_ahead(ticket_id, body.token, body.places)
    if result.moved < result.asked:
        message = _(
            "Only %(n)s people were waiting behind you: you are now behind all of them.",
            n=result.moved,
        )
    else:
        message = _("You let %(n)s people go ahead.", n=result.moved)
    # The answer shows the new place: from the projection that includes this change.
    view = _ticket_json(result.ticket, with_token=True, fresh=True)
    return view | {
        "places_asked": result.asked,
        "places_moved": result.moved,
        "message": message,
    }


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
    saved = rate_visit(ticket_id, body.token, body.stars, body.comment)
    return jsonify({"stars": saved.stars, "comment": saved.comment}), 201


@route(
    bp,
    "/tickets/<int:ticket_id>/case-answer",
    "POST",
    summary="Answer once whether the complaint was solved well (1-5), after it is resolved",
    tag="public",
    body=FeedbackIn,
    response=FeedbackOut,
    status=201,
)
def case_answer(ticket_id: int, body: FeedbackIn) -> Any:
    change = record_follow_up(body.token, body.stars, body.comment, ticket_id=ticket_id)
    saved = change.case
    return jsonify({"stars": saved.follow_up_stars, "comment": saved.follow_up_comment}), 201


def _brief(ticket: Ticket) -> dict[str, Any]:
    proj = latest(ticket.store_id)
    return ticket_brief(proj.row_of(ticket))
