"""`load_cluster`: manifests in, a validated `Cluster` out, or one `InputError`.

Kinds understood (by API group; any version of the workload groups, since the pod
template is the same in each):

- v1: Namespace, Pod, ReplicationController
- apps: Deployment, StatefulSet, DaemonSet, ReplicaSet (also the legacy `extensions`)
- batch: Job, CronJob
- networking.k8s.io/v1: NetworkPolicy (the legacy extensions/v1beta1 and
  networking.k8s.io/v1beta1, same schema, are read as v1 with a warning)
- policy.networking.k8s.io/v1alpha2: ClusterNetworkPolicy
- policy.networking.k8s.io/v1alpha1: AdminNetworkPolicy, BaselineAdminNetworkPolicy

Every other object (another kind, or a known kind in another API group/version such as
Calico's `crd.projectcalico.org/v1` NetworkPolicy) is skipped with a warning; so is a
document that is not an object with a `kind`. A known kind without `apiVersion` is read
as its current version, with a warning.

What stops loading (exit 2) and what is only a warning. The rule: refuse what the issue
names as API-server validation of the policy semantics, or what cannot be read at all;
accept, with a warning naming file, object and field, what the API server would refuse
but analyzers working from manifests read anyway (a warning never changes semantics
beyond what it says):
- refused: YAML/JSON syntax, a value of the wrong JSON type, label keys and values
  (objects' and selectors'), selector operators, policy ports/endPort/protocols, CIDRs and
  excepts, tier, priority range, actions, policyTypes, peers with no or conflicting
  fields, list sizes, a BANP not named `default`, a missing `metadata.name` (unless
  `generateName` stands in), the same Namespace or policy twice (AlreadyExists);
- warned: object names and namespaces that are not valid DNS names, unknown fields in
  policies (ignored), container ports without a valid number or protocol (dropped) or
  with an invalid name (kept), a missing cluster-policy priority (read as 0), a missing
  `podSelector`/`namespaceSelector` in a `pods` subject or peer (read as {}), named ports
  beside networks/nodes/domainNames peers (they never match an address), an
  ownerReference without kind (read as Pod), the same workload twice (the last wins),
  host bits in a CIDR (masked).

Rules where manifests differ from a live cluster:
- an object without `metadata.namespace` is in `default`;
- a namespace that objects live in but no Namespace object declares exists with only the
  label `kubernetes.io/metadata.name`; every namespace gets that label set to its name
  (the API server overwrites any other value);
- the same file given twice (or reached twice through directories) is read once;
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
from vfpnet.k8s.fields import ObjectRef, one_line
from vfpnet.k8s.meta import read_metadata_labels, read_object_ref
from vfpnet.k8s.model import (
    NAMESPACE_NAME_LABEL,
    WORKLOAD_KINDS,
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
    legacy: bool = False  # read as the current version, with a warning


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
    "NetworkPolicy": (
        _KindSpec("networking.k8s.io", ("v1",), True),
        _KindSpec("networking.k8s.io", ("v1beta1",), True, legacy=True),
        _KindSpec("extensions", ("v1beta1",), True, legacy=True),
    ),
    "ClusterNetworkPolicy": (_KindSpec("policy.networking.k8s.io", ("v1alpha2",), False),),
    "AdminNetworkPolicy": (_KindSpec("policy.networking.k8s.io", ("v1alpha1",), False),),
    "BaselineAdminNetworkPolicy": (
        _KindSpec("policy.networking.k8s.io", ("v1alpha1",), False),
    ),
}

_CURRENT_API_VERSION = {
    "Namespace": "v1", "Pod": "v1", "ReplicationController": "v1",
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "ClusterNetworkPolicy": "policy.networking.k8s.io/v1alpha2",
    "AdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
    "BaselineAdminNetworkPolicy": "policy.networking.k8s.io/v1alpha1",
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
    """The objects read so far: a second Namespace or policy of the same name is refused,
    a second workload replaces the first (with a warning)."""

    def __init__(self) -> None:
        self.namespaces: dict[str, Namespace] = {}
        self.workloads: dict[tuple[str, str, str], Workload] = {}
        self.network_policies: list[NetworkPolicy] = []
        self.cluster_policies: list[ClusterPolicy] = []
        self.warnings: list[str] = []
        self._seen: dict[tuple[str, str, str | None, str], str] = {}

    def claim(self, group: str, ref: ObjectRef) -> None:
        key = (group, ref.kind, ref.namespace, ref.name)
        earlier = self._seen.get(key)
        self._seen[key] = ref.file
        if earlier is None:
            return
        if ref.kind in WORKLOAD_KINDS:
            ref.warn("metadata.name", f'Duplicate value: "{ref.name}": also defined in '
                     f"{earlier}; this later definition is used")
            return
        ref.fail(
            "metadata.name",
            f'Duplicate value: "{ref.name}": already defined in {earlier} '
            "(the API server would refuse it: AlreadyExists)",
        )

    def add(self, document: Document) -> None:
        obj = document.obj
        kind: str = obj["kind"]
        api_version = obj.get("apiVersion")
        if not isinstance(api_version, str) or not api_version:
            if kind not in _CURRENT_API_VERSION:
                self.warnings.append(one_line(
                    f"{document.file}: {document.where} {kind}: skipped: kind not understood"
                ))
                return
            api_version = _CURRENT_API_VERSION[kind]
            self.warnings.append(one_line(
                f"{document.file}: {document.where} {kind}: apiVersion: Required value: "
                f"read as {api_version}"
            ))
        spec = _kind_spec(kind, api_version)
        if spec is None:
            self._skip(document, kind, api_version)
            return
        name_rule = "label" if kind == "Namespace" else "subdomain"
        ref = read_object_ref(
            document.file, kind, obj, namespaced=spec.namespaced, name_rule=name_rule
        )
        if spec.legacy:
            ref.warn("apiVersion", f"{api_version} is read as {_CURRENT_API_VERSION[kind]}")
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
            workload = read_workload(ref, obj)
            key = (workload.kind, workload.namespace, workload.name)
            self.workloads.pop(key, None)
            self.workloads[key] = workload
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
        workloads = list(self.workloads.values())
        used = [w.namespace for w in workloads]
        used += [p.namespace for p in self.network_policies]
        for name in used:
            if name not in namespaces:
                namespaces[name] = Namespace(
                    name, Labels.of({NAMESPACE_NAME_LABEL: name}), declared=False
                )
        policies = sorted(self.cluster_policies, key=cluster_policy_order)
        return Cluster(
            namespaces=tuple(namespaces[name] for name in sorted(namespaces)),
            workloads=tuple(sorted(workloads, key=lambda w: (w.namespace, w.name, w.kind))),
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
    for document in read_documents(paths, collector.warnings):
        collector.add(document)
    return collector.cluster()
