"""The Kubernetes objects vfpnet reasons about, as frozen, hashable data.

Only what network policy needs is kept: namespaces and their labels, workloads (a Pod or a
controller, reduced to its pod template's labels and container ports), NetworkPolicy v1,
and one unified type, `ClusterPolicy`, for the three cluster-scoped policy APIs:

- ClusterNetworkPolicy policy.networking.k8s.io/v1alpha2 (tier Admin or Baseline),
- AdminNetworkPolicy v1alpha1 (tier Admin; action Allow becomes Accept),
- BaselineAdminNetworkPolicy v1alpha1 (tier Baseline; the singleton named `default`).

Everything here has been validated by the loader (`vfpnet.k8s.load`): a value in this model
is always one the API server would have accepted, with defaults applied (protocol TCP,
policyTypes inferred, a missing selector of a NetworkPolicy's spec made empty).

`None` and empty are different where the API makes them different: a NetworkPolicyPeer's
`pod_selector=None` means "no pod selector given", while an empty `LabelSelector()`
selects every pod. `ClusterPolicyRule.ports=None` means "every port", an empty tuple is
never produced.

Label maps are `Labels` (an immutable, hashable, sorted mapping), so every object can be a
dict key or a set member.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Protocol: TypeAlias = Literal["TCP", "UDP", "SCTP"]
PROTOCOLS: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

Operator: TypeAlias = Literal["In", "NotIn", "Exists", "DoesNotExist"]
PolicyType: TypeAlias = Literal["Ingress", "Egress"]
Tier: TypeAlias = Literal["Admin", "Baseline"]
Action: TypeAlias = Literal["Accept", "Deny", "Pass"]
ClusterPolicyKind: TypeAlias = Literal[
    "ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"
]

WORKLOAD_KINDS: tuple[str, ...] = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
)

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class Labels(Mapping[str, str]):
    """An immutable label map (key -> value), hashable; items are kept sorted by key.

    Build one with `Labels.of({"app": "web"})`; read it like a dict
    (`labels["app"]`, `labels.get("app")`, `"app" in labels`, `dict(labels)`).
    """

    items_: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(mapping: Mapping[str, str] | None = None) -> Labels:
        return Labels(tuple(sorted((mapping or {}).items())))

    def __getitem__(self, key: str) -> str:
        for k, v in self.items_:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.items_)

    def __len__(self) -> int:
        return len(self.items_)

    def __hash__(self) -> int:
        return hash(self.items_)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self.items_ == other.items_
        if isinstance(other, Mapping):
            return dict(self.items_) == dict(other)
        return NotImplemented

    def with_label(self, key: str, value: str) -> Labels:
        """A copy with `key` set to `value`."""
        merged = dict(self.items_)
        merged[key] = value
        return Labels.of(merged)


@dataclass(frozen=True)
class LabelSelectorRequirement:
    """One matchExpressions entry. `values` is empty for Exists/DoesNotExist."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    """metav1.LabelSelector: every matchLabels pair AND every expression must hold.

    The empty selector (the default) selects everything. Matching lives in
    `vfpnet.k8s.selector.selector_matches`.
    """

    match_labels: Labels = field(default_factory=Labels)
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True)
class Namespace:
    """A namespace. `labels` always holds `kubernetes.io/metadata.name: NAME`.

    `declared` is False for a namespace that is only referenced (by an object in it).
    """

    name: str
    labels: Labels
    declared: bool = True


@dataclass(frozen=True)
class ContainerPort:
    """A containerPort of the pod template; `name` is None when the port is unnamed."""

    port: int
    protocol: Protocol = "TCP"
    name: str | None = None


@dataclass(frozen=True)
class Workload:
    """One node of the reachability graph: a Pod or a controller's pod template.

    `labels` and `ports` are those of the pod (template); `ips` are the addresses the pod is
    known to have (`status.podIP`/`status.podIPs`, Pods only; empty otherwise); they are the
    only way an ipBlock or a `networks` peer can match a pod. `source` is the file it came
    from. `id` is `NS/NAME`; two workloads of different kinds may share it, and callers
    that need unique names disambiguate (CONTRACTS.md: `NS/NAME[Kind]`). `owner` is the
    (kind, name) of the object's controller ownerReference, if it has one (a Pod made by
    a ReplicaSet, ...); policy semantics ignore it.
    """

    kind: str
    namespace: str
    name: str
    labels: Labels = field(default_factory=Labels)
    ports: tuple[ContainerPort, ...] = ()
    ips: tuple[IPAddress, ...] = ()
    node_name: str | None = None
    host_network: bool = False
    owner: tuple[str, str] | None = None
    source: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class IPBlock:
    """A NetworkPolicy ipBlock: `cidr` minus every network in `except_`.

    Networks are canonical: a value written with host bits set (`10.0.0.1/24`) is read as
    its network (`10.0.0.0/24`), with a warning. Each `except_` entry lies strictly inside
    `cidr`.
    """

    cidr: IPNetwork
    except_: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True)
class NetworkPolicyPeer:
    """One entry of `from`/`to`. Exactly one of these shapes holds:

    - `ip_block` set (the other two None);
    - `pod_selector` and/or `namespace_selector` set. pod_selector alone: pods of the
      policy's namespace; namespace_selector alone: every pod of the selected namespaces;
      both: the selected pods in the selected namespaces (AND).
    """

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True)
class NetworkPolicyPort:
    """One entry of `ports`. `port` None: every port of `protocol`; str: a named port
    (resolved per destination pod, same name and protocol); int: that port, or the range
    `port`..`end_port` when `end_port` is set."""

    protocol: Protocol = "TCP"
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True)
class NetworkPolicyRule:
    """An ingress or egress rule. Empty `peers` matches every peer (the field was omitted
    or empty); empty `ports` matches every port and protocol."""

    peers: tuple[NetworkPolicyPeer, ...] = ()
    ports: tuple[NetworkPolicyPort, ...] = ()


@dataclass(frozen=True)
class NetworkPolicy:
    """networking.k8s.io/v1 NetworkPolicy.

    `policy_types` is the effective set: as written, or inferred when omitted (Ingress
    always; Egress only if `egress` is non-empty). Rules of a direction not in
    `policy_types` are kept here as written but never apply.
    """

    namespace: str
    name: str
    pod_selector: LabelSelector
    policy_types: frozenset[PolicyType]
    ingress: tuple[NetworkPolicyRule, ...] = ()
    egress: tuple[NetworkPolicyRule, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class NamespacedPod:
    """The `pods` form of a subject or peer: pods matching `pod_selector` in namespaces
    matching `namespace_selector` (empty selects all)."""

    namespace_selector: LabelSelector
    pod_selector: LabelSelector


@dataclass(frozen=True)
class ClusterPolicySubject:
    """Exactly one of `namespaces` (every pod of the selected namespaces) or `pods`."""

    namespaces: LabelSelector | None = None
    pods: NamespacedPod | None = None


@dataclass(frozen=True)
class ClusterPolicyPeer:
    """Exactly one field is set (`networks`/`domain_names`: a non-empty tuple).

    `nodes` selects node IPs: the model knows no nodes, so such a peer matches no pod and
    no address. `domain_names` (egress, Accept only) cannot be resolved from manifests and
    matches nothing. `networks` are CIDRs (host bits allowed by the CRD; stored masked).
    """

    namespaces: LabelSelector | None = None
    pods: NamespacedPod | None = None
    nodes: LabelSelector | None = None
    networks: tuple[IPNetwork, ...] | None = None
    domain_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ClusterPolicyPort:
    """One port constraint of a cluster policy rule.

    Either numeric: `protocol` set and the inclusive range `start`..`end` (a single port
    has start == end), `name` None; or named: `name` set, `protocol`/`start`/`end` None;
    a named port matches the destination pod's containerPort of that name, on that
    container port's protocol and number. A v1alpha1 portRange may have start > end (its
    CRD allows it): it matches no port.

    From v1alpha2 `protocols`: tcp/udp/sctp.destinationPort.number -> (P, n, n);
    .range -> (P, start, end); destinationNamedPort -> name.
    From v1alpha1 `ports`: portNumber -> (protocol, port, port); portRange ->
    (protocol, start, end); namedPort -> name.
    """

    protocol: Protocol | None = None
    start: int | None = None
    end: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class ClusterPolicyRule:
    """An ingress (`peers` = from) or egress (`peers` = to) rule of a cluster policy.

    `ports` None: every port and protocol. `name` is the rule's name ("" if unnamed).
    `action` is normalized: AdminNetworkPolicy/BaselineAdminNetworkPolicy Allow -> Accept.
    """

    action: Action
    peers: tuple[ClusterPolicyPeer, ...]
    ports: tuple[ClusterPolicyPort, ...] | None = None
    name: str = ""


@dataclass(frozen=True)
class ClusterPolicy:
    """A ClusterNetworkPolicy, AdminNetworkPolicy or BaselineAdminNetworkPolicy.

    `kind` keeps the source kind for provenance. `priority` orders policies inside a tier
    (lower first). A BaselineAdminNetworkPolicy has no priority in its API; it is given
    `BANP_PRIORITY` (1001), i.e. it is evaluated after every Baseline-tier
    ClusterNetworkPolicy. `Cluster.cluster_policies` is already in evaluation order
    (see `cluster_policy_order`).
    """

    kind: ClusterPolicyKind
    name: str
    tier: Tier
    priority: int
    subject: ClusterPolicySubject
    ingress: tuple[ClusterPolicyRule, ...] = ()
    egress: tuple[ClusterPolicyRule, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        return self.name


BANP_PRIORITY = 1001

_TIER_RANK = {"Admin": 0, "Baseline": 1}
_KIND_RANK = {"ClusterNetworkPolicy": 0, "AdminNetworkPolicy": 1, "BaselineAdminNetworkPolicy": 2}


def cluster_policy_order(policy: ClusterPolicy) -> tuple[int, int, str, int]:
    """Sort key giving the evaluation order: tier (Admin first), priority (lower first),
    then, for equal priority (the spec lets implementations pick any order), name, then
    kind (ClusterNetworkPolicy before AdminNetworkPolicy before BANP)."""
    return (_TIER_RANK[policy.tier], policy.priority, policy.name, _KIND_RANK[policy.kind])


@dataclass(frozen=True)
class Cluster:
    """Everything loaded from a set of manifests.

    Tuples are in a stable order: namespaces by name, workloads by (namespace, name, kind),
    network policies by (namespace, name), cluster policies in evaluation order
    (`cluster_policy_order`). Every namespace a workload or NetworkPolicy lives in is in
    `namespaces`. `warnings` are one-line messages (skipped kinds, unresolvable peers).
    """

    namespaces: tuple[Namespace, ...] = ()
    workloads: tuple[Workload, ...] = ()
    network_policies: tuple[NetworkPolicy, ...] = ()
    cluster_policies: tuple[ClusterPolicy, ...] = ()
    warnings: tuple[str, ...] = ()
    _namespace_index: dict[str, Namespace] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        self._namespace_index.update((ns.name, ns) for ns in self.namespaces)

    def namespace(self, name: str) -> Namespace:
        """The namespace called `name`; one that is not in the cluster is returned as an
        undeclared namespace with only its `kubernetes.io/metadata.name` label."""
        found = self._namespace_index.get(name)
        if found is None:
            return Namespace(name, Labels.of({NAMESPACE_NAME_LABEL: name}), declared=False)
        return found

    def namespace_labels(self, name: str) -> Labels:
        return self.namespace(name).labels

    def policies_in(self, namespace: str) -> tuple[NetworkPolicy, ...]:
        """The NetworkPolicies of one namespace."""
        return tuple(p for p in self.network_policies if p.namespace == namespace)
