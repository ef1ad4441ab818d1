"""`load_cluster`: manifests in, a validated `Cluster` out, or one `InputError`.

Kinds understood (by API group; any version of the workload groups, since the pod
template is the same in each):

- v1: Namespace, Pod, ReplicationController
- apps: Deployment, StatefulSet, DaemonSet, ReplicaSet (also the legacy `extensions`)
- batch: Job, CronJob
- networking.k8s.io/v1: NetworkPolicy
- policy.networking.k8s.io/v1alpha2: ClusterNetworkPolicy
- policy.networking.k8s.io/v1alpha1: AdminNetworkPolicy, BaselineAdminNetworkPolicy

Every other object (another kind, or a known kind in another API group/version such as
Calico's `crd.projectcalico.org/v1` NetworkPolicy) is skipped with a warning.

Rules where manifests differ from a live cluster:
- an object without `metadata.namespace` is in `default`;
- a namespace that objects live in but no Namespace object declares exists with only the
  label `kubernetes.io/metadata.name`; every namespace gets that label set to its name
  (the API server overwrites any other value);
- two objects of the same kind (same API group) with the same namespace and name are an
  error, as the API server answers a second create with AlreadyExists; the same file
  given twice (or reached twice through directories) is read once;
- nothing is half-loaded: the first invalid object stops loading.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vfpnet.k8s.clusterpolicy import (
    read_admin_network_policy,
    read_baseline_admin_network_policy,
    read_cluster_network_policy,
)
from vfpnet.k8s.documents import Document, read_documents
from vfpnet.k8s.fields import ObjectRef, input_error, one_line
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


@dataclass(frozen=True)
class _KindSpec:
    group: str
    versions: tuple[str, ...] | None  # None: any version of the group
    namespaced: bool


_KINDS: dict[str, tuple[_KindSpec, ...]] = {
    "Namespace": (_KindSpec("", ("v1",), False),),
    "Pod": (_KindSpec("", ("v1",), True),),
    "ReplicationController": (_KindSpec("", ("v1",), True),),
    "Deployment": (_KindSpec("apps", None, True), _KindSpec("extensions", None, True)),
    "StatefulSet": (_KindSpec("apps", None, True),),
    "DaemonSet": (_KindSpec("apps", None, True), _KindSpec("extensions", None, True)),
    "ReplicaSet": (_KindSpec("apps", None, True), _KindSpec("extensions", None, True)),
    "Job": (_KindSpec("batch", None, True),),
    "CronJob": (_KindSpec("batch", None, True),),
    "NetworkPolicy": (_KindSpec("networking.k8s.io", ("v1",), True),),
    "ClusterNetworkPolicy": (_KindSpec("policy.networking.k8s.io", ("v1alpha2",), False),),
    "AdminNetworkPolicy": (_KindSpec("policy.networking.k8s.io", ("v1alpha1",), False),),
    "BaselineAdminNetworkPolicy": (
        _KindSpec("policy.networking.k8s.io", ("v1alpha1",), False),
    ),
}

_CLUSTER_POLICY_READERS: dict[str, Callable[[ObjectRef, Mapping[str, Any]], ClusterPolicy]] = {
    "ClusterNetworkPolicy": read_cluster_network_policy,
    "AdminNetworkPolicy": read_admin_network_policy,
    "BaselineAdminNetworkPolicy": read_baseline_admin_network_policy,
}


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, slash, version = api_version.rpartition("/")
    return (group, version) if slash else ("", api_version)


def _kind_spec(kind: str, api_version: str) -> _KindSpec | None:
    group, version = _split_api_version(api_version)
    for spec in _KINDS.get(kind, ()):
        if spec.group == group and (spec.versions is None or version in spec.versions):
            return spec
    return None


class _Collector:
    """The objects read so far, refusing duplicates."""

    def __init__(self) -> None:
        self.namespaces: dict[str, Namespace] = {}
        self.workloads: list[Workload] = []
        self.network_policies: list[NetworkPolicy] = []
        self.cluster_policies: list[ClusterPolicy] = []
        self.warnings: list[str] = []
        self._seen: dict[tuple[str, str, str | None, str], str] = {}

    def claim(self, group: str, ref: ObjectRef) -> None:
        key = (group, ref.kind, ref.namespace, ref.name)
        earlier = self._seen.get(key)
        if earlier is not None:
            ref.fail(
                "metadata.name",
                f'Duplicate value: "{ref.name}": already defined in {earlier} '
                "(the API server would refuse it: AlreadyExists)",
            )
        self._seen[key] = ref.file

    def add(self, document: Document) -> None:
        obj = document.obj
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if not isinstance(kind, str) or not kind:
            raise input_error(f"{document.file}: {document.where}: kind: Required value")
        if not isinstance(api_version, str) or not api_version:
            raise input_error(
                f"{document.file}: {document.where}: {kind}: apiVersion: Required value"
            )
        spec = _kind_spec(kind, api_version)
        if spec is None:
            self._skip(document, kind, api_version)
            return
        name_rule = "label" if kind == "Namespace" else "subdomain"
        ref = read_object_ref(
            document.file, kind, obj, namespaced=spec.namespaced, name_rule=name_rule
        )
        self.claim(spec.group, ref)
        labels = read_metadata_labels(ref, obj)
        if kind == "Namespace":
            self.namespaces[ref.name] = Namespace(
                ref.name, labels.with_label(NAMESPACE_NAME_LABEL, ref.name)
            )
        elif kind == "NetworkPolicy":
            self.network_policies.append(read_network_policy(ref, obj))
        elif kind in _CLUSTER_POLICY_READERS:
            policy = _CLUSTER_POLICY_READERS[kind](ref, obj)
            self.cluster_policies.append(policy)
            self.warnings.extend(_unmodelled_peer_warnings(policy))
        else:
            self.workloads.append(read_workload(ref, obj))
        self.warnings.extend(ref.warnings)

    def _skip(self, document: Document, kind: str, api_version: str) -> None:
        metadata = document.obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        what = f"{kind} {name}" if isinstance(name, str) and name else f"{document.where} {kind}"
        if kind in _KINDS:
            reason = f"apiVersion {api_version} of {kind} is not understood"
        else:
            reason = "kind not understood"
        self.warnings.append(one_line(f"{document.file}: {what}: skipped: {reason}"))

    def cluster(self) -> Cluster:
        namespaces = dict(self.namespaces)
        used = [w.namespace for w in self.workloads]
        used += [p.namespace for p in self.network_policies]
        for name in used:
            if name not in namespaces:
                namespaces[name] = Namespace(
                    name, Labels.of({NAMESPACE_NAME_LABEL: name}), declared=False
                )
        policies = sorted(self.cluster_policies, key=cluster_policy_order)
        return Cluster(
            namespaces=tuple(namespaces[name] for name in sorted(namespaces)),
            workloads=tuple(sorted(self.workloads, key=lambda w: (w.namespace, w.name, w.kind))),
            network_policies=tuple(
                sorted(self.network_policies, key=lambda p: (p.namespace, p.name))
            ),
            cluster_policies=tuple(policies),
            warnings=tuple(self.warnings + _priority_tie_warnings(policies)),
        )


def _unmodelled_peer_warnings(policy: ClusterPolicy) -> list[str]:
    out: list[str] = []
    for direction, rules, peers_field in (
        ("ingress", policy.ingress, "from"),
        ("egress", policy.egress, "to"),
    ):
        for i, rule in enumerate(rules):
            for j, peer in enumerate(rule.peers):
                field = "nodes" if peer.nodes is not None else "domainNames"
                if peer.nodes is None and peer.domain_names is None:
                    continue
                out.append(one_line(
                    f"{policy.source}: {policy.kind} {policy.name}: "
                    f"spec.{direction}[{i}].{peers_field}[{j}].{field}: "
                    f"{field} peers are not modelled and match nothing"
                ))
    return out


def _priority_tie_warnings(policies: list[ClusterPolicy]) -> list[str]:
    out: list[str] = []
    for earlier, later in itertools.pairwise(policies):
        if (earlier.tier, earlier.priority) == (later.tier, later.priority):
            out.append(
                f"{later.kind} {later.name}: same {later.tier} tier priority "
                f"{later.priority} as {earlier.kind} {earlier.name}: evaluated after it "
                "(ties are ordered by name)"
            )
    return out


def load_cluster(paths: Sequence[str]) -> Cluster:
    """Read and validate every manifest under `paths` (files or directories) into a
    Cluster. Raises `InputError` (one line: file, object, field) on the first invalid
    input; returns nothing partial."""
    collector = _Collector()
    for document in read_documents(paths):
        collector.add(document)
    return collector.cluster()
