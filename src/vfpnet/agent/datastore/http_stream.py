"""HTTP requests for the datastores: plain ones, and streams read one JSON line at a time.

Both the Kubernetes watch and etcd's gateway watch answer with a chunked body of
newline-separated JSON objects that stays open. `open_stream` returns a `JsonLineStream`
whose `close()` may be called from another thread: it shuts the socket down, which wakes
a blocked read at once (closing the file object alone would not).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from vfpnet.agent.datastore.errors import DatastoreConfigError


@dataclass(frozen=True)
class Endpoint:
    """Where a server answers: scheme, host, port, and the TLS settings for https."""

    scheme: str
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def connect(self, timeout: float | None) -> http.client.HTTPConnection:
        if self.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)


def parse_endpoint(url: str, what: str, ssl_context: ssl.SSLContext | None = None) -> Endpoint:
    """`http(s)://host[:port]` as an `Endpoint`; `what` names the setting in the error."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DatastoreConfigError(f"{what}: {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DatastoreConfigError(f"{what}: {url!r}: expected http://HOST[:PORT] or https://...")
    if parts.path not in ("", "/") or parts.query:
        raise DatastoreConfigError(f"{what}: {url!r}: a path or query is not supported")
    default_port = 443 if parts.scheme == "https" else 80
    return Endpoint(parts.scheme, parts.hostname, port or default_port, ssl_context)


class HttpStatusError(Exception):
    """The server answered with a non-2xx status; `body` is its JSON (or {})."""

    def __init__(self, status: int, reason: str, body: Mapping[str, Any]) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        super().__init__(f"HTTP {status} {reason}")


def _send(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
) -> None:
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = {"Accept": "application/json", **headers}
    if payload is not None:
        all_headers["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=all_headers)


def request_json(
    endpoint: Endpoint,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    timeout: float,
) -> Any:
    """One request, its JSON answer. Raises OSError/HTTPException, or HttpStatusError."""
    conn = endpoint.connect(timeout)
    try:
        _send(conn, method, path, body, headers)
        response = conn.getresponse()
        data = response.read()
        if not 200 <= response.status < 300:
            raise HttpStatusError(response.status, response.reason, _json_or_empty(data))
        return json.loads(data)
    finally:
        conn.close()


class JsonLineStream:
    """An open streaming response; iterate it for one parsed JSON value per line."""

    def __init__(
        self,
        conn: http.client.HTTPConnection,
        sock: socket.socket | None,
        response: http.client.HTTPResponse,
    ) -> None:
        self._conn = conn
        # Kept apart from conn: http.client drops conn.sock when the response is to close.
        self._sock = sock
        self._response = response
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        """Parsed lines until the server ends the body; a cut one raises ConnectionError."""
        pending = b""
        for data in self._body():
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)
        if pending.strip():
            yield json.loads(pending)

    def _body(self) -> Iterator[bytes]:
        if not self._response.chunked:
            while data := self._response.read1(65536):
                yield data
            return
        # The chunks are read here, not by http.client: its readline() on a chunked body
        # reports a connection cut between two chunks as a clean end.
        fp = self._response.fp
        while True:
            size_line = fp.readline(65537) if fp is not None else b""
            if not size_line:
                raise ConnectionError("stream broke: connection closed mid-stream")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise ConnectionError("stream broke: bad chunk header") from None
            if size == 0:
                return
            data = fp.read(size)
            if len(data) < size or fp.read(2) != b"\r\n":
                raise ConnectionError("stream broke: connection closed mid-chunk")
            yield data

    def interrupt(self) -> None:
        """Wake a blocked read (it sees the end of the stream); safe from any thread."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Release the connection; only from the thread that reads the stream."""
        if self._closed:
            return
        self._closed = True
        self.interrupt()
        with contextlib.suppress(OSError):
            self._response.close()
            self._conn.close()


def open_stream(
    endpoint: Endpoint,
    method: str,
    path: str,
    body: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float | None,
) -> JsonLineStream:
    """Send the request and return its open body. Raises like `request_json`."""
    conn = endpoint.connect(connect_timeout)
    try:
        _send(conn, method, path, body, headers)
        sock = conn.sock
        response = conn.getresponse()
        if not 200 <= response.status < 300:
            raise HttpStatusError(response.status, response.reason, _json_or_empty(response.read()))
        if sock is not None:
            sock.settimeout(read_timeout)
        return JsonLineStream(conn, sock, response)
    except BaseException:
        conn.close()
        raise


def _json_or_empty(data: bytes) -> Mapping[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}
