"""The two small protocols every datastore implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from vfpnet.agent.datastore.events import Event, Snapshot


class Watch(Protocol):
    """A running stream of events. Iterating blocks until an event arrives or `stop()`."""

    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds passed or the watch has ended."""
        ...

    def stop(self) -> None:
        """End the stream (from any thread); iteration ends, blocking reads are interrupted."""
        ...

    @property
    def stopped(self) -> bool:
        """True once the stream has ended, by `stop()` or because its producer gave up."""
        ...

    def __iter__(self) -> Iterator[Event]: ...


class Datastore(Protocol):
    """Where the cluster's objects come from: files, the Kubernetes API, or etcd."""

    @property
    def description(self) -> str:
        """The datastore as the user named it (`files:/etc/vfpnet`, `etcd:http://...`)."""
        ...

    def snapshot(self) -> Snapshot:
        """Every object now; raises `DatastoreUnavailable` if the store does not answer."""
        ...

    def watch(self, since: str) -> Watch:
        """Events after revision `since` (a `Snapshot.revision` of this store).

        A revision the store can no longer serve from starts the stream with a
        `ResyncEvent`. The stream outlives outages: it reconnects with backoff, emits an
        `ErrorEvent` per failed attempt, and resumes (or resyncs) when the store is back.
        """
        ...
