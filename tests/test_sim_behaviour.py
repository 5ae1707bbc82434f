"""The simulator's [behaviour]: walks to the counter, missed calls and rejoins, clerk speeds,
balking and promise-dependent patience, on hand-made days with figures computed by hand; and
every setting off leaves the day exactly as it was."""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from backend.policy import TicketStatus, sim

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent
WEEKDAY = ROOT / "bench" / "scenarios" / "weekday.toml"
REALISTIC = ROOT / "bench" / "scenarios" / "realistic_weekday.toml"
NO_PATIENCE_LIMIT = 1e6


def tiny(behaviour: dict[str, Any], counters: int = 1) -> sim.Scenario:
    """Counters serving both lanes, 09:00–10:00, services of 4 and 10 min at equal shares (the
    mean service a customer guesses with: 7 min); the customers are given by each test."""
    return tiny_with({"behaviour": behaviour}, counters)


def tiny_with(extra: dict[str, Any], counters: int = 1) -> sim.Scenario:
    """The tiny hall with these further scenario tables (no spread: services of 4 and 10 min)."""
    return sim.scenario_from_dict(
        {
            "name": "tiny",
            "target_minutes": 10,
            "hours": {"open": "09:00", "close": "10:00"},
            "counters": [
                {"number": n, "lanes": ["fast", "standard"]} for n in range(1, counters + 1)
            ],
            "arrivals": {"09:00": 0},
            "services": [
                {"code": "A", "lane": "fast", "share": 0.5, "mean": 4, "cv": 0},
                {"code": "B", "lane": "standard", "share": 0.5, "mean": 10, "cv": 0},
            ],
            "policy": {"max_wait": 0, "vip_first": 0},
            **extra,
        }
    )


def visit(ticket_id: int, arrival: float, duration: float, **kw: Any) -> sim.Customer:
    service = kw.pop("service", "A")
    patience = kw.pop("patience", NO_PATIENCE_LIMIT)
    return sim.Customer(ticket_id, arrival, service, duration, patience, **kw)


def day(
    scenario: sim.Scenario,
    customers: Sequence[sim.Customer],
    policy: str = "fifo",
    forecaster: sim.Forecaster | None = None,
) -> sim.DayResult:
    return sim.simulate(scenario, sim.policy_setups(scenario)[policy], customers, forecaster)


def calls(result: sim.DayResult) -> list[tuple[float, int]]:
    return [(t, ticket) for kind, t, _, ticket in result.log if kind == "call"]


def completions(result: sim.DayResult) -> list[tuple[float, int]]:
    return [(t, ticket) for kind, t, _, ticket in result.log if kind == "complete"]


# --- the walk to the counter ------------------------------------------------------------------


def test_the_walk_delays_the_start_and_the_next_call_not_the_wait() -> None:
    # c1 called at 0, walks 2, served 2–7; c2 called at 7 (waits 6), walks 1, served 8–11.
    scenario = tiny({"walk_mean": 0.5})
    result = day(scenario, [visit(1, 0.0, 5.0, walk=2.0), visit(2, 1.0, 3.0, walk=1.0)])
    assert calls(result) == [(0.0, 1), (7.0, 2)]
    assert completions(result) == [(7.0, 1), (11.0, 2)]
    m = sim.day_metrics(result, scenario)
    assert (m["mean_wait"], m["max_wait"]) == (pytest.approx(3.0), pytest.approx(6.0))
    # The counter is occupied during the walks: 2 + 5 + 1 + 3 of its 60 staffed minutes.
    assert m["utilisation"] == pytest.approx(11 / 60)
    assert all(t.status is TicketStatus.DONE for t in result.tickets)


# --- missed calls and rejoins ------------------------------------------------------------------


def test_a_missed_call_costs_the_recall_time_and_rejoins_at_the_live_place() -> None:
    # c1 is called at 0 and does not come: the counter recalls 2 min, calls c2 at 2 (2–6).
    # c1 is back at 2 + 3 = 5 and rejoins 1 place behind the head of the fast lane (c3 at 1,
    # c4 at 1.5): queue time 1.25. c3 6–10, c1 10–20 (waited 0 + 10 - 5), c4 20–24.
    scenario = tiny({"miss_share": 0.05, "recall_minutes": 2.0, "rejoin_places": 1})
    customers = [
        visit(1, 0.0, 10.0, misses=True, returns_after=3.0),
        visit(2, 0.5, 4.0),
        visit(3, 1.0, 4.0),
        visit(4, 1.5, 4.0),
    ]
    result = day(scenario, customers)
    assert calls(result) == [(0.0, 1), (2.0, 2), (6.0, 3), (10.0, 1), (20.0, 4)]
    assert ("miss", 2.0, 1, 1) in result.log
    assert ("rejoin", 5.0, 0, 1) in result.log
    first = result.tickets[0]
    assert first.item.queue_at == sim.DAY + timedelta(minutes=1.25)
    assert first.status is TicketStatus.DONE
    m = sim.day_metrics(result, scenario)
    # Waits: c1 5, c2 1.5, c3 5, c4 18.5.
    assert m["mean_wait"] == pytest.approx((5 + 1.5 + 5 + 18.5) / 4)
    assert (m["missed"], m["left"], m["balked"]) == (pytest.approx(1 / 4), 0.0, 0.0)
    # Occupied: the recall 2 and the services 4 + 4 + 10 + 4.
    assert m["utilisation"] == pytest.approx(24 / 60)


def test_a_rejoin_behind_a_short_lane_goes_to_its_end() -> None:
    # The store's 3 places behind the head, but only c3 waits when c1 is back at 1 + 2 = 3
    # (c2 is at the counter 1–7): c1 queues at 3, after c3.
    scenario = tiny({"miss_share": 0.05, "recall_minutes": 1.0})
    customers = [
        visit(1, 0.0, 5.0, misses=True, returns_after=2.0),
        visit(2, 0.5, 6.0),
        visit(3, 0.8, 1.0),
    ]
    result = day(scenario, customers)
    assert calls(result) == [(0.0, 1), (1.0, 2), (7.0, 3), (8.0, 1)]
    assert result.tickets[0].item.queue_at == sim.DAY + timedelta(minutes=3)


@pytest.mark.parametrize(
    ("returns_after", "why"), [(None, "never comes back"), (31.0, "after the 30-min window")]
)
def test_a_missed_customer_who_does_not_rejoin_is_lost(
    returns_after: float | None, why: str
) -> None:
    scenario = tiny({"miss_share": 0.05, "recall_minutes": 1.5})
    customers = [visit(1, 0.0, 5.0, misses=True, returns_after=returns_after), visit(2, 0.2, 2.0)]
    result = day(scenario, customers)
    assert calls(result) == [(0.0, 1), (1.5, 2)], why
    assert result.tickets[0].status is TicketStatus.NO_SHOW
    m = sim.day_metrics(result, scenario)
    assert (m["missed"], m["left"], m["abandoned"]) == (0.5, 0.5, 0.0)
    assert (m["served"], m["mean_wait"]) == (1, pytest.approx(1.3))


def test_a_rejoined_customer_gives_up_on_the_new_clock() -> None:
    # c1 (patience 8) misses at 0, marked at 1, back at 7: its first clock (0 + 8) no longer
    # counts, the new one does (7 + 8 = 15). The counter serves c2 1–21, so c1 leaves at 15.
    scenario = tiny({"miss_share": 0.05, "recall_minutes": 1.0})
    customers = [
        visit(1, 0.0, 5.0, misses=True, returns_after=6.0, patience=8.0),
        visit(2, 0.5, 20.0),
        visit(3, 9.0, 1.0, patience=13.0),  # waits 9–21 and is served: patience is per ticket
    ]
    result = day(scenario, customers)
    assert calls(result) == [(0.0, 1), (1.0, 2), (21.0, 3)]
    assert result.tickets[0].status is TicketStatus.CANCELLED
    m = sim.day_metrics(result, scenario)
    assert (m["abandoned"], m["left"], m["missed"]) == (
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
    )
    # With c2 served 1–10 instead, c1 is still there at 10, past its first clock's 8: it is
    # served, having waited 0 before the miss and 10 - 7 after the rejoin.
    result = day(scenario, [customers[0], visit(2, 0.5, 9.0)])
    assert calls(result) == [(0.0, 1), (1.0, 2), (10.0, 1)]
    assert sim.day_metrics(result, scenario)["max_wait"] == pytest.approx(3.0)


# --- clerk speed ---------------------------------------------------------------------------


def test_a_speed_factor_of_two_doubles_a_deterministic_duration() -> None:
    scenario = tiny({"clerk_factors": [2.0]})
    result = day(scenario, [visit(1, 0.0, 5.0), visit(2, 1.0, 3.0)])
    assert completions(result) == [(10.0, 1), (16.0, 2)]
    assert calls(result) == [(0.0, 1), (10.0, 2)]


def test_drawn_clerk_speeds_need_the_seed_and_are_the_seeds_own() -> None:
    scenario = tiny({"clerk_cv": 0.15}, counters=3)
    with pytest.raises(ValueError, match="need the seed"):
        day(scenario, [visit(1, 0.0, 5.0)])
    first = sim.clerk_speeds(scenario, 1)
    assert first == sim.clerk_speeds(scenario, 1)
    assert first != sim.clerk_speeds(scenario, 2)
    assert sorted(first) == [1, 2, 3] and len(set(first.values())) == 3
    seeded = sim.with_clerk_speeds(scenario, 1)
    assert seeded.behaviour.clerk_factors == tuple(first.values())
    # Counter 1 alone is open: its drawn factor times the 5 minutes.
    result = day(seeded, [visit(1, 0.0, 5.0)])
    assert completions(result) == [(pytest.approx(5.0 * first[1]), 1)]
    assert sim.with_clerk_speeds(tiny({"walk_mean": 0.5}), 1).behaviour.clerk_factors == ()


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ({"walk_speed": 1}, "unknown"),
        ({"clerk_factors": [1.0, 2.0]}, "one factor per counter"),
        ({"clerk_factors": [1.0], "clerk_cv": 0.1}, "not both"),
        ({"rejoin_after": [15, 5]}, "rejoin_after"),
    ],
)
def test_a_wrong_behaviour_table_is_refused(behaviour: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny(behaviour)


# --- balking and promise-dependent patience --------------------------------------------------


def test_a_customer_whose_tolerance_is_below_the_guess_balks_and_is_counted() -> None:
    # No forecaster: the guess is the people waiting × 7 min ÷ 1 open counter. c1 is served
    # 0–30; at 3, c2 and c3 wait: 14 min > 13, c4 balks; at 4 still 14 min ≤ 14.5, c5 stays.
    scenario = tiny({"tolerance_mean": 45.0})
    customers = [
        visit(1, 0.0, 30.0, service="B"),
        visit(2, 1.0, 1.0),
        visit(3, 2.0, 1.0),
        visit(4, 3.0, 1.0, tolerance=13.0),
        visit(5, 4.0, 1.0, tolerance=14.5),
    ]
    result = day(scenario, customers)
    assert ("balk", 3.0, 0, 4) in result.log
    assert ("issue", 3.0, 0, 4) not in result.log
    assert [ticket for _, ticket in calls(result)] == [1, 2, 3, 5]
    assert result.tickets[3].called_at is None
    m = sim.day_metrics(result, scenario)
    assert (m["balked"], m["left"], m["abandoned"]) == (0.2, 0.2, 0.0)
    assert m["within_target"] == pytest.approx(1 / 5)  # balkers count: not served in time


def test_the_guess_divides_by_the_open_counters() -> None:
    # Two counters busy 0–30; at 3, c3 and c4 wait: 2 × 7 ÷ 2 = 7 min, within c5's 7.5.
    scenario = tiny({"tolerance_mean": 45.0}, counters=2)
    customers = [
        visit(1, 0.0, 30.0),
        visit(2, 0.0, 30.0),
        visit(3, 1.0, 1.0),
        visit(4, 2.0, 1.0),
        visit(5, 3.0, 1.0, tolerance=7.5),
        visit(6, 3.5, 1.0, tolerance=10.4),  # 3 × 7 ÷ 2 = 10.5 > 10.4: balks
    ]
    result = day(scenario, customers)
    assert [t.item.ticket_id for t in result.tickets if t.balked] == [6]


def printed(points: dict[int, float]) -> sim.Forecaster:
    """A forecaster printing these points (range ± 5 min) on these tickets, nothing on others."""

    def estimate(_: sim.Hall, ticket: sim.Ticket) -> tuple[float, float, float] | None:
        point = points.get(ticket.item.ticket_id)
        return None if point is None else (point, point - 5, point + 5)

    return estimate


def test_the_printed_estimate_decides_balking_when_the_hall_forecasts() -> None:
    # Nobody waits (own guess 0), but c2 is told 30 min: above its 20, it balks; c3 is told 10.
    scenario = tiny({"tolerance_mean": 45.0})
    customers = [
        visit(1, 0.0, 5.0),
        visit(2, 1.0, 1.0, tolerance=20.0),
        visit(3, 2.0, 1.0, tolerance=20.0),
    ]
    result = day(scenario, customers, "ours", printed({2: 30.0, 3: 10.0}))
    assert [t.balked for t in result.tickets] == [False, True, False]
    assert set(result.forecasts) == {3}  # a customer who balked took no ticket


def test_patience_is_scaled_by_the_printed_estimate() -> None:
    # factor 1.5: c2 (patience 10) told 30 min waits up to max(10, 45) = 45, so it is still
    # there when the counter frees at 40; c3 told 4 min keeps max(10, 6) = 10 and leaves at 12.
    scenario = tiny({"promise_factor": 1.5})
    customers = [
        visit(1, 0.0, 40.0, service="B"),
        visit(2, 1.0, 1.0, patience=10.0),
        visit(3, 2.0, 1.0, patience=10.0),
    ]
    result = day(scenario, customers, "ours", printed({2: 30.0, 3: 4.0}))
    assert calls(result) == [(0.0, 1), (40.0, 2)]
    assert result.tickets[2].status is TicketStatus.CANCELLED
    m = sim.day_metrics(result, scenario)
    assert (m["abandoned"], m["left"], m["balked"]) == (
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
        0.0,
    )
    unscaled = day(tiny({"tolerance_mean": 45.0}), customers, "ours", printed({2: 30.0}))
    assert calls(unscaled) == [(0.0, 1)]  # without the factor c2 leaves at 11 too


# --- every setting off: the day as before ------------------------------------------------------


def weekday(behaviour: dict[str, Any] | None) -> sim.Scenario:
    data = tomllib.loads(WEEKDAY.read_text())
    if behaviour is not None:
        data["behaviour"] = behaviour
    return sim.scenario_from_dict(data, "weekday")


OFF = {
    "walk_mean": 0.0,
    "miss_share": 0.0,
    "rejoin_share": 0.0,
    "clerk_factors": [1.0] * 6,
    "tolerance_mean": float("inf"),
    "promise_factor": 0.0,
}


@pytest.mark.parametrize("policy", ["fifo", "ours"])
def test_every_setting_off_gives_the_same_day_as_no_table(policy: str) -> None:
    plain, off = weekday(None), weekday(OFF)
    assert not off.behaviour.active
    customers = sim.generate_customers(plain, 3)
    assert sim.generate_customers(off, 3) == customers
    before = day(plain, customers, policy)
    after = day(off, customers, policy)
    assert after.log == before.log and len(before.log) > len(customers)
    assert sim.day_metrics(after, off) == sim.day_metrics(before, plain)
    assert "left" not in sim.day_metrics(before, plain)


def test_a_setting_shifts_no_other_draw() -> None:
    plain = sim.generate_customers(weekday(None), 4)
    walking = sim.generate_customers(weekday({"walk_mean": 0.5, "walk_cv": 0.5}), 4)
    both = sim.generate_customers(
        weekday({"walk_mean": 0.5, "walk_cv": 0.5, "tolerance_mean": 50.0}), 4
    )
    assert [(c.arrival, c.duration, c.patience) for c in walking] == [
        (c.arrival, c.duration, c.patience) for c in plain
    ]
    assert [c.walk for c in both] == [c.walk for c in walking]
    assert all(c.walk > 0 for c in walking) and all(c.walk == 0 for c in plain)


# --- the realistic weekday and the policy report ---------------------------------------------


def policy_family() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "policy_family", ROOT / "bench" / "policy_family.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_realistic_weekday_loses_customers_every_way_and_the_report_says_so() -> None:
    scenario = sim.load_scenario(REALISTIC)
    assert scenario.behaviour.active and scenario.counters == weekday(None).counters
    report = policy_family()
    report.start_worker({"realistic": tomllib.loads(REALISTIC.read_text())}, ["fifo"])
    _, _, figures = report.run_day(("realistic", scenario.seed))
    fifo = figures["fifo"]
    assert fifo["left"] > fifo["abandoned"] > 0
    summary = report.summarize({"fifo": [fifo, fifo]})
    table = "\n".join(report.scenario_table("realistic", summary, scenario.target))
    assert "left without service" in table and "| abandoned |" not in table
    assert f"{fifo['left']:.1%}" in table
    # --halls 0: the scenario files' tables only, no family and no frontier.
    scenarios = {"realistic": {"seeds": 2, "target_minutes": 15, "policies": summary}}
    text = report.markdown({"scenarios": scenarios, "family": {"halls": 0}, "frontier": None})
    assert "left without service" in text and "family" not in text and "Frontier" not in text
