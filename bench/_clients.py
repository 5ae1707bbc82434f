"""Many Socket.IO clients in one thread: raw WebSockets speaking Engine.IO v4 / Socket.IO v5.

One python-socketio client per socket costs two or more threads; for a thousand displays this
module opens plain TCP sockets, does the WebSocket upgrade by hand and lets one reader thread
`select` over all of them (epoll via `selectors`). It answers the server's pings, keeps the
receipt time (`time.perf_counter()`) of every `called` event and counts the other events, so
the process that sends a request can time its arrival at every screen.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import selectors
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

HANDSHAKE_TIMEOUT_S = 10.0
OP_CONT, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def frame(text: str, opcode: int = OP_TEXT) -> bytes:
    """A masked client frame (clients must mask)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    return head + key + _mask(payload, key)


def parse_frames(buffer: bytearray) -> list[tuple[int, bool, bytes]]:
    """Complete server frames (unmasked) taken off the front of `buffer`: (opcode, fin, data)."""
    frames = []
    while len(buffer) >= 2:
        first, second = buffer[0], buffer[1]
        size, offset = second & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                break
            size, offset = struct.unpack_from("!H", buffer, 2)[0], 4
        elif size == 127:
            if len(buffer) < 10:
                break
            size, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
        if len(buffer) < offset + size:
            break
        frames.append((first & 0x0F, bool(first & 0x80), bytes(buffer[offset : offset + size])))
        del buffer[: offset + size]
    return frames


def _read_http_head(sock: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the upgrade")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def _read_text(sock: socket.socket, buffer: bytearray) -> str:
    """The next text frame, blocking (used during the handshake only)."""
    while True:
        for opcode, _fin, payload in parse_frames(buffer):
            if opcode == OP_TEXT:
                return payload.decode()
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        buffer += chunk


@dataclass
class Client:
    index: int
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    partial: bytes = b""
    called: list[float] = field(default_factory=list)
    called_sizes: list[int] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    firsts: dict[str, float] = field(default_factory=dict)  # event -> first receipt since reset
    last_called: str | None = None
    closed: bool = False


def connect(port: int, auth: dict[str, Any], index: int) -> Client:
    """Upgrade, read the Engine.IO open packet, send the Socket.IO connect with `auth`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANDSHAKE_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head, rest = _read_http_head(sock)
    if " 101 " not in head.split("\r\n", 1)[0]:
        raise ConnectionError(head.split("\r\n", 1)[0])
    buffer = bytearray(rest)
    opened = _read_text(sock, buffer)
    if not opened.startswith("0"):
        raise ConnectionError(f"no open packet: {opened[:80]}")
    sock.sendall(frame("40" + json.dumps(auth)))
    answer = _read_text(sock, buffer)
    while answer.startswith("2"):  # a ping before the connect answer
        sock.sendall(frame("3"))
        answer = _read_text(sock, buffer)
    if not answer.startswith("40"):
        raise ConnectionError(f"refused: {answer[:120]}")
    sock.setblocking(False)
    return Client(index, sock, buffer)


def _event_name(text: str) -> str:
    end = text.find('"', 4)
    return text[4:end] if text.startswith('42["') and end > 0 else text[:2]


def _step_names(text: str) -> tuple[str, ...]:
    """The thin events inside a `steps` frame (a command's several, in one frame)."""
    try:
        frame = json.loads(text[2:])[1]
        return tuple(str(e["event"]) for e in frame["events"])
    except (ValueError, KeyError, IndexError, TypeError):
        return ()


class Swarm:
    """Clients read by one thread: pings answered, events counted, `called` receipts timed."""

    def __init__(self) -> None:
        self.clients: list[Client] = []
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.last_frame = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="swarm-reader", daemon=True)
        self._thread.start()

    def add(self, client: Client) -> None:
        with self._lock:
            self.clients.append(client)
            self._selector.register(client.sock, selectors.EVENT_READ, client)

    def connect_many(self, port: int, auths: list[dict[str, Any]]) -> list[Client]:
        start, added = len(self.clients), []
        for offset, auth in enumerate(auths):
            added.append(connect(port, auth, start + offset))
            self.add(added[-1])  # read at once: its pings are answered while others connect
        return added

    def reset(self) -> None:
        with self._lock:
            for client in self.clients:
                client.called.clear()
                client.called_sizes.clear()
                client.events.clear()
                client.firsts.clear()

    def received(self) -> int:
        """How many clients have seen at least one `called` since the last reset."""
        with self._lock:
            return sum(1 for client in self.clients if client.called)

    def wait_all(self, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.received() >= len(self.clients):
                return True
            time.sleep(0.002)
        return False

    def wait_quiet(self, quiet: float, timeout: float) -> None:
        """Until no frame has arrived for `quiet` seconds (what a command sent has all come)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and time.perf_counter() - self.last_frame < quiet:
            time.sleep(0.01)

    def first_receipts(self) -> list[float]:
        with self._lock:
            return [client.called[0] for client in self.clients if client.called]

    def event_counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        with self._lock:
            for client in self.clients:
                for name, count in client.events.items():
                    totals[name] = totals.get(name, 0) + count
        return totals

    def last_called_payload(self) -> Any:
        with self._lock:
            for client in self.clients:
                if client.last_called:
                    return json.loads(client.last_called)[1]
        return None

    def close(self) -> None:
        with self._lock:
            for client in self.clients:
                self._selector.unregister(client.sock)
                try:
                    client.sock.sendall(frame("41"))
                    client.sock.close()
                except OSError:
                    pass
            self.clients.clear()

    def stop(self) -> None:
        self.close()
        self._stop.set()
        self._thread.join(timeout=2)

    # --- the reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                empty = not self.clients
            if empty:
                time.sleep(0.01)
                continue
            try:
                ready = self._selector.select(timeout=0.05)
            except (OSError, ValueError):  # a socket closed while selecting
                continue
            for key, _ in ready:
                self._read(key.data)

    def _read(self, client: Client) -> None:
        try:
            chunk = client.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        moment = self.last_frame = time.perf_counter()
        if not chunk:
            self._drop(client)
            return
        client.buffer += chunk
        for opcode, fin, payload in parse_frames(client.buffer):
            if not fin:  # a fragment: kept until the final one
                client.partial += payload
                continue
            self._frame(client, opcode, payload, moment)

    def _drop(self, client: Client) -> None:
        client.closed = True
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client.sock)

    def _frame(self, client: Client, opcode: int, payload: bytes, moment: float) -> None:
        if client.partial:
            payload, client.partial = client.partial + payload, b""
        if opcode == OP_PING:
            client.sock.sendall(frame(payload.decode(), OP_PONG))
            return
        elif opcode == OP_CLOSE:
            self._drop(client)
            return
        text = payload.decode()
        if text == "2":
            client.sock.sendall(frame("3"))
            return
        name = _event_name(text)
        inner = _step_names(text) if name == "steps" else ()
        with self._lock:
            for each in (name, *inner):
                client.events[each] = client.events.get(each, 0) + 1
                client.firsts.setdefault(each, moment)
            if name == "called" or "called" in inner:
                client.called.append(moment)
                client.called_sizes.append(len(payload))
                client.last_called = text[2:]
