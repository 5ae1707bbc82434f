"""Immutable views of a store's configuration, built in one place.

`StoreSettings` is the store row's rules as a frozen value (it builds the call policy);
`ServiceInfo` and `CounterInfo` are a service's and a counter's configuration. Commands look
services and counters up in a small per-process cache keyed by the store's `config_version`, which
a flush of any changed service or counter bumps (stores/models.py), so that a command reads no
configuration rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from backend.core.db import data_key
from backend.extensions import db
from backend.policy import Lane, Ordering, QueuePolicy
from backend.policy.learning import trusted_minutes
from backend.policy.patience import Patience
from backend.policy.slots import HallHours, OpenState, open_state
from backend.stores.models import Counter, Service


@dataclass(frozen=True, slots=True)
class StoreSettings:
    id: int
    code: str
    name_zh: str
    name_en: str
    timezone: str
    version: int
    config_version: int
    ordering: str
    work_conserving: bool
    max_wait_minutes: int
    ratio_power: float
    fair_factor: float
    fair_floor_minutes: int
    fair_wait_minutes: float
    fair_wait_day: date | None
    wait_target_minutes: int
    vip_first: int
    vip_window: int
    priority_care: bool
    rejoin_minutes: int
    rejoin_places: int
    let_ahead_places: int
    remote_join: bool
    remote_max_open: int
    remote_cutoff_minutes: int
    kiosk_cutoff_minutes: int
    remote_requires_arrival: bool
    public_vip: bool
    hours: dict[str, list[list[str]]]
    closed_dates: list[str]
    special_hours: dict[str, list[list[str]]]
    kiosk_rate_per_minute: int
    kiosk_idle_seconds: int
    notices_zh: str
    notices_en: str
    announce_langs: str
    recall_limit: int
    address_zh: str
    address_en: str
    checkin_early_minutes: int
    checkin_late_minutes: int
    appointment_prefix: str
    retention_days: int
    almost_ahead: int

    @classmethod
    def of(cls, row: Any) -> StoreSettings:
        """From a Store object or a Core row of the store table."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    def fair_wait(self, day: date | None) -> float:
        """The longest plain-queue wait of this service day so far (0 before its first call)."""
        return float(self.fair_wait_minutes or 0.0) if day and self.fair_wait_day == day else 0.0

    def policy(self, day: date | None = None, patience: Patience | None = None) -> QueuePolicy:
        """The call order's settings; the deadline order's yardstick is `day`'s (none without),
        counting who leaves by `patience` (the store's earlier days: `learned_patience`)."""
        deadline = Ordering(self.ordering) is Ordering.DEADLINE
        return QueuePolicy(
            ordering=Ordering(self.ordering),
            work_conserving=self.work_conserving,
            appointment_grace=timedelta(minutes=self.checkin_late_minutes),
            max_wait=timedelta(minutes=self.max_wait_minutes) if self.max_wait_minutes else None,
            vip_first=self.vip_first,
            vip_window=self.vip_window,
            priority_care=self.priority_care,
            ratio_power=float(self.ratio_power),
            fair_factor=float(self.fair_factor),
            fair_floor=timedelta(minutes=self.fair_floor_minutes),
            fair_wait=self.fair_wait(day),
            patience=patience if deadline else None,
        )

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def address(self, lang: str) -> str:
        return self.address_en if lang == "en" else self.address_zh

    def notices(self, lang: str) -> list[str]:
        text = self.notices_en if lang == "en" else self.notices_zh
        return [line.strip() for line in (text or "").splitlines() if line.strip()]

    def hall_hours(self) -> HallHours:
        return hall_hours(self)

    def open_state(self, moment: datetime) -> OpenState:
        return open_state(self.hall_hours(), moment)

    def public_service(self, service: ServiceInfo) -> bool:
        """Offered on the public kiosk and join pages (VIP only when the store opens it)."""
        return service.active and (self.public_vip or service.lane != Lane.VIP)

    @property
    def languages(self) -> list[str]:
        return [x for x in (self.announce_langs or "").split(",") if x]


def hall_hours(store: Any) -> HallHours:
    """A store's (row or settings) weekly hours, closed dates and special days."""
    closed = frozenset(date.fromisoformat(d) for d in store.closed_dates or [])
    special = {date.fromisoformat(d): spans for d, spans in (store.special_hours or {}).items()}
    return HallHours(store.timezone, store.hours or {}, closed, special)


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    id: int
    code: str
    name_zh: str
    name_en: str
    prefix: str
    lane: Lane
    expected_minutes: float
    bookable: bool
    active: bool
    sort_order: int
    category: str
    icon: str
    description_zh: str
    description_en: str
    slot_minutes: int
    slot_capacity: int
    learned_minutes: float | None
    learned_count: int
    # The service's own outcome codes besides the standard ones: (code, name_zh, name_en).
    outcomes: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def of(cls, row: Any) -> ServiceInfo:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["lane"] = Lane(values["lane"])
        values["outcomes"] = tuple(
            (o["code"], o.get("name_zh", ""), o.get("name_en", ""))
            for o in values["outcomes"] or ()
        )
        return cls(**values)

    def outcome_codes(self) -> frozenset[str]:
        return frozenset(code for code, _, _ in self.outcomes)

    @property
    def minutes(self) -> float:
        """The duration the policy and the estimate use: learned once there is enough data."""
        return trusted_minutes(self.expected_minutes, self.learned_minutes, self.learned_count)

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" else self.description_zh


@dataclass(frozen=True, slots=True)
class CounterInfo:
    id: int
    number: int
    lanes: tuple[Lane, ...]
    # Kept so that its past tickets still name it, but never a counter to send anyone to.
    archived: bool = False

    @classmethod
    def of(cls, row: Any) -> CounterInfo:
        lanes = tuple(Lane(lane) for lane in row.lanes or ())
        return cls(row.id, row.number, lanes, bool(row.archived))


@dataclass(frozen=True)
class StoreConfig:
    store_id: int
    config_version: int
    services: tuple[ServiceInfo, ...]
    counters: tuple[CounterInfo, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {s.code: s for s in self.services})
        object.__setattr__(self, "_by_id", {s.id: s for s in self.services})
        object.__setattr__(self, "_counters", {c.id: c for c in self.counters})
        object.__setattr__(self, "_numbers", {c.number: c for c in self.counters})

    def service(self, code: str) -> ServiceInfo | None:
        return self._by_code.get(code)  # type: ignore[attr-defined,no-any-return]

    def service_by_id(self, service_id: int) -> ServiceInfo:
        return self._by_id[service_id]  # type: ignore[attr-defined,no-any-return]

    def counter_by_id(self, counter_id: int | None) -> CounterInfo | None:
        return self._counters.get(counter_id)  # type: ignore[attr-defined,no-any-return]

    def counter(self, number: int) -> CounterInfo | None:
        """A working counter by its number (an archived one is no counter to send anyone to)."""
        found: CounterInfo | None = self._numbers.get(number)  # type: ignore[attr-defined]
        return found if found is not None and not found.archived else None

    def number_of(self, counter_id: int | None) -> int | None:
        counter = self.counter_by_id(counter_id)
        return counter.number if counter else None


def load_services(store_id: int) -> tuple[ServiceInfo, ...]:
    rows = db.session.execute(
        select(*Service.__table__.c)
        .where(Service.store_id == store_id)
        .order_by(Service.sort_order)
    ).all()
    return tuple(ServiceInfo.of(row) for row in rows)


CONFIG_CACHE_SIZE = 2048
_cache: OrderedDict[tuple[str, int], StoreConfig] = OrderedDict()
_cache_lock = threading.Lock()


def store_config(store_id: int, config_version: int) -> StoreConfig:
    """The store's services and counters as of `config_version` (two queries on a miss)."""
    key = (data_key(), store_id)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.config_version == config_version:
            _cache.move_to_end(key)
            return hit
    counters = db.session.execute(
        select(Counter.id, Counter.number, Counter.lanes, Counter.archived)
        .where(Counter.store_id == store_id)
        .order_by(Counter.number)
    ).all()
    config = StoreConfig(
        store_id,
        config_version,
        load_services(store_id),
        tuple(CounterInfo.of(row) for row in counters),
    )
    with _cache_lock:
        _cache[key] = config
        while len(_cache) > CONFIG_CACHE_SIZE:
            _cache.popitem(last=False)
    return config
