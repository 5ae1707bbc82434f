"""Engine throughput on SQLite, measured against raw baselines in the same run.

    .venv/bin/python bench/bench_engine.py [--tickets 1000]

Prints requests per second for each stage and the ratio to the raw SQLite baseline. The machine
is shared and noisy: compare ratios from one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.app import create_app
from backend.extensions import db
from backend.kiosks.operations import register_kiosk
from backend.models import Store, User
from backend.policy import Role
from backend.staff.auth import issue_api_token
from backend.stores.seed import seed_demo


def raw_sqlite(path: Path, n: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, at TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (label, at) VALUES (?, datetime('now'))", (f"A{i:03d}",))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def make_app(directory: Path):  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'bench.db'}",
            "INSTANCE_PATH": str(directory),
            "SECRET_KEY": "bench",
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo("demo", with_staff=False)
        user = User(username="bench", role=Role.CLERK, store_id=1)
        user.set_password("bench-password")
        db.session.add(user)
        db.session.commit()
        token = issue_api_token(user)
        kiosk = register_kiosk("demo", "bench kiosk")
        store = db.session.scalar(db.select(Store).where(Store.code == "demo"))
        store.kiosk_rate_per_minute = 0  # the benchmark prints far more than a child could
        db.session.commit()
    app.config["BENCH_KIOSK"] = kiosk
    return app, {"Authorization": f"Bearer {token}"}


def http_issue(app, n: int, threads: int = 1) -> float:  # type: ignore[no-untyped-def]
    per = n // threads

    def work() -> None:
        client = app.test_client()
        for i in range(per):
            response = client.post(
                "/api/v1/stores/demo/tickets",
                json={"service": "ABCDEV"[i % 6]},
                headers={"X-Kiosk-Token": app.config["BENCH_KIOSK"]},
            )
            assert response.status_code == 201

    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised below: a benchmark must not count failures
            failures.append(exc)

    workers = [threading.Thread(target=guarded) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise failures[0]
    return per * threads / (time.perf_counter() - start)


def http_call_next(app, headers, n: int) -> float:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.post("/api/v1/stores/demo/counters/1/sign-in", json={}, headers=headers)
    start = time.perf_counter()
    for _ in range(n):
        response = client.post("/api/v1/stores/demo/counters/1/call-next", headers=headers)
        assert response.status_code == 200
    return n / (time.perf_counter() - start)


def http_snapshot(app, n: int) -> float:  # type: ignore[no-untyped-def]
    client = app.test_client()
    start = time.perf_counter()
    for _ in range(n):
        assert client.get("/api/v1/stores/demo/snapshot").status_code == 200
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1000)
    args = parser.parse_args()
    n = args.tickets
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw = raw_sqlite(base / "raw.db", n)
        app, headers = make_app(base / "a")
        issue_1 = http_issue(app, n)
        issue_8 = http_issue(app, n, threads=8)
        snap = http_snapshot(app, 200)  # with 2×n waiting tickets
        calls = http_call_next(app, headers, n)
    rows = [
        ("raw SQLite insert, one BEGIN IMMEDIATE each", raw),
        ("POST ticket over HTTP (test client), 1 thread", issue_1),
        ("POST ticket over HTTP, 8 threads", issue_8),
        (f"GET snapshot with {2 * n} waiting", snap),
        ("POST call-next over HTTP, 1 thread", calls),
    ]
    print(f"{'stage':52s} {'per s':>9s} {'÷ raw':>8s}")
    for name, rate in rows:
        print(f"{name:52s} {rate:9.0f} {rate / raw:8.4f}")


if __name__ == "__main__":
    main()
