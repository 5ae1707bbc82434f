"""The production entry: `gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker
-w 1 backend.wsgi:app` (`make serve`; docs/deploy.md).

The scale profile's async mode is gevent, so it is the default here; gevent's monkey patching
comes first, before anything imports socket, ssl, threading or the database drivers (the gevent
worker patches too; patching twice is harmless). Each process runs the app's periodic job once,
as `python -m backend run` does; it is safe in every process at once (each sweep is one write
transaction per store). The schema is migrated before the processes start (`make serve` runs
`flask db upgrade`), never by each worker.
"""

# ruff: noqa: E402  (the patching must precede every other import)
import os

os.environ.setdefault("SOCKETIO_ASYNC_MODE", "gevent")
if os.environ["SOCKETIO_ASYNC_MODE"] == "gevent":
    from gevent import monkey

    monkey.patch_all()

import sys

from backend.app import create_app
from backend.core.health import StartupError
from backend.core.web import configure_logging
from backend.extensions import socketio

# gunicorn's exit code for "the application could not be loaded": the master stops instead of
# starting one failing worker after another.
APP_LOAD_ERROR = 4

configure_logging()
try:
    app = create_app()
except StartupError as exc:  # one line that names the setting and the fix, no traceback
    print(f"hallqueue: cannot start: {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)

from backend.__main__ import sweep_forever

socketio.start_background_task(sweep_forever, app)
