"""Cost of the customer's push messages: the "almost your turn" check after a projection (by
queue length, with and without subscriptions near the head), and one Web Push delivery (VAPID
signature, aes128gcm encryption, the POST) to a push service on this machine.

.venv/bin/python bench/bench_push.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.app import create_app
from backend.core.clock import ManualClock
from backend.core.db import StatementCounter
from backend.extensions import db
from backend.kiosks.operations import find_kiosk, register_kiosk
from backend.messaging.commands import note_near_turn
from backend.messaging.push import PushTarget, WebPushProvider, b64url, vapid_keys
from backend.policy import Channel
from backend.queue import commands as engine
from backend.queue import readmodel
from backend.stores.seed import seed_demo

REPEAT = 200
MORNING = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: the hall is open


def timed(fn: Any, repeat: int = REPEAT) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1000


class Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def near_turn(n: int) -> None:
    folder = Path(tempfile.mkdtemp())
    clock = ManualClock(MORNING)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "SECRET_KEY": "bench",
            "CLOCK": clock,
            "LIVE_PROJECTION_DELAY": None,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
        }
    )
    with app.app_context():
        db.create_all()
        seed_demo("demo", with_staff=False)
        kiosk = find_kiosk(register_kiosk("demo", "bench"))
        db.session.remove()
        with app.test_request_context():
            for _ in range(n):
                clock.advance(seconds=2.5)
                engine.issue_ticket("demo", "A", engine.Origin(Channel.KIOSK, kiosk=kiosk.ref))
        db.session.remove()  # as the publisher's background task: a session of its own
        store_id = 1
        proj = readmodel.projection(store_id)
        with StatementCounter(db.engine) as counter:
            note_near_turn(proj, clock.now(), set())
        check = timed(lambda: note_near_turn(proj, clock.now(), set()))
        done = set(proj.positions)
        handled = timed(lambda: note_near_turn(proj, clock.now(), done))
        db.session.remove()
    print(f"| {n} | {len(counter.statements)} | {check:.3f} ms | {handled:.4f} ms |")


def delivery() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = Path(tempfile.mkdtemp())
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(folder),
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
        }
    )
    provider = WebPushProvider(vapid_keys(app))
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    target = PushTarget(
        f"http://127.0.0.1:{server.server_address[1]}/p", b64url(point), b64url(os.urandom(16))
    )
    payload = {"title": "您的号码 A012 到了", "body": "请到 3 号窗口", "url": "/t/x", "tag": "t"}
    assert provider.send(target, payload, 900).ok
    per = timed(lambda: provider.send(target, payload, 900), 100)
    server.shutdown()
    print(f"one Web Push delivery (sign, encrypt, POST to a local service): {per:.2f} ms")


def main() -> None:
    print("| waiting | statements | check, none subscribed | check, all handled |")
    print("|---|---|---|---|")
    for n in (30, 300):
        near_turn(n)
    delivery()


if __name__ == "__main__":
    main()
