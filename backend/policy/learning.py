"""Service times learned from completed visits: an exponentially weighted mean with a prior."""

from __future__ import annotations

EWMA_ALPHA = 0.15
MIN_OBSERVATIONS = 10


def learn(current: float, observed: float, alpha: float = EWMA_ALPHA) -> float:
    """Exponentially weighted mean of observed durations, starting from the configured one
    (the prior); `trusted_minutes` decides when enough visits were seen to use it."""
    return current + alpha * (observed - current)


def trusted_minutes(configured: float, learned: float | None, count: int) -> float:
    return learned if learned is not None and count >= MIN_OBSERVATIONS else configured
