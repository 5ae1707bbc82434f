"""Every domain's models in one import, so that the mapper registry (and Alembic) sees them all."""

from backend.audit.models import AuditEntry
from backend.bookings.models import Appointment
from backend.cases.models import Case, CaseNote
from backend.core.tokens import hash_token, new_token
from backend.core.types import UTCDateTime, enum_column
from backend.feedback.models import Feedback
from backend.kiosks.models import Kiosk
from backend.messaging.models import OutboxMessage, PushSubscription
from backend.queue.models import DailySequence, Ticket, TicketEvent, VisitPart
from backend.reports.models import ReportDay
from backend.staff.models import ApiToken, StaffSession, User
from backend.stores.models import Counter, Service, Store

__all__ = [
    "ApiToken",
    "Appointment",
    "AuditEntry",
    "Case",
    "CaseNote",
    "Counter",
    "DailySequence",
    "Feedback",
    "Kiosk",
    "OutboxMessage",
    "PushSubscription",
    "ReportDay",
    "Service",
    "StaffSession",
    "Store",
    "Ticket",
    "TicketEvent",
    "UTCDateTime",
    "User",
    "VisitPart",
    "enum_column",
    "hash_token",
    "new_token",
]
