"""The reports' statistics: plain numbers in, figures out (no database, no Flask).

Percentiles are nearest-rank (the smallest value with at least p % of the values at or below it):
always a value that happened, and easy to check by hand. The median is the usual one (the mean of
the two middle values for an even count).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, median

P90 = 0.9
TOP_STARS = 5
# A rating of 1 to 3 stars counts against the score (the share of 5s minus the share of 1-3s).
LOW_STARS_MAX = 3


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float | None
    median: float | None
    p90: float | None


def _ranked(ordered: Sequence[float], p: float) -> float:
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The p-th quantile by nearest rank (p in (0, 1]); None without values."""
    return _ranked(sorted(values), p) if values else None


def summarize(values: Sequence[float]) -> Summary:
    return summarize_sorted(sorted(values))  # sorted once, for the median and the percentile


def summarize_sorted(ordered: Sequence[float]) -> Summary:
    """`summarize` of values already in ascending order."""
    if not ordered:
        return Summary(0, None, None, None)
    return Summary(len(ordered), fmean(ordered), float(median(ordered)), _ranked(ordered, P90))


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to share (never a made-up 0 %)."""
    return part / whole if whole else None


def share_within_sorted(ordered: Sequence[float], limit: float) -> float | None:
    """The share of values (in ascending order) at or under limit."""
    return share(bisect_right(ordered, limit), len(ordered))


def net_score(stars: Sequence[int]) -> float | None:
    """Share of 5-star ratings minus share of 1-3-star ones, in [-1, 1]."""
    if not stars:
        return None
    top = sum(1 for s in stars if s >= TOP_STARS)
    low = sum(1 for s in stars if s <= LOW_STARS_MAX)
    return (top - low) / len(stars)
