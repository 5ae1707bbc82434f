"""Unplanned pauses in the simulator (the scenario's [pauses]): off, every figure as before;
on, clerks step away after their customer and come back, nobody is served meanwhile at their
desk, the forecast sees them paused with no return said, and every customer is accounted for."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from backend.policy import CounterStatus, sim
from backend.policy.sim.hall import Hall
from backend.policy.sim.pauses import draw_pauses, with_unplanned_pauses
from backend.policy.sim.scenario import PauseSpec

from .test_simulator import tiny, visit

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent
WEEKDAY = ROOT / "bench" / "scenarios" / "weekday.toml"


def test_off_by_default_and_the_figures_are_the_same() -> None:
    weekday = sim.load_scenario(WEEKDAY)
    assert weekday.pauses == PauseSpec() and with_unplanned_pauses(weekday, 3) is weekday
    explicit = replace(weekday, pauses=PauseSpec(per_hour=0.0, mean=30.0))
    assert sim.run(weekday, 1, ["ours", "fifo"]) == sim.run(explicit, 1, ["ours", "fifo"])


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown \[pauses\] settings: often"):
        tiny(pauses={"often": 1})
    with pytest.raises(ValueError, match="per_hour >= 0"):
        tiny(pauses={"per_hour": -1})
    assert tiny(pauses={"per_hour": 2, "mean": 5}).pauses == PauseSpec(2.0, 5.0)


def test_drawn_per_seed_from_a_stream_of_their_own() -> None:
    scenario = tiny(pauses={"per_hour": 3, "mean": 5})
    first, again, other = (draw_pauses(scenario, s) for s in (1, 1, 2))
    assert first == again and first != other and first
    assert all(0 <= t < scenario.length and counter == 1 and m > 0 for t, counter, m in first)
    # The customers' own draws do not move: the same day with pauses or without.
    assert sim.generate_customers(scenario, 1) == sim.generate_customers(tiny(), 1)


def test_a_clerk_steps_away_after_the_customer_and_nobody_is_called_meanwhile() -> None:
    scenario = replace(
        tiny(), pauses=PauseSpec(per_hour=1, drawn=((2.0, 1, 10.0),))
    )  # at 09:02, for 10 minutes
    day = [visit(1, 0.0, "A", 5.0), visit(2, 3.0, "A", 4.0)]
    seen: list[Any] = []

    def look(hall: Hall, ticket: sim.Ticket) -> None:
        seen.append((hall.now, hall.counter_views()))

    result = sim.simulate(scenario, sim.policy_setups(scenario)["fifo"], day, look)
    first, second = result.tickets
    assert first.called_at == 0.0
    # The pause begins when the first visit ends (09:05) and lasts 10 minutes.
    assert second.called_at == pytest.approx(15.0)
    assert ("pause", 5.0, 1, 0) in result.log and ("unpause", 15.0, 1, 0) in result.log
    # At 09:03 the clerk had not stepped away yet (still with the customer): open.
    assert seen[1][1][0].view.status == CounterStatus.OPEN


def test_the_forecast_sees_a_clerk_away_as_paused_with_no_return() -> None:
    scenario = replace(tiny(), pauses=PauseSpec(per_hour=1, drawn=((1.0, 1, 20.0),)))
    day = [visit(1, 5.0, "A", 4.0)]
    views: list[Any] = []
    sim.simulate(
        scenario,
        sim.policy_setups(scenario)["fifo"],
        day,
        lambda hall, ticket: views.append(hall.counter_views()),
    )
    (desk,) = views[0]
    assert desk.view.status == CounterStatus.PAUSED and desk.back_at is None


def test_on_the_weekday_counters_pause_and_every_customer_is_accounted_for() -> None:
    weekday = sim.load_scenario(WEEKDAY)
    paused = replace(weekday, pauses=PauseSpec(per_hour=1.0, mean=10.0))
    seeded = with_unplanned_pauses(paused, 4)
    customers = sim.generate_customers(seeded, 4)
    result = sim.simulate(seeded, sim.policy_setups(seeded)["ours"], customers)
    pauses = [e for e in result.log if e[0] == "pause"]
    assert len(pauses) >= 20 and len(pauses) == len([e for e in result.log if e[0] == "unpause"])
    assert len(result.tickets) == len(customers)
    served = [t for t in result.tickets if t.called_at is not None]
    left = [t for t in result.tickets if t.left_at is not None]
    assert len(served) + len(left) == len(customers)
    plain = sim.simulate(weekday, sim.policy_setups(weekday)["ours"], customers)
    assert (
        sim.day_metrics(result, seeded)["mean_wait"] > sim.day_metrics(plain, weekday)["mean_wait"]
    )
