"""The call policies compared: three baselines and ours, each with the counters it runs on."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..ordering import CounterView, Ordering, QueuePolicy
from ..patience import Patience
from .scenario import ALL_LANES, Scenario

POLICIES = ("fifo", "per-service", "shortest-first", "ours", "deadline")
# The deadline order with looser deadlines (its `fair_factor`): the points between it and ours
# on the frontier of mean against longest wait (bench/policy_family.py).
FRONTIER_FACTORS = (1.25, 1.5, 2.0)
FRONTIER = tuple(f"deadline-{factor:g}" for factor in FRONTIER_FACTORS)


@dataclass(frozen=True, slots=True)
class PolicySetup:
    name: str
    policy: QueuePolicy
    counters: tuple[CounterView, ...]

    @property
    def appointments_lane(self) -> bool:
        """Whether checked-in bookings queue in the appointment lane (else: as walk-ins)."""
        return self.policy.appointment_grace is not None


def policy_setups(scenario: Scenario, patience: Patience | None = None) -> dict[str, PolicySetup]:
    """The three baselines and ours, over the scenario's counters; the deadline orders counting
    who leaves by `patience` (what the hall's earlier days showed: `history_patience`)."""
    pooled = tuple(replace(c, lanes=ALL_LANES) for c in scenario.counters)
    bare = QueuePolicy(appointment_grace=None, max_wait=None, vip_first=0)
    return {
        "fifo": PolicySetup("fifo", replace(bare, ordering=Ordering.FIFO), pooled),
        "per-service": PolicySetup(
            "per-service",
            replace(bare, ordering=Ordering.PROFILE, work_conserving=False),
            scenario.counters,
        ),
        "shortest-first": PolicySetup(
            "shortest-first", replace(bare, ordering=Ordering.SHORTEST), pooled
        ),
        "ours": PolicySetup("ours", scenario.policy, scenario.counters),
        "deadline": PolicySetup(
            "deadline",
            replace(scenario.policy, ordering=Ordering.DEADLINE, patience=patience),
            scenario.counters,
        ),
        **{
            name: PolicySetup(
                name,
                replace(
                    scenario.policy,
                    ordering=Ordering.DEADLINE,
                    fair_factor=factor,
                    patience=patience,
                ),
                scenario.counters,
            )
            for name, factor in zip(FRONTIER, FRONTIER_FACTORS, strict=True)
        },
    }
