"""The oracle of the wait estimate (bench/_oracle.py, bench/oracle.py): exact on a determined
hall, the lognormal's own median on a random one, conditioned draws, a running day untouched."""

from __future__ import annotations

import importlib.util
import json
import math
import random
from dataclasses import replace
from pathlib import Path
from statistics import NormalDist
from types import ModuleType
from typing import Any

import pytest

from backend.policy import sim
from backend.policy.sim.metrics import wait_of
from bench._oracle import (
    FUTURE_ID_BASE,
    FutureDay,
    FutureDraws,
    Replay,
    Scored,
    bootstrap_ratio,
    lognormal_beyond,
    oracle_estimate,
    paired_forecaster,
    replayed_waits,
)

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent
Z = NormalDist()
# A sample quantile is off by more than this many of its asymptotic standard errors with
# probability below 1e-4 (normal approximation): the tolerance of every sampled figure here.
SAMPLING_SIGMAS = 4.0


def one_counter(mean: float, cv: float, **extra: Any) -> sim.Scenario:
    """One counter, one fast service, 09:00–10:00, nobody arriving but the test's customers,
    infinitely patient customers (no [patience])."""
    data: dict[str, Any] = {
        "name": "one-counter",
        "hours": {"open": "09:00", "close": "10:00"},
        "counters": [{"number": 1, "lanes": ["fast"]}],
        "arrivals": {"09:00": 0},
        "services": [{"code": "A", "lane": "fast", "share": 1, "mean": mean, "cv": cv}],
        "policy": {"max_wait": 0, "vip_first": 0},
    }
    data.update(extra)
    return sim.scenario_from_dict(data)


def visit(ticket_id: int, arrival: float, duration: float) -> sim.Customer:
    return sim.Customer(ticket_id, arrival, "A", duration, math.inf)


def waits_at(
    scenario: sim.Scenario, customers: list[sim.Customer], target: int, resims: int
) -> list[float | None]:
    """The oracle's replayed waits of ticket `target`, taken at its issue in the live day."""
    found: dict[int, list[float | None]] = {}

    def look(hall: sim.Hall, ticket: sim.Ticket) -> None:
        if ticket.item.ticket_id == target:
            found[target] = replayed_waits(hall, ticket, FutureDraws(scenario, 0), resims)

    sim.simulate(scenario, sim.policy_setups(scenario)["ours"], customers, look)
    return found[target]


def test_a_determined_hall_gives_one_exact_wait() -> None:
    # At 3: c1 has been at the counter 3 of its 5 minutes (2 left), c2 waits with its 5: the
    # ticket issued then is called at 3 + 2 + 5 = 10, a wait of 7, in every replay.
    scenario = one_counter(mean=5, cv=0)
    waits = waits_at(scenario, [visit(1, 0.0, 5.0), visit(2, 1.0, 5.0), visit(3, 3.0, 5.0)], 3, 100)
    assert waits == [7.0] * 100
    assert oracle_estimate(waits) == (7.0, 7.0, 7.0)  # a range of zero width


def test_the_median_wait_behind_one_visit_is_the_lognormals_median() -> None:
    mean, cv, resims = 4.0, 0.5, 400
    sigma = math.sqrt(math.log(1 + cv * cv))
    median = math.exp(math.log(mean) - sigma * sigma / 2)  # = 4 / √1.25 ≈ 3.578
    # The sample median's standard error: 1 / (2 f(m) √n), with the lognormal's density at its
    # median f(m) = 1 / (m σ √(2π)); ≈ 0.106 min for 400 replays.
    standard_error = median * sigma * math.sqrt(math.pi / (2 * resims))
    # c1 arrives and is called at 0; the ticket issued at that same instant waits for all of
    # c1's visit, of which nothing has passed yet (c1's real duration is never used).
    waits = waits_at(one_counter(mean, cv), [visit(1, 0.0, 99.0), visit(2, 0.0, 4.0)], 2, resims)
    estimate = oracle_estimate(waits)
    assert estimate is not None
    point, low, high = estimate
    assert point == pytest.approx(median, abs=SAMPLING_SIGMAS * standard_error)
    assert low < point < high
    # The 95 % quantile likewise: q = m·e^(zσ), standard error √(p(1-p)/n) / f(q) with the
    # density f(q) = φ(z) / (q σ); ≈ 0.36 min for 400 replays.
    z = Z.inv_cdf(0.95)
    q95 = median * math.exp(z * sigma)
    q95_error = math.sqrt(0.95 * 0.05 / resims) * q95 * sigma / Z.pdf(z)
    assert high == pytest.approx(q95, abs=SAMPLING_SIGMAS * q95_error)


def test_a_visit_past_its_mean_is_redrawn_beyond_what_it_has_lasted() -> None:
    mean, cv, elapsed, later, draws = 4.0, 0.5, 9.0, 12.0, 4000
    rng = random.Random(5)
    totals = [lognormal_beyond(rng, mean, cv, elapsed) for _ in range(draws)]
    assert min(totals) > elapsed  # the remaining time is never below zero
    # P(X > 12 | X > 9) = S(12) / S(9) for the lognormal's survival function S.
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(mean) - sigma * sigma / 2
    survival = [1 - Z.cdf((math.log(x) - mu) / sigma) for x in (later, elapsed)]
    expected = survival[0] / survival[1]
    tolerance = SAMPLING_SIGMAS * math.sqrt(expected * (1 - expected) / draws)
    assert sum(t > later for t in totals) / draws == pytest.approx(expected, abs=tolerance)
    # Far in the tail (Φ underflows) the draw still lands beyond the elapsed time.
    assert lognormal_beyond(rng, mean, cv, 1e6) > 1e6


def test_the_replay_conditions_the_visit_and_the_patience_on_the_past() -> None:
    # c1 (mean 4) has been at the counter for 10 minutes when c3 is issued; c2 has waited 9 of
    # a patience whose mean is 3.
    scenario = one_counter(4.0, 0.5, patience={"mean": 3.0, "cv": 0.5})
    customers = [
        sim.Customer(1, 0.0, "A", 30.0, math.inf),
        sim.Customer(2, 1.0, "A", 4.0, math.inf),
        sim.Customer(3, 10.0, "A", 4.0, math.inf),
    ]
    seen: list[tuple[float, float]] = []
    waits: list[float | None] = []

    def look(hall: sim.Hall, ticket: sim.Ticket) -> None:
        if ticket.item.ticket_id != 3:
            return
        for r in range(200):
            replay = Replay(hall, ticket, FutureDraws(scenario, 0).day(r), random.Random(r))
            at_counter = replay.desks[1].current
            assert at_counter is not None and at_counter.item.ticket_id == 1
            seen.append((at_counter.customer.duration, replay.tickets[2].customer.patience))
            waits.append(replay.resume())

    sim.simulate(scenario, sim.policy_setups(scenario)["ours"], customers, look)
    assert min(total for total, _ in seen) > 10.0
    assert min(patience for _, patience in seen) > 9.0
    # The oracle knows patience by its distribution only (not c3's own, endless one): c3 gives
    # up in some replays; where it is served, it waited for the rest of c1's visit at least.
    served = [w for w in waits if w is not None]
    assert 0 < len(served) < len(waits)
    assert min(served) > 0.0


def small_day(**extra: Any) -> sim.Scenario:
    """Two counters, lunch-like staffing, two services, bookings, impatient customers."""
    data: dict[str, Any] = {
        "name": "small",
        "hours": {"open": "09:00", "close": "10:30"},
        "counters": [
            {"number": 1, "lanes": ["fast"]},
            {"number": 2, "lanes": ["standard", "fast"]},
        ],
        "staffing": {"09:00": [1, 2], "09:40": [2], "10:00": [1, 2]},
        "arrivals": {"09:00": 30, "09:30": 50},
        "services": [
            {"code": "A", "lane": "fast", "share": 0.6, "mean": 3, "cv": 0.6},
            {"code": "C", "lane": "standard", "share": 0.4, "mean": 7, "cv": 0.7},
        ],
        "appointments": {"share": 0.3, "punctuality_mean": 5.0, "punctuality_sd": 2.0},
        "patience": {"mean": 15.0, "cv": 0.5},
        "eta": {"samples": 4},
    }
    data.update(extra)
    return sim.scenario_from_dict(data)


def test_the_running_day_is_unchanged_by_the_oracle() -> None:
    scenario = small_day()
    customers = sim.generate_customers(scenario, 4)
    ours = sim.policy_setups(scenario)["ours"]
    every_ticket = replace(scenario, eta=replace(scenario.eta, every=1))
    plain = sim.simulate(scenario, ours, customers)
    estimated = sim.simulate(scenario, ours, customers, sim.eta_forecaster(every_ticket, 4))
    forecaster, paired = paired_forecaster(scenario, 4, resims=10, every=1)
    watched = sim.simulate(scenario, ours, customers, forecaster)
    assert len(paired.oracle) == len(customers) > 20  # it looked at every ticket
    assert watched.log == plain.log == estimated.log
    assert watched.forecasts == estimated.forecasts  # the product's estimate is the same
    states = [(t.status, t.called_at, t.counter) for t in plain.tickets]
    assert [(t.status, t.called_at, t.counter) for t in watched.tickets] == states


def test_a_replay_given_the_truth_reproduces_the_real_waits() -> None:
    # Without randomness left (cv 0, endless patience) and with the real customers to come, a
    # replay from any ticket's issue is the real day: every wait comes out as it really was.
    scenario = small_day(patience={})
    scenario = replace(scenario, services=tuple(replace(s, cv=0.0) for s in scenario.services))
    customers = sim.generate_customers(scenario, 2)
    truth = FutureDay([replace(c, ticket_id=FUTURE_ID_BASE + c.ticket_id) for c in customers])
    replayed: dict[int, float | None] = {}

    def look(hall: sim.Hall, ticket: sim.Ticket) -> None:
        replayed[ticket.item.ticket_id] = Replay(hall, ticket, truth, random.Random(0)).resume()

    result = sim.simulate(scenario, sim.policy_setups(scenario)["ours"], customers, look)
    assert any(c.checked_in for c in customers)  # the bookings' slots are replayed too
    assert replayed == {t.item.ticket_id: wait_of(t) for t in result.tickets}


def scored(actual: float, estimate: float, oracle: float) -> Scored:
    return Scored(1, 1, actual, (estimate, 0.0, 0.0), (oracle, 0.0, 0.0))


def test_the_ratio_and_its_paired_interval() -> None:
    # Estimate errors 2, 4, 6 against oracle errors 1, 2, 3: twice as large in every pair, so
    # every paired resample gives exactly 2.
    rows = [scored(10, 12, 11), scored(10, 6, 8), scored(5, 11, 8)]
    assert bootstrap_ratio(rows, reps=200, seed=1) == (2.0, 2.0, 2.0)
    # Unpaired errors spread the interval around the ratio (6 + 1) / (1 + 6) = 1.
    ratio, low, high = bootstrap_ratio([scored(0, 6, 1), scored(0, 1, 6)], reps=200, seed=1)
    assert ratio == 1.0 and low is not None and high is not None and low < 1.0 < high


def load_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oracle_cli", ROOT / "bench" / "oracle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_accounts_for_every_sampled_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "small.toml"
    toml.write_text(
        '[hours]\nopen = "09:00"\nclose = "10:00"\n'
        '[[counters]]\nnumber = 1\nlanes = ["fast"]\n'
        '[arrivals]\n"09:00" = 40\n'
        '[[services]]\ncode = "A"\nlane = "fast"\nshare = 1\nmean = 1.5\ncv = 0.5\n'
        "[patience]\nmean = 10.0\ncv = 0.5\n"
    )
    out = tmp_path / "oracle.json"
    args = [str(toml), "--seeds", "2", "--every", "2", "--resims", "8", "--jobs", "1"]
    assert load_cli().main([*args, "--json", str(out), "--no-progress"]) == 0
    assert "| small |" in capsys.readouterr().out
    (summary,) = json.loads(out.read_text())
    skipped = summary["gave_up"] + summary["no_estimate"] + summary["oracle_unserved"]
    assert summary["tickets"] + skipped == summary["sampled"] > 20
    assert (
        summary["tickets"]
        == len(summary["rows"])
        == sum(s["tickets"] for s in summary["seeds"].values())
    )
    assert all(r["ticket_id"] % 2 == 0 for r in summary["rows"])
    assert summary["oracle"]["mae"] > 0 and summary["mae_ratio"] is not None
