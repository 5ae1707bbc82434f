"""`python -m backend run`: migrate, seed the demo store if empty, print the URLs and serve."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from flask_migrate import upgrade

if TYPE_CHECKING:
    from flask import Flask

    from backend.stores.seed import Seeded


def prepare(app: Flask) -> Seeded | None:
    """Migrate the database to the latest schema and seed the demo store if it is missing."""
    from backend.app import MIGRATIONS_DIR
    from backend.stores.seed import seed_demo

    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        return seed_demo()


def base_url(app: Flask, host: str, port: int) -> str:
    """Where the printed links point: PUBLIC_BASE_URL (what the QR codes use) when set."""
    public = app.config.get("PUBLIC_BASE_URL")
    return str(public).rstrip("/") if public else f"http://{host}:{port}"


def running_banner(base: str, kiosk_link_shown: bool) -> str:
    """What `run` prints once it serves. The kiosk's registration link is shown only when the demo
    store is created (only its hash is kept); on later starts it says how to make a new one."""
    from backend.cli import new_kiosk_hint

    kiosk_note = (
        "(open the registration link above once on the kiosk)"
        if kiosk_link_shown
        else f"(a new registration link: {new_kiosk_hint()})"
    )
    return f"""
Hall queue is running. Demo store "demo":
  kiosk     {base}/s/demo/kiosk      {kiosk_note}
  join      {base}/s/demo/join       (join the queue from a phone)
  booking   {base}/s/demo/book       (what the store's QR poster opens)
  poster    {base}/s/demo/poster     (log in as manager to print it)
  check-in  {base}/s/demo/kiosk/check-in
  display   {base}/s/demo/display
  counter   {base}/s/demo/counter   (log in as clerk1 or clerk2)
  API       {base}/api/openapi.json
Press Ctrl+C to stop."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="prepare the database and serve")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    sub.add_parser("prepare", help="only migrate and seed")
    sub.add_parser("migrate", help="only migrate (the production start's first step)")
    args = parser.parse_args(argv)

    from backend.app import MIGRATIONS_DIR, create_app
    from backend.cli import lan_address, loopback_warning, print_seeded
    from backend.core.health import StartupError
    from backend.core.web import configure_logging
    from backend.extensions import socketio

    try:
        app = create_app()
    except StartupError as exc:  # one line that names the setting and the fix, no traceback
        sys.exit(f"hallqueue: cannot start: {exc}")
    if args.command == "migrate":
        with app.app_context():
            upgrade(directory=MIGRATIONS_DIR)
        return
    # `prepare` has no --host/--port: its links use the same defaults `run` would.
    host = getattr(args, "host", os.environ.get("HOST", "127.0.0.1"))
    port = getattr(args, "port", int(os.environ.get("PORT", "5000")))
    base = base_url(app, host, port)
    seeded = prepare(app)
    # After the migrations: alembic's env.py installs its own logging configuration.
    configure_logging()
    print_seeded(seeded, base)
    if args.command == "prepare":
        return
    print(running_banner(base, bool(seeded and seeded.kiosk_token)), flush=True)
    with app.app_context():
        warning = loopback_warning(host, port, app.config.get("PUBLIC_BASE_URL"), lan_address())
    if warning:
        print("\n" + warning, file=sys.stderr, flush=True)
    socketio.start_background_task(sweep_forever, app)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


SWEEP_SECONDS = 60


def sweep_forever(app) -> None:  # type: ignore[no-untyped-def]
    """The app's own periodic job (no cron): no-show bookings whose check-in window closed and
    erase personal data past its retention; re-publish estimates that have aged; keep the
    reports' facts of the service days just settled."""
    from backend.bookings.commands import sweep_all
    from backend.core.clock import now
    from backend.extensions import db, socketio
    from backend.live.publisher import PUBLISHER
    from backend.reports.rollup import settle_all

    while True:
        with app.app_context():
            try:
                sweep_all()
                PUBLISHER.refresh_stale()
                settle_all(now())
            except Exception:  # one bad sweep must not end the job; the next one retries
                app.logger.exception("periodic sweep failed")
            finally:
                db.session.remove()
        socketio.sleep(SWEEP_SECONDS)


if __name__ == "__main__":
    main()
