"""A seeded family of generated business halls, each a plain scenario dict.

    halls = generate_family(50, seed=0)      # [dict]; scenario_from_dict(hall) builds each
    offered_load(halls[0])                   # = its drawn target load

Every hall differs in counters (3–12: fast-only, standard+fast, some standard-only, a VIP
counter in some), services (4–7), opening hours (8–11 h), arrival peaks (one or two), lunch
breaks, bookings and patience. Its arrival rates are scaled so that its offered load — the
day's expected service hours over its staffed counter-hours — equals a target; the targets are
spread evenly over [MIN_LOAD, MAX_LOAD] across the family. The same seed gives the same family.
"""

from __future__ import annotations

import math
import random
import tomllib
from pathlib import Path
from typing import Any

WEEKDAY = Path(__file__).resolve().parent / "scenarios" / "weekday.toml"

MIN_LOAD, MAX_LOAD = 0.60, 0.98  # offered load (utilisation) of the least and most busy hall
MIN_COUNTERS, MAX_COUNTERS = 3, 12
MIN_SERVICES, MAX_SERVICES = 4, 7
MIN_HOURS, MAX_HOURS = 8, 11
EARLIEST_OPEN, LATEST_OPEN = 8, 10  # o'clock
FAST_MEAN = (1.5, 4.0)  # minutes
STANDARD_MEAN = (6.0, 20.0)
VIP_MEAN = (6.0, 12.0)
CV = (0.4, 1.0)
FAST_SHARE = (0.35, 0.65)  # of arrivals, all fast services together
VIP_SHARE = (0.02, 0.05)
VIP_HALL_CHANCE = 0.4
MIN_COUNTERS_FOR_VIP = 4
STANDARD_ONLY_CHANCE = 0.3  # a standard+fast counter that serves the standard lane only
TWO_PEAKS_CHANCE = 0.6
PEAK_HEIGHT = (0.8, 2.0)  # times the base rate, added at the peak's hour
PEAK_WIDTH_HOURS = (0.7, 1.5)
# Lunch breaks: counters take turns, in this many consecutive slots of one break each, from
# around noon; the VIP counter keeps serving (as in weekday.toml).
LUNCH_FROM_COUNTERS = 4
LUNCH_SLOTS = 4
LUNCH_STARTS = ("11:30", "12:00")
LUNCH_MINUTES = (30, 45)
APPOINTMENT_SHARE = (0.0, 0.20)
NO_APPOINTMENTS_CHANCE = 0.15
SLOT_MINUTES = (15, 20, 30)
PUNCTUALITY_MEAN = (-6.0, 0.0)
PUNCTUALITY_SD = (3.0, 8.0)
NO_SHOW = (0.05, 0.20)
PATIENCE_MEAN = (25.0, 60.0)
PATIENCE_CV = 0.5
TARGET_MINUTES = 15
RATE_DECIMALS = 3  # arrivals per hour; far finer than the 1 % the load must match


def weekday_tables() -> tuple[dict[str, Any], dict[str, Any]]:
    """The weekday scenario's [policy] and [eta] tables (every hall is run with them)."""
    with open(WEEKDAY, "rb") as fh:
        data = tomllib.load(fh)
    return dict(data["policy"]), dict(data.get("eta", {}))


def hhmm(minutes: float) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def minutes_of(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def load_targets(count: int) -> list[float]:
    """Evenly spaced over [MIN_LOAD, MAX_LOAD], both ends included."""
    if count == 1:
        return [(MIN_LOAD + MAX_LOAD) / 2]
    step = (MAX_LOAD - MIN_LOAD) / (count - 1)
    return [MIN_LOAD + step * i for i in range(count)]


# --- the hall's parts -----------------------------------------------------------------------


def draw_counters(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Fast-only counters first, then standard+fast (some standard-only), the VIP one last:
    the fast- and standard-serving counters are runs of consecutive numbers, so staggered
    breaks never close a lane."""
    vip = 1 if count >= MIN_COUNTERS_FOR_VIP and rng.random() < VIP_HALL_CHANCE else 0
    fast_only = rng.randint(1, max(1, count // 3))
    mixed = count - fast_only - vip  # >= 2 for every count >= 3
    standard_only = sum(rng.random() < STANDARD_ONLY_CHANCE for _ in range(mixed - 1))
    profiles = (
        [["fast"]] * fast_only
        + [["standard", "fast"]] * (mixed - standard_only)
        + [["standard"]] * standard_only
        + [["vip", "standard", "fast"]] * vip
    )
    return [{"number": i, "lanes": list(lanes)} for i, lanes in enumerate(profiles, start=1)]


def split(rng: random.Random, total: float, parts: int) -> list[float]:
    weights = [rng.uniform(0.5, 1.5) for _ in range(parts)]
    return [total * w / sum(weights) for w in weights]


def draw_services(rng: random.Random, vip: bool) -> list[dict[str, Any]]:
    """4–7 services: 1–3 fast, the rest standard, and a VIP one where a VIP counter is."""
    count = rng.randint(MIN_SERVICES, MAX_SERVICES)
    regular = count - vip
    fast = rng.randint(1, min(3, regular - 2))
    vip_share = rng.uniform(*VIP_SHARE) if vip else 0.0
    fast_share = rng.uniform(*FAST_SHARE)
    shares = split(rng, fast_share, fast) + split(rng, 1 - fast_share - vip_share, regular - fast)
    lanes = ["fast"] * fast + ["standard"] * (regular - fast)
    services = []
    for i, (lane, share) in enumerate(zip(lanes, shares, strict=True)):
        bounds = FAST_MEAN if lane == "fast" else STANDARD_MEAN
        services.append(service_row(rng, chr(ord("A") + i), lane, share, bounds))
    if vip:
        services.append(service_row(rng, "V", "vip", vip_share, VIP_MEAN))
    return services


def service_row(
    rng: random.Random, code: str, lane: str, share: float, mean: tuple[float, float]
) -> dict[str, Any]:
    return {
        "code": code,
        "lane": lane,
        "share": round(share, 4),
        "mean": round(rng.uniform(*mean), 2),
        "cv": round(rng.uniform(*CV), 2),
    }


def draw_profile(rng: random.Random, hours: int) -> list[float]:
    """Relative arrivals per hour: a base of 1 plus one or two bell-shaped peaks."""
    peaks = [rng.uniform(1.0, hours / 2)]
    if rng.random() < TWO_PEAKS_CHANCE:
        peaks.append(rng.uniform(hours / 2 + 1, hours - 1))
    shape = []
    for hour in range(hours):
        middle = hour + 0.5
        level = 1.0
        for peak in peaks:
            height, width = rng.uniform(*PEAK_HEIGHT), rng.uniform(*PEAK_WIDTH_HOURS)
            level += height * math.exp(-((middle - peak) ** 2) / (2 * width * width))
        shape.append(level)
    return shape


def draw_staffing(
    rng: random.Random, counters: list[dict[str, Any]], open_at: int
) -> dict[str, list[int]] | None:
    """Staggered lunch breaks for halls of LUNCH_FROM_COUNTERS or more: counter k breaks in
    slot k mod LUNCH_SLOTS, so the counters of a run never all break together."""
    if len(counters) < LUNCH_FROM_COUNTERS:
        return None
    everyone = [c["number"] for c in counters]
    breaking = [c["number"] for c in counters if "vip" not in c["lanes"]]
    start, length = minutes_of(rng.choice(LUNCH_STARTS)), rng.choice(LUNCH_MINUTES)
    plan = {hhmm(open_at): everyone}
    for slot in range(LUNCH_SLOTS):
        away = breaking[slot::LUNCH_SLOTS]
        plan[hhmm(start + slot * length)] = [n for n in everyone if n not in away]
    plan[hhmm(start + LUNCH_SLOTS * length)] = everyone
    return plan


def draw_appointments(rng: random.Random) -> dict[str, Any]:
    share = 0.0 if rng.random() < NO_APPOINTMENTS_CHANCE else rng.uniform(*APPOINTMENT_SHARE)
    return {
        "share": round(share, 3),
        "slot_minutes": rng.choice(SLOT_MINUTES),
        "punctuality_mean": round(rng.uniform(*PUNCTUALITY_MEAN), 1),
        "punctuality_sd": round(rng.uniform(*PUNCTUALITY_SD), 1),
        "no_show": round(rng.uniform(*NO_SHOW), 3),
        "checkin_early": 15,
        "checkin_late": 30,
    }


# --- offered load ---------------------------------------------------------------------------


def mean_service_minutes(hall: dict[str, Any]) -> float:
    services = hall["services"]
    return sum(s["share"] * s["mean"] for s in services) / sum(s["share"] for s in services)


def staffed_counter_hours(hall: dict[str, Any]) -> float:
    """Counters staffed × hours, over the opening hours, by the staffing plan."""
    open_at, close_at = minutes_of(hall["hours"]["open"]), minutes_of(hall["hours"]["close"])
    plan = hall.get("staffing") or {hall["hours"]["open"]: [c["number"] for c in hall["counters"]]}
    changes = sorted((minutes_of(k), len(v)) for k, v in plan.items())
    ends = [at for at, _ in changes[1:]] + [close_at]
    return sum(
        staffed * (min(end, close_at) - max(at, open_at)) / 60
        for (at, staffed), end in zip(changes, ends, strict=True)
        if end > open_at and at < close_at
    )


def arrival_hours(hall: dict[str, Any]) -> float:
    """Σ arrivals per hour × hours at that rate: the day's expected customers."""
    close_at = minutes_of(hall["hours"]["close"])
    entries = sorted((minutes_of(k), float(v)) for k, v in hall["arrivals"].items())
    ends = [at for at, _ in entries[1:]] + [close_at]
    return sum(rate * (end - at) / 60 for (at, rate), end in zip(entries, ends, strict=True))


def offered_load(hall: dict[str, Any]) -> float:
    """Σ(arrivals per hour × mean service minutes / 60) over the day ÷ staffed counter-hours."""
    work_hours = arrival_hours(hall) * mean_service_minutes(hall) / 60
    return work_hours / staffed_counter_hours(hall)


# --- the family -----------------------------------------------------------------------------


def generate_hall(index: int, target: float, seed: int = 0) -> dict[str, Any]:
    """Hall `index` of the family of this seed, its arrivals scaled to offered load `target`."""
    rng = random.Random(f"hall-family:{seed}:{index}")
    counters = draw_counters(rng, rng.randint(MIN_COUNTERS, MAX_COUNTERS))
    vip = any("vip" in c["lanes"] for c in counters)
    services = draw_services(rng, vip)
    hours = rng.randint(MIN_HOURS, MAX_HOURS)
    open_at = rng.randint(EARLIEST_OPEN, LATEST_OPEN) * 60
    shape = draw_profile(rng, hours)
    staffing = draw_staffing(rng, counters, open_at)
    policy, eta = weekday_tables()
    hall: dict[str, Any] = {
        "name": f"family-{index:02d}-u{target:.2f}",
        "seed": 1,
        "target_minutes": TARGET_MINUTES,
        "target_load": target,
        "hours": {"open": hhmm(open_at), "close": hhmm(open_at + hours * 60)},
        "counters": counters,
        "services": services,
        "appointments": draw_appointments(rng),
        "patience": {"mean": round(rng.uniform(*PATIENCE_MEAN), 1), "cv": PATIENCE_CV},
        "policy": policy,
        "eta": eta,
    }
    if staffing:
        hall["staffing"] = staffing
    # The rates that make the day's work equal target × the staffed counter-hours.
    per_unit = sum(shape) * mean_service_minutes(hall) / 60 / staffed_counter_hours(hall)
    hall["arrivals"] = {
        hhmm(open_at + h * 60): round(level * target / per_unit, RATE_DECIMALS)
        for h, level in enumerate(shape)
    }
    return hall


def generate_family(count: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    """`count` halls, loads evenly spread over [MIN_LOAD, MAX_LOAD] (hall 0 the least busy)."""
    return [generate_hall(i, target, seed) for i, target in enumerate(load_targets(count))]
