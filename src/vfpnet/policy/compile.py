"""Compiling a cluster's policies into the rule IR (`policy.ir`), per endpoint and direction.

The second reading of the spec (the first is `policy.evaluate`). For each endpoint:

- Admin stage: every Admin-tier cluster policy whose subject selects the endpoint, in
  `Cluster.cluster_policies` order (priority, then name), its rules for the direction in
  written order; Accept -> ALLOW, Deny -> DENY, Pass -> PASS.
- NetworkPolicy stage: when NetworkPolicies of the endpoint's namespace select it for the
  direction (per their effective policyTypes), each of their rules becomes ALLOW rules and
  the stage ends with a deny-everything rule (isolation). Otherwise the stage is empty.
- Baseline stage: Baseline-tier ClusterNetworkPolicies, then BaselineAdminNetworkPolicy.
- Default: allow.

Selectors are resolved against the endpoints given to `compile_cluster` (the "universe":
all workloads, or one representative per equivalence class), named ports to numbers on
the destination (the endpoint itself for ingress, each peer for egress; an egress rule
with named ports is split into one IR rule per group of destinations that resolve the
same), and CIDRs to the endpoints with a known IP inside them (`Workload.ips`; a workload
without IPs is matched by selectors only). Host-network pods are ordinary pods here, as in
`policy.evaluate` and netpol-analyzer (the NetworkPolicy API leaves them undefined).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vfpnet.k8s.model import (
    Cluster,
    ClusterPolicy,
    ClusterPolicyPeer,
    ClusterPolicyPort,
    ClusterPolicyRule,
    ContainerPort,
    IPNetwork,
    LabelSelector,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    Workload,
)
from vfpnet.policy.ir import (
    ANY_PEER,
    ISOLATION_DENY,
    Action,
    CidrBlock,
    Direction,
    EndpointKey,
    EndpointRules,
    PeerSet,
    Provenance,
    Rule,
    Stage,
)
from vfpnet.policy.portset import ALL_PORTS, EMPTY_PORTS, PortSet

_ACTIONS = {"Accept": Action.ALLOW, "Deny": Action.DENY, "Pass": Action.PASS}


def endpoint_key(workload: Workload) -> EndpointKey:
    """The IR's id of a workload: `NAMESPACE/KIND/NAME`."""
    return f"{workload.namespace}/{workload.kind}/{workload.name}"


@dataclass(frozen=True)
class CompiledCluster:
    """The IR of every endpoint of the universe, in both directions."""

    endpoints: Mapping[EndpointKey, Workload]
    ingress: Mapping[EndpointKey, EndpointRules]
    egress: Mapping[EndpointKey, EndpointRules]

    def rules(self, key: EndpointKey, direction: Direction) -> EndpointRules:
        return (self.ingress if direction is Direction.INGRESS else self.egress)[key]


def _selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    for key, value in selector.match_labels.items_:
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In":
            ok = present and labels[req.key] in req.values
        elif req.operator == "NotIn":
            ok = not present or labels[req.key] not in req.values
        elif req.operator == "Exists":
            ok = present
        else:
            ok = not present
        if not ok:
            return False
    return True


@dataclass
class _Universe:
    """The endpoints selectors resolve against, indexed for fast resolution."""

    cluster: Cluster
    workloads: dict[EndpointKey, Workload]
    by_namespace: dict[str, list[tuple[EndpointKey, dict[str, str]]]] = field(
        default_factory=dict
    )
    ns_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    _ns_cache: dict[LabelSelector, tuple[str, ...]] = field(default_factory=dict)
    _pod_cache: dict[tuple[str, LabelSelector], frozenset[EndpointKey]] = field(
        default_factory=dict
    )
    _cidr_cache: dict[tuple[IPNetwork, tuple[IPNetwork, ...]], frozenset[EndpointKey]] = field(
        default_factory=dict
    )

    @staticmethod
    def build(cluster: Cluster, workloads: Iterable[Workload]) -> _Universe:
        uni = _Universe(cluster, {endpoint_key(w): w for w in workloads})
        for ns in cluster.namespaces:
            uni.ns_labels[ns.name] = dict(ns.labels.items_)
        for key, w in uni.workloads.items():
            if w.namespace not in uni.ns_labels:
                uni.ns_labels[w.namespace] = dict(cluster.namespace_labels(w.namespace).items_)
            uni.by_namespace.setdefault(w.namespace, []).append((key, dict(w.labels.items_)))
        return uni

    def namespaces(self, selector: LabelSelector) -> tuple[str, ...]:
        found = self._ns_cache.get(selector)
        if found is None:
            found = tuple(n for n, labels in self.ns_labels.items() if _selects(selector, labels))
            self._ns_cache[selector] = found
        return found

    def pods_in(self, namespace: str, selector: LabelSelector | None) -> frozenset[EndpointKey]:
        cache_key = (namespace, selector or LabelSelector())
        found = self._pod_cache.get(cache_key)
        if found is None:
            members = self.by_namespace.get(namespace, [])
            if selector is None or selector.is_empty:
                found = frozenset(k for k, _ in members)
            else:
                found = frozenset(k for k, labels in members if _selects(selector, labels))
            self._pod_cache[cache_key] = found
        return found

    def pods(
        self, ns_selector: LabelSelector | None, pod_selector: LabelSelector | None,
        home: str | None,
    ) -> frozenset[EndpointKey]:
        """Pods matching `pod_selector` in namespaces matching `ns_selector`, or in `home`
        when `ns_selector` is None."""
        namespaces = (home,) if ns_selector is None else self.namespaces(ns_selector)
        out: set[EndpointKey] = set()
        for ns in namespaces:
            if ns is not None:
                out |= self.pods_in(ns, pod_selector)
        return frozenset(out)

    def in_cidr(self, cidr: IPNetwork, excepts: tuple[IPNetwork, ...]) -> frozenset[EndpointKey]:
        """Endpoints with a known IP in `cidr` and in none of `excepts` (host network too:
        an address is an address)."""
        found = self._cidr_cache.get((cidr, excepts))
        if found is None:
            hits = set()
            for key, w in self.workloads.items():
                for ip in w.ips:
                    if ip.version != cidr.version or ip not in cidr:
                        continue
                    if any(ip.version == ex.version and ip in ex for ex in excepts):
                        continue
                    hits.add(key)
                    break
            found = frozenset(hits)
            self._cidr_cache[(cidr, excepts)] = found
        return found


def _named_portset(workload: Workload, name: str, protocol: str | None) -> PortSet:
    ports = EMPTY_PORTS
    for cp in workload.ports:
        if cp.name == name and (protocol is None or cp.protocol == protocol):
            ports = ports | PortSet.of(cp.protocol, cp.port)
    return ports


@dataclass(frozen=True)
class _PortSpec:
    """A rule's ports before named ports are resolved: numeric part + (name, protocol)s."""

    numeric: PortSet
    named: tuple[tuple[str, str | None], ...] = ()

    def resolve(self, dst: Workload) -> PortSet:
        out = self.numeric
        for name, proto in self.named:
            out = out | _named_portset(dst, name, proto)
        return out


def _np_ports(ports: Sequence[NetworkPolicyPort]) -> _PortSpec:
    if not ports:
        return _PortSpec(ALL_PORTS)
    numeric = EMPTY_PORTS
    named: list[tuple[str, str | None]] = []
    for p in ports:
        if p.port is None:
            numeric = numeric | PortSet.all_ports(p.protocol)
        elif isinstance(p.port, str):
            named.append((p.port, p.protocol))
        else:
            end = p.end_port if p.end_port is not None else p.port
            numeric = numeric | PortSet.of(p.protocol, p.port, end)
    return _PortSpec(numeric, tuple(named))


def _cp_ports(ports: Sequence[ClusterPolicyPort] | None) -> _PortSpec:
    if ports is None:
        return _PortSpec(ALL_PORTS)
    numeric = EMPTY_PORTS
    named: list[tuple[str, str | None]] = []
    for p in ports:
        if p.name is not None:
            named.append((p.name, None))
        elif p.protocol is not None:
            start = p.start if p.start is not None else 1
            end = p.end if p.end is not None else start
            numeric = numeric | PortSet.of(p.protocol, start, end)
    return _PortSpec(numeric, tuple(named))


def _np_peers(uni: _Universe, policy: NetworkPolicy, peers: Sequence[NetworkPolicyPeer]) -> PeerSet:
    if not peers:
        return ANY_PEER
    endpoints: set[EndpointKey] = set()
    cidrs: list[CidrBlock] = []
    for peer in peers:
        if peer.ip_block is not None:
            block = peer.ip_block
            cidrs.append(CidrBlock(str(block.cidr), tuple(str(e) for e in block.except_)))
            endpoints |= uni.in_cidr(block.cidr, block.except_)
        else:
            endpoints |= uni.pods(peer.namespace_selector, peer.pod_selector, policy.namespace)
    return PeerSet(endpoints=frozenset(endpoints), cidrs=tuple(cidrs))


def _cp_peers(uni: _Universe, peers: Sequence[ClusterPolicyPeer]) -> PeerSet:
    endpoints: set[EndpointKey] = set()
    cidrs: list[CidrBlock] = []
    for peer in peers:
        if peer.namespaces is not None:
            endpoints |= uni.pods(peer.namespaces, None, None)
        elif peer.pods is not None:
            endpoints |= uni.pods(peer.pods.namespace_selector, peer.pods.pod_selector, None)
        elif peer.networks is not None:
            for net in peer.networks:
                cidrs.append(CidrBlock(str(net)))
                endpoints |= uni.in_cidr(net, ())
        # `nodes` and `domain_names` cannot be resolved from manifests: they match nothing.
    return PeerSet(endpoints=frozenset(endpoints), cidrs=tuple(cidrs))


Match = tuple[PeerSet, PortSet]


def _matches_for(
    uni: _Universe, peers: PeerSet, spec: _PortSpec, direction: Direction, subject: Workload
) -> list[Match]:
    """The (peers, ports) of one API rule's IR rules: one, or more when egress named ports
    resolve differently on different destinations; none when it can match nothing."""
    if peers.is_empty():
        return []
    if not spec.named:
        return [(peers, spec.numeric)] if spec.numeric else []
    if direction is Direction.INGRESS:
        ports = spec.resolve(subject)
        return [(peers, ports)] if ports else []
    out: list[Match] = []
    if spec.numeric:
        out.append((peers, spec.numeric))
    # Named ports resolve on each destination; external addresses have no named ports.
    targets = uni.workloads.keys() if peers.any_peer else peers.endpoints
    groups: dict[PortSet, set[EndpointKey]] = {}
    # Many destinations share a container port list: resolve each list once.
    resolved: dict[tuple[ContainerPort, ...], PortSet] = {}
    for key in targets:
        container_ports = uni.workloads[key].ports
        if not container_ports:
            continue
        extra = resolved.get(container_ports)
        if extra is None:
            extra = spec.resolve(uni.workloads[key]) - spec.numeric
            resolved[container_ports] = extra
        if extra:
            groups.setdefault(extra, set()).add(key)
    for ports, keys in sorted(groups.items(), key=lambda kv: min(kv[1])):
        out.append((PeerSet(endpoints=frozenset(keys)), ports))
    return out


class _Compiler:
    def __init__(self, cluster: Cluster, workloads: Iterable[Workload]) -> None:
        self.cluster = cluster
        self.uni = _Universe.build(cluster, workloads)
        self.np_by_ns: dict[str, list[NetworkPolicy]] = {}
        for np in cluster.network_policies:
            self.np_by_ns.setdefault(np.namespace, []).append(np)
        # Rule compilation that does not depend on the subject is shared between subjects.
        self._memo: dict[tuple[object, ...], list[Rule]] = {}
        self._content_memo: dict[tuple[object, ...], list[Match]] = {}
        self._specs: dict[int, _PortSpec] = {}
        self._tier_memo: dict[tuple[object, ...], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}
        self._endpoint_memo: dict[
            tuple[object, ...], tuple[tuple[Rule, ...], tuple[str, ...]]
        ] = {}
        self._selecting_cache: dict[
            tuple[object, ...], tuple[tuple[ClusterPolicy, ...], tuple[NetworkPolicy, ...]]
        ] = {}

    def _spec(
        self,
        api_rule: ClusterPolicyRule | NetworkPolicyRule,
        read: Callable[[Any], _PortSpec],
    ) -> _PortSpec:
        """The rule's port spec, read once per rule object."""
        found = self._specs.get(id(api_rule))
        if found is None:
            found = self._specs[id(api_rule)] = read(api_rule.ports)
        return found

    def _subject_selects(self, policy: ClusterPolicy, w: Workload) -> bool:
        ns_labels = self.uni.ns_labels[w.namespace]
        subject = policy.subject
        if subject.namespaces is not None:
            return _selects(subject.namespaces, ns_labels)
        if subject.pods is not None:
            return _selects(subject.pods.namespace_selector, ns_labels) and _selects(
                subject.pods.pod_selector, dict(w.labels.items_)
            )
        return False

    def _cluster_policy_rules(
        self, policy: ClusterPolicy, direction: Direction, w: Workload
    ) -> list[Rule]:
        api_rules: tuple[ClusterPolicyRule, ...] = (
            policy.ingress if direction is Direction.INGRESS else policy.egress
        )
        stage = Stage.ADMIN if policy.tier == "Admin" else Stage.BASELINE
        out: list[Rule] = []
        for index, api_rule in enumerate(api_rules):
            spec = self._spec(api_rule, _cp_ports)
            # Ingress named ports resolve on the subject, so the subject's ports key the memo.
            memo_key = (
                "cp", policy.kind, policy.name, direction, index,
                w.ports if (spec.named and direction is Direction.INGRESS) else None,
            )
            cached = self._memo.get(memo_key)
            if cached is None:
                provenance = Provenance(
                    tier=stage.tier, kind=policy.kind, policy=policy.name, rule=index,
                    rule_name=api_rule.name or None,
                )
                content_key = ("cp", api_rule, direction, memo_key[-1])
                matches = self._content_memo.get(content_key)
                if matches is None:
                    peers = _cp_peers(self.uni, api_rule.peers)
                    matches = _matches_for(self.uni, peers, spec, direction, w)
                    self._content_memo[content_key] = matches
                action = _ACTIONS[api_rule.action]
                cached = [Rule(stage, action, ps, ports, provenance) for ps, ports in matches]
                self._memo[memo_key] = cached
            out.extend(cached)
        return out

    def _network_policy_rules(
        self, policy: NetworkPolicy, direction: Direction, w: Workload
    ) -> list[Rule]:
        api_rules: tuple[NetworkPolicyRule, ...] = (
            policy.ingress if direction is Direction.INGRESS else policy.egress
        )
        out: list[Rule] = []
        for index, api_rule in enumerate(api_rules):
            spec = self._spec(api_rule, _np_ports)
            memo_key = (
                "np", policy.namespace, policy.name, direction, index,
                w.ports if (spec.named and direction is Direction.INGRESS) else None,
            )
            cached = self._memo.get(memo_key)
            if cached is None:
                provenance = Provenance(
                    tier=Stage.NETWORK_POLICY.tier, kind="NetworkPolicy", policy=policy.id,
                    rule=index,
                )
                # Equal rules of different policies resolve alike (unless a bare
                # podSelector ties them to their own namespace): share the resolution.
                home = policy.namespace if any(
                    p.ip_block is None and p.namespace_selector is None for p in api_rule.peers
                ) else None
                content_key = ("np", api_rule, home, direction, memo_key[-1])
                matches = self._content_memo.get(content_key)
                if matches is None:
                    peers = _np_peers(self.uni, policy, api_rule.peers)
                    matches = _matches_for(self.uni, peers, spec, direction, w)
                    self._content_memo[content_key] = matches
                cached = [
                    Rule(Stage.NETWORK_POLICY, Action.ALLOW, ps, ports, provenance)
                    for ps, ports in matches
                ]
                self._memo[memo_key] = cached
            out.extend(cached)
        return out

    def _selecting(
        self, w: Workload
    ) -> tuple[tuple[ClusterPolicy, ...], tuple[NetworkPolicy, ...]]:
        """The cluster policies whose subject selects `w`, and the NetworkPolicies whose
        podSelector does; both depend only on namespace and labels, so they are cached."""
        cache_key = (w.namespace, w.labels)
        found = self._selecting_cache.get(cache_key)
        if found is None:
            cps = tuple(p for p in self.cluster.cluster_policies if self._subject_selects(p, w))
            labels = dict(w.labels.items_)
            nps = tuple(
                np for np in self.np_by_ns.get(w.namespace, [])
                if _selects(np.pod_selector, labels)
            )
            found = (cps, nps)
            self._selecting_cache[cache_key] = found
        return found

    def endpoint_rules(self, w: Workload, direction: Direction) -> EndpointRules:
        cluster_policies, network_policies = self._selecting(w)
        # Endpoints selected by the same policies (with the same container ports, on
        # which ingress named ports resolve) get the same rules.
        memo_key = (
            tuple(id(p) for p in cluster_policies),
            tuple(id(p) for p in network_policies),
            direction,
            w.ports,
        )
        found = self._endpoint_memo.get(memo_key)
        if found is None:
            found = self._endpoint_rules(w, direction, cluster_policies, network_policies)
            self._endpoint_memo[memo_key] = found
        rules, isolated_by = found
        return EndpointRules(
            endpoint=endpoint_key(w), direction=direction, rules=rules, isolated_by=isolated_by
        )

    def _endpoint_rules(
        self,
        w: Workload,
        direction: Direction,
        cluster_policies: tuple[ClusterPolicy, ...],
        network_policies: tuple[NetworkPolicy, ...],
    ) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
        # The cluster policy part is shared by every endpoint those policies select.
        cp_key = (tuple(id(p) for p in cluster_policies), direction, w.ports)
        tiers = self._tier_memo.get(cp_key)
        if tiers is None:
            admin: list[Rule] = []
            baseline: list[Rule] = []
            for policy in cluster_policies:
                target = admin if policy.tier == "Admin" else baseline
                target.extend(self._cluster_policy_rules(policy, direction, w))
            tiers = self._tier_memo[cp_key] = (tuple(admin), tuple(baseline))
        netpol: list[Rule] = []
        isolated_by: list[str] = []
        for np in network_policies:
            if direction.value not in np.policy_types:
                continue
            isolated_by.append(np.id)
            netpol.extend(self._network_policy_rules(np, direction, w))
        if isolated_by:
            netpol.append(ISOLATION_DENY)
        return (*tiers[0], *netpol, *tiers[1]), tuple(isolated_by)


def compile_cluster(
    cluster: Cluster,
    workloads: Iterable[Workload] | None = None,
    subjects: Iterable[Workload] | None = None,
) -> CompiledCluster:
    """The IR of each of `subjects` (default: every workload of the universe), with
    selectors resolved against the universe `workloads` (default: the cluster's)."""
    universe = list(cluster.workloads if workloads is None else workloads)
    compiler = _Compiler(cluster, universe)
    ingress: dict[EndpointKey, EndpointRules] = {}
    egress: dict[EndpointKey, EndpointRules] = {}
    for w in universe if subjects is None else subjects:
        key = endpoint_key(w)
        ingress[key] = compiler.endpoint_rules(w, Direction.INGRESS)
        egress[key] = compiler.endpoint_rules(w, Direction.EGRESS)
    return CompiledCluster(
        endpoints={endpoint_key(w): w for w in universe}, ingress=ingress, egress=egress
    )
