"""Durations computed by the database: the minutes between two timestamps, as a float, with the
same meaning on SQLite and PostgreSQL (no datetime is built per row in Python)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MINUTES_A_DAY = 1440
# SQLite's minutes are rounded to this fraction of a minute (a hundredth of a second).
STEPS = 6000


class MinutesBetween(FunctionElement[float]):
    """(later - earlier) in minutes, as a float, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(MinutesBetween, "sqlite")
def _minutes_sqlite(element: MinutesBetween, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    # Rounded to a hundredth of a second, which no figure shows: julianday()'s float noise would
    # make 4 minutes 3.9999999997.
    days = f"(julianday({later}) - julianday({earlier}))"
    return f"(ROUND({days} * {MINUTES_A_DAY * STEPS}) / {STEPS}.0)"


@compiles(MinutesBetween, "postgresql")
def _minutes_postgresql(element: MinutesBetween, compiler: Any, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier}))::float8 / 60.0)"
