"""A store's visits reduced to figures that add up across days: the facts of one service day (kept
in `report_day` once the day is settled, see backend.reports.rollup) merge with another day's into
the facts of both, and every table of a report is drawn from the merged facts.

What is kept so that nothing is approximated: counts and sums; every wait and service time in
whole seconds (a median or a 90th percentile over a year is the exact one of the year's visits, to
the second: a median cannot be merged from daily medians); the estimate's errors as sums. Pure: no
database, no Flask.
"""

from __future__ import annotations

import base64
import json
import sys
from array import array
from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from backend.policy import TicketStatus

# The layout of a kept day's facts: a kept day of another layout is built again.
LAYOUT = 1
SECONDS = 60  # a minute's
# Every zone's offset from UTC is a multiple of a quarter of an hour: the local weekday, hour and
# date of a moment are those of its quarter, looked up once per quarter (a year has ~35,000).
QUARTER = 900


class Visit(NamedTuple):
    """One ticket as the reports need it: its durations already in minutes (computed by the
    database: no datetime is built per row)."""

    service_id: int
    lane: str
    counter_id: int | None
    clerk_id: int | None
    status: str
    outcome: str | None
    issued: float  # seconds since the epoch (UTC)
    wait: float | None  # issue (or check-in) to the first call
    service: float | None  # start to done, a completed visit's
    transfers: int
    rejoins: int
    promised: float | None
    low: int | None
    high: int | None
    actual: float | None  # the promise to the first call
    first_part: bool  # not a later part of a visit for several services (no promise)
    day: date  # its service day


class LocalTimes:
    """A moment's local weekday, hour and date in a zone (cached per quarter of an hour)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.known: dict[int, tuple[int, int, date]] = {}

    def __call__(self, epoch: float) -> tuple[int, int, date]:
        quarter = int(epoch // QUARTER)
        found = self.known.get(quarter)
        if found is None:
            at = datetime.fromtimestamp(quarter * QUARTER, UTC).astimezone(self.zone)
            found = self.known[quarter] = (at.weekday(), at.hour, at.date())
        return found


def walked_away(v: Visit, day: date, today: date) -> bool:
    """Left before any call: cancelled while waiting, or still waiting when its day `day` ended."""
    if v.wait is not None:  # it was called
        return False
    ended = day < today
    return v.status == TicketStatus.CANCELLED or (v.status == TicketStatus.WAITING and ended)


def seconds(minutes: float) -> int:
    return round(minutes * SECONDS)


@dataclass
class Group:
    """The visits of one group (a service, a lane, a counter, a weekday's hour): how many arrived,
    and the waits of those called and the service times of those served, in seconds."""

    arrivals: int = 0
    waits: list[int] = field(default_factory=list)
    services: list[int] = field(default_factory=list)

    def merge(self, other: Group) -> None:
        self.arrivals += other.arrivals
        self.waits += other.waits
        self.services += other.services

    def dump(self) -> list[Any]:
        return [self.arrivals, _packed(self.waits), _packed(self.services)]

    @classmethod
    def load(cls, raw: list[Any]) -> Group:
        return cls(raw[0], _unpacked(raw[1]), _unpacked(raw[2]))


# A kept group's durations are packed: in ascending order (a merge of days is then a merge of
# sorted runs), as 32-bit little-endian integers in base64 (a year's million of them decode in
# milliseconds, where JSON's own integers take a sixth of a second).
def _packed(values: list[int]) -> str:
    packed = array("i", sorted(values))
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _unpacked(text: str) -> list[int]:
    packed = array("i")
    packed.frombytes(base64.b64decode(text))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


@dataclass
class Errors:
    """The estimate's promises against the actual waits: how many, the sum of the absolute and
    of the signed errors (actual − promised, minutes), and how many fell inside the range."""

    count: int = 0
    absolute: float = 0.0
    signed: float = 0.0
    inside: int = 0

    def merge(self, other: Errors) -> None:
        self.count += other.count
        self.absolute += other.absolute
        self.signed += other.signed
        self.inside += other.inside

    def dump(self) -> list[Any]:
        return [self.count, self.absolute, self.signed, self.inside]


@dataclass
class Clerk:
    """A clerk's completed visits and the sum of their service times (seconds, of those timed)."""

    done: int = 0
    service_sum: int = 0
    timed: int = 0

    def merge(self, other: Clerk) -> None:
        self.done += other.done
        self.service_sum += other.service_sum
        self.timed += other.timed

    def dump(self) -> list[int]:
        return [self.done, self.service_sum, self.timed]


# The groups a visit counts in, each keyed by what the reports group by (a slot is the arrival's
# local weekday and hour: the hour, weekday and heatmap tables all merge slots).
GROUPINGS = ("service", "lane", "counter", "slot")
Key = int | str | tuple[int, int]


def _key_text(grouping: str, key: Any) -> str:
    return f"{key[0]}:{key[1]}" if grouping == "slot" else str(key)


def _key_of(grouping: str, text: str) -> Key:
    if grouping == "slot":
        weekday, hour = text.split(":")
        return (int(weekday), int(hour))
    if grouping == "lane":
        return text
    return int(text)


def _merge_into(mine: dict[Any, Any], theirs: dict[Any, Any], make: type) -> None:
    for key, value in theirs.items():
        found = mine.get(key)
        if found is None:
            found = mine[key] = make()
        found.merge(value)


@dataclass
class Facts:
    """The figures of a set of visits that add up: see the module's docstring."""

    groups: dict[str, dict[Any, Group]] = field(
        default_factory=lambda: {name: {} for name in GROUPINGS}
    )
    # issued, done, no_show, cancelled, walked, transferred, transfers, rejoined, outcome:<value>
    outcomes: Tally[str] = field(default_factory=Tally)
    clerks: dict[int, Clerk] = field(default_factory=dict)
    errors_by_lane: dict[str, Errors] = field(default_factory=dict)
    errors_by_hour: dict[int, Errors] = field(default_factory=dict)
    unpromised: int = 0  # first parts issued with no estimate

    def merge(self, other: Facts) -> None:
        for name in GROUPINGS:
            _merge_into(self.groups[name], other.groups[name], Group)
        self.outcomes.update(other.outcomes)
        _merge_into(self.clerks, other.clerks, Clerk)
        _merge_into(self.errors_by_lane, other.errors_by_lane, Errors)
        _merge_into(self.errors_by_hour, other.errors_by_hour, Errors)
        self.unpromised += other.unpromised

    # --- one visit ----------------------------------------------------------------------------

    def add(self, v: Visit, local: LocalTimes, today: date) -> None:
        weekday, hour, day = local(v.issued)
        wait = None if v.wait is None else seconds(v.wait)
        service = None if v.service is None else seconds(v.service)
        keys: dict[str, Key | None] = {
            "service": v.service_id,
            "lane": v.lane,
            "counter": v.counter_id,
            "slot": (weekday, hour),
        }
        for name, key in keys.items():
            if key is None:
                continue
            group = self.groups[name].get(key)
            if group is None:
                group = self.groups[name][key] = Group()
            group.arrivals += 1
            if wait is not None:
                group.waits.append(wait)
            if service is not None:
                group.services.append(service)
        self._count(v, walked_away(v, day, today))
        if v.clerk_id is not None and v.status == TicketStatus.DONE:
            clerk = self.clerks.setdefault(v.clerk_id, Clerk())
            clerk.done += 1
            if service is not None:
                clerk.service_sum += service
                clerk.timed += 1
        self._promise(v, hour)

    def _count(self, v: Visit, walked: bool) -> None:
        o = self.outcomes
        o["issued"] += 1
        o[str(v.status)] += 1
        o["walked"] += walked
        o["transferred"] += v.transfers > 0
        o["transfers"] += v.transfers
        o["rejoined"] += v.rejoins > 0
        if v.status == TicketStatus.DONE and v.outcome:
            o[f"outcome:{v.outcome}"] += 1

    def _promise(self, v: Visit, hour: int) -> None:
        if v.promised is None and v.first_part:  # later parts promise nothing
            self.unpromised += 1
        if v.promised is None or v.low is None or v.high is None or v.actual is None:
            return
        error = v.actual - v.promised
        one = Errors(1, abs(error), error, int(v.low <= v.actual <= v.high))
        self.errors_by_lane.setdefault(v.lane, Errors()).merge(one)
        self.errors_by_hour.setdefault(hour, Errors()).merge(one)

    # --- kept as JSON -------------------------------------------------------------------------

    def dumps(self) -> str:
        return json.dumps(
            {
                "groups": {
                    name: {_key_text(name, k): g.dump() for k, g in self.groups[name].items()}
                    for name in GROUPINGS
                },
                "outcomes": dict(self.outcomes),
                "clerks": {str(k): c.dump() for k, c in self.clerks.items()},
                "errors_by_lane": {k: e.dump() for k, e in self.errors_by_lane.items()},
                "errors_by_hour": {str(k): e.dump() for k, e in self.errors_by_hour.items()},
                "unpromised": self.unpromised,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str) -> Facts:
        raw = json.loads(text)
        facts = cls()
        for name in GROUPINGS:
            facts.groups[name] = {
                _key_of(name, k): Group.load(g) for k, g in raw["groups"][name].items()
            }
        facts.outcomes = Tally(raw["outcomes"])
        facts.clerks = {int(k): Clerk(*c) for k, c in raw["clerks"].items()}
        facts.errors_by_lane = {k: Errors(*e) for k, e in raw["errors_by_lane"].items()}
        facts.errors_by_hour = {int(k): Errors(*e) for k, e in raw["errors_by_hour"].items()}
        facts.unpromised = raw["unpromised"]
        return facts


def facts_of(visits: Iterable[Visit], zone: ZoneInfo, today: date) -> Facts:
    """The facts of these visits, `today` being the store's date now (a visit still waiting
    walked away only once its day is over)."""
    facts = Facts()
    local = LocalTimes(zone)
    for v in visits:
        facts.add(v, local, today)
    return facts


def facts_by_day(visits: Iterable[Visit], zone: ZoneInfo, today: date) -> dict[date, Facts]:
    """The facts of each service day among these visits."""
    days: dict[date, Facts] = {}
    local = LocalTimes(zone)
    for v in visits:
        found = days.get(v.day)
        if found is None:
            found = days[v.day] = Facts()
        found.add(v, local, today)
    return days


def merged(parts: Iterable[Facts]) -> Facts:
    total = Facts()
    for part in parts:
        total.merge(part)
    return total


def merged_groups(groups: Iterable[Group]) -> Group:
    total = Group()
    for g in groups:
        total.merge(g)
    return total
