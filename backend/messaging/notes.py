"""What a push notification (or a ticket's SMS) says: only what a lock screen may show — the
ticket's number, the store, how many are ahead, the counter, an appointment's time and service;
never a name, a phone number or a check-in code. In the subscriber's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _

from backend.messaging.models import MessageKind, OutboxMessage
from backend.models import Appointment, Ticket


@dataclass(frozen=True)
class Note:
    title: str
    body: str
    url: str  # the page a click opens (the ticket's status page, the booking's page)
    tag: str  # one notification per subject on the screen: a newer one replaces it
    lang: str

    def payload(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "tag": self.tag,
            "lang": self.lang,
        }


def _booking_note(message: OutboxMessage, appointment: Appointment, lang: str) -> tuple[str, str]:
    store = appointment.store
    local = appointment.slot_start.astimezone(ZoneInfo(store.timezone))
    title = _("Appointment reminder · %(store)s", store=store.name(lang))
    body = _(
        "%(service)s on %(date)s at %(time)s. Please check in at the kiosk when you arrive.",
        service=appointment.service.name(lang),
        date=local.strftime("%Y-%m-%d"),
        time=local.strftime("%H:%M"),
    )
    return title, body


def push_note(
    message: OutboxMessage, ticket: Ticket | None, appointment: Appointment | None, lang: str
) -> Note:
    lang = lang if lang in ("zh", "en") else "zh"
    with force_locale(lang):
        if ticket is not None:
            title, body = _ticket_note(message, ticket, ticket.store.name(lang))
            return Note(title, body, f"/t/{ticket.token}", f"ticket-{ticket.id}", lang)
        assert appointment is not None
        title, body = _booking_note(message, appointment, lang)
        url = f"/b/{appointment.manage_token}"
        return Note(title, body, url, f"booking-{appointment.id}", lang)


def _ticket_note(message: OutboxMessage, ticket: Ticket, store: str) -> tuple[str, str]:
    label = ticket.label
    counter = message.params.get("counter")
    if message.kind == MessageKind.ALMOST:
        ahead = int(message.params.get("ahead") or 0)
        body = (
            _("You are next — please come back to the hall.")
            if ahead == 0
            else _("%(n)s ahead of you — please come back to the hall.", n=ahead)
        )
        return _("%(label)s · %(store)s", label=label, store=store), body
    title = (
        _("Your number %(label)s is called again", label=label)
        if message.kind == MessageKind.RECALLED
        else _("Your number %(label)s is called", label=label)
    )
    body = _("Please go to counter %(n)s", n=counter) if counter else store
    return title, body
