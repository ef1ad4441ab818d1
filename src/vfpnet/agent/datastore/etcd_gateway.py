"""A client of etcd's v3 JSON gateway (HTTP on each member's client URL).

Why not a library: python-etcd3 speaks gRPC, is unreleased since 2020 and breaks with
current protobuf; etcd3gw talks to one endpoint only (no failover across members) and runs
its watch in a hidden thread that drops the compaction and cancel answers we act on. The
gateway is etcd's own documented JSON mapping of the gRPC API (base64 keys and values,
int64 as strings), stable since 3.4; four calls over http.client are all we need.

Failover: every call starts at the member that answered last and moves on to the next one
when a member does not answer or says it is unavailable. Calls carry the `hasleader`
metadata (what clientv3's WithRequireLeader sends), so a member cut off from the quorum
refuses instead of serving a stale watch.
"""

from __future__ import annotations

import base64
import http.client
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vfpnet.agent.datastore.errors import DatastoreUnavailable
from vfpnet.agent.datastore.http_stream import (
    Endpoint,
    HttpStatusError,
    JsonLineStream,
    open_stream,
    request_json,
)

# Headers prefixed Grpc-Metadata- become gRPC metadata; etcd cancels a watch whose member
# loses its leader when this one is set.
_HEADERS = {"Grpc-Metadata-hasleader": "true"}
_GRPC_OUT_OF_RANGE = 11  # "mvcc: required revision has been compacted"
_GRPC_UNAVAILABLE = 14


class CompactedError(Exception):
    """The revision asked for has been compacted away."""

    def __init__(self, compact_revision: int) -> None:
        self.compact_revision = compact_revision
        super().__init__(f"revision compacted (compact revision {compact_revision})")


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    version: int


@dataclass(frozen=True)
class WatchedEvent:
    deleted: bool
    kv: KeyValue
    prev_value: bytes | None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix`."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def _kv(raw: Mapping[str, Any]) -> KeyValue:
    return KeyValue(
        key=base64.b64decode(raw.get("key", "")).decode("utf-8", errors="replace"),
        value=base64.b64decode(raw.get("value", "")),
        mod_revision=int(raw.get("mod_revision", 0)),
        version=int(raw.get("version", 0)),
    )


class EtcdGateway:
    """A few etcd v3 calls over HTTP with failover across the given members."""

    def __init__(self, endpoints: Sequence[Endpoint], timeout: float = 5.0) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint")
        self.endpoints = tuple(endpoints)
        self.timeout = timeout
        self._current = 0
        self._lock = threading.Lock()

    def _order(self) -> list[Endpoint]:
        with self._lock:
            start = self._current
        n = len(self.endpoints)
        return [self.endpoints[(start + i) % n] for i in range(n)]

    def _answered(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._current = self.endpoints.index(endpoint)

    def _call(self, path: str, body: Mapping[str, Any]) -> Any:
        failures: list[str] = []
        for endpoint in self._order():
            try:
                answer = request_json(endpoint, "POST", path, body, _HEADERS, self.timeout)
            except HttpStatusError as exc:
                code = exc.body.get("code")
                if code == _GRPC_OUT_OF_RANGE:
                    raise CompactedError(0) from None
                message = exc.body.get("message") or str(exc)
                if code == _GRPC_UNAVAILABLE or exc.status >= 500:
                    failures.append(f"{endpoint.url}: {message}")
                    continue
                raise DatastoreUnavailable(f"etcd {endpoint.url}{path}: {message}") from None
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append(f"{endpoint.url}: {_reason(exc)}")
                continue
            self._answered(endpoint)
            return answer
        raise DatastoreUnavailable(f"etcd: no member answered ({'; '.join(failures)})")

    def range_prefix(
        self, prefix: str, revision: int = 0, page_size: int = 1000
    ) -> tuple[list[KeyValue], int]:
        """Every key under `prefix` at `revision` (0: now), and the revision read at.

        Pages are read at the first page's revision, so the result is one consistent cut.
        """
        start = prefix.encode()
        end = _prefix_end(start)
        kvs: list[KeyValue] = []
        while True:
            body: dict[str, Any] = {
                "key": _b64(start),
                "range_end": _b64(end),
                "limit": page_size,
            }
            if revision:
                body["revision"] = revision
            answer = self._call("/v3/kv/range", body)
            # The header carries the store's current revision, not the one read at.
            revision = revision or int(answer["header"]["revision"])
            page = [_kv(raw) for raw in answer.get("kvs", [])]
            kvs.extend(page)
            if not answer.get("more") or not page:
                return kvs, revision
            start = page[-1].key.encode() + b"\0"

    def put(self, key: str, value: bytes) -> int:
        answer = self._call("/v3/kv/put", {"key": _b64(key.encode()), "value": _b64(value)})
        return int(answer["header"]["revision"])

    def delete(self, key: str) -> int:
        answer = self._call("/v3/kv/deleterange", {"key": _b64(key.encode())})
        return int(answer["header"]["revision"])

    def compact(self, revision: int) -> None:
        self._call("/v3/kv/compaction", {"revision": revision, "physical": True})

    def watch_prefix(self, prefix: str, start_revision: int) -> EtcdWatchStream:
        """An open watch of `prefix` from `start_revision`, on the first member that answers."""
        start = prefix.encode()
        body = {
            "create_request": {
                "key": _b64(start),
                "range_end": _b64(_prefix_end(start)),
                "start_revision": start_revision,
                "prev_kv": True,
                "progress_notify": True,
            }
        }
        failures: list[str] = []
        for endpoint in self._order():
            try:
                stream = open_stream(
                    endpoint, "POST", "/v3/watch", body, _HEADERS, self.timeout, None
                )
            except (OSError, http.client.HTTPException, HttpStatusError) as exc:
                failures.append(f"{endpoint.url}: {_reason(exc)}")
                continue
            self._answered(endpoint)
            return EtcdWatchStream(endpoint, stream)
        raise DatastoreUnavailable(f"etcd: no member answered ({'; '.join(failures)})")


class EtcdWatchStream:
    """The answers of one watch: batches of events, each with the revision it reaches."""

    def __init__(self, endpoint: Endpoint, stream: JsonLineStream) -> None:
        self.endpoint = endpoint
        self._stream = stream

    def interrupt(self) -> None:
        self._stream.interrupt()

    def close(self) -> None:
        self._stream.close()

    def batches(self) -> Iterator[list[WatchedEvent]]:
        """The events of each answer; raises CompactedError or DatastoreUnavailable."""
        for message in self._stream:
            if "error" in message:
                error = message["error"]
                text = error.get("message", error) if isinstance(error, Mapping) else error
                raise DatastoreUnavailable(f"etcd {self.endpoint.url}: watch failed: {text}")
            result = message.get("result", {})
            if result.get("canceled"):
                compact = int(result.get("compact_revision", 0))
                if compact:
                    raise CompactedError(compact)
                reason = result.get("cancel_reason") or "canceled by the server"
                raise DatastoreUnavailable(f"etcd {self.endpoint.url}: watch canceled: {reason}")
            events = [
                WatchedEvent(
                    deleted=raw.get("type") == "DELETE",
                    kv=_kv(raw.get("kv", {})),
                    prev_value=(
                        base64.b64decode(raw["prev_kv"].get("value", ""))
                        if "prev_kv" in raw
                        else None
                    ),
                )
                for raw in result.get("events", [])
            ]
            yield events
        raise DatastoreUnavailable(f"etcd {self.endpoint.url}: watch stream closed")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HttpStatusError):
        return str(exc.body.get("message") or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
