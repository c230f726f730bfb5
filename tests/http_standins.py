"""Stand-in HTTP receivers on 127.0.0.1 for delivery tests: a webhook receiver that verifies
signatures as a real one does, and a Slack stand-in (incoming webhook and the Web API methods
reportkit calls) that enforces Slack's documented limits and the two-step file upload."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Server:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # answers given in order before the default one (status, headers, body)
    script: list[Answer] = field(default_factory=list)
    route: Callable[[Server, Received], Answer] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def serve(route: Callable[[Server, Received], Answer]) -> Iterator[Server]:
    """A real HTTP server on a free loopback port, answering every POST with `route`."""
    state = Server(route=route)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            got = Received("POST", self.path, dict(self.headers.items()), self.rfile.read(length))
            with state.lock:
                state.received.append(got)
                scripted = state.script.pop(0) if state.script else None
            status, headers, body = scripted or route(state, got)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ---------------------------------------------------------------------------- webhook receiver


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does: recompute sha256=<hex> over the raw body, compare in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def webhook_receiver(secret: str | None) -> Callable[[Server, Received], Answer]:
    """200 for a JSON POST whose signature verifies (when `secret`), 401 otherwise."""

    def route(state: Server, got: Received) -> Answer:
        if got.headers.get("Content-Type") != "application/json":
            return 415, {}, b"not json"
        if secret is not None and not verify_signature(
            got.body, got.headers.get("X-Reportkit-Signature"), secret
        ):
            return 401, {}, b"bad signature"
        got.json()
        return 200, {}, b"ok"

    return route


# ---------------------------------------------------------------------------- Slack stand-in

TOKEN = "xoxb-test-token-123"


def check_blocks(message: dict[str, Any]) -> list[str]:
    """Slack's documented limits on a message: what a real Slack answers invalid_blocks for."""
    problems = []
    blocks = message.get("blocks", [])
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks")
    for block in blocks:
        kind = block.get("type")
        if kind not in ("header", "section", "context", "divider"):
            problems.append(f"block type {kind}")
        text = block.get("text")
        if kind == "header" and (text["type"] != "plain_text" or len(text["text"]) > 150):
            problems.append("header")
        if kind == "section":
            if text is not None and len(text["text"]) > 3000:
                problems.append(f"section text of {len(text['text'])}")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append("fields")
            if text is None and not fields:
                problems.append("empty section")
        if kind == "context" and len(block["elements"]) > 10:
            problems.append("context")
    if not message.get("text") and not blocks:
        problems.append("no_text")
    return problems


def slack_route(state: Server, got: Received) -> Answer:
    """Incoming webhook at /hook, Web API methods at /api/<method>, uploads at /upload/<id>."""

    def answer(data: dict[str, Any]) -> Answer:
        return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()

    if got.path == "/hook":
        problems = check_blocks(json.loads(got.body))
        if problems:
            return 400, {}, b"invalid_blocks"
        return 200, {}, b"ok"
    if got.path.startswith("/upload/"):
        if "Authorization" in got.headers:
            return 400, {}, b"a token sent to the upload host"
        return 200, {}, b"OK - " + str(len(got.body)).encode()
    if got.headers.get("Authorization") != f"Bearer {TOKEN}":
        return answer({"ok": False, "error": "invalid_auth"})
    method = got.path.removeprefix("/api/")
    if method == "chat.postMessage":
        message = got.json()
        if check_blocks(message):
            return answer({"ok": False, "error": "invalid_blocks"})
        return answer({"ok": True, "channel": "C0123", "ts": "1700000000.000100"})
    if method == "files.getUploadURLExternal":
        form = got.form()
        if not form.get("filename") or not form.get("length", "").isdigit():
            return answer({"ok": False, "error": "invalid_arguments"})
        return answer({"ok": True, "upload_url": f"{state.url}/upload/F0001", "file_id": "F0001"})
    if method == "files.completeUploadExternal":
        form = got.form()
        files = json.loads(form.get("files", "[]"))
        uploads = [r for r in state.received if r.path == "/upload/F0001"]
        if files != [{"id": "F0001", "title": "report.pdf"}] or not uploads:
            return answer({"ok": False, "error": "file_not_found"})
        if form.get("channel_id") != "C0123":
            return answer({"ok": False, "error": "channel_not_found"})
        return answer({"ok": True, "files": [{"id": "F0001", "title": "report.pdf"}]})
    return answer({"ok": False, "error": "unknown_method"})
