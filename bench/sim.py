"""The simulator's command line: every call policy over the same simulated hall day.

    .venv/bin/python bench/sim.py bench/scenarios/weekday.toml [--seeds 30] [--json]
        [--plot out.png] [--policies fifo,per-service,shortest-first,ours]

The engine is `backend.policy.sim` (the live policy code on a simulated clock); this file only
parses the options, shows progress, and prints, dumps or plots the figures. See bench/README.md
for the scenario format and what each metric means.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.policy.sim import ALL_LANES, POLICIES, Scenario, load_scenario, run


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal, or when forced)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        elapsed = time.perf_counter() - self.start
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {label:<16} {elapsed:5.1f}s")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# --- output ----------------------------------------------------------------------------------

ROWS = (
    ("mean wait (min)", "mean_wait", "{:.1f}"),
    ("median wait", "median_wait", "{:.1f}"),
    ("p90 wait", "p90_wait", "{:.1f}"),
    ("p95 wait", "p95_wait", "{:.1f}"),
    ("max wait", "max_wait", "{:.1f}"),
    ("within target", "within_target", "{:.1%}"),
    ("appointments on time", "appointments_on_time", "{:.1%}"),
    ("abandoned", "abandoned", "{:.1%}"),
    ("balked", "balked", "{:.1%}"),  # these three with a [behaviour] table only
    ("missed calls", "missed", "{:.1%}"),
    ("left without service", "left", "{:.1%}"),
    ("remote joiners", "remote", "{:.1%}"),  # these four with the table that makes them
    ("remote, called early", "remote_called_early", "{:.1%}"),
    ("transferred", "transferred", "{:.1%}"),
    ("bookings refused", "bookings_refused", "{:.1%}"),
    ("utilisation", "utilisation", "{:.1%}"),
    ("customers", "customers", "{:.1f}"),
    ("eta MAE (min)", "eta_mae", "{:.2f}"),
    ("eta signed error", "eta_signed_error", "{:+.2f}"),
    ("eta coverage", "eta_coverage", "{:.1%}"),
)
LANE_ROWS = (("mean", "mean_wait"), ("p90", "p90_wait"), ("max", "max_wait"))


def cell(value: Any, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


def table(results: dict[str, dict[str, Any]], scenario: Scenario, seeds: int) -> str:
    """The comparison as a plain-text table."""
    names = list(results)
    width = max(14, *(len(n) + 2 for n in names))
    head = f"{scenario.name}: {seeds} seed(s), target {scenario.target:g} min"
    lines = [head, f"{'':<26}" + "".join(f"{n:>{width}}" for n in names)]
    for label, key, fmt in ROWS:
        if all(key not in results[n] for n in names):
            continue
        row = "".join(f"{cell(results[n].get(key), fmt):>{width}}" for n in names)
        lines.append(f"{label:<26}{row}")
    for lane in ALL_LANES:
        for label, key in LANE_ROWS:
            values = [results[n]["lanes"][lane.value][key] for n in names]
            row = "".join(f"{cell(v, '{:.1f}'):>{width}}" for v in values)
            lines.append(f"{lane.value + ' ' + label:<26}{row}")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], path: str) -> None:
    """Bars of mean / p90 / p95 wait per policy, overall and per lane (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = ["overall", *(lane.value for lane in ALL_LANES)]
    fig, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 4), sharey=True)
    for ax, group in zip(axes, groups, strict=True):
        for offset, name in enumerate(results):
            figures = results[name] if group == "overall" else results[name]["lanes"][group]
            heights = [figures[k] or 0 for k in ("mean_wait", "p90_wait", "p95_wait")]
            ax.bar([x * 5 + offset for x in range(3)], heights, label=name)
        ax.set_xticks([x * 5 + 1.5 for x in range(3)], ["mean", "p90", "p95"])
        ax.set_title(group)
    axes[0].set_ylabel("wait (minutes)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="a scenario TOML file (see bench/README.md)")
    parser.add_argument("--seeds", type=int, default=1, help="replications to average")
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: scenario's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per policy")
    parser.add_argument("--plot", metavar="PNG", help="bar chart of the waits (matplotlib)")
    parser.add_argument("--policies", default=",".join(POLICIES), help="comma-separated")
    parser.add_argument("--eta-every", type=int, help="forecast every k-th ticket (default: [eta])")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = [n.strip() for n in args.policies.split(",") if n.strip()]
    unknown = sorted(set(names) - set(POLICIES))
    if unknown:
        sys.exit(f"unknown policies: {', '.join(unknown)} (choose from {', '.join(POLICIES)})")
    scenario = load_scenario(args.scenario)
    if args.eta_every:
        scenario = replace(scenario, eta=replace(scenario.eta, every=args.eta_every))
    started = time.perf_counter()
    bar = Progress(args.seeds * len(names), not args.no_progress and sys.stderr.isatty())
    results = run(scenario, args.seeds, names, args.seed, on_step=bar.step)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(table(results, scenario, args.seeds))
    if args.plot:
        plot(results, args.plot)
    sys.stdout.flush()
    print(f"{args.seeds} seed(s) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
