"""Hostile stand-in servers on loopback: each a real listening socket in a thread, scripted per
connection, keeping every byte it was sent so that a test can say what reached it.

    with StandIn(trickle(b"HTTP/1.1 200 OK\r\n...", every=0.05)) as server:
        ... server.url, server.received (bytes per connection), server.connections ...

A script is a function of the accepted socket and the stand-in; it may read, write slowly, stay
silent or close. Writes that fail because the client went away end the script quietly.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Script = Callable[[socket.socket, "StandIn"], None]


class StandIn:
    """A scripted TCP server on `host` (127.0.0.1 unless told), on a free port."""

    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        self.script = script
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.05)
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self.received: list[bytearray] = []
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._local = threading.local()  # the index of the connection a script thread serves
        self._thread = threading.Thread(target=self._serve, daemon=True, name="stand-in")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def all_received(self) -> bytes:
        with self._lock:
            return b"".join(bytes(r) for r in self.received)

    def record(self, data: bytes) -> None:
        """Keep `data` as received on the connection this script thread serves."""
        with self._lock:
            self.received[self._local.index] += data

    def read_request(self, conn: socket.socket) -> bytes:
        """Read one HTTP request head (and a Content-Length body) from `conn`; b"" at its end."""
        index = self._local.index
        data = bytearray()
        conn.settimeout(5.0)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        if not data:
            return b""
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        with self._lock:
            self.received[index] += head + b"\r\n\r\n" + body
        return head

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
                self.received.append(bytearray())
                self._open.append(conn)
            threading.Thread(
                target=self._run, args=(conn, index), daemon=True, name="stand-in-conn"
            ).start()

    def _run(self, conn: socket.socket, index: int) -> None:
        self._local.index = index
        with contextlib.suppress(OSError), conn:
            self.script(conn, self)

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


def trickle(conn: socket.socket, server: StandIn, data: bytes, every: float) -> None:
    """Send `data` one byte every `every` seconds, until done or the stand-in stops."""
    for byte in data:
        if server.stopping:
            return
        conn.sendall(bytes([byte]))
        time.sleep(every)


def endless(prefix: bytes, filler: bytes) -> bytes:
    """`prefix` then `filler` repeated: more than any test waits for at a byte a tick."""
    return prefix + filler * 100_000


def hold(conn: socket.socket, server: StandIn) -> None:
    """Keep the connection open and say nothing until the stand-in stops."""
    while not server.stopping:
        time.sleep(0.02)


def http_response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    reason = {
        200: "OK",
        301: "Moved",
        302: "Found",
        303: "See Other",
        307: "Temporary Redirect",
        308: "Permanent Redirect",
    }.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (none on an isolated box)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent for a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address
