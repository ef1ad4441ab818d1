"""Datastores: where the agent reads Namespaces, Pods and network policies from.

Three implementations of one small protocol (`protocol.Datastore`): a directory of
manifests (`files`), the Kubernetes API (`kubernetes`) and etcd (`etcd`). Each deals in raw
Kubernetes objects (the JSON dicts the API serves) keyed by `ObjectKey`; parsing them is
the agent's calculation part's job. `open_datastore(spec)` turns a `--datastore` value into
one of them.
"""

from vfpnet.agent.datastore.errors import (
    BadDataError,
    DatastoreConfigError,
    DatastoreError,
    DatastoreUnavailable,
)
from vfpnet.agent.datastore.events import (
    ErrorEvent,
    Event,
    EventType,
    ObjectEvent,
    ResyncEvent,
    Snapshot,
)
from vfpnet.agent.datastore.kinds import KINDS, Kind, ObjectKey, RawObject
from vfpnet.agent.datastore.protocol import Datastore, Watch
from vfpnet.agent.datastore.spec import open_datastore

__all__ = [
    "KINDS",
    "BadDataError",
    "Datastore",
    "DatastoreConfigError",
    "DatastoreError",
    "DatastoreUnavailable",
    "ErrorEvent",
    "Event",
    "EventType",
    "Kind",
    "ObjectEvent",
    "ObjectKey",
    "RawObject",
    "ResyncEvent",
    "Snapshot",
    "Watch",
    "open_datastore",
]
