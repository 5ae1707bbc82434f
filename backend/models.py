"""Typed SQLAlchemy 2 models. Times are stored in UTC; the service day is the store's local date."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .policy import AppointmentStatus, Channel, CounterStatus, Lane, Role, TicketStatus
from .slots import DEFAULT_HOURS

TOKEN_BYTES = 18  # 144 bits: public status links and booking links cannot be guessed


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enum_column(enum: type[StrEnum]) -> Enum:
    """A StrEnum stored as its value in a short VARCHAR, read back as the enum member."""
    return Enum(
        enum,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Store(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Bumped by every change of queue state; clients compare it to detect missed events.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The call order (policy.QueuePolicy): ordering, its rules and their settings.
    ordering: Mapped[str] = mapped_column(String(16), default="score")
    work_conserving: Mapped[bool] = mapped_column(default=True)
    max_wait_minutes: Mapped[int] = mapped_column(Integer, default=30)  # 0: no anti-starvation
    vip_first: Mapped[int] = mapped_column(Integer, default=1)
    vip_window: Mapped[int] = mapped_column(Integer, default=2)
    # A missed (no-show) ticket may rejoin within this window, this many places behind the head.
    rejoin_minutes: Mapped[int] = mapped_column(Integer, default=30)
    rejoin_places: Mapped[int] = mapped_column(Integer, default=3)
    remote_join: Mapped[bool] = mapped_column(default=True)
    # Tickets one kiosk may print per minute (0: no limit).
    kiosk_rate_per_minute: Mapped[int] = mapped_column(Integer, default=30)
    kiosk_idle_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # Lines of the display's notices ticker, one per line.
    notices_zh: Mapped[str] = mapped_column(Text, default="")
    notices_en: Mapped[str] = mapped_column(Text, default="")
    # Languages of the spoken announcement, in order, comma-separated.
    announce_langs: Mapped[str] = mapped_column(String(16), default="zh,en")
    # After this many recalls the counter terminal suggests marking the ticket a no-show.
    recall_limit: Mapped[int] = mapped_column(Integer, default=3)
    address_zh: Mapped[str] = mapped_column(String(200), default="")
    address_en: Mapped[str] = mapped_column(String(200), default="")
    # Opening hours per weekday (Monday = "0"): [["09:00", "18:00"], ...]; holidays as ISO dates.
    hours: Mapped[dict[str, list[list[str]]]] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_HOURS)
    )
    closed_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Booking rules.
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    booking_lead_minutes: Mapped[int] = mapped_column(Integer, default=30)
    appointment_counters: Mapped[int] = mapped_column(Integer, default=1)
    bookings_per_phone_per_day: Mapped[int] = mapped_column(Integer, default=1)
    phone_pattern: Mapped[str] = mapped_column(String(100), default=r"^1[3-9]\d{9}$")
    checkin_early_minutes: Mapped[int] = mapped_column(Integer, default=15)
    checkin_late_minutes: Mapped[int] = mapped_column(Integer, default=30)
    appointment_prefix: Mapped[str] = mapped_column(String(4), default="Y")
    # Days after which customers' names and phone numbers are erased (statistics stay).
    retention_days: Mapped[int] = mapped_column(Integer, default=30)

    services: Mapped[list[Service]] = relationship(
        back_populates="store", order_by="Service.sort_order"
    )
    counters: Mapped[list[Counter]] = relationship(
        back_populates="store", order_by="Counter.number"
    )

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def address(self, lang: str) -> str:
        return self.address_en if lang == "en" else self.address_zh

    def notices(self, lang: str) -> list[str]:
        text = self.notices_en if lang == "en" else self.notices_zh
        return [line.strip() for line in (text or "").splitlines() if line.strip()]


class Service(db.Model):
    __table_args__ = (UniqueConstraint("store_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    code: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(4))
    lane: Mapped[Lane] = mapped_column(enum_column(Lane))
    expected_minutes: Mapped[float] = mapped_column(default=5.0)
    bookable: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    category: Mapped[str] = mapped_column(String(32), default="everyday")
    icon: Mapped[str] = mapped_column(String(32), default="")
    description_zh: Mapped[str] = mapped_column(String(200), default="")
    description_en: Mapped[str] = mapped_column(String(200), default="")
    slot_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Learned from completed visits (exponentially weighted), trusted after enough of them.
    learned_minutes: Mapped[float | None] = mapped_column()
    learned_count: Mapped[int] = mapped_column(Integer, default=0)

    store: Mapped[Store] = relationship(back_populates="services")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_zh


class Counter(db.Model):
    __table_args__ = (UniqueConstraint("store_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    number: Mapped[int] = mapped_column(Integer)
    # The profile: lanes in the order this counter serves them.
    lanes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[CounterStatus] = mapped_column(
        enum_column(CounterStatus), default=CounterStatus.OPEN
    )
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    # The clerk signed in here (one clerk per counter, one counter per clerk).
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The last call-next request id: a repeated request returns the same answer.
    last_request_id: Mapped[str | None] = mapped_column(String(64))

    clerk: Mapped[User | None] = relationship(foreign_keys=[clerk_id])

    store: Mapped[Store] = relationship(back_populates="counters")

    @property
    def lane_profile(self) -> tuple[Lane, ...]:
        return tuple(Lane(lane) for lane in self.lanes)


class DailySequence(db.Model):
    """The per-store, per-prefix, per-day ticket number counter (never max()+1)."""

    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    service_day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(db.Model):
    __table_args__ = (
        UniqueConstraint("store_id", "service_day", "label"),
        Index("ix_ticket_queue", "store_id", "service_day", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    lane: Mapped[Lane] = mapped_column(enum_column(Lane))
    label: Mapped[str] = mapped_column(String(12))
    number: Mapped[int] = mapped_column(Integer)
    service_day: Mapped[date] = mapped_column(Date)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel), default=Channel.KIOSK)
    status: Mapped[TicketStatus] = mapped_column(
        enum_column(TicketStatus), default=TicketStatus.WAITING
    )
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Orders the queue. Equal to issued_at unless a rule re-inserts the ticket.
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime())
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    rejoin_count: Mapped[int] = mapped_column(Integer, default=0)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosk.id"))
    # Hash of the browser's remote-join cookie: one active remote ticket per phone per store.
    remote_client: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    # Staff-only note (set on transfer); never shown on public screens.
    note: Mapped[str | None] = mapped_column(Text)
    target_counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    # A checked-in appointment's slot start: from then on it goes before walk-ins.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()
    service: Mapped[Service] = relationship()
    counter: Mapped[Counter | None] = relationship(foreign_keys=[counter_id])
    target_counter: Mapped[Counter | None] = relationship(foreign_keys=[target_counter_id])
    feedback: Mapped[Feedback | None] = relationship(back_populates="ticket")
    appointment: Mapped[Appointment | None] = relationship(back_populates="ticket")


class Appointment(db.Model):
    """A booked slot. Name and phone are personal data: masked on every screen but the one that
    needs them, and erased after the store's retention period."""

    __table_args__ = (
        Index("ix_appointment_slot", "store_id", "day", "status"),
        Index("ix_appointment_code", "store_id", "code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    day: Mapped[date] = mapped_column(Date)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime())
    slot_end: Mapped[datetime] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[str] = mapped_column(String(8))
    manage_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    status: Mapped[AppointmentStatus] = mapped_column(
        enum_column(AppointmentStatus), default=AppointmentStatus.BOOKED
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    erased: Mapped[bool] = mapped_column(default=False)

    store: Mapped[Store] = relationship()
    service: Mapped[Service] = relationship()
    ticket: Mapped[Ticket | None] = relationship(back_populates="appointment")


class Kiosk(db.Model):
    """A registered ticket kiosk. Its browser holds the token in a cookie; only the hash is kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    auto_print: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store] = relationship()

    @classmethod
    def register(
        cls, store: Store, name: str, created_at: datetime, auto_print: bool = True
    ) -> tuple[Kiosk, str]:
        """A new kiosk and its token; the token is shown once and only its hash is kept."""
        token = new_token()
        kiosk = cls(
            store=store,
            name=name,
            token_hash=hash_token(token),
            auto_print=auto_print,
            created_at=created_at,
        )
        return kiosk, token


class Feedback(db.Model):
    """A customer's rating of one visit, tied to its service, counter and clerk."""

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), unique=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="feedback")


class TicketEvent(db.Model):
    """Append-only trail of every transition: the ground truth for analytics and recovery."""

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counter.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.CLERK)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    store: Mapped[Store | None] = relationship()

    def set_password(self, password: str) -> None:
        # werkzeug's default is scrypt, a memory-hard modern scheme.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def can_act_in(self, store: Store) -> bool:
        return self.active and (self.role == Role.ADMIN or self.store_id == store.id)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active


class StaffSession(db.Model):
    """Server-side record of a login, so that logout really ends it: a replayed cookie fails."""

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A bearer token for integrators and devices; only its hash is stored."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
