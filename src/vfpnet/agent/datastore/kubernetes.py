"""The Kubernetes datastore: list + watch of the six kinds the agent reads.

Each kind is listed (paginated) and then watched from the list's resourceVersion in its own
thread, with bookmarks. The revision of a snapshot is every kind's resourceVersion
(`namespaces=812,pods=815,...`): they are opaque and need not share one sequence (CRDs,
aggregated APIs). What happens on the wire:

- a clean end of the stream (the server's `timeoutSeconds`): watch again from the last
  resourceVersion seen (an event's or a bookmark's), at once;
- `410 Gone` (as an HTTP status or as a watch `ERROR` event with code 410): relist the kind
  and emit a `ResyncEvent` holding every object of every kind;
- a dropped connection or another error: an `ErrorEvent`, then watch again from the last
  resourceVersion after an exponential backoff;
- a kind that is not served (404: its CRD is not installed): no objects, listed again
  every `absent_retry` seconds.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vfpnet.agent.datastore.apiserver import ApiServer, GoneError, NotServedError
from vfpnet.agent.datastore.backoff import DEFAULT_BACKOFF, Backoff, BackoffPolicy
from vfpnet.agent.datastore.errors import BadDataError, DatastoreError, DatastoreUnavailable
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    EventType,
    ObjectEvent,
    ResyncEvent,
    Snapshot,
)
from vfpnet.agent.datastore.kinds import KINDS, Kind, ObjectKey, RawObject, object_key
from vfpnet.agent.datastore.kubeconfig import ApiServerConfig
from vfpnet.agent.datastore.stream import ThreadedWatch, WatchContext

log = logging.getLogger(__name__)


def encode_revision(versions: Mapping[str, str], kinds: Sequence[Kind]) -> str:
    return ",".join(f"{k.plural}={versions.get(k.plural, '')}" for k in kinds)


def decode_revision(revision: str, kinds: Sequence[Kind]) -> dict[str, str] | None:
    try:
        versions = dict(part.split("=", 1) for part in revision.split(","))
    except ValueError:
        return None
    return versions if set(versions) == {k.plural for k in kinds} else None


@dataclass
class _State:
    """What the consumer has been told, shared by the per-kind watch threads."""

    objects: dict[ObjectKey, RawObject]
    versions: dict[str, str]
    lock: threading.Lock = field(default_factory=threading.Lock)


class KubernetesDatastore:
    """`kubernetes`."""

    def __init__(
        self,
        config: ApiServerConfig,
        kinds: Sequence[Kind] = KINDS,
        backoff: BackoffPolicy = DEFAULT_BACKOFF,
        watch_timeout: tuple[int, int] = (300, 600),
        absent_retry: float = 60.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.api = ApiServer(config, request_timeout)
        self.kinds = tuple(kinds)
        self.backoff = backoff
        # Spread like client-go (5-10 min) so that agents do not all re-watch at once.
        self.watch_timeout = watch_timeout
        self.absent_retry = absent_retry
        self._lock = threading.Lock()
        self._last: Snapshot | None = None

    @property
    def description(self) -> str:
        return f"kubernetes ({self.api.config.source})"

    def snapshot(self) -> Snapshot:
        objects: dict[ObjectKey, RawObject] = {}
        versions: dict[str, str] = {}
        errors: list[DatastoreError] = []
        for kind in self.kinds:
            try:
                items, versions[kind.plural] = self.api.list(kind)
            except NotServedError:
                log.info("kubernetes: %s is not served; no %s objects", kind.collection_path,
                         kind.name)
                versions[kind.plural] = ""
                continue
            for item in items:
                try:
                    objects[object_key(item, kind, f"kubernetes {kind.collection_path}")] = item
                except BadDataError as exc:
                    errors.append(exc)
        snap = Snapshot(objects, encode_revision(versions, self.kinds), tuple(errors))
        with self._lock:
            self._last = snap
        return snap

    def watch(self, since: str) -> ThreadedWatch:
        return ThreadedWatch(self.description, lambda ctx: self._produce(ctx, since))

    def _produce(self, ctx: WatchContext, since: str) -> None:
        with self._lock:
            last = self._last
        versions = decode_revision(since, self.kinds)
        if last is not None and last.revision == since and versions is not None:
            state = _State(dict(last.objects), versions)
        else:
            snap = self._snapshot_until_answered(ctx)
            if snap is None:
                return
            ctx.emit(ResyncEvent(snap, f"revision {since!r} is not this store's last snapshot"))
            state = _State(dict(snap.objects), decode_revision(snap.revision, self.kinds) or {})
        threads = [
            threading.Thread(
                target=self._watch_kind, args=(ctx, state, kind), name=f"watch {kind.plural}",
                daemon=True,
            )
            for kind in self.kinds
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _snapshot_until_answered(self, ctx: WatchContext) -> Snapshot | None:
        backoff = Backoff(self.backoff)
        while not ctx.stopping:
            try:
                return self.snapshot()
            except DatastoreUnavailable as exc:
                ctx.emit(ErrorEvent(exc))
                if ctx.sleep(backoff.next_delay()):
                    return None
        return None

    def _watch_kind(self, ctx: WatchContext, state: _State, kind: Kind) -> None:
        backoff = Backoff(self.backoff)
        with state.lock:
            version = state.versions.get(kind.plural, "")
        relist: str | None = None if version else "not served at the last list"
        while not ctx.stopping:
            if relist is not None:
                try:
                    version = self._relist(ctx, state, kind, relist)
                except NotServedError:
                    if ctx.sleep(self.absent_retry):
                        return
                    continue
                except DatastoreUnavailable as exc:
                    ctx.emit(ErrorEvent(exc))
                    if ctx.sleep(backoff.next_delay()):
                        return
                    continue
                relist = None
            with state.lock:  # the last version an event or bookmark brought, even if cut
                version = state.versions.get(kind.plural, version)
            try:
                version, relist = self._follow(ctx, state, kind, version, backoff)
            except NotServedError:
                relist = "the kind stopped being served"
            except (DatastoreUnavailable, OSError, ValueError) as exc:
                if ctx.stopping:
                    return
                error = exc if isinstance(exc, DatastoreUnavailable) else DatastoreUnavailable(
                    f"kubernetes {kind.collection_path}: watch broke: {exc}"
                )
                log.warning("%s; watching again from resourceVersion %s", error, version)
                ctx.emit(ErrorEvent(error))
                if ctx.sleep(backoff.next_delay()):
                    return

    def _relist(self, ctx: WatchContext, state: _State, kind: Kind, reason: str) -> str:
        log.info("kubernetes: relisting %s (%s)", kind.collection_path, reason)
        items, version = self.api.list(kind)
        fresh: dict[ObjectKey, RawObject] = {}
        for item in items:
            try:
                fresh[object_key(item, kind, f"kubernetes {kind.collection_path}")] = item
            except BadDataError as exc:
                ctx.emit(ErrorEvent(exc))
        with state.lock:
            for key in [k for k in state.objects if k.kind == kind.name]:
                del state.objects[key]
            state.objects.update(fresh)
            state.versions[kind.plural] = version
            snap = Snapshot(dict(state.objects), encode_revision(state.versions, self.kinds))
            ctx.emit(ResyncEvent(snap, f"{kind.collection_path}: {reason}"))
        return version

    def _follow(
        self, ctx: WatchContext, state: _State, kind: Kind, version: str, backoff: Backoff
    ) -> tuple[str, str | None]:
        """Watch until the stream ends; (the last version, a reason to relist or None)."""
        try:
            stream = self.api.watch(kind, version, random.randint(*self.watch_timeout))
        except GoneError:
            return version, f"410 Gone for resourceVersion {version}"
        ctx.add_closer(stream.interrupt)
        try:
            for line in stream:
                event_type, obj = _event_parts(line, kind)
                if event_type == "ERROR":
                    if obj.get("code") == 410:
                        return version, f"watch ERROR 410: {obj.get('message', '')}"
                    raise DatastoreUnavailable(
                        f"kubernetes {kind.collection_path}: watch ERROR {obj.get('code')}: "
                        f"{obj.get('message', '')}"
                    )
                backoff.reset()
                metadata = obj.get("metadata") or {}
                version = str(metadata.get("resourceVersion") or version)
                if event_type == "BOOKMARK":
                    with state.lock:
                        state.versions[kind.plural] = version
                    continue
                if event_type in ("ADDED", "MODIFIED", "DELETED"):
                    self._apply(ctx, state, kind, event_type, obj, version)
            if ctx.stopping:
                return version, None
            backoff.reset()  # a clean end: the server's timeoutSeconds
            return version, None
        finally:
            ctx.remove_closer(stream.interrupt)
            stream.close()

    def _apply(
        self,
        ctx: WatchContext,
        state: _State,
        kind: Kind,
        event_type: str,
        obj: dict[str, Any],
        version: str,
    ) -> None:
        try:
            key = object_key(obj, kind, f"kubernetes {kind.collection_path} watch")
        except BadDataError as exc:
            ctx.emit(ErrorEvent(exc))
            return
        with state.lock:
            state.versions[kind.plural] = version
            revision = encode_revision(state.versions, self.kinds)
            known = state.objects.get(key)
            if event_type == "DELETED":
                if known is not None:
                    del state.objects[key]
                    ctx.emit(ObjectEvent(EventType.DELETED, key, obj, revision))
                return
            state.objects[key] = obj
            if known is None:
                ctx.emit(ObjectEvent(EventType.ADDED, key, obj, revision))
            elif known != obj:
                ctx.emit(ObjectEvent(EventType.MODIFIED, key, obj, revision))


def _event_parts(line: Any, kind: Kind) -> tuple[str, dict[str, Any]]:
    if not isinstance(line, dict) or not isinstance(line.get("object"), dict):
        raise ValueError(f"a watch line is not {{type, object}}: {str(line)[:80]}")
    obj = line["object"]
    if line.get("type") != "ERROR":
        obj = {"apiVersion": kind.api_version, "kind": kind.name, **obj}
    return str(line.get("type")), obj
