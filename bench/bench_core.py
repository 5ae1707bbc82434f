"""The core's cost per command and its fan-out, against baselines measured in the same run.

    .venv/bin/python bench/bench_core.py [--before /tmp/hq-before] [--quick]

Each tree (`--tree`, default this checkout; `--before`, an older checkout, e.g.
`git worktree add /tmp/hq-before 65bba4d`) is served by bench/_server.py in its own process on
127.0.0.1, on a fresh SQLite file, and measured by the same client:

1. CPU per request of the server process (utime + stime from /proc/<pid>/stat around a batch,
   background work let settle ~1 s on both sides, so the debounced projection thread is
   included): the bare JSON endpoint, a ticket issue and a call-next, at 0, 50 and 300 waiting
   and with 300 open status pages. "burst" sends the batch back to back (the publisher coalesces
   it); "paced" leaves more than the projection delay between requests, as a hall does, so every
   command pays its own projection.
2. One printed ticket (POST, print page, status page): projections and forecasts computed, CPU.
3. Fan-out: N raw WebSocket displays; time from sending a call-next to the `called` event at
   every display, beside a bare broadcast of the same bytes, in each async mode available.

The machine is shared and noisy: compare the ratios of one run, never absolute figures across
runs. Prints tables and writes bench/results/core.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import Swarm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SERVER = HERE / "_server.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STORE = "demo"
COUNTER = 1  # the demo's fast-lane counter; service A is fast-lane business
HALL_TZ = ZoneInfo("Asia/Shanghai")  # the demo store's
SETTLE_S = 1.0
STARTED = time.perf_counter()
PACE_S = 0.4  # > LIVE_PROJECTION_DELAY (0.25 s): each paced command gets its own projection


@dataclass(frozen=True)
class Sizes:
    bare: int = 600
    burst: int = 25
    paced: int = 6
    printed: int = 5
    rounds: int = 8
    levels: tuple[int, ...] = (0, 50, 300)
    pages: int = 300
    displays: tuple[int, ...] = (200, 1000)


QUICK = Sizes(bare=300, burst=12, paced=4, printed=3, rounds=3, levels=(0, 50), pages=50,
              displays=(100,))  # fmt: skip


# --- one server ----------------------------------------------------------------------------


@dataclass
class Server:
    tree: Path
    mode: str
    proc: subprocess.Popen[str]
    info: dict[str, Any]
    log: Path
    http: requests.Session = field(default_factory=requests.Session)
    tokens: dict[str, str] = field(default_factory=dict)  # label -> token, waiting tickets
    starts: int = 0
    serving: int | None = None  # the ticket counter 1 called last, not yet started

    @classmethod
    def start(cls, tree: Path, mode: str, folder: Path) -> Server:
        log = folder / f"server-{tree.name}-{mode}.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "SOCKETIO_ASYNC_MODE": mode,
            "BENCH_DB_DIR": str(folder),
            "HALLQUEUE_CLOCK_START": _opening_morning(),
            "BENCH_ALL_DAY": "1",
        }
        env.pop("LIVE_PROJECTION_DELAY", None)  # the default the product ships with
        proc = subprocess.Popen(
            [sys.executable, str(SERVER)],
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )
        info = _first_json_line(proc, log)
        server = cls(tree, mode, proc, info, log)
        server.wait_ready()
        server.post(f"/api/v1/stores/{STORE}/counters/{COUNTER}/sign-in", {"takeover": True})
        return server

    def public_info(self) -> dict[str, Any]:
        """What the report keeps of the server's line (not the run's throwaway tokens)."""
        return {k: v for k, v in self.info.items() if k not in ("token", "kiosk")}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.info['port']}"

    def wait_ready(self) -> None:
        for _ in range(200):
            try:
                self.http.get(self.base + "/bench/bare", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not answer; see {self.log}")

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.info['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime

    def stats(self) -> dict[str, Any]:
        return self.http.get(self.base + "/bench/stats").json()

    def post(self, path: str, body: Any, *, expect: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.info['token']}"}
        response = self.http.post(self.base + path, json=body, headers=headers)
        if response.status_code != expect:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return response.json()

    # --- the requests measured ---

    def insert(self) -> None:
        self.post("/bench/insert", {"label": "A001"}, expect=201)

    def floor(self) -> None:
        self.post("/bench/floor", {}, expect=201)

    def bare(self) -> None:
        response = self.http.get(self.base + "/bench/bare")
        if response.status_code != 200:
            raise RuntimeError(f"bare: {response.status_code}")

    def issue(self) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base}/api/v1/stores/{STORE}/tickets",
            json={"service": "A"},
            headers={"X-Kiosk-Token": self.info["kiosk"]},
        )
        if response.status_code != 201:
            raise RuntimeError(f"issue: {response.status_code} {response.text[:300]}")
        ticket = response.json()
        self.tokens[ticket["label"]] = ticket["token"]
        return ticket

    def call(self) -> dict[str, Any]:
        path = f"/api/v1/stores/{STORE}/counters/{COUNTER}/call-next"
        headers = {"Authorization": f"Bearer {self.info['token']}"}
        if self.serving is not None:
            # As at a counter: the customer called last comes and is served (a start), then the
            # clerk calls the next one, which completes that visit. Counted in `starts`.
            self.starts += 1
            self.post(f"/api/v1/tickets/{self.serving}/start", {})
            self.serving = None
        response = self.http.post(self.base + path, json={}, headers=headers)
        if response.status_code == 409 and response.json().get("error") == "still_called":
            # Trees where call-next will not pass over a customer only called: start serving
            # first (counted in `starts`, and in the call's CPU).
            self.starts += 1
            self.post(f"/api/v1/tickets/{response.json()['ticket']}/start", {})
            response = self.http.post(self.base + path, json={}, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"call-next: {response.status_code} {response.text[:300]}")
        answer = response.json()
        if answer.get("ticket"):
            self.tokens.pop(answer["ticket"]["label"], None)
            self.serving = answer["ticket"]["id"]
        return answer

    def printed(self) -> None:
        ticket = self.issue()
        for url in (ticket["print_url"], ticket["status_url"]):
            response = self.http.get(self.base + url)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")

    def set_waiting(self, target: int) -> None:
        while len(self.tokens) < target:
            self.issue()
        while len(self.tokens) > target:
            self.call()

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _opening_morning() -> str:
    """00:30 in the demo store's time zone on a weekday, the hall open all day (BENCH_ALL_DAY):
    a queue of 300 at one counter is called before closing, so the kiosk keeps issuing (a
    staffed hall refuses a number whose wait would pass closing time)."""
    day = datetime.now(HALL_TZ).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, dt_time(0, 30), HALL_TZ).isoformat()


def _first_json_line(proc: subprocess.Popen[str], log: Path) -> dict[str, Any]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"the server ended before starting; see {log}")


# --- CPU per request -----------------------------------------------------------------------


def cpu_batch(server: Server, action: Any, count: int, pace: float = 0.0) -> dict[str, Any]:
    """Server CPU per request over `count` calls of `action`, background work included."""
    time.sleep(SETTLE_S)
    stats, starts = server.stats(), server.starts
    before = server.cpu()
    started = time.perf_counter()
    for _ in range(count):
        action()
        if pace:
            time.sleep(pace)
    wall = time.perf_counter() - started
    time.sleep(SETTLE_S)
    after = server.cpu()
    stats_after = server.stats()
    return {
        "cpu_ms": 1000 * (after - before) / count,
        "wall_ms": 1000 * wall / count,
        "builds": _per(stats_after["builds"], stats["builds"], count),
        "forecasts": _per(stats_after["forecasts"], stats["forecasts"], count),
        "starts": (server.starts - starts) / count,
    }


def _per(after: int | None, before: int | None, count: int) -> float | None:
    return None if after is None or before is None else (after - before) / count


def cpu_cell(
    server: Server, sizes: Sizes, waiting: int, pages: int = 0, profile: Path | None = None
) -> dict[str, Any]:
    """One (waiting, status pages) cell: bare, then issue and call, burst and paced, and at the
    ends of the range without pages, printed tickets; with `profile`, a profiled paced run
    after the measured ones at the longest queue."""
    server.set_waiting(waiting)
    log(f"{server.info['tree']}: {waiting} waiting, {pages} status pages")
    swarm = Swarm()
    try:
        if pages:
            tokens = list(server.tokens.values())[-pages:]
            swarm.connect_many(server.info["port"], [{"ticket": t, "lang": "zh"} for t in tokens])
        cell: dict[str, Any] = {"waiting": waiting, "pages": len(swarm.clients)}
        cell["bare"] = cpu_batch(server, server.bare, sizes.bare)
        cell["insert"] = cpu_batch(server, server.insert, sizes.bare // 3)
        cell["floor"] = cpu_batch(server, server.floor, sizes.bare // 3)
        cell["issue"] = cpu_batch(server, server.issue, sizes.burst)
        cell["call"] = cpu_batch(server, server.call, sizes.burst)
        cell["issue_paced"] = cpu_batch(server, server.issue, sizes.paced, PACE_S)
        cell["call_paced"] = cpu_batch(server, server.call, sizes.paced, PACE_S)
        if not pages and waiting in (min(sizes.levels), max(sizes.levels)):
            cell["printed"] = cpu_batch(server, server.printed, sizes.printed, PACE_S)
        cell["page_events"] = swarm.event_counts()
        if profile and waiting == max(sizes.levels):
            raw = profile / f"profile-{server.tree.name}-{server.mode}-{waiting}-{pages}.txt"
            cell["profile"] = profile_paced(server, sizes, raw)
    finally:
        swarm.stop()
    bare = cell["bare"]["cpu_ms"]
    for kind in MEASURED:
        if kind in cell:
            cell[kind]["ratio"] = cell[kind]["cpu_ms"] / bare if bare else None
            # A call at a counter is two commands (the start of the customer called before,
            # then call-next): per command as well.
            commands = 1 + cell[kind].get("starts", 0)
            cell[kind]["per_command_ratio"] = cell[kind]["ratio"] / commands if bare else None
    return cell


def top_frames(raw: Path, count: int = 25) -> list[tuple[str, float]]:
    """Inclusive share of the samples per function, from py-spy's raw (collapsed) output."""
    totals: dict[str, int] = {}
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        weight = int(number)
        samples += weight
        for name in {re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")}:
            totals[name] = totals.get(name, 0) + weight
    wanted = [(name, n) for name, n in totals.items() if PROFILE_KEEP.search(name)]
    wanted.sort(key=lambda item: -item[1])
    return [(name, round(100 * n / max(samples, 1), 1)) for name, n in wanted[:count]]


PROFILE_KEEP = re.compile(
    r"\((backend|kiosk|counter|display)/"
    r"|sqlalchemy/(orm/session|engine/base)"
    r"|\((socketio|engineio|simple_websocket|wsproto|geventwebsocket)/[a-z_]+\.py"
)


def profile_paced(server: Server, sizes: Sizes, raw: Path) -> dict[str, Any]:
    """Paced issues then paced calls under py-spy (not pausing the server), where CPU goes."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return {"error": "py-spy is not installed"}
    command = [str(spy), "record", "--pid", str(server.info["pid"]), "--format", "raw"]
    command += ["--output", str(raw), "--rate", "200", "--nonblocking"]
    spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(SETTLE_S)
    for action in (server.issue, server.call):
        for _ in range(sizes.paced):
            action()
            time.sleep(PACE_S)
    time.sleep(SETTLE_S)
    spying.send_signal(signal.SIGINT)
    spying.wait(timeout=60)
    return {"top": top_frames(raw)} if raw.exists() else {"error": "py-spy wrote nothing"}


MEASURED = ("insert", "floor", "issue", "call", "issue_paced", "call_paced", "printed")


def cpu_suite(
    tree: Path, mode: str, sizes: Sizes, folder: Path, profile: bool = False
) -> dict[str, Any]:
    server = Server.start(tree, mode, folder)
    spy = folder if profile else None
    try:
        cells = [cpu_cell(server, sizes, level, profile=spy) for level in sizes.levels]
        cells.append(cpu_cell(server, sizes, max(sizes.levels), sizes.pages, profile=spy))
    finally:
        server.stop()
    return {"mode": mode, "server": server.public_info(), "cells": cells}


# --- fan-out -------------------------------------------------------------------------------


def log(text: str) -> None:
    print(f"[{time.perf_counter() - STARTED:6.0f} s] {text}", file=sys.stderr, flush=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Rounds:
    """Latencies (seconds) from sending a request to the `called` event at each display."""

    latencies: list[float] = field(default_factory=list)
    round_max: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)  # the HTTP answer's own latency
    missing: int = 0
    frame_bytes: int | None = None

    def run(self, swarm: Swarm, send: Any) -> None:
        swarm.reset()
        sent = time.perf_counter()
        send()
        self.answer.append(time.perf_counter() - sent)
        swarm.wait_all(timeout=15)
        receipts = [moment - sent for moment in swarm.first_receipts()]
        self.latencies += receipts
        self.round_max.append(max(receipts, default=float("nan")))
        self.missing += len(swarm.clients) - len(receipts)
        self.frame_bytes = swarm.clients[0].called_sizes[0] if swarm.clients[0].called else None
        # The debounced projection update (queue_updated to every display) passes first.
        time.sleep(0.3)
        swarm.wait_quiet(quiet=0.5, timeout=10)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {"missing": self.missing, "frame_bytes": self.frame_bytes}
        found["answer_ms"] = 1000 * statistics.median(self.answer) if self.answer else None
        found["round_max_ms"] = [round(1000 * value, 1) for value in self.round_max]
        if not self.latencies:
            return {**found, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            **found,
            "p50_ms": 1000 * statistics.median(self.latencies),
            "p99_ms": 1000 * _percentile(self.latencies, 0.99),
            "max_ms": 1000 * max(self.latencies),
        }


def fanout_cell(server: Server, displays: int, rounds: int) -> dict[str, Any]:
    """A call-next and a bare broadcast of the same bytes, in turn, `rounds` times each."""
    log(f"{server.info['tree']}, {server.mode}: {displays} displays")
    server.set_waiting(rounds + 2)
    swarm = Swarm()
    called, bare = Rounds(), Rounds()
    try:
        started = time.perf_counter()
        swarm.connect_many(server.info["port"], [{"store": STORE, "role": "display"}] * displays)
        connect_s = time.perf_counter() - started
        time.sleep(SETTLE_S)
        Rounds().run(swarm, server.call)  # warm-up, and the payload a real call carries
        payload, events = swarm.last_called_payload(), swarm.event_counts()
        for _ in range(rounds):
            called.run(swarm, server.call)
            bare.run(swarm, lambda: server.post("/bench/broadcast", payload))
    finally:
        swarm.stop()
    cell = {
        "displays": displays,
        "connect_s": connect_s,
        "events_per_call": {name: count / displays for name, count in events.items()},
        "call": called.summary(),
        "bare": bare.summary(),
    }
    if cell["call"]["p99_ms"] and cell["bare"]["p99_ms"]:
        cell["p99_ratio"] = cell["call"]["p99_ms"] / cell["bare"]["p99_ms"]
        # The last display's receipt, median over the rounds: one noisy round weighs less.
        last_call = statistics.median(cell["call"]["round_max_ms"])
        cell["last_display_ratio"] = last_call / statistics.median(cell["bare"]["round_max_ms"])
    return cell


def fanout_suite(tree: Path, mode: str, sizes: Sizes, folder: Path) -> dict[str, Any]:
    server = Server.start(tree, mode, folder)
    try:
        cells = [fanout_cell(server, n, sizes.rounds) for n in sizes.displays]
    finally:
        server.stop()
    return {"mode": mode, "server": server.public_info(), "cells": cells}


# --- the report ----------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_cpu(label: str, result: dict[str, Any]) -> None:
    print(f"\n## CPU per request — {label}: {result['server']['tree']}, {result['mode']}")
    print("waiting | pages | bare ms | naive insert ms (×bare) | floor issue | issue ms (×bare)"
          " | call ms (×bare)"
          " | issue paced | call paced | printed ticket | forecasts per request")  # fmt: skip
    for cell in result["cells"]:
        parts = [f"{cell['waiting']:>7}", f"{cell['pages']:>5}", _fmt(cell["bare"]["cpu_ms"], 3)]
        forecasts = []
        for kind in MEASURED:
            found = cell.get(kind)
            if found is None:
                parts.append("")
                continue
            started = (
                f" +start: {_fmt(found['per_command_ratio'])}× per command"
                if found.get("starts")
                else ""
            )
            parts.append(f"{_fmt(found['cpu_ms'], 2)} ({_fmt(found['ratio'])}×){started}")
            if kind not in ("insert", "floor"):
                forecasts.append(f"{kind} {_fmt(found['forecasts'], 2)}")
        print(" | ".join([*parts, ", ".join(forecasts)]), flush=True)
    for cell in result["cells"]:
        found = cell.get("profile")
        if found:
            print(
                f"profile, paced issue + call at {cell['waiting']} waiting, {cell['pages']} pages:"
            )
            for name, share in found.get("top", []):
                print(f"  {share:5.1f} %  {name}")
            if "error" in found:
                print(f"  {found['error']}")


def print_fanout(label: str, result: dict[str, Any]) -> None:
    print(f"\n## Fan-out — {label}: {result['server']['tree']}, {result['mode']}")
    print("displays | call p50/p99/max ms | bare p50/p99/max ms | p99 ratio | last display"
          " ratio (median of rounds) | frame bytes | events per call per display")  # fmt: skip
    for cell in result["cells"]:
        c, b = cell["call"], cell["bare"]
        print(
            f"{cell['displays']:>8} | {_fmt(c['p50_ms'])}/{_fmt(c['p99_ms'])}/{_fmt(c['max_ms'])}"
            f" | {_fmt(b['p50_ms'])}/{_fmt(b['p99_ms'])}/{_fmt(b['max_ms'])}"
            f" | {_fmt(cell.get('p99_ratio'), 2)} | {_fmt(cell.get('last_display_ratio'), 2)}"
            f" | {c['frame_bytes']}, {b['frame_bytes']}"
            f" | {cell['events_per_call']}"
            + (f" | MISSING {c['missing']}+{b['missing']}" if c["missing"] or b["missing"] else ""),
            flush=True,
        )


def available_modes() -> list[str]:
    modes = ["threading"]
    probe = subprocess.run(
        [sys.executable, "-c", "import gevent, geventwebsocket"], capture_output=True
    )
    if probe.returncode == 0:
        modes.append("gevent")
    return modes


def describe(tree: Path) -> dict[str, Any]:
    """The tree's commit, and whether it had changes not committed."""

    def git(*args: str) -> str:
        found = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return found.stdout.strip()

    dirty = bool(git("status", "--porcelain"))
    return {"path": str(tree), "commit": git("rev-parse", "HEAD"), "dirty": dirty}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the tree measured (after)")
    parser.add_argument("--before", type=Path, help="an older tree measured the same way")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument("--cpu-modes", default="threading", help="async modes of the CPU part")
    parser.add_argument("--modes", help="async modes of the fan-out (default: all installed)")
    parser.add_argument("--no-cpu", action="store_true", help="fan-out only")
    parser.add_argument("--no-fanout", action="store_true", help="CPU only")
    parser.add_argument("--profile", action="store_true", help="py-spy at the longest queue")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "core.json")
    args = parser.parse_args()
    args.cpu_modes = [] if args.no_cpu else args.cpu_modes.split(",")
    args.modes = [] if args.no_fanout else (args.modes or ",".join(available_modes())).split(",")
    return args


def main() -> None:
    args = parse_args()
    sizes = QUICK if args.quick else Sizes()
    trees = [("before", args.before.resolve())] if args.before else []
    trees.append(("after", args.tree.resolve()))
    report: dict[str, Any] = {"date": date.today().isoformat(), "quick": args.quick}
    for label, tree in trees:
        report[label] = {"tree": describe(tree), "cpu": [], "fanout": []}
    # Section by section, the trees in turn: the machine's load drifts less between them.
    with tempfile.TemporaryDirectory(prefix="bench-core-") as folder:
        for mode in args.cpu_modes:
            for label, tree in trees:
                found = cpu_suite(tree, mode, sizes, Path(folder), args.profile)
                report[label]["cpu"].append(found)
                print_cpu(label, found)
        for mode in args.modes:
            for label, tree in trees:
                found = fanout_suite(tree, mode, sizes, Path(folder))
                report[label]["fanout"].append(found)
                print_fanout(label, found)
    report["seconds"] = time.perf_counter() - STARTED
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\n{report['seconds']:.0f} s; written to {args.out}")


if __name__ == "__main__":
    main()
