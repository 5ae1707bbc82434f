"""The estimated wait: the policy run forward, exact on a deterministic scenario, a range that
widens with uncertainty, and a paused counter that raises it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.policy import CounterStatus, CounterView, Lane, Ordering, QueueItem, QueuePolicy
from backend.policy.eta import (
    BAND_MAX_AGE,
    UNSAID_RETURN,
    CounterLoad,
    WaitForecast,
    forecast,
    forecast_banded,
    run_forward,
)
from backend.policy.learning import learn, trusted_minutes

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
FIFO = QueuePolicy(ordering=Ordering.FIFO, max_wait=None, vip_first=0, appointment_grace=None)


def fast(ticket_id: int, minutes_ago: float, expected: float = 4.0) -> QueueItem:
    return QueueItem(
        ticket_id, Lane.FAST, NOW - timedelta(minutes=minutes_ago), "A", expected_minutes=expected
    )


def counters(*busy_minutes: float, status: CounterStatus = CounterStatus.OPEN) -> list[CounterLoad]:
    return [
        CounterLoad(CounterView(n + 1, (Lane.FAST,), status), NOW + timedelta(minutes=busy))
        for n, busy in enumerate(busy_minutes)
    ]


def test_deterministic_forward_run_gives_exact_waits() -> None:
    # Two counters, free in 0 and 2 minutes; five tickets of 4 minutes each, oldest first.
    waiting = [fast(i, 10 - i) for i in range(1, 6)]
    waits = run_forward(waiting, counters(0, 2), FIFO, NOW, lambda i: i.expected_minutes)
    assert waits == {1: 0.0, 2: 2.0, 3: 4.0, 4: 6.0, 5: 8.0}


def test_point_estimate_inside_its_range_and_the_range_widens_with_spread() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 9)]
    sure = forecast(waiting, counters(0, 1), FIFO, NOW, cv=0.05, samples=30)
    unsure = forecast(waiting, counters(0, 1), FIFO, NOW, cv=0.9, samples=30)
    last = 8
    assert sure[last].low <= sure[last].point <= sure[last].high
    assert unsure[last].high - unsure[last].low > 3 * (sure[last].high - sure[last].low)
    assert sure[1].as_range() == (0, 1)


def test_a_paused_counter_raises_the_estimate() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 7)]
    both = run_forward(waiting, counters(0, 0), FIFO, NOW, lambda i: i.expected_minutes)
    loads = counters(0, 0)
    loads[1] = CounterLoad(CounterView(2, (Lane.FAST,), CounterStatus.PAUSED), NOW)
    one = run_forward(waiting, loads, FIFO, NOW, lambda i: i.expected_minutes)
    # Paused with no return said: back UNSAID_RETURN (10 min) from now, after 3 visits at 1.
    assert one[6] == 14.0 and both[6] == 8.0


def test_tickets_no_open_counter_serves_have_no_estimate() -> None:
    vip = QueueItem(9, Lane.VIP, NOW, "V", expected_minutes=10)
    policy = QueuePolicy(work_conserving=False)
    assert run_forward([vip], counters(0), policy, NOW, lambda i: 10.0) == {}


def test_the_estimate_follows_the_stores_own_order() -> None:
    # Response ratio: a short job waiting 5 minutes goes before a long one waiting 6.
    long_job = QueueItem(1, Lane.FAST, NOW - timedelta(minutes=6), "C", expected_minutes=20)
    short_job = QueueItem(2, Lane.FAST, NOW - timedelta(minutes=5), "A", expected_minutes=3)
    policy = QueuePolicy(ordering=Ordering.SCORE, max_wait=None, vip_first=0)
    waits = run_forward(
        [long_job, short_job], counters(0), policy, NOW, lambda i: i.expected_minutes
    )
    assert waits == {2: 0.0, 1: 3.0}


def test_learning_service_times() -> None:
    estimate = 5.0
    for _ in range(30):
        estimate = learn(estimate, 9.0)
    assert 8.9 < estimate < 9.0
    assert trusted_minutes(5.0, 9.0, count=3) == 5.0  # too few visits: the configured duration
    assert trusted_minutes(5.0, 9.0, count=10) == 9.0
    assert trusted_minutes(5.0, None, count=0) == 5.0


# --- the sampled band kept across versions (backend.policy.eta.forecast_banded) -----------------


def test_a_new_band_is_the_sampled_forecast_itself() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 9)]
    sampled = forecast(waiting, counters(0, 1), FIFO, NOW, cv=0.5, samples=16, seed=7)
    banded, band = forecast_banded(waiting, counters(0, 1), FIFO, NOW, cv=0.5, samples=16, seed=7)
    assert band is not None and band.moment == NOW
    for ticket_id, expected in sampled.items():
        got = banded[ticket_id]
        assert (got.point, got.low, got.high) == pytest.approx(
            (expected.point, expected.low, expected.high)
        )


def test_the_band_follows_a_fresh_point_run_and_lends_itself_to_newcomers() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 9)]
    _, band = forecast_banded(waiting, counters(0, 1), FIFO, NOW, samples=16, seed=1)
    assert band is not None
    later = NOW + timedelta(seconds=10)
    # The first ticket was called meanwhile (gone); a newcomer joined at the end.
    now_waiting = [*waiting[1:], fast(9, 0, expected=4.0)]
    loads = counters(4, 1)
    banded, kept = forecast_banded(now_waiting, loads, FIFO, later, samples=16, seed=2, band=band)
    assert kept is band  # not sampled again
    point = run_forward(now_waiting, loads, FIFO, later, lambda i: i.expected_minutes)
    for ticket_id in (2, 5, 8):  # each keeps its own band around the fresh point run
        mean_off, _, high_off = band.offsets[ticket_id]
        assert banded[ticket_id].point == pytest.approx(point[ticket_id] + mean_off)
        assert banded[ticket_id].high == pytest.approx(point[ticket_id] + high_off)
    # The newcomer takes the band of the ticket called just before it (8), widened for the
    # minutes it waits beyond 8 as the fixed band would widen them (30 % up, 20 % down).
    beyond = point[9] - point[8]
    assert beyond > 0
    assert banded[9].point - point[9] == pytest.approx(band.offsets[8][0])
    assert banded[9].high - point[9] == pytest.approx(band.offsets[8][2] + 0.3 * beyond)
    assert banded[9].low == pytest.approx(max(point[9] + band.offsets[8][1] - 0.2 * beyond, 0))
    assert banded[9].low <= banded[9].point <= banded[9].high


def test_tickets_the_band_never_saw_are_not_told_a_range_of_zero() -> None:
    """A band sampled when the only ticket was called at once (every run: 0 min) lends nothing
    to the ones who joined behind it within the half minute: each of them waits for visits the
    runs did not draw, and gets the fixed band's margins for them, not 18-18 min."""
    alone = [fast(1, 0, expected=18.0)]
    _, band = forecast_banded(alone, counters(0), FIFO, NOW, samples=16, seed=1)
    assert band is not None and band.offsets[1] == (0.0, 0.0, 0.0)
    queue = [fast(i, 0, expected=18.0) for i in range(1, 5)]
    banded, kept = forecast_banded(queue, counters(0), FIFO, NOW, samples=16, band=band)
    assert kept is band
    assert banded[1] == WaitForecast(0.0, 0.0, 0.0)
    for ticket_id, wait in ((2, 18.0), (3, 36.0), (4, 54.0)):
        found = banded[ticket_id]
        assert (found.point, found.low, found.high) == pytest.approx((wait, 0.8 * wait, 1.3 * wait))


def test_the_band_is_sampled_anew_when_old_when_staffing_changes_or_when_it_knows_no_one() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 6)]
    _, band = forecast_banded(waiting, counters(0, 1), FIFO, NOW, samples=8)
    assert band is not None
    old = NOW + BAND_MAX_AGE
    assert forecast_banded(waiting, counters(0, 1), FIFO, old, samples=8, band=band)[1] is not band
    soon = NOW + timedelta(seconds=5)
    three = counters(0, 1, 2)  # another clerk signed in
    assert forecast_banded(waiting, three, FIFO, soon, samples=8, band=band)[1] is not band
    strangers = [fast(i, 10 - i) for i in range(20, 25)]
    assert (
        forecast_banded(strangers, counters(0, 1), FIFO, soon, samples=8, band=band)[1] is not band
    )
    assert forecast_banded(waiting, counters(0, 1), FIFO, soon, samples=8, band=band)[1] is band


# --- a paused counter's planned return ----------------------------------------------------------


def paused_until(number: int, back_in: float | None, busy: float = 0.0) -> CounterLoad:
    back_at = None if back_in is None else NOW + timedelta(minutes=back_in)
    view = CounterView(number, (Lane.FAST,), CounterStatus.PAUSED)
    return CounterLoad(view, NOW + timedelta(minutes=busy), back_at=back_at)


def test_a_paused_counter_with_a_planned_return_takes_work_from_then() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 4)]
    alone = run_forward(waiting, [paused_until(1, 10)], FIFO, NOW, lambda i: i.expected_minutes)
    assert alone == {1: 10.0, 2: 14.0, 3: 18.0}
    # Its customer still at the desk for 12 minutes: after that visit, not at the return.
    busy = run_forward(waiting, [paused_until(1, 10, busy=12)], FIFO, NOW, lambda i: 4.0)
    assert busy[1] == 12.0
    # Beside an open counter it helps from its return on.
    both = run_forward(waiting, [*counters(0), paused_until(2, 5)], FIFO, NOW, lambda i: 4.0)
    assert both == {1: 0.0, 2: 4.0, 3: 5.0}


def test_a_return_not_said_or_already_past_is_back_soon_beside_a_counter_that_serves() -> None:
    """The measured rule (eta.UNSAID_RETURN): such a counter helps from UNSAID_RETURN on, but
    alone it gives no estimate at all (nobody said anyone is coming)."""
    soon = UNSAID_RETURN / timedelta(minutes=1)
    waiting = [fast(i, 10 - i) for i in range(1, 5)]
    for back_in in (None, 0.0, -20.0):
        alone = [paused_until(1, back_in)]
        assert run_forward(waiting, alone, FIFO, NOW, lambda i: 4.0) == {}, back_in
        assert forecast(waiting, alone, FIFO, NOW, samples=8) == {}, back_in
        beside = [*counters(0), paused_until(2, back_in)]
        waits = run_forward(waiting, beside, FIFO, NOW, lambda i: 4.0)
        assert waits == {1: 0.0, 2: 4.0, 3: 8.0, 4: soon}, back_in


def test_the_band_is_sampled_anew_once_a_planned_return_passes() -> None:
    waiting = [fast(i, 10 - i) for i in range(1, 6)]
    loads = [*counters(0), paused_until(2, 10)]
    _, band = forecast_banded(waiting, loads, FIFO, NOW, samples=8)
    assert band is not None and len(band.shape) == 2
    later = NOW + timedelta(seconds=5)
    _, same = forecast_banded(waiting, loads, FIFO, later, samples=8, band=band)
    assert same is band
    past = NOW + timedelta(minutes=10, seconds=1)
    _, fresh = forecast_banded(
        waiting, loads, FIFO, past, samples=8, band=band, max_age=BAND_MAX_AGE * 100
    )
    assert fresh is not band and fresh is not None and fresh.shape != band.shape


@settings(max_examples=150, deadline=None)
@given(
    waits=st.lists(st.floats(0, 60), min_size=1, max_size=25),
    durations=st.lists(st.floats(0.5, 20), min_size=25, max_size=25),
    busy=st.floats(0, 15),
    back_in=st.floats(0.1, 90),
    lanes=st.sampled_from([(Lane.FAST,), (Lane.STANDARD, Lane.FAST)]),
)
def test_a_planned_return_never_makes_the_forecast_later(
    waits: list[float], durations: list[float], busy: float, back_in: float, lanes: tuple[Lane, ...]
) -> None:
    """Every ticket's point estimate with the paused counter's planned return is at most that
    without the counter (one that comes back only adds capacity; FIFO in one lane, as the
    store's order keeps within a lane)."""
    waiting = [
        fast(i + 1, minutes, durations[i]) for i, minutes in enumerate(sorted(waits, reverse=True))
    ]
    open_one = CounterLoad(CounterView(1, (Lane.FAST,)), NOW + timedelta(minutes=busy))
    back = NOW + timedelta(minutes=back_in)
    paused = CounterLoad(CounterView(2, lanes, CounterStatus.PAUSED), NOW, back_at=back)
    with_plan = run_forward(waiting, [open_one, paused], FIFO, NOW, lambda i: i.expected_minutes)
    without = run_forward(waiting, [open_one], FIFO, NOW, lambda i: i.expected_minutes)
    assert with_plan.keys() == without.keys()
    for ticket_id, minutes in with_plan.items():
        assert minutes <= without[ticket_id] + 1e-9, ticket_id
    policy = QueuePolicy()
    ours = forecast(waiting, [open_one, paused], policy, NOW, samples=0)
    theirs = forecast(waiting, [open_one], policy, NOW, samples=0)
    for ticket_id, found in ours.items():
        assert found.point <= theirs[ticket_id].point + 1e-9, ticket_id


def test_a_visit_long_past_its_mean_is_drawn_given_how_long_it_has_lasted() -> None:
    """24 minutes into a 3-minute visit (the clerk's customer has a hard case): the remaining
    time is drawn from the lognormal given that it has lasted 24 minutes — on average what
    integrating its survival function beyond 24 gives — not "any moment now"."""
    import math
    import random

    from backend.policy.eta import _drawn_loads, lognormal_params

    mean, cv, elapsed = 3.0, 0.5, 24.0
    mu, sigma = lognormal_params(mean, cv)

    def survival(x: float) -> float:
        return 0.5 * math.erfc((math.log(x) - mu) / (sigma * math.sqrt(2)))

    step = 0.001
    beyond = sum(survival(elapsed + (k + 0.5) * step) for k in range(40_000)) * step
    expected = beyond / survival(elapsed)  # E[X - 24 | X > 24], about 2.2 minutes
    view = CounterView(1, (Lane.FAST,))
    load = CounterLoad(view, NOW, NOW - timedelta(minutes=elapsed), mean)
    rng = random.Random(5)
    draws = [
        (_drawn_loads(rng, [load], NOW, cv)[0].free_at - NOW) / timedelta(minutes=1)
        for _ in range(4000)
    ]
    assert min(draws) > 0
    assert sum(draws) / len(draws) == pytest.approx(expected, rel=0.05)
    assert expected > 1.5
