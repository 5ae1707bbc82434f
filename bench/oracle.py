"""How good can the wait estimate be? The product's estimate beside an oracle's, same tickets.

    .venv/bin/python bench/oracle.py [scenario.toml ...] [--seeds 5] [--every 8]
        [--resims 100] [--jobs 2] [--json PATH]

At every k-th ticket's issue of each simulated day (policy `ours`), the product's estimate and
the oracle's (bench/_oracle.py: it knows the hall's exact state and the true distributions, not
the future, and replays the rest of the day) are scored against the wait that followed, over
the tickets that were served. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.policy.sim import generate_customers, load_scenario, policy_setups, simulate
from backend.policy.sim.metrics import wait_of
from bench._oracle import Scored, bootstrap_ratio, error_figures, paired_forecaster

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (ROOT / "bench/scenarios/weekday.toml", ROOT / "bench/scenarios/month_start.toml")
# Resamples of the paired bootstrap behind the ratio's 95 % interval.
BOOTSTRAP_REPS = 2000
BOOTSTRAP_SEED = 1


def score_day(path: str, seed: int, resims: int, every: int) -> dict[str, Any]:
    """One simulated day under `ours`: both forecasts at the sampled tickets, and what became
    of them (a worker's task: plain data in and out)."""
    scenario = load_scenario(path)
    forecaster, paired = paired_forecaster(scenario, seed, resims, every)
    result = simulate(
        scenario, policy_setups(scenario)["ours"], generate_customers(scenario, seed), forecaster
    )
    rows, gave_up, no_estimate, oracle_unserved = [], 0, 0, 0
    for ticket_id, oracle in paired.oracle.items():
        actual = wait_of(result.tickets[ticket_id - 1])
        estimate = paired.estimates.get(ticket_id)
        gave_up += actual is None
        no_estimate += actual is not None and estimate is None
        oracle_unserved += actual is not None and estimate is not None and oracle is None
        if actual is not None and estimate is not None and oracle is not None:
            rows.append(Scored(seed, ticket_id, actual, estimate, oracle))
    return {
        "path": path,
        "seed": seed,
        "rows": rows,
        "sampled": len(paired.oracle),
        "gave_up": gave_up,
        "no_estimate": no_estimate,
        "oracle_unserved": oracle_unserved,
    }


def figures(rows: Sequence[Scored]) -> dict[str, Any]:
    """Both forecasts' errors over these tickets, the ratio of their MAE, the mean real wait."""
    ratio, low, high = bootstrap_ratio(rows, BOOTSTRAP_REPS, BOOTSTRAP_SEED)
    return {
        "tickets": len(rows),
        "mean_actual_wait": sum(r.actual for r in rows) / len(rows) if rows else None,
        "estimate": error_figures(rows, "estimate"),
        "oracle": error_figures(rows, "oracle"),
        "mae_ratio": ratio,
        "mae_ratio_low": low,
        "mae_ratio_high": high,
    }


def summarise(name: str, days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A scenario's figures over all its days, and each day's."""
    rows = [r for d in days for r in d["rows"]]
    out = {"scenario": name, **figures(rows)}
    for key in ("sampled", "gave_up", "no_estimate", "oracle_unserved"):
        out[key] = sum(d[key] for d in days)
    out["seeds"] = {d["seed"]: figures(d["rows"]) for d in sorted(days, key=lambda d: d["seed"])}
    out["rows"] = [asdict(r) for r in rows]
    return out


# --- output ----------------------------------------------------------------------------------

HEADER = (
    "| scenario | tickets | mean wait | estimate MAE | oracle MAE | ratio (95 % CI) "
    "| estimate signed | oracle signed | estimate coverage | oracle coverage |"
)


def number(value: float | None, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def table_row(s: dict[str, Any]) -> str:
    est, orc = s["estimate"], s["oracle"]
    interval = f"[{number(s['mae_ratio_low'], '{:.2f}')}, {number(s['mae_ratio_high'], '{:.2f}')}]"
    cells = (
        s["scenario"],
        str(s["tickets"]),
        number(s["mean_actual_wait"], "{:.1f}"),
        number(est["mae"], "{:.2f}"),
        number(orc["mae"], "{:.2f}"),
        f"{number(s['mae_ratio'], '{:.2f}')} {interval}",
        number(est["signed_error"], "{:+.2f}"),
        number(orc["signed_error"], "{:+.2f}"),
        number(est["coverage"], "{:.1%}"),
        number(orc["coverage"], "{:.1%}"),
    )
    return "| " + " | ".join(cells) + " |"


def table(summaries: Iterable[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.seeds} seed(s), every {args.every}th ticket, {args.resims} replays per ticket;"
        " minutes, served tickets only",
        "",
        HEADER,
        "|" + "---|" * HEADER.count(" | ") + "---|",
        *(table_row(s) for s in summaries),
    ]
    return "\n".join(lines)


# --- running ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=[str(p) for p in SCENARIOS])
    parser.add_argument("--seeds", type=int, default=5, help="simulated days per scenario")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: scenario's)")
    parser.add_argument("--every", type=int, default=8, help="forecast every k-th ticket")
    parser.add_argument("--resims", type=int, default=100, help="oracle replays per ticket")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--json", metavar="PATH", help="write every figure there")
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def tasks(args: argparse.Namespace) -> list[tuple[str, int, int, int]]:
    """(scenario, seed, resims, every) per day; the busiest scenarios first, so that the last
    worker is not left alone with a long day."""
    out = []
    for path in args.scenarios:
        tables = load_scenario(path).switched_on
        if tables:
            # Its replays know neither walks, missed calls, balking, remote joiners, learned
            # times, transfers nor unplanned pauses: it would be no oracle.
            sys.exit(f"{path}: the oracle does not model [{'], ['.join(tables)}]")
        first = load_scenario(path).seed if args.seed is None else args.seed
        out += [(path, first + i, args.resims, args.every) for i in range(args.seeds)]
    return sorted(out, key=lambda t: -sum(r for _, r in load_scenario(t[0]).arrivals))


def run_days(args: argparse.Namespace) -> list[dict[str, Any]]:
    jobs = tasks(args)
    started = time.perf_counter()

    def told(done: int, day: dict[str, Any]) -> None:
        if not args.no_progress:
            name = Path(day["path"]).stem
            elapsed = time.perf_counter() - started
            print(
                f"[{done}/{len(jobs)}] {name} seed {day['seed']}: {len(day['rows'])} tickets"
                f" compared, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    days = []
    if args.jobs <= 1:
        for job in jobs:
            days.append(score_day(*job))
            told(len(days), days[-1])
        return days
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(score_day, *job) for job in jobs]):
            days.append(future.result())
            told(len(days), days[-1])
    return days


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    days = run_days(args)
    summaries = [
        summarise(load_scenario(path).name, [d for d in days if d["path"] == path])
        for path in args.scenarios
    ]
    print(table(summaries, args))
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=2))
    print(f"{len(days)} day(s) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
