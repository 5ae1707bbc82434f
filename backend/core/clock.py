"""Injectable time: the engine never calls datetime.now() itself."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from flask import current_app, has_app_context

CLOCK_KEY = "hallqueue.clock"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests and the simulator move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


class OffsetClock:
    """Real time shifted to start at a given moment: a live server (browser tests, demos of a
    morning at any hour) runs on it as if it were then, and time still moves."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def app_clock() -> Clock:
    """The app's clock: injected by tests and demos (`CLOCK`), else the system's."""
    if has_app_context():
        found = current_app.extensions.get(CLOCK_KEY)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return SystemClock()


def now() -> datetime:
    return app_clock().now()
