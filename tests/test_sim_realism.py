"""More of the real day in the simulator: remote joiners who arrive later, the store's learned
service times, a booking calendar with slot capacity, transfers to a second service, and the
policy report's baselines over hundreds of seeds. Hand-made days with figures computed by hand,
seeded days whose frequencies match what the scenario implies (tolerances from the sample size),
and every option off leaves the day exactly as it was."""

from __future__ import annotations

import math
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from backend.policy import Lane, TicketStatus, sim
from backend.policy.learning import EWMA_ALPHA, MIN_OBSERVATIONS
from tests.test_sim_behaviour import policy_family, tiny_with

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent
WEEKDAY = ROOT / "bench" / "scenarios" / "weekday.toml"
REALISTIC = ROOT / "bench" / "scenarios" / "realistic_weekday.toml"
NO_PATIENCE_LIMIT = 1e6
# A frequency may stray this many standard deviations from its expectation (a false alarm
# about once in 16,000 runs; every day here is seeded, so a pass is a pass for good).
SIGMAS = 4.0


def tiny(extra: dict[str, Any], counters: int = 1) -> sim.Scenario:
    """Counters serving both lanes, 09:00–10:00, services A (fast, 4 min) and B (standard,
    10 min) without spread; the customers are given by each test."""
    return tiny_with(extra, counters)


def visit(ticket_id: int, arrival: float, duration: float, **kw: Any) -> sim.Customer:
    service = kw.pop("service", "A")
    patience = kw.pop("patience", NO_PATIENCE_LIMIT)
    return sim.Customer(ticket_id, arrival, service, duration, patience, **kw)


def day(
    scenario: sim.Scenario, customers: Sequence[sim.Customer], policy: str = "fifo"
) -> sim.DayResult:
    return sim.simulate(scenario, sim.policy_setups(scenario)[policy], customers)


def events(result: sim.DayResult, kinds: set[str]) -> list[tuple[str, float, int]]:
    return [(kind, t, ticket) for kind, t, _, ticket in result.log if kind in kinds]


def weekday(**tables: Any) -> sim.Scenario:
    data = tomllib.loads(WEEKDAY.read_text())
    for key, value in tables.items():
        if key == "appointments":
            data["appointments"] = {**data["appointments"], **value}
        else:
            data[key] = value
    return sim.scenario_from_dict(data, "weekday")


def seeded_day(scenario: sim.Scenario, seed: int, policy: str = "fifo") -> sim.DayResult:
    scenario = sim.for_seed(scenario, seed)
    return day(scenario, sim.generate_customers(scenario, seed), policy)


def lognormal_survival(x: float, mean: float, cv: float) -> float:
    """P(X > x) for the lognormal of this mean and cv."""
    sigma2 = math.log(1 + cv * cv)
    mu = math.log(mean) - sigma2 / 2
    if x <= 0:
        return 1.0
    return 0.5 * math.erfc((math.log(x) - mu) / math.sqrt(2 * sigma2))


def within_sigmas(hits: float, expected: float, variance: float) -> bool:
    return abs(hits - expected) <= SIGMAS * math.sqrt(variance)


# --- every option off --------------------------------------------------------------------------

OFF = {
    "remote": {"share": 0.0, "travel_mean": 12.0},
    "learning": {"prior_cv": 0.0, "warm_visits": 0, "live": False},
    "transfers": {"share": 0.0},
    "appointments": {"capacity": 0},
}


@pytest.mark.parametrize("policy", ["fifo", "ours", "deadline"])
def test_every_option_off_gives_the_same_day_as_no_table(policy: str) -> None:
    plain, off = weekday(), weekday(**OFF)
    assert off.switched_on == [] and not off.reports_leaving
    assert sim.for_seed(off, 3).learning.start == ()
    customers = sim.generate_customers(plain, 3)
    assert sim.generate_customers(off, 3) == customers
    before, after = day(plain, customers, policy), day(off, customers, policy)
    assert after.log == before.log and len(before.log) > len(customers)
    metrics = sim.day_metrics(after, off)
    assert metrics == sim.day_metrics(before, plain)
    assert not set(sim.REALISM_KEYS) & set(metrics) and "left" not in metrics


def test_an_option_shifts_no_other_draw() -> None:
    plain = sim.generate_customers(weekday(), 4)
    remote = sim.generate_customers(weekday(remote={"share": 0.3}), 4)
    both = sim.generate_customers(weekday(remote={"share": 0.3}, transfers={"share": 0.2}), 4)
    drawn = [(c.arrival, c.service, c.duration, c.patience, c.slot) for c in plain]
    assert [(c.arrival, c.service, c.duration, c.patience, c.slot) for c in remote] == drawn
    assert [(c.arrival, c.service, c.duration, c.patience, c.slot) for c in both] == drawn
    assert [c.present_at for c in both] == [c.present_at for c in remote]
    assert any(c.then for c in both) and not any(c.then for c in remote)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"remote": {"share": 1.5}}, "0 <= share <= 1"),
        ({"remote": {"share": 0.2, "travel_mean": 0}}, "travel_mean > 0"),
        ({"remote": {"speed": 3}}, "unknown [remote] settings: speed"),
        ({"learning": {"prior_cv": -0.1}}, "prior_cv >= 0"),
        ({"learning": {"warm_visits": 10**12}}, "warm_visits <= 10000"),
        ({"learning": {"start": []}}, "unknown [learning] settings: start"),
        ({"learning": {"live": "yes"}}, "[learning] live must be true or false"),
        ({"remote": {"share": "a lot"}}, "[remote] share has a wrong value: 'a lot'"),
        ({"remote": {"share": float("nan")}}, "[remote] share has a wrong value: nan"),
        ({"learning": {"warm_visits": True}}, "[learning] warm_visits has a wrong value"),
        ({"transfers": {"services": 3}}, "[transfers] services has a wrong value: 3"),
        ({"transfers": {"share": 0.1, "services": ["Z"]}}, "services of the scenario"),
        ({"appointments": {"capacity": -1}}, "cannot be negative"),
    ],
)
def test_a_wrong_table_is_refused(tables: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        weekday(**tables)


# --- remote joiners who arrive later -------------------------------------------------------------


def test_a_remote_joiner_called_before_arriving_misses_and_rejoins_on_arrival() -> None:
    # c1 joins from the phone at 0 and reaches the hall at 6; called at 0, the counter recalls
    # 1 min and calls c2 at 1 (1–5), c3 at 5 (5–9). c1 rejoins at 6 behind c3's place: called
    # at 9, served 9–13, waited 0 + (9 - 6) = 3.
    scenario = tiny({"remote": {"share": 0.2}})
    customers = [
        visit(1, 0.0, 4.0, present_at=6.0),
        visit(2, 0.5, 4.0),
        visit(3, 0.8, 4.0),
    ]
    result = day(scenario, customers)
    assert events(result, {"call", "miss", "rejoin"}) == [
        ("call", 0.0, 1),
        ("miss", 1.0, 1),
        ("call", 1.0, 2),
        ("call", 5.0, 3),
        ("rejoin", 6.0, 1),
        ("call", 9.0, 1),
    ]
    first = result.tickets[0]
    assert first.remote_missed and first.status is TicketStatus.DONE
    m = sim.day_metrics(result, scenario)
    assert (m["remote"], m["remote_called_early"]) == (pytest.approx(1 / 3), 1.0)
    assert (m["missed"], m["left"]) == (pytest.approx(1 / 3), 0.0)
    assert m["mean_wait"] == pytest.approx((3 + 0.5 + 4.2) / 3)


def test_a_remote_joiner_in_the_hall_within_the_recall_time_is_served() -> None:
    # Reaches the hall 0.5 min after the call: the service runs 0.5–4.5, no miss.
    scenario = tiny({"remote": {"share": 0.2}})
    result = day(scenario, [visit(1, 0.0, 4.0, present_at=0.5)])
    assert events(result, {"call", "complete", "miss"}) == [
        ("call", 0.0, 1),
        ("complete", 4.5, 1),
    ]
    assert not result.tickets[0].remote_missed
    assert sim.day_metrics(result, scenario)["remote_called_early"] == 0.0


def test_a_remote_joiner_who_arrives_after_the_rejoin_window_is_lost() -> None:
    scenario = tiny({"remote": {"share": 0.2}})
    result = day(scenario, [visit(1, 0.0, 4.0, present_at=40.0)])
    assert result.tickets[0].status is TicketStatus.NO_SHOW
    assert sim.day_metrics(result, scenario)["left"] == 1.0


REMOTE = {"share": 0.3, "travel_mean": 8.0, "travel_cv": 0.6}


def test_remote_joiners_are_called_early_as_often_as_their_travel_times_imply() -> None:
    # A remote joiner's first call does not depend on the joiner's own travel time, so the call
    # comes before the joiner (more than the recall time before) with probability
    # P(travel > wait + recall) for the wait at that call: the count of early calls is a sum
    # of such Bernoulli draws, with that mean and variance.
    scenario = weekday(remote=REMOTE)
    recall = scenario.behaviour.recall_minutes
    joiners = walk_ins = early = 0
    expected = variance = 0.0
    for seed in (1, 2, 3):
        result = seeded_day(scenario, seed)
        first_call: dict[int, float] = {}
        for _, t, ticket in events(result, {"call"}):
            first_call.setdefault(ticket, t)
        for ticket in result.tickets:
            walk_ins += ticket.customer.slot is None
            if ticket.customer.present_at is None:
                continue
            joiners += 1
            called = first_call.get(ticket.item.ticket_id)
            if called is None:
                continue  # gave up before any call
            p = lognormal_survival(
                called - ticket.customer.arrival + recall, REMOTE["travel_mean"], 0.6
            )
            expected, variance = expected + p, variance + p * (1 - p)
            early += ticket.remote_missed
    share = REMOTE["share"]
    assert within_sigmas(joiners, share * walk_ins, walk_ins * share * (1 - share))
    assert early > 50 and within_sigmas(early, expected, variance)


def test_the_travel_times_have_the_stated_mean() -> None:
    customers = sim.generate_customers(weekday(remote=REMOTE), 5)
    travel = [c.present_at - c.arrival for c in customers if c.present_at is not None]
    sd = REMOTE["travel_mean"] * REMOTE["travel_cv"]
    mean = sum(travel) / len(travel)
    assert abs(mean - REMOTE["travel_mean"]) <= SIGMAS * sd / math.sqrt(len(travel))
    assert all(c.slot is None for c in customers if c.present_at is not None)


# --- the service times the store has learned -----------------------------------------------------


def test_configured_means_carry_the_stated_error() -> None:
    # prior_cv 0.3: configured = true × a lognormal factor of mean 1, cv 0.3, per seed and
    # service; over 300 seeds × 6 services the factors' mean and their log's spread match.
    scenario = weekday(learning={"prior_cv": 0.3})
    truth = {s.code: s.mean for s in scenario.services}
    factors = [
        configured / truth[code]
        for seed in range(300)
        for code, learned, count, configured in sim.for_seed(scenario, seed).learning.start
    ]
    n = len(factors)
    mean = sum(factors) / n
    assert abs(mean - 1.0) <= SIGMAS * 0.3 / math.sqrt(n)
    sigma = math.sqrt(math.log(1 + 0.3**2))
    logs = [math.log(f) for f in factors]
    log_mean = sum(logs) / n
    log_sd = math.sqrt(sum((x - log_mean) ** 2 for x in logs) / (n - 1))
    assert abs(log_sd - sigma) <= SIGMAS * sigma / math.sqrt(2 * n)
    assert sim.for_seed(scenario, 7).learning.start == sim.for_seed(scenario, 7).learning.start
    assert sim.for_seed(scenario, 7).learning.start != sim.for_seed(scenario, 8).learning.start


def test_warm_visits_follow_the_live_rule_by_hand() -> None:
    # Durations without spread: after n visits the live rule's mean is
    # true + (configured - true) × (1 - alpha)^n.
    scenario = tiny({"learning": {"prior_cv": 0.4, "warm_visits": 12}})
    truth = {s.code: s.mean for s in scenario.services}
    for code, learned, count, configured in sim.for_seed(scenario, 2).learning.start:
        assert count == 12 and configured != truth[code]
        by_hand = truth[code] + (configured - truth[code]) * (1 - EWMA_ALPHA) ** 12
        assert learned == pytest.approx(by_hand, rel=1e-12)


def test_learned_means_err_by_what_the_live_rule_implies() -> None:
    # Configured at the truth, 40 visits of cv 0.6 through the EWMA: the learned mean is
    # unbiased, with a relative spread of cv × √(α / (2 - α) × (1 - (1 - α)^80)) ≈ 0.175.
    scenario = weekday(learning={"warm_visits": 40})
    truth = {s.code: s.mean for s in scenario.services}
    errors = [
        learned / truth[code] - 1
        for seed in range(300)
        for code, learned, count, configured in sim.for_seed(scenario, seed).learning.start
    ]
    n = len(errors)
    spread = 0.6 * math.sqrt(EWMA_ALPHA / (2 - EWMA_ALPHA) * (1 - (1 - EWMA_ALPHA) ** 80))
    mean = sum(errors) / n
    sd = math.sqrt(sum((e - mean) ** 2 for e in errors) / (n - 1))
    assert abs(mean) <= SIGMAS * spread / math.sqrt(n)
    # The sample sd's own spread, with room for the lognormal's heavier tail (twice the normal's).
    assert abs(sd - spread) <= 2 * SIGMAS * spread / math.sqrt(2 * n)


def test_drawn_learned_times_need_the_seed() -> None:
    scenario = tiny({"learning": {"prior_cv": 0.4}})
    with pytest.raises(ValueError, match="for_seed"):
        day(scenario, [visit(1, 0.0, 4.0)])


def test_the_hall_learns_during_the_day_and_trusts_after_enough_visits() -> None:
    # The store believes A takes 6 min; every visit takes 4 and ends before the next arrival.
    # Ticket k + 1 is issued after k visits: configured 6 until 10 visits were seen, then the
    # learned 4 + 2 × 0.85^k.
    scenario = tiny({"learning": {"live": True}})
    start = (("A", None, 0, 6.0), ("B", None, 0, 10.0))
    scenario = replace(scenario, learning=replace(scenario.learning, start=start))
    result = day(scenario, [visit(k, 5.0 * (k - 1), 4.0) for k in range(1, 13)])
    expected = [t.item.expected_minutes for t in result.tickets]
    assert expected[:MIN_OBSERVATIONS] == [6.0] * MIN_OBSERVATIONS
    assert expected[10] == pytest.approx(4 + 2 * (1 - EWMA_ALPHA) ** 10, rel=1e-12)
    assert expected[11] == pytest.approx(4 + 2 * (1 - EWMA_ALPHA) ** 11, rel=1e-12)


def test_without_learning_tickets_carry_the_true_mean() -> None:
    result = day(tiny({}), [visit(1, 0.0, 4.0), visit(2, 1.0, 9.0, service="B")])
    assert [t.item.expected_minutes for t in result.tickets] == [4.0, 10.0]


# --- bookings from a calendar with slot capacity --------------------------------------------------


def test_the_calendar_grants_the_nearest_free_slots_then_refuses() -> None:
    # 12 wishes for 10:00 (minute 60), 2 places a 15-min slot, 30 min of flexibility: 10:00,
    # 9:45, 10:15, 9:30 and 10:30 take two each (the earlier of two as near first), the last
    # two are refused.
    scenario = tiny({"appointments": {"share": 0.1, "capacity": 2, "flex_minutes": 30}})
    scenario = replace(scenario, close_at=scenario.open_at + 180)
    granted = sim.book_slots([60.0] * 12, scenario, seed=1)
    assert Counter(granted) == {60.0: 2, 45.0: 2, 75.0: 2, 30.0: 2, 90.0: 2, None: 2}


def test_a_seeded_calendar_never_overbooks_and_refuses_at_the_peaks() -> None:
    scenario = weekday(appointments={"share": 0.25, "capacity": 1, "flex_minutes": 15})
    for seed in (1, 2):
        customers = sim.generate_customers(scenario, seed)
        per_slot = Counter(c.slot for c in customers if c.slot is not None)
        assert per_slot and max(per_slot.values()) == 1
        refused = [c for c in customers if c.refused]
        assert refused and all(c.slot is None and not c.checked_in for c in refused)
        result = day(scenario, customers)
        m = sim.day_metrics(result, scenario)
        assert m["bookings_refused"] == pytest.approx(len(refused) / (len(refused) + len(per_slot)))


def test_without_a_calendar_bookings_bunch_beyond_any_capacity() -> None:
    customers = sim.generate_customers(weekday(appointments={"share": 0.25}), 1)
    per_slot = Counter(c.slot for c in customers if c.slot is not None)
    assert max(per_slot.values()) > 1 and not any(c.refused for c in customers)


# --- transfers ---------------------------------------------------------------------------------


def test_a_transfer_keeps_its_queue_time_and_adds_both_waits() -> None:
    # c1 (A 0–4) goes on to B; it keeps queue time 0, ahead of c2 (issued at 1): FIFO calls it
    # again at 4 (B 4–10), then c2 at 10. Waits: c1 0 + 0, c2 9.
    scenario = tiny({"transfers": {"share": 0.1}})
    customers = [visit(1, 0.0, 4.0, then="B", then_duration=6.0), visit(2, 1.0, 3.0)]
    result = day(scenario, customers)
    assert events(result, {"call", "transfer", "complete"}) == [
        ("call", 0.0, 1),
        ("transfer", 4.0, 1),
        ("call", 4.0, 1),
        ("complete", 10.0, 1),
        ("call", 10.0, 2),
        ("complete", 13.0, 2),
    ]
    first = result.tickets[0]
    assert (first.item.service, first.item.lane, first.part) == ("B", Lane.STANDARD, 1)
    m = sim.day_metrics(result, scenario)
    assert (m["mean_wait"], m["max_wait"], m["transferred"]) == (4.5, 9.0, 0.5)
    assert m["utilisation"] == pytest.approx(13 / 60)


def test_a_transferred_customer_waits_on_a_fresh_patience() -> None:
    # c1 (patience 5) is served A 0–4 and goes on to B; shortest-first calls c2's shorter A
    # first (4–11). c1's first clock would end at 5; its second wait began at 4: it gives up
    # at 9.
    scenario = tiny({"transfers": {"share": 0.1}})
    customers = [
        visit(1, 0.0, 4.0, then="B", then_duration=6.0, patience=5.0),
        visit(2, 0.5, 7.0),
    ]
    result = day(scenario, customers, "shortest-first")
    first = result.tickets[0]
    assert first.status is TicketStatus.CANCELLED and first.left_at == 9.0
    assert events(result, {"call"}) == [("call", 0.0, 1), ("call", 4.0, 2)]


def test_the_share_of_transfers_matches_the_scenario() -> None:
    share = 0.2
    scenario = weekday(transfers={"share": share})
    drawn = sum(len(sim.generate_customers(scenario, seed)) for seed in (1, 2, 3))
    needing = [c for seed in (1, 2, 3) for c in sim.generate_customers(scenario, seed) if c.then]
    assert within_sigmas(len(needing), share * drawn, drawn * share * (1 - share))
    lanes = {s.code: s.lane for s in scenario.services}
    assert all(lanes[c.then] != lanes[c.service] and lanes[c.then] != Lane.VIP for c in needing)


# --- everyone counted once ---------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["fifo", "ours", "deadline"])
def test_on_the_realistic_weekday_nobody_is_lost(policy: str) -> None:
    scenario = sim.load_scenario(REALISTIC)
    assert set(scenario.switched_on) == {"behaviour", "remote", "learning", "transfers", "pauses"}
    assert scenario.appointments.capacity > 0
    result = seeded_day(scenario, 2, policy)
    outcomes = Counter()
    for ticket in result.tickets:
        if ticket.status is TicketStatus.DONE:
            outcomes["served"] += 1
        elif ticket.balked:
            outcomes["balked"] += 1
        elif ticket.status is TicketStatus.CANCELLED:
            outcomes["gave up"] += 1
        else:
            assert ticket.status is TicketStatus.NO_SHOW
            outcomes["missed for good"] += 1
    assert (
        sum(outcomes.values())
        == len(result.tickets)
        == len({t.item.ticket_id for t in result.tickets})
    )
    completed = Counter(ticket for _, _, ticket in events(result, {"complete"}))
    assert set(completed.values()) == {1} and len(completed) == outcomes["served"]
    transferred = {ticket for _, _, ticket in events(result, {"transfer"})}
    called = Counter(ticket for _, _, ticket in events(result, {"call"}))
    # A transferred visit completes after a second call (or its customer gives up between).
    assert transferred and all(called[t] >= 2 for t in transferred if completed[t])
    m = sim.day_metrics(result, scenario)
    left = outcomes["balked"] + outcomes["gave up"] + outcomes["missed for good"]
    assert m["left"] == pytest.approx(left / len(result.tickets))
    assert m["served"] == outcomes["served"]
    assert all(m[key] is not None for key in sim.REALISM_KEYS)


# --- the policy report's baselines ---------------------------------------------------------------


def test_the_baselines_run_three_policies_on_the_scenarios_with_200_seeds() -> None:
    report = policy_family()
    args = report.parse_args(["--baselines"])
    assert (args.halls, args.scenario_seeds) == (0, 200)
    assert report.policy_names(args.policies) == ["fifo", "ours", "deadline"]
    fewer = report.parse_args(["--baselines", "--scenario-seeds", "50"])
    assert fewer.scenario_seeds == 50 and fewer.halls == 0
    plain = report.parse_args([])
    assert (plain.halls, plain.scenario_seeds) == (50, 30)
    assert report.policy_names(plain.policies) == list(report.SELECTABLE)


def test_a_200_seed_interval_by_hand() -> None:
    # 100 zeros and 100 ones: mean 0.5, sd √(200 × 0.25 / 199) = 0.501255; Student's t at 199
    # degrees of freedom is 1.97196 (tables): half-width 1.97196 × 0.501255 / √200 = 0.069894.
    report = policy_family()
    stat = report.t_interval([0.0, 1.0] * 100)
    assert stat["n"] == 200 and stat["mean"] == 0.5
    assert stat["low"] == pytest.approx(0.5 - 0.069894, abs=2e-6)
    assert stat["high"] == pytest.approx(0.5 + 0.069894, abs=2e-6)


def test_the_realistic_weekday_reports_served_within_target_and_left() -> None:
    scenario = sim.load_scenario(REALISTIC)
    report = policy_family()
    report.start_worker({"realistic": tomllib.loads(REALISTIC.read_text())}, ["fifo", "ours"])
    days = [report.run_day(("realistic", seed))[2] for seed in (1, 2, 3)]
    summary = report.summarize({name: [d[name] for d in days] for name in ("fifo", "ours")})
    table = "\n".join(report.scenario_table("realistic", summary, scenario.target))
    assert "within 15 min" in table and "left without service" in table
    fifo = summary["fifo"]
    assert fifo["left"]["low"] is not None and fifo["within_target"]["low"] is not None
    assert f"{fifo['within_target']['mean']:.1%} ({fifo['within_target']['low']:.1%}" in table
    assert "remote, called before arriving" in table and "bookings refused" in table
    plain = {k: v for k, v in fifo.items() if k not in sim.REALISM_KEYS}
    lines = report.scenario_table("weekday", {"fifo": plain}, 15)
    assert lines[-1] == "" and not any("remote" in line for line in lines)
