"""Every call policy against FIFO, on the two scenarios and on a generated family of halls.

    .venv/bin/python bench/policy_family.py [--halls 50] [--seeds 10] [--scenario-seeds 30]
        [--policies fifo,ours,...] [--jobs 2] [--json out.json] [--baselines]

`--baselines`: FIFO, ours (the score order) and the deadline order on the scenario files alone,
200 seeds each (`--scenario-seeds`, `--policies` and `--halls` still override it).

Per seed, the same customers under every policy (`generate_customers` once, `simulate` with no
forecaster: the wait estimate is not measured here). Reported per scenario: each policy's mean,
p95 and max wait as a ratio to FIFO's, the mean of the paired per-seed ratios with a 95 %
t-interval over the seeds, and appointments on time, served within target and abandoned (with
a [behaviour] table: left without service) with their intervals. Across the family: median and
worst hall of each ratio, how many halls meet each target of the routing policy, and the Pareto
frontier of (median mean, median max ratio).
Markdown tables on stdout, progress on stderr; bench/README.md says more.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from family import generate_family

from backend.policy.sim import (
    FRONTIER,
    POLICIES,
    REALISM_KEYS,
    Scenario,
    day_metrics,
    for_seed,
    generate_customers,
    history_patience,
    policy_setups,
    scenario_from_dict,
    simulate,
)

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT_SCENARIOS = (SCENARIOS / "weekday.toml", SCENARIOS / "month_start.toml")
REFERENCE = "fifo"  # every ratio is to this policy's figure of the same seed
# Every policy the simulator compares, and the deadline order with looser deadlines.
SELECTABLE = (*POLICIES, *FRONTIER)
RATIO_KEYS = ("mean_wait", "p95_wait", "max_wait")
SHARE_KEYS = ("appointments_on_time", "within_target", "abandoned")
# With a scenario's [behaviour] the last column is everyone who left without service (balked,
# gave up, or missed the call for good), not only those who gave up waiting.
LEFT_KEY = "left"
# With [remote], [transfers] or a calendar, their figures in a table of their own.
REALISM_LABELS = {
    "remote": "remote joiners",
    "remote_called_early": "remote, called before arriving",
    "transferred": "transferred",
    "bookings_refused": "bookings refused",
}
# The routing policy's targets on every hall: each wait at most this many times FIFO's ...
RATIO_TARGETS = {"mean_wait": 0.60, "p95_wait": 1.00, "max_wait": 1.10}
# ... and at least this share of bookings called within 5 min of their slot.
ON_TIME_TARGET = 0.95
# Two-sided 95 % critical values of Student's t by degrees of freedom; beyond the table the
# Cornish-Fisher expansion around the normal quantile is exact to three decimals.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
Z_975 = 1.959964
PROGRESS_STEPS = 20  # progress lines over a whole run
# `--baselines`: these policies, this many seeds per scenario, no family.
BASELINES = ("fifo", "ours", "deadline")
BASELINE_SEEDS = 200


# --- statistics -----------------------------------------------------------------------------


def t_critical(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        raise ValueError("a t-interval needs at least two values")
    if df <= len(T_975):
        return T_975[df - 1]
    z = Z_975
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)


def t_interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean and 95 % t-interval of the values (no interval with fewer than two)."""
    if not values:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "low": None, "high": None, "n": 1}
    half = t_critical(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def paired_ratios(values: Sequence[float | None], reference: Sequence[float | None]) -> list[float]:
    """Per-seed value ÷ the reference's value of the same seed; a seed where either figure is
    missing, or the reference's is 0 (no ratio), is left out."""
    return [
        value / ref
        for value, ref in zip(values, reference, strict=True)
        if value is not None and ref is not None and ref > 0
    ]


def median_and_worst(by_hall: dict[str, float | None], higher_is_worse: bool = True) -> dict:
    """The median over the halls with a figure, and the worst hall and its figure."""
    known = {hall: v for hall, v in by_hall.items() if v is not None}
    if not known:
        return {"median": None, "worst": None, "worst_hall": None}
    pick = max if higher_is_worse else min
    hall = pick(known, key=lambda h: known[h])
    return {"median": statistics.median(known.values()), "worst": known[hall], "worst_hall": hall}


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a is no worse than b everywhere and better somewhere (lower is better)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def pareto_frontier(points: Mapping[str, Sequence[float]]) -> list[str]:
    """The names whose point no other point dominates, in the given order."""
    return [
        name
        for name, point in points.items()
        if not any(dominates(other, point) for o, other in points.items() if o != name)
    ]


# --- the simulation, in worker processes ----------------------------------------------------

_SCENARIOS: dict[str, Scenario] = {}
_NAMES: tuple[str, ...] = ()


def start_worker(halls: dict[str, dict[str, Any]], names: Sequence[str]) -> None:
    """Build every scenario once per process."""
    global _NAMES
    _SCENARIOS.clear()
    _SCENARIOS.update({key: scenario_from_dict(data, key) for key, data in halls.items()})
    _NAMES = tuple(names)


def run_day(task: tuple[str, int]) -> tuple[str, int, dict[str, dict[str, Any]]]:
    """One seed of one hall: the same customers under every policy, no forecaster."""
    key, seed = task
    scenario = for_seed(_SCENARIOS[key], seed)
    customers = generate_customers(scenario, seed)
    setups = policy_setups(scenario, history_patience(scenario, seed))
    figures = {}
    for name in _NAMES:
        metrics = day_metrics(simulate(scenario, setups[name], customers), scenario)
        kept = (*RATIO_KEYS, *SHARE_KEYS, LEFT_KEY, *REALISM_KEYS)
        figures[name] = {k: metrics[k] for k in kept if k in metrics}
    return key, seed, figures


Step = Callable[[int, int], None]


def measure(
    halls: dict[str, dict[str, Any]],
    seeds: dict[str, Sequence[int]],
    names: Sequence[str],
    jobs: int,
    on_step: Step | None = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{hall: {policy: [figures per seed, in seed order]}}."""
    tasks = [(key, seed) for key in halls for seed in seeds[key]]
    days: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}

    def collect(results: Iterable[tuple[str, int, dict[str, dict[str, Any]]]]) -> None:
        for key, seed, figures in results:
            days[key, seed] = figures
            if on_step:
                on_step(len(days), len(tasks))

    if jobs <= 1:
        start_worker(halls, names)
        collect(map(run_day, tasks))
    else:
        with multiprocessing.Pool(jobs, start_worker, (halls, names)) as pool:
            collect(pool.imap_unordered(run_day, tasks))
    return {
        key: {name: [days[key, s][name] for s in seeds[key]] for name in names} for key in halls
    }


# --- the figures ----------------------------------------------------------------------------


def bounded(stat: dict[str, Any]) -> dict[str, Any]:
    """A share's interval cut to [0, 1]: a share cannot leave it, the normal tails can."""
    if stat["low"] is None:
        return stat
    return {**stat, "low": max(0.0, stat["low"]), "high": min(1.0, stat["high"])}


def summarize(per_seed: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per policy: each wait's paired ratio to FIFO and each share, with 95 % intervals."""
    reference = per_seed[REFERENCE]
    out = {}
    for name, days in per_seed.items():
        row = {
            f"{key}_ratio": t_interval(
                paired_ratios([d[key] for d in days], [d[key] for d in reference])
            )
            for key in RATIO_KEYS
        }
        for key in (*SHARE_KEYS, LEFT_KEY, *REALISM_KEYS):
            if key in days[0]:
                row[key] = bounded(t_interval([d[key] for d in days if d[key] is not None]))
        out[name] = row
    return out


def meets(row: dict[str, Any]) -> dict[str, bool]:
    """Which targets one hall's figures meet (a hall without bookings misses no booking)."""
    out = {
        key: row[f"{key}_ratio"]["mean"] is not None and row[f"{key}_ratio"]["mean"] <= limit
        for key, limit in RATIO_TARGETS.items()
    }
    on_time = row["appointments_on_time"]["mean"]
    out["appointments_on_time"] = on_time is None or on_time >= ON_TIME_TARGET
    return out


def family_summary(
    halls: dict[str, dict[str, dict[str, Any]]], names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per policy across the halls: median and worst of each ratio and of on-time bookings,
    and how many halls meet each target and all of them."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        rows = {hall: summary[name] for hall, summary in halls.items()}
        row: dict[str, Any] = {
            f"{key}_ratio": median_and_worst(
                {h: r[f"{key}_ratio"]["mean"] for h, r in rows.items()}
            )
            for key in RATIO_KEYS
        }
        row["appointments_on_time"] = median_and_worst(
            {h: r["appointments_on_time"]["mean"] for h, r in rows.items()}, higher_is_worse=False
        )
        met = [meets(r) for r in rows.values()]
        row["halls_meeting"] = {key: sum(m[key] for m in met) for key in met[0]}
        row["halls_meeting"]["all"] = sum(all(m.values()) for m in met)
        row["halls"] = len(rows)
        row["halls_without_bookings"] = sum(
            r["appointments_on_time"]["mean"] is None for r in rows.values()
        )
        out[name] = row
    return out


def frontier(family: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each policy's family-median (mean ratio, max ratio) point and the Pareto frontier."""
    points = {
        name: (row["mean_wait_ratio"]["median"], row["max_wait_ratio"]["median"])
        for name, row in family.items()
        if row["mean_wait_ratio"]["median"] is not None
        and row["max_wait_ratio"]["median"] is not None
    }
    return {"points": points, "pareto": pareto_frontier(points)}


# --- output ---------------------------------------------------------------------------------


def ratio_cell(stat: dict[str, Any]) -> str:
    if stat["mean"] is None:
        return "—"
    if stat["low"] is None:
        return f"{stat['mean']:.2f}"
    return f"{stat['mean']:.2f} ({stat['low']:.2f}–{stat['high']:.2f})"


def share_cell(stat: dict[str, Any]) -> str:
    if stat["mean"] is None:
        return "—"
    if stat["low"] is None:
        return f"{stat['mean']:.1%}"
    return f"{stat['mean']:.1%} ({stat['low']:.1%}–{stat['high']:.1%})"


def scenario_table(title: str, summary: dict[str, dict[str, Any]], target: float) -> list[str]:
    left = all(LEFT_KEY in row for row in summary.values())
    keys = (*SHARE_KEYS[:-1], LEFT_KEY) if left else SHARE_KEYS
    lines = [
        f"#### {title}",
        "",
        "| policy | mean ÷ FIFO | p95 ÷ FIFO | max ÷ FIFO | appointments on time "
        f"| within {target:g} min | {'left without service' if left else 'abandoned'} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        ratios = " | ".join(ratio_cell(row[f"{k}_ratio"]) for k in RATIO_KEYS)
        shares = " | ".join(share_cell(row[k]) for k in keys)
        lines.append(f"| {name} | {ratios} | {shares} |")
    return [*lines, "", *realism_table(summary)]


def realism_table(summary: dict[str, dict[str, Any]]) -> list[str]:
    """The figures of [remote], [transfers] and the calendar, when the scenario has them."""
    keys = [k for k in REALISM_KEYS if all(k in row for row in summary.values())]
    if not keys:
        return []
    lines = [
        "| policy | " + " | ".join(REALISM_LABELS[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, row in summary.items():
        lines.append(f"| {name} | " + " | ".join(share_cell(row[k]) for k in keys) + " |")
    return [*lines, ""]


def spread_cell(stat: dict[str, Any], fmt: str) -> str:
    if stat["median"] is None:
        return "—"
    return f"{fmt.format(stat['median'])} / {fmt.format(stat['worst'])}"


def family_table(title: str, family: dict[str, dict[str, Any]]) -> list[str]:
    limits = " | ".join(f"{k.split('_')[0]} ≤ {v:.2f}" for k, v in RATIO_TARGETS.items())
    lines = [
        f"#### {title}",
        "",
        "Median / worst hall; then halls meeting each target (point estimates).",
        "",
        "| policy | mean ÷ FIFO | p95 ÷ FIFO | max ÷ FIFO | on time "
        f"| {limits} | on time ≥ {ON_TIME_TARGET:.0%} | all |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in family.items():
        spreads = " | ".join(spread_cell(row[f"{k}_ratio"], "{:.2f}") for k in RATIO_KEYS)
        on_time = spread_cell(row["appointments_on_time"], "{:.1%}")
        met = row["halls_meeting"]
        counts = " | ".join(str(met[k]) for k in (*RATIO_TARGETS, "appointments_on_time", "all"))
        lines.append(f"| {name} | {spreads} | {on_time} | {counts} |")
    worst = [f"`{n}`: {row['max_wait_ratio']['worst_hall']}" for n, row in family.items()]
    bookless = max(row["halls_without_bookings"] for row in family.values())
    notes = [
        "Worst hall for the max ratio — " + ", ".join(worst) + ".",
        f"{bookless} hall(s) have no punctual booking: they meet the on-time target trivially.",
    ]
    return [*lines, "", *notes, ""]


def frontier_table(front: dict[str, Any]) -> list[str]:
    lines = [
        "#### Frontier (family medians, lower is better)",
        "",
        "| policy | mean ÷ FIFO | max ÷ FIFO | on the Pareto frontier |",
        "|---|---|---|---|",
    ]
    for name, (mean, worst) in front["points"].items():
        mark = "yes" if name in front["pareto"] else "no"
        lines.append(f"| {name} | {mean:.2f} | {worst:.2f} | {mark} |")
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, entry in report["scenarios"].items():
        title = f"{key}: {entry['seeds']} seeds, paired ratios to FIFO (95 % interval)"
        lines += scenario_table(title, entry["policies"], entry["target_minutes"])
    fam = report["family"]
    if not fam["halls"]:
        return "\n".join(lines)  # --halls 0: the scenario files only
    title = (
        f"The family: {fam['halls']} halls (seed {fam['seed']}), {fam['seeds']} seeds each, "
        f"offered load {fam['min_load']:.2f}–{fam['max_load']:.2f}"
    )
    lines += family_table(title, fam["policies"])
    lines += frontier_table(report["frontier"])
    return "\n".join(lines)


# --- the command line -----------------------------------------------------------------------


def policy_names(text: str) -> list[str]:
    """The selected policies, FIFO first (every ratio needs it), in SELECTABLE's order."""
    chosen = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(chosen - set(SELECTABLE))
    if unknown:
        sys.exit(f"unknown policies: {', '.join(unknown)} (choose from {', '.join(SELECTABLE)})")
    return [n for n in SELECTABLE if n in chosen or n == REFERENCE]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halls", type=int, help="halls of the family (50)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per hall of the family")
    parser.add_argument("--family-seed", type=int, default=0, help="the family's seed")
    parser.add_argument("--scenario-seeds", type=int, help="seeds per scenario (30)")
    parser.add_argument(
        "--scenarios",
        nargs="*",
        default=[str(p) for p in DEFAULT_SCENARIOS],
        help="scenario TOML files (default: weekday and month_start)",
    )
    parser.add_argument("--policies", help="comma-separated (every policy)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    parser.add_argument(
        "--baselines",
        action="store_true",
        help=f"{', '.join(BASELINES)} on the scenarios only, {BASELINE_SEEDS} seeds each",
    )
    args = parser.parse_args(argv)
    base = args.baselines
    if args.halls is None:
        args.halls = 0 if base else 50
    if args.scenario_seeds is None:
        args.scenario_seeds = BASELINE_SEEDS if base else 30
    if args.policies is None:
        args.policies = ",".join(BASELINES if base else SELECTABLE)
    return args


def progress(started: float) -> Step:
    """A line on stderr every 1/PROGRESS_STEPS of the days."""

    def step(done: int, total: int) -> None:
        if done == total or done % max(1, total // PROGRESS_STEPS) == 0:
            elapsed = time.perf_counter() - started
            print(f"{done}/{total} days simulated, {elapsed:.0f} s", file=sys.stderr, flush=True)

    return step


def build_report(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    scenarios: dict[str, dict[str, Any]] = {}
    for path in args.scenarios:
        with open(path, "rb") as fh:
            scenarios[Path(path).stem] = tomllib.load(fh)
    family = {hall["name"]: hall for hall in generate_family(args.halls, args.family_seed)}
    everything = {**scenarios, **family}
    seeds: dict[str, Sequence[int]] = {}
    for key, data in everything.items():
        count = args.scenario_seeds if key in scenarios else args.seeds
        seeds[key] = range(data.get("seed", 0), data.get("seed", 0) + count)
    days = measure(everything, seeds, names, args.jobs, progress(time.perf_counter()))
    summaries = {key: summarize(per_seed) for key, per_seed in days.items()}
    fam = family_summary({k: summaries[k] for k in family}, names) if family else {}
    loads = [hall["target_load"] for hall in family.values()]
    return {
        "policies": list(names),
        "scenarios": {
            key: {
                "seeds": args.scenario_seeds,
                "target_minutes": data.get("target_minutes", 15),
                "policies": summaries[key],
            }
            for key, data in scenarios.items()
        },
        "family": {
            "halls": len(family),
            "seed": args.family_seed,
            "seeds": args.seeds,
            "min_load": min(loads, default=None),
            "max_load": max(loads, default=None),
            "policies": fam,
            "per_hall": {k: summaries[k] for k in family},
        },
        "frontier": frontier(fam) if family else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = policy_names(args.policies)
    started = time.perf_counter()
    report = build_report(args, names)
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.flush()
    print(f"report in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
