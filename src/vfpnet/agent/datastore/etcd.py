"""The etcd datastore: raw Kubernetes objects as JSON under one key prefix.

Key layout (prefix `/vfpnet/v1/` by default):

    /vfpnet/v1/<plural>/<namespace>/<name>     namespaced kinds (pods, networkpolicies)
    /vfpnet/v1/<plural>/<name>                 cluster-scoped kinds (namespaces,
                                               clusternetworkpolicies, adminnetworkpolicies,
                                               baselineadminnetworkpolicies)

The value is the object as the API serves it (apiVersion, kind, metadata, spec, status).
Its kind, name and namespace must agree with the key; a namespaced object without
`metadata.namespace` takes the key's. A key or value that does not fit is reported
(naming the key and the field) and, in a watch, the object the key had before is kept.

Revisions are etcd's: a snapshot is one consistent range read; a watch starts from the
state at `since` (read at that revision) and streams from `since + 1`. A revision that has
been compacted away, before or during the watch, becomes a `ResyncEvent`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from vfpnet.agent.datastore.backoff import DEFAULT_BACKOFF, Backoff, BackoffPolicy
from vfpnet.agent.datastore.errors import BadDataError, DatastoreError, DatastoreUnavailable
from vfpnet.agent.datastore.etcd_gateway import CompactedError, EtcdGateway, KeyValue
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    EventType,
    ObjectEvent,
    ResyncEvent,
    Snapshot,
)
from vfpnet.agent.datastore.http_stream import Endpoint
from vfpnet.agent.datastore.kinds import (
    KIND_BY_PLURAL,
    KINDS,
    Kind,
    ObjectKey,
    RawObject,
    check_api_version,
    object_key,
)
from vfpnet.agent.datastore.stream import ThreadedWatch, WatchContext

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "/vfpnet/v1/"


def key_for(prefix: str, kind: Kind, namespace: str, name: str) -> str:
    """Where an object lives: `<prefix><plural>/[<namespace>/]<name>`."""
    if kind.namespaced:
        return f"{prefix}{kind.plural}/{namespace}/{name}"
    return f"{prefix}{kind.plural}/{name}"


def key_of(prefix: str, obj: RawObject) -> str:
    """The key `obj` is stored under (for writers such as tests and the lab)."""
    kind = next(k for k in KINDS if k.name == obj.get("kind"))
    metadata = obj["metadata"]
    return key_for(prefix, kind, metadata.get("namespace", ""), metadata["name"])


def decode(prefix: str, kv: KeyValue) -> tuple[ObjectKey, RawObject]:
    """The object stored at `kv`, checked against its key; raises BadDataError."""
    parts = kv.key[len(prefix) :].split("/")
    kind = KIND_BY_PLURAL.get(parts[0])
    if kind is None:
        known = ", ".join(sorted(KIND_BY_PLURAL))
        raise BadDataError(kv.key, "", f"unknown resource {parts[0]!r} (known: {known})")
    expected = 3 if kind.namespaced else 2
    if len(parts) != expected or not all(parts):
        shape = "<namespace>/<name>" if kind.namespaced else "<name>"
        raise BadDataError(kv.key, "", f"expected {prefix}{kind.plural}/{shape}")
    try:
        obj = json.loads(kv.value)
    except ValueError as exc:
        raise BadDataError(kv.key, "", f"value is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BadDataError(kv.key, "", "value must be a JSON object")
    if obj.get("kind") != kind.name:
        raise BadDataError(kv.key, "kind", f"is {obj.get('kind')!r}, the key says {kind.name!r}")
    check_api_version(obj, kind, kv.key)
    metadata = obj.get("metadata")
    if kind.namespaced and isinstance(metadata, dict) and "namespace" not in metadata:
        obj = {**obj, "metadata": {**metadata, "namespace": parts[1]}}
    key = object_key(obj, kind, kv.key)
    if key.name != parts[-1]:
        raise BadDataError(kv.key, "metadata.name", f"is {key.name!r}, the key says {parts[-1]!r}")
    if kind.namespaced and key.namespace != parts[1]:
        raise BadDataError(
            kv.key, "metadata.namespace", f"is {key.namespace!r}, the key says {parts[1]!r}"
        )
    return key, obj


class EtcdDatastore:
    """`etcd:URL[,URL...]`."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 5.0,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
    ) -> None:
        self.gateway = EtcdGateway(endpoints, timeout)
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.backoff = backoff

    @property
    def description(self) -> str:
        return "etcd:" + ",".join(e.url for e in self.gateway.endpoints)

    def snapshot(self) -> Snapshot:
        return self._read(0)

    def _read(self, revision: int) -> Snapshot:
        kvs, read_at = self.gateway.range_prefix(self.prefix, revision)
        objects: dict[ObjectKey, RawObject] = {}
        errors: list[DatastoreError] = []
        for kv in kvs:
            try:
                key, obj = decode(self.prefix, kv)
            except BadDataError as exc:
                errors.append(exc)
                continue
            objects[key] = obj
        return Snapshot(objects, str(read_at), tuple(errors))

    def watch(self, since: str) -> ThreadedWatch:
        return ThreadedWatch(self.description, lambda ctx: self._produce(ctx, since))

    def _produce(self, ctx: WatchContext, since: str) -> None:
        backoff = Backoff(self.backoff)
        known: dict[ObjectKey, RawObject] = {}
        where: dict[str, ObjectKey] = {}  # etcd key -> object key of what it holds
        revision = int(since) if since.isdigit() else 0
        base: Snapshot | None = None
        while not ctx.stopping:
            try:
                if base is None:
                    base, reason = self._base(revision, since)
                    known = dict(base.objects)
                    where = {key_of(self.prefix, obj): key for key, obj in known.items()}
                    revision = int(base.revision)
                    if reason:
                        ctx.emit(ResyncEvent(base, reason))
                stream = self.gateway.watch_prefix(self.prefix, revision + 1)
            except CompactedError:
                base, since = None, ""
                continue
            except DatastoreUnavailable as exc:
                ctx.emit(ErrorEvent(exc))
                if ctx.sleep(backoff.next_delay()):
                    return
                continue
            ctx.add_closer(stream.interrupt)
            try:
                for events in stream.batches():
                    backoff.reset()
                    for event in events:
                        self._apply(ctx, event.deleted, event.kv, known, where)
                        # Only events move the resume point: the header revision of the
                        # "created" answer is ahead of the events still to come.
                        revision = max(revision, event.kv.mod_revision)
            except CompactedError as exc:
                log.info("%s: revision %d compacted (%d): resyncing", self.description,
                         revision + 1, exc.compact_revision)
                base, since = None, ""
            except (DatastoreUnavailable, OSError, ValueError) as exc:
                if ctx.stopping:
                    return
                message = str(exc) if isinstance(exc, DatastoreError) else (
                    f"etcd {stream.endpoint.url}: watch broke: {exc or type(exc).__name__}")
                log.warning("%s; reconnecting from revision %d", message, revision + 1)
                ctx.emit(ErrorEvent(DatastoreUnavailable(message)))
                if ctx.sleep(backoff.next_delay()):
                    return
            finally:
                ctx.remove_closer(stream.interrupt)
                stream.close()

    def _base(self, revision: int, since: str) -> tuple[Snapshot, str]:
        """The state to watch from: at `since` if etcd still has it, else now (a resync)."""
        if revision and since:
            try:
                return self._read(revision), ""
            except CompactedError:
                return self.snapshot(), f"revision {revision} has been compacted"
        if since:
            return self.snapshot(), f"revision {since!r} is not an etcd revision"
        return self.snapshot(), "watch fell behind a compaction"

    def _apply(
        self,
        ctx: WatchContext,
        deleted: bool,
        kv: KeyValue,
        known: dict[ObjectKey, RawObject],
        where: dict[str, ObjectKey],
    ) -> None:
        revision = str(kv.mod_revision)
        if deleted:
            gone = where.pop(kv.key, None)
            if gone is not None and gone in known:
                ctx.emit(ObjectEvent(EventType.DELETED, gone, known.pop(gone), revision))
            return
        try:
            key, obj = decode(self.prefix, kv)
        except BadDataError as exc:
            kept = where.get(kv.key)
            if kept is not None:
                exc = BadDataError(exc.source, exc.field, f"{exc.problem} (keeping {kept})")
            ctx.emit(ErrorEvent(exc))
            return
        where[kv.key] = key
        if key not in known:
            known[key] = obj
            ctx.emit(ObjectEvent(EventType.ADDED, key, obj, revision))
        elif known[key] != obj:
            known[key] = obj
            ctx.emit(ObjectEvent(EventType.MODIFIED, key, obj, revision))
