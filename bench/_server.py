"""The benchmark's server: the app of whichever tree is on PYTHONPATH, seeded, plus /bench/*.

    PYTHONPATH=<tree> SOCKETIO_ASYNC_MODE=threading|gevent python bench/_server.py

Run by bench/bench_core.py with the working directory in that tree (its own templates and
static files). It creates the app on a fresh SQLite file in a temporary folder, seeds store
"demo" (kiosk print limit off), a clerk with an API token and a kiosk, adds

- `GET /bench/bare`: `{"ok": true}` through the same stack — the baseline of every ratio;
- `GET /bench/stats`: projections built and forecasts computed so far in this process;
- `POST /bench/insert`: one ORM row inserted and committed — the naive insert baseline;
- `POST /bench/floor`: the leanest ticket issue this stack can make — one transaction of five
  SQLAlchemy Core statements (lock a row, bump a per-day number, insert a ticket row and an
  event row, bump a version), committed, a small JSON answer — the floor under any issue;
- `POST /bench/broadcast`: emits the posted JSON as a `called` event to the demo store's
  displays — a bare broadcast of the very same bytes as a real call,

prints one JSON line (port, tokens, pid, tree) and serves on 127.0.0.1. Both the new layout
(`backend.stores`, `backend.queue`, …) and the first design's flat `backend` are understood.

For bench/bench_load.py (the second design only), from the environment:

- `DATABASE_URL`: serve that database instead of a fresh SQLite file (migrated here, then the
  benchmark's own table added); the app reads `SOCKETIO_MESSAGE_QUEUE`, `SOCKETIO_CHANNEL`,
  `RATELIMIT_STORAGE_URI`, `RATELIMIT_KEY_PREFIX` from the environment itself;
- `BENCH_SEED=0`: another process of a deployment already seeded the data: seed nothing;
- `BENCH_CLERKS=N`: counters 1…N (the demo's four, then fast + standard ones) and N clerks
  `bench1…benchN` with an API token each (`"clerks"` in the line);
- `BENCH_ALL_DAY=1`: the hall open 00:00-23:59 every day (bench_core's long queue at one counter);
- `BENCH_CLOCK_AT="<hall time, ISO>@<unix time>"`: the hall's clock, as `HALLQUEUE_CLOCK_START`
  but fixed to a real moment, so that every process of a deployment tells the same time.
"""

import os

MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "threading")
if MODE == "gevent":  # before anything imports socket, threading or ssl
    from gevent import monkey

    monkey.patch_all()

import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

# The venv's editable install maps `backend.*` to the main checkout: drop its finder, so that only
# the tree on PYTHONPATH is imported (an older tree must never pick up a newer module).
sys.meta_path[:] = [
    finder
    for finder in sys.meta_path
    if not getattr(finder, "__module__", "").startswith("__editable__")
    and not type(finder).__module__.startswith("__editable__")
]
if not os.environ.get("PYTHONPATH"):  # run by hand: this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FORECASTS = {"count": 0}
_count_lock = threading.Lock()


def _layout() -> dict[str, Any]:
    """The names the benchmark needs, from the new layout or the first design's."""
    import backend

    if not (Path(backend.__path__[0]) / "stores").is_dir():
        return {
            "tree": "first design",
            "seed": "backend.seed:seed_demo",
            "kiosk": "backend.engine:register_kiosk",
            "token": "backend.auth:issue_api_token",
            "events": "backend.events",
            "forecast_modules": ["backend.eta", "backend.queue_state"],
            "cache": None,
        }
    return {
        "tree": "second design",
        "seed": "backend.stores.seed:seed_demo",
        "kiosk": "backend.kiosks.operations:register_kiosk",
        "token": "backend.staff.auth:issue_api_token",
        "events": "backend.live.events",
        "forecast_modules": ["backend.policy.eta", "backend.queue.readmodel"],
        "cache": "backend.queue.readmodel:CACHE",
    }


def _name(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def _count_forecasts(modules: list[str]) -> None:
    """Wrap `forecast` (and the banded forecast a projection runs) where they are looked up
    (imported by name, so in each importer too)."""
    for name in ("forecast", "forecast_banded"):
        found = getattr(importlib.import_module(modules[0]), name, None)
        if found is None:
            continue

        def counted(*args: Any, _original: Any = found, **kwargs: Any) -> Any:
            with _count_lock:
                FORECASTS["count"] += 1
            return _original(*args, **kwargs)

        for module in modules:
            if hasattr(importlib.import_module(module), name):
                setattr(importlib.import_module(module), name, counted)


def _clock() -> dict[str, Any]:
    """`CLOCK` from BENCH_CLOCK_AT ("<hall time>@<unix time>"): the same in every process."""
    found = os.environ.get("BENCH_CLOCK_AT")
    if not found:
        return {}
    import time
    from datetime import datetime, timedelta

    from backend.core.clock import OffsetClock

    hall, _, real = found.rpartition("@")
    moment = datetime.fromisoformat(hall) + timedelta(seconds=time.time() - float(real))
    return {"CLOCK": OffsetClock(moment)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _naive_row() -> Any:
    """A table of the benchmark's own: one ORM row per request, the naive insert baseline."""
    from backend.extensions import db

    class BenchRow(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "bench_row"
        id = db.Column(db.Integer, primary_key=True)
        label = db.Column(db.String(16), nullable=False)
        at = db.Column(db.DateTime, nullable=False)

    return BenchRow


def _floor_tables() -> Any:
    """The floor baseline's own tables: a lock row with a version, a number per day, an event."""
    from backend.extensions import db

    class BenchLock(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "bench_lock"
        id = db.Column(db.Integer, primary_key=True)
        version = db.Column(db.Integer, nullable=False, default=0)

    class BenchNumber(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "bench_number"
        day = db.Column(db.String(10), primary_key=True)
        last = db.Column(db.Integer, nullable=False)

    class BenchEvent(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "bench_event"
        id = db.Column(db.Integer, primary_key=True)
        row_id = db.Column(db.Integer, nullable=False)
        action = db.Column(db.String(16), nullable=False)
        at = db.Column(db.DateTime, nullable=False)

    return BenchLock.__table__, BenchNumber.__table__, BenchEvent.__table__


def _schema(app: Any) -> None:
    from backend.extensions import db

    with app.app_context():
        if os.environ.get("DATABASE_URL"):  # as production builds it, then the bench table
            from flask_migrate import upgrade

            from backend.app import MIGRATIONS_DIR

            upgrade(directory=MIGRATIONS_DIR)
        db.create_all()
        db.session.remove()


def _clerks(app: Any, count: int) -> list[str]:
    """Counters 1…count and a clerk with an API token for each (bench_load's 8 counters)."""
    from backend.extensions import db
    from backend.models import Counter, Store, User
    from backend.policy import Lane, Role
    from backend.staff.auth import issue_api_token

    with app.app_context():
        store = db.session.scalar(db.select(Store).where(Store.code == "demo"))
        existing = {counter.number for counter in store.counters}
        for number in range(1, count + 1):
            if number not in existing:
                lanes = [Lane.FAST.value, Lane.STANDARD.value]
                db.session.add(Counter(store=store, number=number, lanes=lanes))
        users = []
        for number in range(1, count + 1):
            user = User(username=f"bench{number}", role=Role.CLERK, store_id=store.id)
            user.set_password("bench-password")
            db.session.add(user)
            users.append(user)
        db.session.commit()
        tokens = [issue_api_token(user) for user in users]
        db.session.remove()
    return tokens


def _seed(app: Any, names: dict[str, Any]) -> dict[str, Any]:
    from backend.extensions import db
    from backend.models import Store, User
    from backend.policy import Role

    _schema(app)
    with app.app_context():
        db.session.execute(db.text("INSERT INTO bench_lock (id, version) VALUES (1, 0)"))
        _name(names["seed"])("demo", with_staff=False)
        store = db.session.scalar(db.select(Store).where(Store.code == "demo"))
        user = User(username="bench", role=Role.CLERK, store_id=store.id)
        user.set_password("bench-password")
        db.session.add(user)
        store.kiosk_rate_per_minute = 0  # the benchmark prints far more than a child could
        if os.environ.get("BENCH_ALL_DAY") == "1":  # bench_core: open 00:00-23:59 every day
            store.hours = {str(day): [["00:00", "23:59"]] for day in range(7)}
        db.session.commit()
        token = _name(names["token"])(user)
        kiosk = _name(names["kiosk"])("demo", "bench kiosk")
        db.session.remove()
    secrets: dict[str, Any] = {"token": token, "kiosk": kiosk}
    if os.environ.get("BENCH_CLERKS"):
        secrets["clerks"] = _clerks(app, int(os.environ["BENCH_CLERKS"]))
    return secrets


def _bench_routes(app: Any, names: dict[str, Any], row: Any, floor: Any) -> None:
    from datetime import datetime

    from flask import jsonify, request

    from backend.extensions import csrf, db, socketio

    display_room = importlib.import_module(names["events"]).display_room("demo")
    cache = _name(names["cache"]) if names["cache"] else None

    @app.get("/bench/bare")
    def bench_bare() -> Any:
        return jsonify({"ok": True})

    @app.get("/bench/stats")
    def bench_stats() -> Any:
        return jsonify({"builds": cache.builds if cache else None, "forecasts": FORECASTS["count"]})

    @app.post("/bench/broadcast")
    def bench_broadcast() -> Any:
        socketio.emit("called", request.get_json(), to=display_room)
        return jsonify({"ok": True})

    @app.post("/bench/insert")
    def bench_insert() -> Any:
        item = row(label=str(request.get_json()["label"])[:16], at=datetime.now())
        db.session.add(item)
        db.session.commit()
        return jsonify({"id": item.id}), 201

    lock, number, event = floor
    row_table = row.__table__

    @app.post("/bench/floor")
    def bench_floor() -> Any:
        from sqlalchemy import insert, select, update
        from sqlalchemy.dialects import postgresql, sqlite

        at = datetime.now()
        upsert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        session = db.session
        version = session.execute(
            select(lock.c.version).where(lock.c.id == 1).with_for_update()
        ).scalar_one()
        last = session.execute(
            upsert(number)
            .values(day=at.date().isoformat(), last=1)
            .on_conflict_do_update(index_elements=[number.c.day], set_={"last": number.c.last + 1})
            .returning(number.c.last)
        ).scalar_one()
        label = f"A{last:03d}"
        ident = session.execute(
            insert(row_table).values(label=label, at=at).returning(row_table.c.id)
        ).scalar_one()
        session.execute(insert(event).values(row_id=ident, action="issue", at=at))
        session.execute(update(lock).where(lock.c.id == 1).values(version=version + 1))
        session.commit()
        return jsonify({"id": ident, "label": label, "version": version + 1}), 201

    csrf.exempt(bench_broadcast)
    csrf.exempt(bench_insert)
    csrf.exempt(bench_floor)


def _serve_gevent(app: Any, port: int) -> None:
    """gevent's pywsgi with gevent-websocket's handler, as Flask-SocketIO documents, on a listener
    with TCP_NODELAY (inherited by every accepted socket), as gunicorn sets it: without it a
    kept-alive connection waits ~40 ms for the client's delayed ACK on every second request."""
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    pywsgi.WSGIServer(listener, app, handler_class=WebSocketHandler, log=None).serve_forever()


def main() -> None:
    names = _layout()
    _count_forecasts(names["forecast_modules"])
    from backend.app import create_app
    from backend.extensions import socketio

    folder = Path(tempfile.mkdtemp(prefix="db-", dir=os.environ.get("BENCH_DB_DIR")))
    config = {
        "INSTANCE_PATH": str(folder),
        "SECRET_KEY": "bench",
        "SOCKETIO_ASYNC_MODE": MODE,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # set-up only; no login is timed
        **_clock(),
    }
    if not os.environ.get("DATABASE_URL"):  # else the app's own setting, from the environment
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'bench.db'}"
    app = create_app(config)
    row = _naive_row()
    floor = _floor_tables()
    if os.environ.get("BENCH_SEED", "1") == "0":  # another process seeded the shared database
        secrets: dict[str, Any] = {}
    else:
        secrets = _seed(app, names)
    _bench_routes(app, names, row, floor)
    port = _free_port()
    import backend

    line = {"port": port, "pid": os.getpid(), "mode": MODE, "tree": names["tree"], **secrets}
    line["backend"] = str(Path(backend.__file__).resolve().parent)
    print(json.dumps(line), flush=True)
    os.dup2(2, 1)  # nothing more on the pipe the driver stopped reading
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if MODE == "threading":
        # Werkzeug 3 closes every connection after one answer ("Connection: close"; it drains
        # the socket after each request, so keep-alive cannot be switched on safely): each
        # request here pays a TCP accept and a new thread, the bare one included. gevent's
        # pywsgi keeps connections alive.
        socketio.run(app, host="127.0.0.1", port=port, allow_unsafe_werkzeug=True, log_output=False)
    else:
        _serve_gevent(app, port)


if __name__ == "__main__":
    sys.exit(main())
