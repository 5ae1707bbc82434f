"""Unplanned pauses: clerks who step away at random moments for random lengths, without saying
when they are back (the scenario's [pauses] table, off by default; bench/README.md).

Drawn once per seed into the scenario (`with_unplanned_pauses`), as the clerk speeds are, so
every policy of a seed meets the same pauses; from a stream of their own, so the customers'
draws are the same with them or without.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from .scenario import Scenario


def draw_pauses(scenario: Scenario, seed: int) -> tuple[tuple[float, int, float], ...]:
    """(start, counter, minutes) of every unplanned pause of the day, by start: per counter a
    Poisson process of `per_hour` pauses per hour over the opening hours, lengths lognormal."""
    spec = scenario.pauses
    if spec.per_hour <= 0:
        return ()
    rng = random.Random(f"{seed}:pauses")
    sigma2 = math.log(1 + spec.cv * spec.cv)
    mu, sigma = math.log(spec.mean) - sigma2 / 2, math.sqrt(sigma2)
    out = []
    for counter in scenario.counters:
        t = 0.0
        while True:
            t += rng.expovariate(spec.per_hour / 60)
            if t >= scenario.length:
                break
            out.append((t, counter.number, rng.lognormvariate(mu, sigma)))
    return tuple(sorted(out))


def with_unplanned_pauses(scenario: Scenario, seed: int) -> Scenario:
    """The scenario of one seed with its unplanned pauses drawn (the same scenario without)."""
    if scenario.pauses.per_hour <= 0:
        return scenario
    drawn = draw_pauses(scenario, seed)
    return replace(scenario, pauses=replace(scenario.pauses, drawn=drawn))
