"""A discrete-event simulator of one business-hall day, comparing call policies.

Pure like the rest of `backend.policy`: every policy runs the live engine's own code
(`choose_next`, `next_status`, `next_queue_at`, `eta.forecast`) on a simulated clock, over the
very same customers per seed. The command line (bench/sim.py) prints and plots what `run`
returns; bench/README.md describes the scenario format and every metric.

    scenario = load_scenario("bench/scenarios/weekday.toml")
    results = run(scenario, seeds=5)           # {policy: averaged figures}
"""

# Scenarios and setups are frozen dataclasses: vary them with `replace`.
from dataclasses import replace

from .customers import (
    Customer,
    book_slots,
    calendar_rules,
    clerk_speeds,
    for_seed,
    generate_customers,
    learned_start,
    with_clerk_speeds,
)
from .estimate import eta_forecaster, history_patience
from .hall import DAY, DayResult, Desk, Forecaster, Hall, Ticket, at, simulate
from .metrics import (
    ETA_KEYS,
    KEYS,
    LEAVING_KEYS,
    REALISM_KEYS,
    WAIT_KEYS,
    average,
    day_metrics,
    group_metrics,
    percentile,
)
from .pauses import with_unplanned_pauses
from .runner import Step, run, run_seed
from .scenario import (
    ALL_LANES,
    AppointmentSpec,
    BehaviourSpec,
    EtaSpec,
    LearningSpec,
    RemoteSpec,
    Scenario,
    ServiceSpec,
    TransferSpec,
    load_scenario,
    parse_policy,
    scenario_from_dict,
)
from .setups import FRONTIER, POLICIES, PolicySetup, policy_setups

__all__ = [
    "ALL_LANES",
    "DAY",
    "ETA_KEYS",
    "FRONTIER",
    "KEYS",
    "LEAVING_KEYS",
    "POLICIES",
    "REALISM_KEYS",
    "WAIT_KEYS",
    "AppointmentSpec",
    "BehaviourSpec",
    "Customer",
    "DayResult",
    "Desk",
    "EtaSpec",
    "Forecaster",
    "Hall",
    "LearningSpec",
    "PolicySetup",
    "RemoteSpec",
    "Scenario",
    "ServiceSpec",
    "Step",
    "Ticket",
    "TransferSpec",
    "at",
    "average",
    "book_slots",
    "calendar_rules",
    "clerk_speeds",
    "day_metrics",
    "eta_forecaster",
    "for_seed",
    "generate_customers",
    "group_metrics",
    "history_patience",
    "learned_start",
    "load_scenario",
    "parse_policy",
    "percentile",
    "policy_setups",
    "replace",
    "run",
    "run_seed",
    "scenario_from_dict",
    "simulate",
    "with_clerk_speeds",
    "with_unplanned_pauses",
]
