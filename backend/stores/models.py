"""A store (hall), its services and its counters: configuration plus the store's version."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    true,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from backend.core.types import UTCDateTime, enum_column
from backend.extensions import Model
from backend.policy import CounterStatus, CounterView, Lane
from backend.policy.slots import DEFAULT_HOURS

if TYPE_CHECKING:
    from backend.staff.models import User


class Store(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Bumped by every change of queue state; clients compare it to detect missed events.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped whenever a service or counter is configured differently (keys the config cache).
    config_version: Mapped[int] = mapped_column(Integer, default=0)
    # The queue time of the newest ticket: a new one queues strictly after it (never max()).
    last_queue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Lanes of the last calls, oldest first (the VIP share looks at them; kept short).
    recent_lanes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The call order (policy.QueuePolicy): ordering, its rules and their settings.
    ordering: Mapped[str] = mapped_column(String(16), default="score")
    work_conserving: Mapped[bool] = mapped_column(default=True)
    max_wait_minutes: Mapped[int] = mapped_column(Integer, default=30)  # 0: no anti-starvation
    # The score's weight on short business (QueuePolicy.ratio_power).
    ratio_power: Mapped[float] = mapped_column(Float, default=2.0, server_default="2.0")
    # The deadline call order: nobody waits more than `fair_factor` times the longest
    # plain-queue wait of the day so far, at least `fair_floor_minutes` allowed.
    fair_factor: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    fair_floor_minutes: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    # That longest plain-queue wait (minutes) and its day, raised by call-next (bookkeeping).
    fair_wait_minutes: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    fair_wait_day: Mapped[date | None] = mapped_column(Date)
    # The store's promise to its customers: called within this many minutes. The live floor warns
    # of a wait past it (0: no warning); the call order does not read it (max_wait_minutes does).
    wait_target_minutes: Mapped[int] = mapped_column(Integer, default=20)
    vip_first: Mapped[int] = mapped_column(Integer, default=1)
    vip_window: Mapped[int] = mapped_column(Integer, default=2)
    # Priority-care tickets (issued by staff) go first at the counters that serve them.
    priority_care: Mapped[bool] = mapped_column(default=True, server_default=true())
    # A missed (no-show) ticket may rejoin within this window, this many places behind the head.
    rejoin_minutes: Mapped[int] = mapped_column(Integer, default=30)
    rejoin_places: Mapped[int] = mapped_column(Integer, default=3)
    # A waiting customer may let at most this many people go ahead (让号), once (0: off).
    let_ahead_places: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    remote_join: Mapped[bool] = mapped_column(default=True)
    # Remote tickets open at once, at most (0: no cap); remote joining and the kiosk stop this
    # many minutes before closing; a remote ticket may have to confirm arrival before its call.
    remote_max_open: Mapped[int] = mapped_column(Integer, default=50)
    remote_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=30)
    kiosk_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=0)
    remote_requires_arrival: Mapped[bool] = mapped_column(default=False)
    # VIP is not self-declared: VIP services are issued by staff unless the store opens them.
    public_vip: Mapped[bool] = mapped_column(default=False)
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
    # Opening hours per weekday (Monday = "0"): [["09:00", "18:00"], ...]; holidays as ISO dates;
    # special days (ISO date -> spans) open with their own hours instead of their weekday's.
    hours: Mapped[dict[str, list[list[str]]]] = mapped_column(
        JSON, default=lambda: dict(DEFAULT_HOURS)
    )
    closed_dates: Mapped[list[str]] = mapped_column(JSON, default=list)
    special_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)
    # Booking rules (a slot's length and capacity are each service's).
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    booking_lead_minutes: Mapped[int] = mapped_column(Integer, default=30)
    bookings_per_phone_per_day: Mapped[int] = mapped_column(Integer, default=1)
    phone_pattern: Mapped[str] = mapped_column(String(100), default=r"^1[3-9]\d{9}$")
    checkin_early_minutes: Mapped[int] = mapped_column(Integer, default=15)
    checkin_late_minutes: Mapped[int] = mapped_column(Integer, default=30)
    # The SMS reminder before a booked slot (0: none).
    reminder_minutes: Mapped[int] = mapped_column(Integer, default=120)
    # "Almost your turn" goes to a ticket's push subscriptions (and SMS number) once this many
    # people or fewer are ahead of it (0: never).
    almost_ahead: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    appointment_prefix: Mapped[str] = mapped_column(String(4), default="Y")
    # Days after which customers' names and phone numbers are erased (statistics stay).
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
    # A complaint case is promised within this many working days; a rating of this many stars
    # or fewer with a comment opens one (0: ratings open none).
    case_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    case_rating_threshold: Mapped[int] = mapped_column(Integer, default=2, server_default="2")

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


class Service(Model):
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
    # Bookings of this service that may overlap at any moment (its counters for appointments).
    slot_capacity: Mapped[int] = mapped_column(Integer, default=1)
    # Learned from completed visits (exponentially weighted), trusted after enough of them.
    learned_minutes: Mapped[float | None] = mapped_column()
    learned_count: Mapped[int] = mapped_column(Integer, default=0)
    # The service's own outcome codes besides the standard ones, e.g.
    # [{"code": "plan_changed", "name_zh": "已改套餐", "name_en": "Plan changed"}].
    outcomes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)

    store: Mapped[Store] = relationship(back_populates="services")

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_zh


class Counter(Model):
    __table_args__ = (UniqueConstraint("store_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    number: Mapped[int] = mapped_column(Integer)
    # Its own name besides the number (e.g. 宽带专窗 / Broadband), optional.
    name_zh: Mapped[str] = mapped_column(String(40), default="")
    name_en: Mapped[str] = mapped_column(String(40), default="")
    # The profile: lanes in the order this counter serves them, and the services it may serve
    # within them (empty: all of them); held for appointments, it calls booked customers only.
    lanes: Mapped[list[str]] = mapped_column(JSON, default=list)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    reserved: Mapped[bool] = mapped_column(default=False)
    status: Mapped[CounterStatus] = mapped_column(
        enum_column(CounterStatus), default=CounterStatus.OPEN
    )
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    # A paused counter's planned return (UTC), if the clerk said how long; cleared on resume and
    # sign-out. Screens show it only while it is still to come; the forecast counts on it.
    back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The clerk signed in here (one clerk per counter, one counter per clerk).
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # The last call requests' ids: a repeated click (even an older one) calls nobody else.
    recent_request_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Retired (it has history, so it is kept): nobody signs in or is called there any more.
    archived: Mapped[bool] = mapped_column(default=False)

    clerk: Mapped[User | None] = relationship(foreign_keys=[clerk_id])

    store: Mapped[Store] = relationship(back_populates="counters")

    @property
    def lane_profile(self) -> tuple[Lane, ...]:
        return tuple(Lane(lane) for lane in self.lanes)

    @property
    def view(self) -> CounterView:
        """The counter as the call policy sees it."""
        return CounterView(
            self.number,
            self.lane_profile,
            self.status,
            frozenset(self.services or ()),
            bool(self.reserved),
        )


# Columns that change as the day goes (who is signed in, learned durations), not configuration.
_LIVE_COLUMNS = {
    "Service": {"learned_minutes", "learned_count"},
    "Counter": {"clerk_id", "status", "pause_reason", "back_at", "recent_request_ids"},
}


def _config_changed(obj: Any) -> bool:
    state = inspect(obj)
    if state.pending or state.deleted:
        return True
    live = _LIVE_COLUMNS[type(obj).__name__]
    return any(attr.key not in live and attr.history.has_changes() for attr in state.attrs)


@event.listens_for(Session, "before_flush")
def _bump_config_version(session: Session, _context: Any, _instances: Any) -> None:
    """A service or counter configured differently bumps its store's config version, so every
    process's config cache reloads it on the next command."""
    touched = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Service | Counter) and _config_changed(obj):
            store_id = obj.store_id or (obj.store.id if obj.store is not None else None)
            if store_id is not None:  # a new store starts at config version 0 anyway
                touched.add(store_id)
    for store_id in touched:
        store = session.get(Store, store_id)
        if store is not None:
            store.config_version = (store.config_version or 0) + 1
