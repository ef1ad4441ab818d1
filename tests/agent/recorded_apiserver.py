"""A stand-in Kubernetes API server on 127.0.0.1 that plays recorded list/watch answers.

Lists and watches are answered as the API server does: a List with
`metadata.resourceVersion` (and `continue` for pages), or a chunked stream of
`{"type": ..., "object": ...}` lines. Each watch connection plays the next script; a
script's steps are `("event", line)`, `("end",)` (a clean end of the stream),
`("drop",)` (the connection cut mid-stream) or `("status", code, Status)` (an HTTP error
instead of a stream). With no script left, a watch stays open and silent.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Step = tuple[Any, ...]


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def event(event_type: str, obj: dict[str, Any]) -> Step:
    return ("event", {"type": event_type, "object": obj})


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Recording:
    # path -> answers to successive list calls (the last one repeats); (code, body).
    lists: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    watches: dict[str, list[list[Step]]] = field(default_factory=lambda: defaultdict(list))
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def list_answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            answers = self.lists.get(path)
            if not answers:
                return 404, status(404, "NotFound", "the server could not find the resource")
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def next_script(self, path: str) -> list[Step] | None:
        with self.lock:
            scripts = self.watches.get(path)
            return scripts.pop(0) if scripts else None

    def watch_requests(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path and r.query.get("watch")]


def _handler(recording: Recording) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with recording.lock:
                recording.requests.append(Request(parts.path, query, dict(self.headers)))
            if query.get("watch"):
                self._watch(parts.path)
            else:
                code, body = recording.list_answer(parts.path, query)
                self._json(code, body)

        def _json(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _watch(self, path: str) -> None:
            script = recording.next_script(path)
            if script and script[0][0] == "status":
                self._json(script[0][1], script[0][2])
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for step in script or []:
                if step[0] == "event":
                    self._chunk(json.dumps(step[1]).encode() + b"\n")
                elif step[0] == "end":
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                elif step[0] == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            # Nothing more to say: hold the stream open, as a quiet API server does.
            self.close_connection = True
            recording.closing.wait()

    return Handler


@contextmanager
def serve(recording: Recording, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The recording served on a free loopback port; yields its http(s):// URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recording))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls is not None else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        recording.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
