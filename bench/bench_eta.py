"""Cost of the wait estimate: one forward run and the sampled range, by queue length.

.venv/bin/python bench/bench_eta.py
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.policy import CounterView, Lane, QueueItem, QueuePolicy
from backend.policy.eta import CounterLoad, Patience, forecast, run_forward, sample_count

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
SERVICES = [
    ("A", Lane.FAST, 3.0),
    ("B", Lane.FAST, 5.0),
    ("C", Lane.STANDARD, 8.0),
    ("D", Lane.STANDARD, 12.0),
    ("E", Lane.STANDARD, 18.0),
    ("V", Lane.VIP, 10.0),
]
PROFILES = [
    (Lane.FAST,),
    (Lane.FAST,),
    (Lane.STANDARD, Lane.FAST),
    (Lane.STANDARD, Lane.FAST),
    (Lane.STANDARD,),
    (Lane.VIP, Lane.STANDARD),
]


def queue(n: int, rng: random.Random) -> list[QueueItem]:
    items = []
    for i in range(n):
        code, lane, minutes = rng.choice(SERVICES)
        at = NOW - timedelta(minutes=rng.uniform(0, 90), microseconds=i)
        items.append(QueueItem(i + 1, lane, at, code, expected_minutes=minutes))
    return items


def expected(item: QueueItem) -> float:
    return item.expected_minutes


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    rng = random.Random(1)
    loads = [CounterLoad(CounterView(n + 1, p), NOW) for n, p in enumerate(PROFILES)]
    policy = QueuePolicy()
    # Customers giving up as on a busy day: hardly any in 10 minutes, more and more after.
    patience = Patience((0.001, 0.01, 0.03, 0.05, 0.06))
    print(
        f"{'waiting':>8s} {'samples':>8s} {'one run ms':>11s} {'forecast ms':>12s}"
        f" {'thinned ms':>11s}"
    )
    for n in (30, 100, 300, 1000):
        items = queue(n, rng)
        samples = sample_count(n)  # as the live read model samples a queue this long
        one = timed(lambda q=items: run_forward(q, loads, policy, NOW, expected), 5)
        full = timed(lambda q=items, k=samples: forecast(q, loads, policy, NOW, samples=k), 2)
        thinned = timed(
            lambda q=items, k=samples: forecast(
                q, loads, policy, NOW, samples=k, patience=patience
            ),
            2,
        )
        print(f"{n:8d} {samples:8d} {one:11.1f} {full:12.1f} {thinned:11.1f}")


if __name__ == "__main__":
    main()
