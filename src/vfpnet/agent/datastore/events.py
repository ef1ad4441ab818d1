"""What a datastore hands the agent: a snapshot, then a stream of events.

`Snapshot` is the full current set of objects with an opaque revision. A watch started
from that revision yields `ObjectEvent`s (ADDED/MODIFIED/DELETED, each with the object;
for DELETED the last known one), `ResyncEvent`s (the store relisted: the consumer replaces
everything it has with the snapshot inside) and `ErrorEvent`s (something is wrong; what
the consumer already has stays valid).

ADDED means "a key the consumer does not have", MODIFIED "a key it has": a datastore
normalises its source's own notion (an API server's ADDED after a reconnect is a MODIFIED
here if the key was known) and never sends DELETED for a key it never sent.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from vfpnet.agent.datastore.errors import DatastoreError
from vfpnet.agent.datastore.kinds import ObjectKey, RawObject


class EventType(enum.Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    RESYNC = "RESYNC"
    ERROR = "ERROR"


@dataclass(frozen=True)
class Snapshot:
    """Every object in the store at `revision`; `errors`: objects left out and why."""

    objects: Mapping[ObjectKey, RawObject]
    revision: str
    errors: tuple[DatastoreError, ...] = ()


@dataclass(frozen=True)
class ObjectEvent:
    type: EventType
    key: ObjectKey
    object: RawObject
    revision: str


@dataclass(frozen=True)
class ResyncEvent:
    """The store relisted (410 Gone, etcd compaction, an unknown revision): start over."""

    snapshot: Snapshot
    reason: str
    type: EventType = field(default=EventType.RESYNC, init=False)


@dataclass(frozen=True)
class ErrorEvent:
    """A problem the consumer should report; the objects it has stay as they were."""

    error: DatastoreError
    type: EventType = field(default=EventType.ERROR, init=False)


Event = ObjectEvent | ResyncEvent | ErrorEvent
