"""What a simulated day reports: waits, service level, on-time bookings, abandonment,
utilisation, per lane, and the wait estimate's error; averaged over replications."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from ..enums import Lane, TicketStatus
from .hall import DayResult, Ticket
from .scenario import ALL_LANES, Scenario

WAIT_KEYS = ("mean_wait", "median_wait", "p90_wait", "p95_wait", "max_wait")
KEYS = (*WAIT_KEYS, "within_target", "appointments_on_time", "abandoned", "utilisation")
ETA_KEYS = ("eta_mae", "eta_signed_error", "eta_coverage")
# With a scenario's [behaviour]: who took no ticket, whose call went unanswered, and everyone who
# left without service (balked, gave up waiting, or missed the call and never came back).
LEAVING_KEYS = ("balked", "missed", "left")
# With [remote], [transfers] or a calendar: remote joiners (of every arrival) and those of them
# called before they reached the hall, visits transferred to a second service, and booking
# wishes the full calendar refused (of the bookings that came, refused ones included).
REALISM_KEYS = ("remote", "remote_called_early", "transferred", "bookings_refused")
# A booking called within this long after its slot start was served on time.
ON_TIME_MINUTES = 5.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def wait_of(ticket: Ticket) -> float | None:
    """Minutes in the queue until the call that served: from the issue, less any time away
    after a missed call."""
    if ticket.called_at is None:
        return None
    return ticket.waited + (ticket.called_at - ticket.queued_since)


def wait_stats(waits: Sequence[float]) -> dict[str, float | None]:
    return {
        "mean_wait": sum(waits) / len(waits) if waits else None,
        "median_wait": percentile(waits, 0.5),
        "p90_wait": percentile(waits, 0.9),
        "p95_wait": percentile(waits, 0.95),
        "max_wait": max(waits) if waits else None,
    }


def share(hits: float, total: float) -> float | None:
    return hits / total if total else None


def on_time_share(tickets: Iterable[Ticket]) -> float | None:
    """Bookings that arrived by their slot start and were called within 5 min of it."""
    punctual = [
        t
        for t in tickets
        if t.customer.checked_in
        and t.customer.slot is not None
        and (t.customer.came_at or 0.0) <= t.customer.slot
    ]
    called = [
        t
        for t in punctual
        if t.called_at is not None and t.called_at <= t.customer.slot + ON_TIME_MINUTES  # type: ignore[operator]
    ]
    return share(len(called), len(punctual))


def group_metrics(tickets: Sequence[Ticket], target: float) -> dict[str, Any]:
    """Wait figures of served customers; the shares over everyone who queued."""
    waits = [w for t in tickets if (w := wait_of(t)) is not None]
    out: dict[str, Any] = wait_stats(waits)
    out["within_target"] = share(sum(1 for w in waits if w <= target), len(tickets))
    out["appointments_on_time"] = on_time_share(tickets)
    abandoned = sum(1 for t in tickets if t.status is TicketStatus.CANCELLED and not t.balked)
    out["abandoned"] = share(abandoned, len(tickets))
    out["utilisation"] = None
    out["customers"] = len(tickets)
    out["served"] = len(waits)
    return out


def leaving_metrics(tickets: Sequence[Ticket]) -> dict[str, float | None]:
    """Balked, missed calls and left without service, as shares of every arrival."""
    balked = sum(1 for t in tickets if t.balked)
    abandoned = sum(1 for t in tickets if t.status is TicketStatus.CANCELLED and not t.balked)
    lost = sum(1 for t in tickets if t.status is TicketStatus.NO_SHOW)
    missed = sum(1 for t in tickets if t.missed_at is not None)
    return {
        "balked": share(balked, len(tickets)),
        "missed": share(missed, len(tickets)),
        "left": share(balked + abandoned + lost, len(tickets)),
    }


def realism_metrics(tickets: Sequence[Ticket], scenario: Scenario) -> dict[str, float | None]:
    """The figures of the features switched on (none without them)."""
    out: dict[str, float | None] = {}
    if scenario.remote.active:
        remote = [t for t in tickets if t.customer.present_at is not None]
        out["remote"] = share(len(remote), len(tickets))
        out["remote_called_early"] = share(sum(t.remote_missed for t in remote), len(remote))
    if scenario.transfers.active:
        out["transferred"] = share(sum(t.part > 0 for t in tickets), len(tickets))
    if scenario.appointments.capacity > 0:
        refused = sum(t.customer.refused for t in tickets)
        booked = sum(t.customer.slot is not None for t in tickets)
        out["bookings_refused"] = share(refused, refused + booked)
    return out


def eta_metrics(result: DayResult) -> dict[str, float | None]:
    """Forecast at issue vs the wait that followed (served customers only)."""
    errors, inside = [], 0
    for ticket_id, (point, low, high) in result.forecasts.items():
        actual = wait_of(result.tickets[ticket_id - 1])
        if actual is None:
            continue
        errors.append(point - actual)
        inside += low <= actual <= high
    return {
        "eta_mae": sum(abs(e) for e in errors) / len(errors) if errors else None,
        "eta_signed_error": sum(errors) / len(errors) if errors else None,
        "eta_coverage": share(inside, len(errors)),
        "eta_forecasts": len(errors),
    }


def lane_of(ticket: Ticket, scenario: Scenario) -> str:
    """The reporting lane, the same under every policy: 'appointment' for a booking checked in
    within its window (even where a baseline queues it as a walk-in), else the service's lane."""
    if ticket.customer.checked_in:
        return Lane.APPOINTMENT.value
    return scenario.service(ticket.customer.service).lane.value


def day_metrics(result: DayResult, scenario: Scenario) -> dict[str, Any]:
    """Every reported figure of one simulated day."""
    out = group_metrics(result.tickets, scenario.target)
    open_time = sum(d.open_time for d in result.desks)
    out["utilisation"] = share(sum(d.busy_time for d in result.desks), open_time)
    lanes: dict[str, list[Ticket]] = {}
    for ticket in result.tickets:
        lanes.setdefault(lane_of(ticket, scenario), []).append(ticket)
    out["lanes"] = {
        lane.value: group_metrics(lanes.get(lane.value, []), scenario.target) for lane in ALL_LANES
    }
    if scenario.reports_leaving:
        out.update(leaving_metrics(result.tickets))
        for lane in ALL_LANES:
            out["lanes"][lane.value].update(leaving_metrics(lanes.get(lane.value, [])))
    out.update(realism_metrics(result.tickets, scenario))
    if result.policy == "ours":
        out.update(eta_metrics(result))
    return out


def average(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise mean over replications (None where no replication had a figure)."""
    out: dict[str, Any] = {}
    for key in runs[0]:
        values = [r[key] for r in runs if r.get(key) is not None]
        if isinstance(runs[0][key], dict):
            out[key] = average([r[key] for r in runs])
        else:
            out[key] = sum(values) / len(values) if values else None
    return out
