"""How long a store's customers wait before they give up: a hazard per band of minutes already
waited, learned from the departures of the day or of the store's earlier days. The wait estimate
thins the queue ahead by it (`eta`), and the deadline call order counts who will still be there
when it measures how long a plain queue would make a newcomer wait (`ordering`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# Patience is measured as a hazard (departures per minute waited) that is constant within each
# band of minutes already waited. Real patience is far from memoryless: hardly anyone leaves in
# the first minutes, many after half an hour; one rate for all would thin the head of the queue
# too much and the long waiters too little. The bands start at these minutes, the last is open.
PATIENCE_BANDS = (0.0, 10.0, 20.0, 30.0, 40.0)
# Fewer departures than this today: too little to know; the store's earlier days tell instead
# (`observed_patience`'s `history`), and with too few there either, no thinning at all.
MIN_DEPARTURES = 5
# The earlier days that tell how the store's customers give up (the live read model and the
# simulator's `[eta] history_days` alike).
HISTORY_DAYS = 28
# A band's rate is pulled towards the band before it (the first band's towards the day's overall
# rate) as if it had this many more ticket-minutes of waiting at that rate: a band few have
# reached yet (the longest waits, early in the day) is not judged on one or two departures.
PRIOR_MINUTES = 60.0


@dataclass(frozen=True, slots=True)
class PatienceTally:
    """The day so far, per band of PATIENCE_BANDS: how many tickets left while waiting in it, and
    how many minutes tickets spent waiting in it (every ticket, until called, gone, or now)."""

    departures: tuple[int, ...]
    exposure: tuple[float, ...]


def tally_patience(waits: Iterable[tuple[float, bool]]) -> PatienceTally:
    """The tally of (minutes waited, left while waiting) per ticket; the live system sums the
    same in SQL (backend/queue/readmodel.py)."""
    departures = [0] * len(PATIENCE_BANDS)
    exposure = [0.0] * len(PATIENCE_BANDS)
    for waited, left in waits:
        for band, start in enumerate(PATIENCE_BANDS):
            end = _band_end(band)
            exposure[band] += min(max(waited - start, 0.0), end - start)
            if left and start <= waited < end:
                departures[band] += 1
    return PatienceTally(tuple(departures), tuple(exposure))


def _band_end(band: int) -> float:
    return PATIENCE_BANDS[band + 1] if band + 1 < len(PATIENCE_BANDS) else math.inf


@dataclass(frozen=True, slots=True)
class Patience:
    """Departures per minute of waiting, by band of minutes already waited (PATIENCE_BANDS)."""

    rates: tuple[float, ...]

    def cumulative(self, waited: float) -> float:
        """The cumulative hazard after `waited` minutes: -log P(still there)."""
        total = 0.0
        for band, start in enumerate(PATIENCE_BANDS):
            if waited <= start:
                break
            total += self.rates[band] * (min(waited, _band_end(band)) - start)
        return total

    def stays(self, waited: float, more: float) -> float:
        """The probability that someone who has waited `waited` minutes is still there `more`
        minutes later (if not called meanwhile)."""
        return math.exp(self.cumulative(waited) - self.cumulative(waited + more))

    def remaining(self, waited: float, hazard: float) -> float:
        """Minutes after `waited` until the cumulative hazard has grown by `hazard` (an Exp(1)
        draw gives a patience conditioned on having waited so far); inf if it never does."""
        target = self.cumulative(waited) + hazard
        total = 0.0
        for band, start in enumerate(PATIENCE_BANDS):
            end = _band_end(band)
            rate = self.rates[band]
            if rate > 0 and total + rate * (end - start) >= target:
                return max(start + (target - total) / rate - waited, 0.0)
            if math.isinf(end):
                break
            total += rate * (end - start)
        return math.inf


def observed_patience(
    tally: PatienceTally, history: PatienceTally | None = None
) -> Patience | None:
    """The hazard per band (departures ÷ minutes waited in it, pulled towards the band before
    by PRIOR_MINUTES) of the day so far; while the day has had fewer than MIN_DEPARTURES
    departures, that of `history` (the store's earlier days: until a day has seen people give
    up, its estimate would otherwise assume nobody does, which is what the estimate got most
    wrong in a morning, bench/BENCHMARKS.md); None when neither has enough."""
    if sum(tally.departures) < MIN_DEPARTURES:
        if history is None or sum(history.departures) < MIN_DEPARTURES:
            return None
        tally = history
    prior = sum(tally.departures) / max(sum(tally.exposure), 1.0)
    rates = []
    for departures, exposure in zip(tally.departures, tally.exposure, strict=True):
        prior = (departures + PRIOR_MINUTES * prior) / (exposure + PRIOR_MINUTES)
        rates.append(prior)
    return Patience(tuple(rates))


NO_DEPARTURES = PatienceTally((0,) * len(PATIENCE_BANDS), (0.0,) * len(PATIENCE_BANDS))


def learned_patience(history: PatienceTally | None) -> Patience | None:
    """How patient the store's customers were over its earlier days alone (the day's own
    departures left out): what the deadline call order counts with (`QueuePolicy.patience`),
    the same at every call of the day. None with too few departures to tell."""
    return observed_patience(NO_DEPARTURES, history)
