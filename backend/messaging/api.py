"""The push part of the JSON API: the server's VAPID public key, and subscribing a browser to a
ticket's or a booking's messages (and stopping them). Views parse, make one call, answer."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify
from pydantic import Field

from backend.api import bp, route
from backend.api.openapi import Out
from backend.core.i18n import current_lang
from backend.extensions import limiter
from backend.messaging import subscriptions
from backend.messaging.push import vapid_keys
from backend.queue.schemas import Strict

SUBSCRIBE_RATE = "30 per minute"


class PushKeysIn(Strict):
    p256dh: str = Field(
        min_length=1, max_length=128, description="The browser's P-256 key, base64url."
    )
    auth: str = Field(min_length=1, max_length=64, description="The 16-byte secret, base64url.")


class PushSubscriptionIn(Strict):
    """What `PushSubscription.toJSON()` gives, without `expirationTime`."""

    endpoint: str = Field(min_length=1, max_length=1024, description="The push service's URL.")
    keys: PushKeysIn


class PushEndpointIn(Strict):
    endpoint: str = Field(min_length=1, max_length=1024)


class PushStateOut(Out):
    subscribed: bool


class PushKeyOut(Out):
    public_key: str = Field(description="The VAPID applicationServerKey, base64url.")


def _input(body: PushSubscriptionIn) -> subscriptions.SubscriptionInput:
    return subscriptions.SubscriptionInput(body.endpoint, body.keys.p256dh, body.keys.auth)


def _answer(created: bool) -> Any:
    return jsonify({"subscribed": True}), 201 if created else 200


@route(
    bp,
    "/push/public-key",
    "GET",
    summary="The server's VAPID public key (the applicationServerKey to subscribe with)",
    tag="push",
    response=PushKeyOut,
)
def push_public_key() -> Any:
    return {"public_key": vapid_keys(current_app._get_current_object()).public_key}  # type: ignore[attr-defined]


@route(
    bp,
    "/tickets/<token>/push-subscription",
    "POST",
    summary="Notify this browser about the ticket (almost your turn, called); idempotent",
    tag="push",
    body=PushSubscriptionIn,
    response=PushStateOut,
    status=201,
)
@limiter.limit(SUBSCRIBE_RATE, methods=["POST"])
def subscribe_ticket(token: str, body: PushSubscriptionIn) -> Any:
    return _answer(subscriptions.subscribe_ticket(token, _input(body), current_lang()))


@route(
    bp,
    "/tickets/<token>/push-subscription",
    "DELETE",
    summary="Stop notifications about the ticket to this browser",
    tag="push",
    body=PushEndpointIn,
    response=PushStateOut,
)
def unsubscribe_ticket(token: str, body: PushEndpointIn) -> Any:
    subscriptions.unsubscribe_ticket(token, body.endpoint)
    return {"subscribed": False}


@route(
    bp,
    "/bookings/<token>/push-subscription",
    "POST",
    summary="Send the booking's reminder to this browser too; idempotent",
    tag="push",
    body=PushSubscriptionIn,
    response=PushStateOut,
    status=201,
)
@limiter.limit(SUBSCRIBE_RATE, methods=["POST"])
def subscribe_booking(token: str, body: PushSubscriptionIn) -> Any:
    return _answer(subscriptions.subscribe_booking(token, _input(body), current_lang()))


@route(
    bp,
    "/bookings/<token>/push-subscription",
    "DELETE",
    summary="Stop the booking's push reminder to this browser",
    tag="push",
    body=PushEndpointIn,
    response=PushStateOut,
)
def unsubscribe_booking(token: str, body: PushEndpointIn) -> Any:
    subscriptions.unsubscribe_booking(token, body.endpoint)
    return {"subscribed": False}
