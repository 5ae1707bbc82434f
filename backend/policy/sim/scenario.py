"""A simulated hall day's description: counters, staffing, services, arrivals, bookings, policy.

Built from a plain dict (`scenario_from_dict`) or a TOML file (`load_scenario`); the format is
described in bench/README.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints

from ..enums import Lane
from ..eta import SAMPLES
from ..ordering import CounterView, QueuePolicy

ALL_LANES = (Lane.FAST, Lane.STANDARD, Lane.VIP, Lane.APPOINTMENT)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    code: str
    lane: Lane
    share: float
    mean: float
    cv: float


@dataclass(frozen=True, slots=True)
class AppointmentSpec:
    share: float = 0.0
    slot_minutes: int = 15
    punctuality_mean: float = 0.0
    punctuality_sd: float = 0.0
    no_show: float = 0.0
    checkin_early: float = 15.0
    checkin_late: float = 30.0
    services: tuple[str, ...] = ()  # bookable services; empty: all but the VIP lane
    # The calendar (bench/README.md, "More of the real day"): bookings made ahead, each into a
    # slot of the live slot rules with this many places (0: every wish is granted, no calendar);
    # a customer whose slot is full takes the nearest free one within `flex_minutes` of the
    # wish, else is refused and comes as a walk-in.
    capacity: int = 0
    flex_minutes: float = 30.0


@dataclass(frozen=True, slots=True)
class EtaSpec:
    cv: float = 0.5
    samples: int = SAMPLES  # at most: fewer for a long queue, as live (eta.sample_count)
    every: int = 1  # forecast at the issue of every k-th ticket only
    # Earlier days of the same hall simulated first, whose customers giving up tell the estimate
    # how patient people are until the day itself has seen enough leave (eta.observed_patience).
    # 0: none (a store on its first day, as in the scripted morning that checks live = simulated).
    history_days: int = 0
    # Tickets of each earlier day given the estimate as it is printed, whose errors scale the
    # range as a live store's earlier promises scale its own (eta.range_scale); 0: not scaled.
    # (Live, every ticket counts: these are a sample, as each forecast costs a few dozen ms.)
    history_promises: int = 0


# The live store's defaults for a missed ticket (stores.models.Store): it may rejoin within this
# many minutes of being marked missed, this many places behind the head of its lane.
STORE_REJOIN_MINUTES = 30.0
STORE_REJOIN_PLACES = 3
# How long a counter waits for a called customer who does not come, unless the scenario says.
DEFAULT_RECALL_MINUTES = 1.0
# A missed customer who comes back does so after a delay drawn uniformly from this range.
DEFAULT_REJOIN_AFTER = (5.0, 15.0)


@dataclass(frozen=True, slots=True)
class BehaviourSpec:
    """How customers and clerks behave beyond the obliging defaults; every setting off by default
    (bench/README.md, "Customers who are not obliging")."""

    walk_mean: float = 0.0  # minutes from the call to the counter (lognormal)
    walk_cv: float = 0.0
    miss_share: float = 0.0  # of customers, who do not come at their first call
    recall_minutes: float = DEFAULT_RECALL_MINUTES  # the counter waits this long, then calls next
    rejoin_share: float = 0.0  # of missed customers, who come back
    rejoin_after: tuple[float, float] = DEFAULT_REJOIN_AFTER  # minutes after the miss (uniform)
    rejoin_minutes: float = STORE_REJOIN_MINUTES  # the live window to rejoin
    rejoin_places: int = STORE_REJOIN_PLACES  # the live places behind the head
    clerk_factors: tuple[float, ...] = ()  # per counter in number order, × service durations
    clerk_cv: float = 0.0  # or drawn per seed: lognormal with mean 1 and this cv
    tolerance_mean: float = math.inf  # the longest estimate a customer takes a ticket for
    tolerance_cv: float = 0.5
    promise_factor: float = 0.0  # patience >= this × the printed estimate

    @property
    def active(self) -> bool:
        """Whether any behaviour is switched on (then the day reports balked, missed and left);
        the recall and rejoin settings only shape missed calls, clerks all at 1 are the default."""
        return (
            self.walk_mean > 0
            or self.miss_share > 0
            or any(factor != 1 for factor in self.clerk_factors)
            or self.clerk_cv > 0
            or math.isfinite(self.tolerance_mean)
            or self.promise_factor > 0
        )


@dataclass(frozen=True, slots=True)
class PauseSpec:
    """Clerks who step away unplanned, not saying when they are back (the [pauses] table; off
    by default): `per_hour` pauses per staffed counter and hour, lasting a lognormal `mean`
    minutes with coefficient of variation `cv`. A clerk pauses after the customer at the desk."""

    per_hour: float = 0.0
    mean: float = 10.0
    cv: float = 0.8
    # (start, counter, minutes) per pause, drawn per seed (sim/pauses.py, with_unplanned_pauses).
    drawn: tuple[tuple[float, int, float], ...] = ()


def parse_pauses(table: dict[str, Any]) -> PauseSpec:
    """The [pauses] table: per_hour, mean and cv (an unknown key is an error)."""
    unknown = sorted(set(table) - {"per_hour", "mean", "cv"})
    if unknown:
        raise ValueError(f"unknown [pauses] settings: {', '.join(unknown)}")
    default = PauseSpec()
    spec = PauseSpec(
        per_hour=float(table.get("per_hour", default.per_hour)),
        mean=float(table.get("mean", default.mean)),
        cv=float(table.get("cv", default.cv)),
    )
    if spec.per_hour < 0 or spec.mean <= 0 or spec.cv < 0:
        raise ValueError("[pauses] needs per_hour >= 0, mean > 0 and cv >= 0")
    return spec


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    """Customers who take their ticket from the phone and arrive later ([remote])."""

    share: float = 0.0  # of walk-in customers
    travel_mean: float = 10.0  # minutes from the ticket to the hall (lognormal)
    travel_cv: float = 0.5

    @property
    def active(self) -> bool:
        return self.share > 0


@dataclass(frozen=True, slots=True)
class LearningSpec:
    """The service times the store believes ([learning]): the policy, the estimate and every
    ticket's expected duration use them instead of the scenario's true means."""

    prior_cv: float = 0.0  # the configured mean = true × a lognormal factor (mean 1), per seed
    warm_visits: int = 0  # visits learned before the day (the live rule, from the configured)
    live: bool = False  # and the day's own completed visits, as the live system learns them
    # Fixed per seed by `for_seed`: (service, learned mean or None, visits learned, configured).
    start: tuple[tuple[str, float | None, int, float], ...] = ()

    @property
    def active(self) -> bool:
        return self.prior_cv > 0 or self.warm_visits > 0 or self.live


@dataclass(frozen=True, slots=True)
class TransferSpec:
    """Visits that need a second service in another lane after the first ([transfers])."""

    share: float = 0.0  # of visits
    services: tuple[str, ...] = ()  # the second services; empty: every non-VIP service

    @property
    def active(self) -> bool:
        return self.share > 0


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    open_at: float  # minutes after midnight
    close_at: float
    counters: tuple[CounterView, ...]
    staffing: tuple[tuple[float, frozenset[int]], ...]  # (minutes after opening, counters open)
    services: tuple[ServiceSpec, ...]
    arrivals: tuple[tuple[float, float], ...]  # (hour start after opening, customers per hour)
    appointments: AppointmentSpec
    patience_mean: float
    patience_cv: float
    target: float
    seed: int
    policy: QueuePolicy
    eta: EtaSpec
    behaviour: BehaviourSpec = BehaviourSpec()
    pauses: PauseSpec = PauseSpec()
    remote: RemoteSpec = RemoteSpec()
    learning: LearningSpec = LearningSpec()
    transfers: TransferSpec = TransferSpec()

    @property
    def length(self) -> float:
        return self.close_at - self.open_at

    @property
    def switched_on(self) -> list[str]:
        """The tables of customer and store behaviour switched on (an oracle replays none)."""
        tables = {
            "behaviour": self.behaviour.active,
            "remote": self.remote.active,
            "learning": self.learning.active,
            "transfers": self.transfers.active,
            "pauses": self.pauses.per_hour > 0,
        }
        return [name for name, on in tables.items() if on]

    @property
    def reports_leaving(self) -> bool:
        """Whether the day reports balked, missed and left (a remote joiner can miss a call)."""
        return self.behaviour.active or self.remote.active

    def service(self, code: str) -> ServiceSpec:
        return next(s for s in self.services if s.code == code)


def clock(text: str) -> float:
    """'09:30' -> minutes after midnight."""
    hours, _, minutes = str(text).partition(":")
    return int(hours) * 60 + int(minutes or 0)


def minutes_or_none(value: Any) -> timedelta | None:
    """A [policy] duration: minutes, or false / 0 to switch the rule off."""
    if value is False or value is None or value == 0:
        return None
    return timedelta(minutes=float(value))


def policy_value(hint: Any, value: Any) -> Any:
    """One [policy] entry as the QueuePolicy field of this type wants it."""
    optional = type(None) in get_args(hint)
    kinds = [k for k in (get_args(hint) or (hint,)) if k is not type(None)]
    if timedelta in kinds:
        # A rule that can be switched off (false or 0: None); else a duration, 0 included.
        return minutes_or_none(value) if optional else timedelta(minutes=float(value))
    return kinds[0](value)


def parse_policy(table: dict[str, Any], checkin_late: float) -> QueuePolicy:
    """The scenario's [policy] table: any QueuePolicy field (durations in minutes); anything
    missing keeps QueuePolicy's default, except the grace, which defaults to the check-in window
    as the live store settings do."""
    hints = get_type_hints(QueuePolicy)
    names = [f.name for f in fields(QueuePolicy)]
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise ValueError(f"unknown [policy] settings: {', '.join(unknown)}")
    given = {"appointment_grace": checkin_late, **table}
    return QueuePolicy(**{k: policy_value(hints[k], v) for k, v in given.items()})


def parse_counters(rows: list[dict[str, Any]]) -> tuple[CounterView, ...]:
    return tuple(
        CounterView(int(r["number"]), tuple(Lane(x) for x in r["lanes"]))
        for r in sorted(rows, key=lambda r: r["number"])
    )


def parse_services(rows: list[dict[str, Any]]) -> tuple[ServiceSpec, ...]:
    return tuple(
        ServiceSpec(
            str(r["code"]), Lane(r["lane"]), float(r["share"]), float(r["mean"]), float(r["cv"])
        )
        for r in rows
    )


def parse_appointments(table: dict[str, Any]) -> AppointmentSpec:
    rest = {k: v for k, v in table.items() if k != "services"}
    return AppointmentSpec(**rest, services=tuple(table.get("services", ())))


# More visits learned before the day change nothing (the EWMA forgets all but the last ~50).
MAX_WARM_VISITS = 10_000


def table_value(hint: Any, value: Any, where: str) -> Any:
    """One setting as its field's type wants it (a number, a flag or a list of codes)."""
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false")
        return value
    try:
        if hint in (float, int):
            if isinstance(value, bool):
                raise TypeError
            number = hint(value)
            if hint is float and not math.isfinite(number):
                raise TypeError
            return number
        return tuple(str(code) for code in value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} has a wrong value: {value!r}") from None


def parse_table(kind: type, table: dict[str, Any], title: str) -> Any:
    """A table whose keys are the fields of `kind` (an unknown key is an error)."""
    names = {f.name for f in fields(kind)} - {"start"}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"unknown [{title}] settings: {', '.join(unknown)}")
    hints = get_type_hints(kind)
    return kind(**{k: table_value(hints[k], v, f"[{title}] {k}") for k, v in table.items()})


def parse_realism(data: dict[str, Any], services: tuple[ServiceSpec, ...]) -> dict[str, Any]:
    """The [remote], [learning] and [transfers] tables, checked."""
    remote = parse_table(RemoteSpec, data.get("remote", {}), "remote")
    learning = parse_table(LearningSpec, data.get("learning", {}), "learning")
    transfers = parse_table(TransferSpec, data.get("transfers", {}), "transfers")
    if not 0 <= remote.share <= 1 or remote.travel_mean <= 0 or remote.travel_cv < 0:
        raise ValueError("[remote] needs 0 <= share <= 1, travel_mean > 0 and travel_cv >= 0")
    if learning.prior_cv < 0 or not 0 <= learning.warm_visits <= MAX_WARM_VISITS:
        raise ValueError(
            f"[learning] needs prior_cv >= 0 and 0 <= warm_visits <= {MAX_WARM_VISITS}"
        )
    codes = {s.code for s in services}
    if not 0 <= transfers.share <= 1 or not set(transfers.services) <= codes:
        raise ValueError("[transfers] needs 0 <= share <= 1 and services of the scenario")
    return {"remote": remote, "learning": learning, "transfers": transfers}


def check_calendar(spec: AppointmentSpec, length: float) -> None:
    if spec.capacity < 0 or spec.flex_minutes < 0:
        raise ValueError("[appointments] capacity and flex_minutes cannot be negative")
    if spec.capacity and length >= 24 * 60:
        raise ValueError("[appointments] a calendar needs a day shorter than 24 hours")


def parse_behaviour(table: dict[str, Any], counters: int) -> BehaviourSpec:
    """The [behaviour] table: any BehaviourSpec field (an unknown key is an error)."""
    names = {f.name for f in fields(BehaviourSpec)}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"unknown [behaviour] settings: {', '.join(unknown)}")
    given: dict[str, Any] = dict(table)
    for key in ("rejoin_after", "clerk_factors"):
        if key in given:
            given[key] = tuple(float(x) for x in given[key])
    spec = BehaviourSpec(**given)
    if spec.clerk_factors and len(spec.clerk_factors) != counters:
        raise ValueError("[behaviour] clerk_factors needs one factor per counter")
    if spec.clerk_factors and spec.clerk_cv > 0:
        raise ValueError("[behaviour] give clerk_factors or clerk_cv, not both")
    low, high = spec.rejoin_after
    if not 0 <= low <= high:
        raise ValueError("[behaviour] rejoin_after must be [low, high] with 0 <= low <= high")
    return spec


def scenario_from_dict(data: dict[str, Any], name: str = "scenario") -> Scenario:
    """Build a Scenario from the parsed TOML (see bench/README.md)."""
    open_at, close_at = clock(data["hours"]["open"]), clock(data["hours"]["close"])
    counters = parse_counters(data["counters"])
    plan = data.get("staffing") or {data["hours"]["open"]: [c.number for c in counters]}
    appointments = parse_appointments(data.get("appointments", {}))
    patience = data.get("patience", {})
    services = parse_services(data["services"])
    check_calendar(appointments, close_at - open_at)
    return Scenario(
        name=str(data.get("name", name)),
        open_at=open_at,
        close_at=close_at,
        counters=counters,
        staffing=tuple(sorted((clock(k) - open_at, frozenset(v)) for k, v in plan.items())),
        services=services,
        arrivals=tuple(sorted((clock(k) - open_at, float(v)) for k, v in data["arrivals"].items())),
        appointments=appointments,
        patience_mean=float(patience.get("mean", math.inf)),
        patience_cv=float(patience.get("cv", 0.5)),
        target=float(data.get("target_minutes", 15)),
        seed=int(data.get("seed", 0)),
        policy=parse_policy(data.get("policy", {}), appointments.checkin_late),
        eta=EtaSpec(**data.get("eta", {})),
        behaviour=parse_behaviour(data.get("behaviour", {}), len(counters)),
        pauses=parse_pauses(data.get("pauses", {})),
        **parse_realism(data, services),
    )


def load_scenario(path: str | Path) -> Scenario:
    """A scenario TOML file; its name defaults to the file's stem."""
    with open(path, "rb") as fh:
        return scenario_from_dict(tomllib.load(fh), Path(path).stem)
