"""The datastore's raw objects, parsed one by one into the k8s model, bad ones isolated.

`ObjectStore` keeps, per `ObjectKey`, the last version of the object that parsed. An
object that fails to parse is reported (`errors`) and changes nothing: a policy edited
into something invalid stays enforced as it last was, a policy that was never valid is
not enforced (it never opened or closed anything), and a deleted object is dropped. So a
bad object never opens traffic and never stops the rest from being enforced.

`cluster()` assembles a `k8s.model.Cluster` from what is held, with the same rules as
`k8s.load.load_cluster` (every namespace in use exists; stable orders).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.agent.datastore.kinds import ObjectKey, RawObject
from vfpnet.errors import InputError
from vfpnet.k8s.clusterpolicy import (
    read_admin_network_policy,
    read_baseline_admin_network_policy,
    read_cluster_network_policy,
)
from vfpnet.k8s.meta import read_metadata_labels, read_object_ref
from vfpnet.k8s.model import (
    NAMESPACE_NAME_LABEL,
    Cluster,
    ClusterPolicy,
    Labels,
    Namespace,
    NetworkPolicy,
    Workload,
    cluster_policy_order,
)
from vfpnet.k8s.networkpolicy import read_network_policy
from vfpnet.k8s.workload import read_workload

Parsed = Namespace | Workload | NetworkPolicy | ClusterPolicy

_CLUSTER_READERS: dict[str, Callable[[Any, Mapping[str, Any]], ClusterPolicy]] = {
    "ClusterNetworkPolicy": read_cluster_network_policy,
    "AdminNetworkPolicy": read_admin_network_policy,
    "BaselineAdminNetworkPolicy": read_baseline_admin_network_policy,
}


def parse_object(source: str, key: ObjectKey, obj: RawObject) -> Parsed:
    """One raw object in the model; raises `InputError` naming source, object and field."""
    namespaced = key.kind in ("Pod", "NetworkPolicy")
    name_rule = "label" if key.kind == "Namespace" else "subdomain"
    ref = read_object_ref(source, key.kind, obj, namespaced=namespaced, name_rule=name_rule)
    if key.kind == "Namespace":
        labels = read_metadata_labels(ref, obj)
        return Namespace(ref.name, labels.with_label(NAMESPACE_NAME_LABEL, ref.name))
    if key.kind == "Pod":
        return read_workload(ref, obj)
    if key.kind == "NetworkPolicy":
        return read_network_policy(ref, obj)
    reader = _CLUSTER_READERS.get(key.kind)
    if reader is None:
        raise InputError(f"{source}: {key}: kind not understood")
    return reader(ref, obj)


@dataclass(frozen=True)
class Change:
    """What one object event did to the store: `changed` is False when the parsed model
    is the same as before (a resourceVersion bump, a bad edit that was refused)."""

    key: ObjectKey
    changed: bool
    before: Parsed | None
    after: Parsed | None
    error: str | None = None


class ObjectStore:
    """The last valid parsed version of every object, and the current parse errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.objects: dict[ObjectKey, Parsed] = {}
        self.errors: dict[ObjectKey, str] = {}

    def put(self, key: ObjectKey, obj: RawObject) -> Change:
        before = self.objects.get(key)
        try:
            parsed = parse_object(self.source, key, obj)
        except InputError as exc:
            self.errors[key] = str(exc)
            return Change(key, False, before, before, error=str(exc))
        self.errors.pop(key, None)
        self.objects[key] = parsed
        return Change(key, parsed != before, before, parsed)

    def delete(self, key: ObjectKey) -> Change:
        self.errors.pop(key, None)
        before = self.objects.pop(key, None)
        return Change(key, before is not None, before, None)

    def replace(self, objects: Mapping[ObjectKey, RawObject]) -> list[Change]:
        """Start over from a full snapshot; the changes are per key."""
        changes = [self.delete(key) for key in list(self.objects) if key not in objects]
        for key in [k for k in self.errors if k not in objects]:
            del self.errors[key]
        changes.extend(self.put(key, obj) for key, obj in sorted(objects.items()))
        return changes

    def cluster(self) -> Cluster:
        namespaces: dict[str, Namespace] = {}
        workloads: list[Workload] = []
        network_policies: list[NetworkPolicy] = []
        cluster_policies: list[ClusterPolicy] = []
        for parsed in self.objects.values():
            if isinstance(parsed, Namespace):
                namespaces[parsed.name] = parsed
            elif isinstance(parsed, Workload):
                workloads.append(parsed)
            elif isinstance(parsed, NetworkPolicy):
                network_policies.append(parsed)
            else:
                cluster_policies.append(parsed)
        for name in [w.namespace for w in workloads] + [p.namespace for p in network_policies]:
            if name not in namespaces:
                namespaces[name] = Namespace(
                    name, Labels.of({NAMESPACE_NAME_LABEL: name}), declared=False
                )
        return Cluster(
            namespaces=tuple(namespaces[n] for n in sorted(namespaces)),
            workloads=tuple(sorted(workloads, key=lambda w: (w.namespace, w.name, w.kind))),
            network_policies=tuple(sorted(network_policies, key=lambda p: (p.namespace, p.name))),
            cluster_policies=tuple(sorted(cluster_policies, key=cluster_policy_order)),
        )

