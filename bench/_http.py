"""A bounded asyncio HTTP/1.1 load client for the loopback benchmark server (standard library).

Plain `asyncio` streams, one request at a time per connection, kept alive when the server keeps
it (gevent's pywsgi), opened anew when it answers `Connection: close` (Werkzeug). Two loops:

- `closed_loop`: `concurrency` workers, each sending its next request when the last is answered,
  until `count` requests or `seconds` have passed — the most the stack gives (worker i on the
  i-th of the ports, in turn);
- `open_loop`: requests started on a fixed schedule (`rate` per second for `seconds`), whatever
  the answers do, on at most `max_connections` connections; each latency is counted from the
  moment the request was due, so a server falling behind shows in the latencies (no coordinated
  omission) instead of slowing the client down (request i to the i-th of the ports, in turn).

Every request has a timeout; every run is bounded in count and time and stops by itself. Only
127.0.0.1 is ever addressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None  # JSON
    headers: tuple[tuple[str, str], ...] = ()
    expect: int = 200


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Outcome:
    """Latencies (seconds) of the requests answered as expected, and what went wrong."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    answers: list[Any] = field(default_factory=list)  # JSON of expected answers, when kept
    connections: int = 0
    seconds: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies)
        found: dict[str, Any] = {
            "requests": done + self.error_count,
            "ok": done,
            "errors": self.error_count,
            "error_kinds": dict(self.errors),
            "seconds": self.seconds,
            "per_second": done / self.seconds if self.seconds else None,
            "connections": self.connections,
        }
        for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
            found[name] = 1000 * percentile(self.latencies, q) if self.latencies else None
        return found


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between ranks (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = 0

    async def request(self, request: Request) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.opened += 1
        assert self.reader is not None
        body = b"" if request.body is None else json.dumps(request.body).encode()
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in request.headers]
        if request.body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        elif request.method != "GET":
            lines.append("Content-Length: 0")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        data = await self._body(headers)
        if headers.get("connection", "").lower() == "close" or status_line.startswith("HTTP/1.0"):
            self.close()
        return Answer(int(status_line.split()[1]), data)

    async def _body(self, headers: dict[str, str]) -> bytes:
        assert self.reader is not None
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    return b"".join(part[:-2] for part in parts)
        return await self.reader.read()  # until the server closes

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.reader = self.writer = None


Make = Callable[[int], Request]  # the i-th request of a run


async def _one(
    connection: Connection, request: Request, outcome: Outcome, due: float, keep: bool
) -> Answer | None:
    try:
        answer = await asyncio.wait_for(connection.request(request), TIMEOUT_S)
    except TimeoutError:
        connection.close()
        outcome.error("timeout")
        return None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        connection.close()
        outcome.error(type(exc).__name__)
        return None
    if answer.status != request.expect:
        outcome.error(f"http {answer.status}")
        return answer
    outcome.latencies.append(time.perf_counter() - due)
    if keep:
        outcome.answers.append(answer.json())
    return answer


async def _closed(
    ports: list[int], make: Make, concurrency: int, count: int, seconds: float, keep: bool
) -> Outcome:
    outcome = Outcome()
    issued = 0
    deadline = time.perf_counter() + seconds
    connections = [Connection(ports[index % len(ports)]) for index in range(concurrency)]

    async def worker(connection: Connection) -> None:
        nonlocal issued
        while issued < count and time.perf_counter() < deadline:
            request = make(issued)
            issued += 1
            await _one(connection, request, outcome, time.perf_counter(), keep)

    started = time.perf_counter()
    await asyncio.gather(*(worker(connection) for connection in connections))
    outcome.seconds = time.perf_counter() - started
    outcome.connections = sum(connection.opened for connection in connections)
    for connection in connections:
        connection.close()
    return outcome


async def _open(
    ports: list[int], make: Make, rate: float, seconds: float, max_connections: int, keep: bool
) -> Outcome:
    outcome = Outcome()
    idle: dict[int, list[Connection]] = {}
    every: list[Connection] = []
    slots = asyncio.Semaphore(max_connections)
    tasks = []

    async def send(request: Request, due: float, index: int) -> None:
        async with slots:  # waiting here is part of the latency: counted from `due`
            target = ports[index % len(ports)]
            pool = idle.setdefault(target, [])
            connection = pool.pop() if pool else Connection(target)
            if connection not in every:
                every.append(connection)
            await _one(connection, request, outcome, due, keep)
            pool.append(connection)

    started = time.perf_counter()
    total = int(rate * seconds)
    for index in range(total):
        due = started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(make(index), due, index)))
    _, late = await asyncio.wait(tasks, timeout=TIMEOUT_S * 2) if tasks else (set(), set())
    for task in late:
        task.cancel()
        outcome.error("unfinished")
    outcome.seconds = time.perf_counter() - started
    outcome.connections = sum(connection.opened for connection in every)
    for connection in every:
        connection.close()
    return outcome


def closed_loop(
    ports: list[int],
    make: Make,
    *,
    concurrency: int,
    count: int,
    seconds: float,
    keep: bool = False,
) -> Outcome:
    return asyncio.run(_closed(ports, make, concurrency, count, seconds, keep))


def open_loop(
    ports: list[int],
    make: Make,
    *,
    rate: float,
    seconds: float,
    max_connections: int = 64,
    keep: bool = False,
) -> Outcome:
    return asyncio.run(_open(ports, make, rate, seconds, max_connections, keep))


async def _each(ports: list[int], workers: list[Callable[[Connection], Any]]) -> list[Any]:
    connections = [Connection(ports[index % len(ports)]) for index in range(len(workers))]
    try:
        return await asyncio.gather(
            *(work(connection) for work, connection in zip(workers, connections, strict=True))
        )
    finally:
        for connection in connections:
            connection.close()


def run_workers(ports: list[int], workers: list[Callable[[Connection], Any]]) -> list[Any]:
    """Each coroutine function on a connection of its own (worker i on the i-th of the ports, in
    turn), concurrently: the 8 counters."""
    return asyncio.run(_each(ports, workers))


async def timed(connection: Connection, request: Request) -> tuple[Answer | None, float, str]:
    """One request on `connection`: (answer, latency in seconds, error kind or "")."""
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(connection.request(request), TIMEOUT_S)
    except TimeoutError:
        connection.close()
        return None, time.perf_counter() - started, "timeout"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        connection.close()
        return None, time.perf_counter() - started, type(exc).__name__
    return answer, time.perf_counter() - started, ""
