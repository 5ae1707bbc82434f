"""Erlang C (M/M/N): the chance of waiting, the service level, the mean wait, counters needed.

Pure arithmetic, no Flask and no database. Offered load `A = arrival rate × mean service time`
(in Erlangs); `n` counters. Erlang B is computed by its recurrence
`B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`, never with factorials or powers, so it stays
exact and finite for hundreds of counters and loads; Erlang C follows from it:
`C = n·B / (n − A·(1 − B))`. Times are in any one unit (the callers use minutes).
"""

from __future__ import annotations

import math

# No hall has more counters than this; a search that would need more stops here.
MAX_COUNTERS = 1000


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of `n` servers offered `load` Erlangs (Erlang's loss formula)."""
    if n < 0 or load < 0 or not math.isfinite(load):
        raise ValueError("n and load must be finite and >= 0")
    blocked = 1.0
    for k in range(1, n + 1):
        blocked = load * blocked / (k + load * blocked)
    return blocked


def erlang_c(n: int, load: float) -> float:
    """Probability that an arrival waits at all (1.0 when the counters cannot keep up)."""
    if load <= 0:
        return 0.0
    if n <= load:
        return 1.0
    blocked = erlang_b(n, load)
    return n * blocked / (n - load * (1 - blocked))


def service_level(n: int, load: float, mean_service: float, target: float) -> float:
    """P(wait <= target) = 1 − C·e^(−(n − A)·target / mean service time)."""
    if load <= 0:
        return 1.0
    if n <= load:
        return 0.0
    waits = erlang_c(n, load)
    return 1.0 - waits * math.exp(-(n - load) * target / mean_service)


def mean_wait(n: int, load: float, mean_service: float) -> float:
    """Average speed of answer: C · mean service time / (n − A); infinite when overloaded."""
    if load <= 0:
        return 0.0
    if n <= load:
        return math.inf
    return erlang_c(n, load) * mean_service / (n - load)


def counters_needed(
    arrivals_per_minute: float, mean_service: float, target: float, share: float
) -> int:
    """The smallest n whose service level reaches `share` within `target` (0 for no arrivals).

    Starts at the first n above the load (fewer can never keep up) and walks upwards: the
    service level grows with n, so the first n that meets the share is the smallest."""
    if not 0 < share < 1:
        raise ValueError("share must be between 0 and 1")
    if arrivals_per_minute < 0 or mean_service < 0 or target < 0:
        raise ValueError("rates and times must be >= 0")
    load = arrivals_per_minute * mean_service
    if load <= 0:
        return 0
    n = max(1, math.floor(load) + 1)
    while service_level(n, load, mean_service, target) < share:
        n += 1
        if n > MAX_COUNTERS:
            raise ValueError("the load needs more counters than any hall has")
    return n
