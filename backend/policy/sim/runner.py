"""Replications: per seed, the same customers under every policy; then the mean per policy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .customers import for_seed, generate_customers
from .estimate import eta_forecaster, history_patience
from .hall import simulate
from .metrics import average, day_metrics
from .scenario import Scenario
from .setups import POLICIES, policy_setups

# Told after each simulated day, e.g. "seed 3 ours" (a progress bar, a log line).
Step = Callable[[str], None]


def run_seed(
    scenario: Scenario, seed: int, names: Sequence[str], on_step: Step | None = None
) -> dict[str, dict[str, Any]]:
    """One replication: the same customers (clerks, learned times) under every policy."""
    scenario = for_seed(scenario, seed)
    customers = generate_customers(scenario, seed)
    setups = policy_setups(scenario, history_patience(scenario, seed))
    out = {}
    for name in names:
        forecaster = eta_forecaster(scenario, seed) if name == "ours" else None
        result = simulate(scenario, setups[name], customers, forecaster)
        out[name] = day_metrics(result, scenario)
        if on_step:
            on_step(f"seed {seed} {name}")
    return out


def run(
    scenario: Scenario,
    seeds: int,
    names: Sequence[str] = POLICIES,
    base: int | None = None,
    on_step: Step | None = None,
) -> dict[str, dict[str, Any]]:
    """Seeds base..base+seeds-1 (base: the scenario's seed), averaged per policy."""
    first = scenario.seed if base is None else base
    runs = [run_seed(scenario, first + i, names, on_step) for i in range(seeds)]
    return {name: average([r[name] for r in runs]) for name in names}
