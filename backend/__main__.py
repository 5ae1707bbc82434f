"""`python -m backend run`: migrate, seed the demo store if empty, print the URLs and serve."""

from __future__ import annotations

import argparse
import os

from flask_migrate import upgrade


def prepare(app):  # type: ignore[no-untyped-def]
    from backend.app import MIGRATIONS_DIR
    from backend.stores.seed import seed_demo

    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        return seed_demo()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m backend")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="prepare the database and serve")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    sub.add_parser("prepare", help="only migrate and seed")
    args = parser.parse_args()

    from backend.app import create_app
    from backend.cli import print_seeded
    from backend.extensions import socketio

    app = create_app()
    host = getattr(args, "host", os.environ.get("HOST", "127.0.0.1"))
    port = getattr(args, "port", int(os.environ.get("PORT", "5000")))
    base = f"http://{host}:{port}"
    print_seeded(prepare(app), base)
    if args.command == "prepare":
        return
    print(
        f"""
Hall queue is running. Demo store "demo":
  kiosk     {base}/s/demo/kiosk      (register the screen once with the link above)
  join      {base}/s/demo/join       (join the queue from a phone)
  booking   {base}/s/demo/book       (what the store's QR poster opens)
  poster    {base}/s/demo/poster     (log in as manager to print it)
  check-in  {base}/s/demo/kiosk/check-in
  display   {base}/s/demo/display
  counter   {base}/s/demo/counter   (log in as clerk1 or clerk2)
  API       {base}/api/openapi.json
Press Ctrl+C to stop.""",
        flush=True,
    )
    socketio.start_background_task(sweep_forever, app)
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


SWEEP_SECONDS = 60


def sweep_forever(app) -> None:  # type: ignore[no-untyped-def]
    """The app's own periodic job (no cron): no-show bookings whose check-in window closed and
    erase personal data past its retention."""
    from backend.bookings.commands import sweep_all
    from backend.extensions import db, socketio

    while True:
        with app.app_context():
            try:
                sweep_all()
            except Exception:  # one bad sweep must not end the job; the next one retries
                app.logger.exception("appointment sweep failed")
            finally:
                db.session.remove()
        socketio.sleep(SWEEP_SECONDS)


if __name__ == "__main__":
    main()
