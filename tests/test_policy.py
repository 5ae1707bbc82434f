"""The pure policy core, tested without an app or a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.policy import (
    Action,
    CounterStatus,
    CounterView,
    IllegalTransitionError,
    Lane,
    Ordering,
    QueueItem,
    QueuePolicy,
    Reason,
    TicketStatus,
    allowed_actions,
    can_rejoin,
    choose_next,
    format_label,
    next_queue_at,
    next_status,
    positions,
    rejoin_queue_at,
    service_day,
)

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def item(ticket_id: int, lane: Lane, minutes: float) -> QueueItem:
    return QueueItem(ticket_id, lane, T0 + timedelta(minutes=minutes))


FAST_ONLY = CounterView(1, (Lane.FAST,))
FAST_THEN_STANDARD = CounterView(2, (Lane.FAST, Lane.STANDARD))
STANDARD_THEN_FAST = CounterView(3, (Lane.STANDARD, Lane.FAST))


class TestCallOrder:
    def test_takes_oldest_of_first_non_empty_lane_in_profile_order(self) -> None:
        waiting = [item(1, Lane.STANDARD, 0), item(2, Lane.FAST, 5), item(3, Lane.FAST, 2)]
        decision = choose_next(FAST_THEN_STANDARD, waiting)
        assert (decision.ticket_id, decision.reason_code) == (3, "fast_lane_head")

    def test_profile_order_beats_age_across_lanes(self) -> None:
        # The standard ticket is older, but counter 3 serves standard first anyway by profile,
        # and counter 2 serves fast first: the same queue, two different correct answers.
        waiting = [item(1, Lane.FAST, 0), item(2, Lane.STANDARD, 1)]
        assert choose_next(STANDARD_THEN_FAST, waiting).ticket_id == 2
        assert choose_next(FAST_THEN_STANDARD, waiting).ticket_id == 1

    def test_second_lane_when_first_is_empty(self) -> None:
        decision = choose_next(FAST_THEN_STANDARD, [item(7, Lane.STANDARD, 3)])
        assert (decision.ticket_id, decision.reason, decision.lane) == (
            7,
            Reason.LANE_HEAD,
            Lane.STANDARD,
        )

    def test_work_conserving_counter_helps_the_longest_waiting_lane(self) -> None:
        waiting = [item(1, Lane.VIP, 4), item(2, Lane.STANDARD, 1)]
        decision = choose_next(FAST_ONLY, waiting, QueuePolicy(vip_first=0))
        assert (decision.ticket_id, decision.reason_code) == (2, "helping_standard_lane")

    def test_without_work_conservation_the_counter_stays_idle(self) -> None:
        decision = choose_next(
            FAST_ONLY, [item(2, Lane.STANDARD, 1)], QueuePolicy(work_conserving=False)
        )
        assert (decision.ticket_id, decision.reason) == (None, Reason.QUEUE_EMPTY)

    def test_empty_queue(self) -> None:
        decision = choose_next(FAST_ONLY, [])
        assert (decision.ticket_id, decision.reason_code) == (None, "queue_empty")

    def test_paused_counter_calls_nobody(self) -> None:
        paused = CounterView(1, (Lane.FAST,), CounterStatus.PAUSED)
        assert choose_next(paused, [item(1, Lane.FAST, 0)]).reason is Reason.COUNTER_PAUSED

    def test_equal_times_break_ties_by_ticket_id(self) -> None:
        waiting = [item(9, Lane.FAST, 0), item(4, Lane.FAST, 0)]
        assert choose_next(FAST_ONLY, waiting).ticket_id == 4

    def test_positions_count_people_ahead_within_the_lane(self) -> None:
        waiting = [
            item(1, Lane.FAST, 0),
            item(2, Lane.STANDARD, 1),
            item(3, Lane.FAST, 2),
            item(4, Lane.FAST, 3),
        ]
        assert positions(waiting) == {1: 0, 2: 0, 3: 1, 4: 2}


class TestStateMachine:
    @pytest.mark.parametrize(
        ("action", "source", "target"),
        [
            (Action.CALL, TicketStatus.WAITING, TicketStatus.CALLED),
            (Action.RECALL, TicketStatus.CALLED, TicketStatus.CALLED),
            (Action.START, TicketStatus.CALLED, TicketStatus.SERVING),
            (Action.COMPLETE, TicketStatus.SERVING, TicketStatus.DONE),
            (Action.COMPLETE, TicketStatus.CALLED, TicketStatus.DONE),
            (Action.NO_SHOW, TicketStatus.CALLED, TicketStatus.NO_SHOW),
            (Action.CANCEL, TicketStatus.WAITING, TicketStatus.CANCELLED),
            (Action.TRANSFER, TicketStatus.SERVING, TicketStatus.WAITING),
        ],
    )
    def test_legal(self, action: Action, source: TicketStatus, target: TicketStatus) -> None:
        assert next_status(action, source) is target

    @pytest.mark.parametrize(
        ("action", "source"),
        [
            (Action.CALL, TicketStatus.CALLED),
            (Action.START, TicketStatus.WAITING),
            (Action.RECALL, TicketStatus.SERVING),
            (Action.NO_SHOW, TicketStatus.SERVING),
            (Action.COMPLETE, TicketStatus.WAITING),
            (Action.COMPLETE, TicketStatus.DONE),
            (Action.CANCEL, TicketStatus.DONE),
            (Action.TRANSFER, TicketStatus.WAITING),
        ],
    )
    def test_illegal(self, action: Action, source: TicketStatus) -> None:
        with pytest.raises(IllegalTransitionError):
            next_status(action, source)

    def test_final_states_allow_nothing(self) -> None:
        for final in (TicketStatus.DONE, TicketStatus.CANCELLED):
            assert allowed_actions(final) == []
        assert allowed_actions(TicketStatus.NO_SHOW) == [Action.REJOIN]


class TestServiceDay:
    def test_rolls_over_at_local_midnight_in_shanghai(self) -> None:
        before = datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC)  # 23:59:59 local
        after = datetime(2026, 11, 26, 16, 0, 0, tzinfo=UTC)  # 00:00:00 local, next day
        assert service_day(before, "Asia/Shanghai") == date(2026, 11, 26)
        assert service_day(after, "Asia/Shanghai") == date(2026, 11, 27)

    def test_utc_midnight_is_not_the_boundary(self) -> None:
        moment = datetime(2026, 11, 27, 0, 30, tzinfo=UTC)  # 08:30 local
        assert service_day(moment, "Asia/Shanghai") == date(2026, 11, 27)
        assert service_day(datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "Asia/Shanghai") == date(
            2026, 11, 27
        )

    def test_naive_time_is_refused(self) -> None:
        with pytest.raises(ValueError):
            service_day(datetime(2026, 11, 26, 9, 0), "Asia/Shanghai")

    def test_label_format(self) -> None:
        assert format_label("A", 12) == "A012"
        assert format_label("V", 1234) == "V1234"


class TestMissedCalls:
    def lane(self, count: int) -> list[datetime]:
        return [T0 + timedelta(minutes=i) for i in range(count)]

    def test_rejoin_lands_n_places_behind_the_head(self) -> None:
        queue = self.lane(6)
        moment = rejoin_queue_at(queue, 3, T0 + timedelta(hours=1))
        assert queue[2] < moment < queue[3]
        assert sorted([*queue, moment]).index(moment) == 3

    def test_rejoin_at_the_head_and_at_the_end(self) -> None:
        queue = self.lane(2)
        now = T0 + timedelta(hours=1)
        assert rejoin_queue_at(queue, 0, now) < queue[0]
        assert rejoin_queue_at(queue, 3, now) == now
        assert rejoin_queue_at([], 3, now) == now

    def test_new_tickets_are_spaced_so_a_rejoin_always_fits(self) -> None:
        first = next_queue_at(None, T0)
        second = next_queue_at(first, T0)  # the clock did not move
        third = next_queue_at(second, T0)
        assert first < second < third
        between = rejoin_queue_at([first, second, third], 1, T0)
        assert first < between < second

    def test_rejoin_window(self) -> None:
        missed = T0
        assert can_rejoin(missed, 0, 30, T0 + timedelta(minutes=30))
        assert not can_rejoin(missed, 0, 30, T0 + timedelta(minutes=30, seconds=1))
        assert not can_rejoin(missed, 1, 30, T0 + timedelta(minutes=1))
        assert not can_rejoin(None, 0, 30, T0)


def test_every_status_has_words_for_people() -> None:
    from backend.queue.commands import STATUS_TEXT

    assert set(STATUS_TEXT) == set(TicketStatus)


class TestRules:
    both = CounterView(2, (Lane.FAST, Lane.STANDARD))

    def at(self, minutes: float) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def test_response_ratio_prefers_short_business_until_long_waits_catch_up(self) -> None:
        long_job = QueueItem(1, Lane.STANDARD, T0, "C", expected_minutes=20)
        short_job = QueueItem(2, Lane.FAST, self.at(2), "A", expected_minutes=3)
        policy = QueuePolicy(max_wait=None, vip_first=0)
        early = choose_next(self.both, [long_job, short_job], policy, self.at(5))
        assert (early.ticket_id, early.reason) == (2, Reason.BEST_RATIO)
        # 40 minutes later the long job's ratio (60/20 = 3) beats the short one's (41/3 ≈ 13.7)?
        # No: short jobs keep winning on ratio, which is why anti-starvation exists:
        late = choose_next(self.both, [long_job, short_job], QueuePolicy(vip_first=0), self.at(31))
        assert (late.ticket_id, late.reason) == (1, Reason.WAITED_LONG)

    def test_anti_starvation_takes_the_oldest_over_the_target(self) -> None:
        waiting = [
            QueueItem(1, Lane.STANDARD, T0, "C", expected_minutes=8),
            QueueItem(2, Lane.STANDARD, self.at(1), "C", expected_minutes=8),
            QueueItem(3, Lane.FAST, self.at(10), "A", expected_minutes=3),
        ]
        decision = choose_next(self.both, waiting, QueuePolicy(vip_first=0), self.at(32))
        assert (decision.ticket_id, decision.reason_code) == (1, "waited_long")
        off = choose_next(self.both, waiting, QueuePolicy(max_wait=None, vip_first=0), self.at(32))
        assert off.ticket_id == 3

    def test_vip_share(self) -> None:
        vip_counter = CounterView(4, (Lane.VIP, Lane.STANDARD))
        waiting = [
            QueueItem(1, Lane.STANDARD, T0, "C", expected_minutes=8),
            QueueItem(2, Lane.VIP, self.at(5), "V", expected_minutes=10),
        ]
        policy = QueuePolicy(max_wait=None, vip_first=1, vip_window=3)
        first = choose_next(vip_counter, waiting, policy, self.at(6), [Lane.FAST, Lane.FAST])
        assert (first.ticket_id, first.reason) == (2, Reason.VIP_FIRST)
        spent = choose_next(vip_counter, waiting, policy, self.at(6), [Lane.VIP, Lane.FAST])
        assert spent.ticket_id == 1 and spent.reason is not Reason.VIP_FIRST
        never = QueuePolicy(max_wait=None, vip_first=0)
        assert choose_next(vip_counter, waiting, never, self.at(6)).reason is not Reason.VIP_FIRST

    def test_priority_care_goes_first_after_starvation_before_vip(self) -> None:
        counter = CounterView(4, (Lane.VIP, Lane.STANDARD, Lane.FAST))
        early = QueueItem(1, Lane.FAST, T0, "A", expected_minutes=3)
        vip = QueueItem(2, Lane.VIP, self.at(2), "V", expected_minutes=10)
        cared = QueueItem(3, Lane.STANDARD, self.at(8), "C", expected_minutes=8, care=True)
        later = QueueItem(4, Lane.STANDARD, self.at(9), "C", expected_minutes=8, care=True)
        waiting = [early, vip, cared, later]
        decision = choose_next(counter, waiting, QueuePolicy(), self.at(10))
        assert (decision.ticket_id, decision.reason_code) == (3, "priority_care")  # the oldest
        starving = choose_next(counter, waiting, QueuePolicy(), self.at(31))
        assert (starving.ticket_id, starving.reason) == (1, Reason.WAITED_LONG)
        off = choose_next(counter, waiting, QueuePolicy(priority_care=False), self.at(10))
        assert (off.ticket_id, off.reason) == (2, Reason.VIP_FIRST)

    def test_priority_care_waits_for_a_counter_of_its_lane(self) -> None:
        """Only counters that serve the care ticket's lane take it first; a fast-only counter
        keeps to its own lane (and helps with it only when its own lane is empty)."""
        cared = QueueItem(3, Lane.STANDARD, self.at(8), "C", expected_minutes=8, care=True)
        fast = QueueItem(5, Lane.FAST, self.at(9), "A", expected_minutes=3)
        assert choose_next(FAST_ONLY, [cared, fast], QueuePolicy(), self.at(10)).ticket_id == 5
        helping = choose_next(FAST_ONLY, [cared], QueuePolicy(), self.at(10))
        assert (helping.ticket_id, helping.reason) == (3, Reason.PRIORITY_CARE)

    def test_interplay_appointment_then_starvation_then_vip(self) -> None:
        counter = CounterView(4, (Lane.VIP, Lane.STANDARD))
        starving = QueueItem(1, Lane.STANDARD, T0, "C", expected_minutes=8)
        vip = QueueItem(2, Lane.VIP, self.at(20), "V", expected_minutes=10)
        appointment = QueueItem(
            3,
            Lane.APPOINTMENT,
            self.at(25),
            "D",
            due_at=self.at(40),
            service_lane=Lane.STANDARD,
            expected_minutes=15,
        )
        everyone = [starving, vip, appointment]
        assert choose_next(counter, everyone, QueuePolicy(), self.at(40)).reason is (
            Reason.APPOINTMENT_DUE
        )
        assert choose_next(counter, everyone, QueuePolicy(), self.at(39)).reason is (
            Reason.WAITED_LONG
        )
        fresh = QueueItem(4, Lane.STANDARD, self.at(30), "C", expected_minutes=8)
        no_starving = [vip, fresh, appointment]
        assert choose_next(counter, no_starving, QueuePolicy(), self.at(39)).reason is (
            Reason.VIP_FIRST
        )

    def test_orderings(self) -> None:
        pooled = CounterView(1, tuple(Lane))
        waiting = [
            QueueItem(1, Lane.STANDARD, T0, "C", expected_minutes=12),
            QueueItem(2, Lane.FAST, self.at(1), "A", expected_minutes=3),
        ]
        rules_off = {"max_wait": None, "vip_first": 0, "appointment_grace": None}
        fifo = QueuePolicy(ordering=Ordering.FIFO, **rules_off)
        shortest = QueuePolicy(ordering=Ordering.SHORTEST, **rules_off)
        assert choose_next(pooled, waiting, fifo, self.at(2)).ticket_id == 1
        assert choose_next(pooled, waiting, shortest, self.at(2)).ticket_id == 2


LANES = st.sampled_from([Lane.FAST, Lane.STANDARD, Lane.VIP, Lane.APPOINTMENT])


@st.composite
def queues(draw: st.DrawFn) -> tuple[list[QueueItem], list[CounterView], QueuePolicy]:
    count = draw(st.integers(min_value=0, max_value=25))
    items = []
    for n in range(count):
        lane = draw(LANES)
        due = draw(st.one_of(st.none(), st.integers(0, 90))) if lane == Lane.APPOINTMENT else None
        items.append(
            QueueItem(
                n + 1,
                lane,
                T0 + timedelta(minutes=draw(st.integers(0, 60)), microseconds=n),
                draw(st.sampled_from("ABCDV")),
                only_counter=draw(st.one_of(st.none(), st.integers(1, 3))),
                due_at=None if due is None else T0 + timedelta(minutes=due),
                service_lane=draw(st.sampled_from([Lane.FAST, Lane.STANDARD])),
                expected_minutes=draw(st.floats(1, 30)),
            )
        )
    counters = [
        CounterView(n, tuple(draw(st.lists(LANES, min_size=1, max_size=3, unique=True))))
        for n in (1, 2, 3)
    ]
    policy = QueuePolicy(
        ordering=draw(st.sampled_from(list(Ordering))),
        work_conserving=True,
        max_wait=draw(st.sampled_from([None, timedelta(minutes=20)])),
        vip_first=draw(st.integers(0, 2)),
        vip_window=draw(st.integers(1, 4)),
    )
    return items, counters, policy


@settings(max_examples=300, deadline=None)
@given(queues(), st.integers(0, 120))
def test_no_ticket_lost_or_called_twice_and_no_counter_idles_needlessly(
    state: tuple[list[QueueItem], list[CounterView], QueuePolicy], start: int
) -> None:
    items, counters, policy = state
    waiting = {i.ticket_id: i for i in items}
    called: list[int] = []
    recent: list[Lane] = []
    now = T0 + timedelta(minutes=start)
    for step in range(len(items) * 3 + 3):
        counter = counters[step % len(counters)]
        decision = choose_next(counter, list(waiting.values()), policy, now, recent)
        could_serve = any(i.only_counter in (None, counter.number) for i in waiting.values())
        # Work conservation: a counter gets nobody only if nobody waiting may go to it.
        assert (decision.ticket_id is None) == (not could_serve)
        if decision.ticket_id is not None:
            assert decision.ticket_id in waiting  # never a ticket already called
            item = waiting.pop(decision.ticket_id)
            assert item.only_counter in (None, counter.number)
            called.append(item.ticket_id)
            recent.append(item.lane)
        now += timedelta(minutes=1)
    assert sorted(called) == sorted(i.ticket_id for i in items)  # nobody lost
    assert not waiting
