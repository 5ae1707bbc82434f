"""The generated family of halls (bench/family.py) and the policy report across it
(bench/policy_family.py): reproducible, varied, loaded as drawn, and exact statistics."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from backend.policy.sim import scenario_from_dict

# Pure code: the SQLite tier runs it; the scale tier has nothing to add (Makefile).
pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parent.parent


def load_bench(name: str) -> ModuleType:
    """A module of bench/ (scripts, not a package), by its file."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the report imports the family by this name
    spec.loader.exec_module(module)
    return module


family = load_bench("family")
policy_family = load_bench("policy_family")
WEEKDAY = ROOT / "bench" / "scenarios" / "weekday.toml"
HALLS = 50
LOAD_TOLERANCE = 0.01  # relative


@pytest.fixture(scope="module")
def halls() -> list[dict[str, Any]]:
    return family.generate_family(HALLS, seed=0)


# --- the generator --------------------------------------------------------------------------


def test_the_family_is_the_same_for_a_seed_and_differs_across_seeds() -> None:
    first, again = family.generate_family(10, seed=3), family.generate_family(10, seed=3)
    assert first == again
    other = family.generate_family(10, seed=4)
    assert all(a != b for a, b in zip(first, other, strict=True))


def test_every_hall_is_different(halls: list[dict[str, Any]]) -> None:
    without_names = {
        json.dumps({k: v for k, v in h.items() if k != "name"}, sort_keys=True) for h in halls
    }
    assert len(without_names) == HALLS
    assert len({h["name"] for h in halls}) == HALLS


def test_every_hall_parses_as_a_scenario(halls: list[dict[str, Any]]) -> None:
    for hall in halls:
        scenario = scenario_from_dict(hall)
        assert scenario.name == hall["name"]
        assert len(scenario.counters) == len(hall["counters"])
        assert scenario.target == 15


def test_counters_services_and_hours_are_in_range(halls: list[dict[str, Any]]) -> None:
    for hall in halls:
        assert 3 <= len(hall["counters"]) <= 12
        assert 4 <= len(hall["services"]) <= 7
        hours = family.minutes_of(hall["hours"]["close"]) - family.minutes_of(hall["hours"]["open"])
        assert 8 * 60 <= hours <= 11 * 60
        for service in hall["services"]:
            low, high = {"fast": (1.5, 4), "standard": (6, 20), "vip": (6, 12)}[service["lane"]]
            assert low <= service["mean"] <= high
            assert 0.4 <= service["cv"] <= 1.0
        assert 0 <= hall["appointments"]["share"] <= 0.20
        assert 25 <= hall["patience"]["mean"] <= 60


def test_the_family_has_every_kind_of_counter_and_peak(halls: list[dict[str, Any]]) -> None:
    profiles = {tuple(c["lanes"]) for h in halls for c in h["counters"]}
    assert {("fast",), ("standard", "fast"), ("vip", "standard", "fast")} <= profiles
    with_vip = [h for h in halls if any("vip" in c["lanes"] for c in h["counters"])]
    assert 0 < len(with_vip) < HALLS
    for hall in halls:
        vip_service = any(s["lane"] == "vip" for s in hall["services"])
        assert vip_service == (hall in with_vip)
    assert any(h["appointments"]["share"] == 0 for h in halls)
    assert any(h["appointments"]["share"] > 0.15 for h in halls)


def staffed_lanes(hall: dict[str, Any], numbers: list[int]) -> set[str]:
    return {lane for c in hall["counters"] if c["number"] in numbers for lane in c["lanes"]}


def test_lunch_breaks_are_staggered_and_never_close_a_lane(halls: list[dict[str, Any]]) -> None:
    for hall in halls:
        count = len(hall["counters"])
        if count < 4:
            assert "staffing" not in hall
            continue
        plan = hall["staffing"]
        assert plan[hall["hours"]["open"]] == [c["number"] for c in hall["counters"]]
        lanes = {s["lane"] for s in hall["services"]}
        for staffed in plan.values():
            assert lanes <= staffed_lanes(hall, staffed)
            assert count - len(staffed) <= math.ceil(count / family.LUNCH_SLOTS)
        numbers = [c["number"] for c in hall["counters"]]
        away = {n for n in numbers if any(n not in staffed for staffed in plan.values())}
        assert away, "a hall of four or more counters takes lunch breaks"


def test_the_offered_load_of_a_small_hall_by_hand() -> None:
    hall = {
        "hours": {"open": "09:00", "close": "11:00"},
        "counters": [{"number": 1, "lanes": ["fast"]}, {"number": 2, "lanes": ["standard"]}],
        "staffing": {"09:00": [1, 2], "10:00": [1]},
        "arrivals": {"09:00": 12, "10:00": 6},
        "services": [{"share": 1, "mean": 5.0}, {"share": 1, "mean": 10.0}],
    }
    # (12 + 6) customers × 7.5 min / 60 = 2.25 h of work over 2 + 1 staffed counter-hours.
    assert family.offered_load(hall) == pytest.approx(0.75)


def test_each_hall_is_loaded_as_its_target(halls: list[dict[str, Any]]) -> None:
    for hall in halls:
        target = hall["target_load"]
        assert family.offered_load(hall) == pytest.approx(target, rel=LOAD_TOLERANCE)
        assert hall["name"].endswith(f"-u{target:.2f}")


def test_the_targets_cover_the_whole_range(halls: list[dict[str, Any]]) -> None:
    targets = sorted(h["target_load"] for h in halls)
    assert targets[0] <= 0.62 and targets[-1] >= 0.96
    gaps = [b - a for a, b in itertools.pairwise(targets)]
    assert max(gaps) == pytest.approx(min(gaps))  # evenly spread


def test_every_hall_runs_the_weekday_policy(halls: list[dict[str, Any]]) -> None:
    with open(WEEKDAY, "rb") as fh:
        weekday = tomllib.load(fh)
    assert all(h["policy"] == weekday["policy"] for h in halls)
    assert all(h["target_minutes"] == 15 for h in halls)


# --- the statistics -------------------------------------------------------------------------


def test_paired_ratios_skip_missing_and_zero_references() -> None:
    assert policy_family.paired_ratios([2.0, 3.0, None, 5.0], [4.0, 0.0, 1.0, 10.0]) == [0.5, 0.5]


def test_t_interval_by_hand() -> None:
    # mean 2, sd 1, t(2) = 4.303: 2 ± 4.303 / √3.
    stat = policy_family.t_interval([1.0, 2.0, 3.0])
    assert stat["mean"] == 2.0 and stat["n"] == 3
    assert stat["low"] == pytest.approx(2 - 2.48434, abs=1e-5)
    assert stat["high"] == pytest.approx(2 + 2.48434, abs=1e-5)
    # mean 3, sd √2, t(1) = 12.706: 3 ± 12.706.
    pair = policy_family.t_interval([2.0, 4.0])
    assert (pair["low"], pair["high"]) == pytest.approx((-9.706, 15.706))
    assert policy_family.t_interval([5.0])["low"] is None
    assert policy_family.t_interval([])["mean"] is None


def test_t_critical_beyond_the_table() -> None:
    # Tables of Student's t: 2.021 at 40 degrees of freedom, 1.980 at 120.
    assert policy_family.t_critical(40) == pytest.approx(2.021, abs=1e-3)
    assert policy_family.t_critical(120) == pytest.approx(1.980, abs=1e-3)


def test_median_and_worst_by_hand() -> None:
    by_hall = {"a": 1.0, "b": 3.0, "c": 2.0, "d": None}
    assert policy_family.median_and_worst(by_hall) == {
        "median": 2.0,
        "worst": 3.0,
        "worst_hall": "b",
    }
    lowest = policy_family.median_and_worst(by_hall, higher_is_worse=False)
    assert (lowest["worst"], lowest["worst_hall"]) == (1.0, "a")
    assert policy_family.median_and_worst({"a": None})["median"] is None


def test_pareto_frontier_by_hand() -> None:
    points = {
        "fifo": (1.0, 1.0),
        "fast": (0.5, 1.2),
        "slower": (0.6, 1.3),  # dominated by fast
        "same": (1.0, 1.0),  # a tie dominates nobody
        "worse": (1.0, 1.1),  # dominated by fifo
    }
    assert policy_family.pareto_frontier(points) == ["fifo", "fast", "same"]


def test_meets_the_targets_by_hand() -> None:
    def stat(mean: float | None) -> dict[str, Any]:
        return {"mean": mean, "low": None, "high": None, "n": 1}

    row = {
        "mean_wait_ratio": stat(0.60),
        "p95_wait_ratio": stat(1.01),
        "max_wait_ratio": stat(1.10),
        "appointments_on_time": stat(None),
    }
    assert policy_family.meets(row) == {
        "mean_wait": True,
        "p95_wait": False,
        "max_wait": True,
        "appointments_on_time": True,  # no bookings: none missed
    }


# --- the report, end to end -----------------------------------------------------------------


def test_a_short_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "family.json"
    args = ["--halls", "2", "--seeds", "2", "--scenario-seeds", "2", "--jobs", "1"]
    args += ["--policies", "ours,fifo", "--scenarios", str(WEEKDAY), "--json", str(out)]
    assert policy_family.main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["policies"] == ["fifo", "ours"]
    per_hall = report["family"]["per_hall"]
    assert len(per_hall) == 2 and list(report["scenarios"]) == ["weekday"]
    for summary in [report["scenarios"]["weekday"]["policies"], *per_hall.values()]:
        assert set(summary) == {"fifo", "ours"}
        for key in policy_family.RATIO_KEYS:
            fifo = summary["fifo"][f"{key}_ratio"]
            assert (fifo["mean"], fifo["low"], fifo["high"], fifo["n"]) == (1.0, 1.0, 1.0, 2)
            assert summary["ours"][f"{key}_ratio"]["mean"] > 0
    fifo_family = report["family"]["policies"]["fifo"]
    assert fifo_family["max_wait_ratio"]["median"] == 1.0
    assert fifo_family["halls_meeting"]["max_wait"] == 2
    assert fifo_family["halls_meeting"]["mean_wait"] == 0
    without = fifo_family["halls_without_bookings"]
    assert without == sum(h["fifo"]["appointments_on_time"]["n"] == 0 for h in per_hall.values())
    assert "| fifo | 1.00 (1.00–1.00) | 1.00 (1.00–1.00) | 1.00 (1.00–1.00) |" in printed
    assert set(report["frontier"]["points"]) == {"fifo", "ours"}
    assert report["frontier"]["pareto"] and set(report["frontier"]["pareto"]) <= {"fifo", "ours"}


def test_unknown_policies_are_refused() -> None:
    with pytest.raises(SystemExit, match="unknown policies: nosuch"):
        policy_family.policy_names("fifo,nosuch")
