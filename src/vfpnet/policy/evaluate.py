"""The spec-literal evaluator: is one flow allowed, and what decided it?

This module is the slow, obvious reading of the specifications, straight from the API
objects of `vfpnet.k8s.model`; `policy.compile` is the fast one, and property tests hold
the two equal. Each function mirrors a sentence of the spec; nothing is precomputed.

A flow is (source, destination, protocol, destination port). Each end is a `Workload`
(a pod, or the pods of a controller's template) or an IP address string (an endpoint
outside the cluster). A connection is allowed when egress is allowed at the source AND
ingress is allowed at the destination. Each direction is decided by the precedence of
ClusterNetworkPolicy (and DESIGN.md):

1. Admin tier: cluster policies whose subject selects the pod, lowest priority number
   first, rules in written order. The first rule whose peers and ports match decides:
   Accept allows, Deny denies, Pass skips every remaining Admin-tier rule.
2. NetworkPolicy: if any NetworkPolicy of the pod's namespace selects the pod and has
   this direction in its (effective) policyTypes, the pod is isolated in this direction
   and the traffic is allowed only if some rule of those policies allows it (rules are
   additive; their order does not matter). Otherwise this stage does not decide.
3. Baseline tier: like the Admin tier (Baseline ClusterNetworkPolicies by priority, then
   the BaselineAdminNetworkPolicy); Pass skips to the default.
4. Default: allowed.

NetworkPolicy matching, as the v1 API says: an empty `from`/`to` list matches every
peer; an empty `ports` list matches every port and protocol; one peer's podSelector and
namespaceSelector are ANDed, the peers of a list ORed; a podSelector alone selects pods of
the policy's namespace; an ipBlock matches addresses in `cidr` and in no `except`.

Choices where the specs are silent (compile makes the same ones):

- An endpoint given as an IP address has no policy of its own (its direction is always
  allowed, tier "Default") and is matched only by ipBlock / `networks` peers, never by a
  selector, even if a pod has that IP.
- A pod is matched by an ipBlock / `networks` peer only through an address it is known
  to have (`Workload.ips`, from status.podIP(s)); with several, any one inside suffices.
  Pod templates of controllers have no known address.
- Host-network pods are treated as ordinary pods: selected by policies and matched by
  selectors like any other. NetworkPolicy leaves them undefined; the ClusterNetworkPolicy
  text excludes them from subjects and pod/namespace peers, but from manifests alone
  analyzers (netpol-analyzer) treat them as pods, and so do we (`Workload.host_network`
  is kept for dataplanes, which see such pods as node traffic).
- `nodes` peers (the model has no nodes) and `domainNames` peers (no DNS) match nothing.
- A named port resolves on the destination pod: for NetworkPolicy the containerPort with
  that name AND the port's protocol; for cluster policies (which give no protocol) the
  containerPort with that name, on its own protocol. Towards an IP address a named port
  matches nothing.
- Equal priorities in a tier are ordered by name, then kind (CNP, ANP, BANP); BANP comes
  after every Baseline ClusterNetworkPolicy (`model.cluster_policy_order`).
- Provenance when NetworkPolicies allow: the first allowing rule in policy order
  (namespace, name) and rule order. When they isolate without allowing: tier
  "NetworkPolicy", policy None, rule None, the isolating policies named in `reason`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal, TypeAlias

from vfpnet.k8s.model import (
    PROTOCOLS,
    Cluster,
    ClusterPolicy,
    ClusterPolicyPeer,
    ClusterPolicyPort,
    ClusterPolicyRule,
    ClusterPolicySubject,
    IPAddress,
    IPBlock,
    IPNetwork,
    LabelSelector,
    NamespacedPod,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    PolicyType,
    Protocol,
    Tier,
    Workload,
)
from vfpnet.k8s.namedport import named_ports, resolve_named_port
from vfpnet.k8s.selector import selector_matches

Endpoint: TypeAlias = Workload | str
"""A flow end: a workload, or the IP address of something outside the cluster."""

VerdictTier: TypeAlias = Literal["Admin", "NetworkPolicy", "Baseline", "Default"]


@dataclass(frozen=True)
class DirectionVerdict:
    """The decision for one direction (egress at the source, ingress at the destination).

    `policy`: "NS/NAME" for a NetworkPolicy, "NAME" for a cluster policy, None for a
    default; `rule`: 0-based index in that policy's ingress or egress list, or None.
    """

    allowed: bool
    tier: VerdictTier
    policy: str | None
    rule: int | None
    reason: str


@dataclass(frozen=True)
class FlowVerdict:
    """`allowed` is `egress.allowed and ingress.allowed`."""

    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict


@dataclass(frozen=True)
class DirectedFlow:
    """One direction of a flow as seen by the pod whose policies decide it (`subject`):
    `peer` is the other end, `destination` the flow's destination (where named ports
    resolve)."""

    subject: Workload
    peer: Endpoint
    direction: PolicyType
    protocol: Protocol
    port: int
    destination: Endpoint


def evaluate_flow(
    cluster: Cluster, src: Endpoint, dst: Endpoint, protocol: str, port: int
) -> FlowVerdict:
    """Whether `src` may open a connection to `dst` on `protocol`/`port`, and why.

    Raises ValueError for a protocol other than TCP/UDP/SCTP, a port outside 1-65535, or
    an endpoint string that is not an IP address.
    """
    proto = _protocol(protocol)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not in 1-65535")
    for end in (src, dst):
        if isinstance(end, str):
            ipaddress.ip_address(end)
    if isinstance(src, Workload):
        egress = evaluate_direction(cluster, DirectedFlow(src, dst, "Egress", proto, port, dst))
    else:
        egress = _external("egress", src)
    if isinstance(dst, Workload):
        ingress = evaluate_direction(cluster, DirectedFlow(dst, src, "Ingress", proto, port, dst))
    else:
        ingress = _external("ingress", dst)
    return FlowVerdict(egress.allowed and ingress.allowed, egress, ingress)


def _protocol(protocol: str) -> Protocol:
    for known in PROTOCOLS:
        if protocol.upper() == known:
            return known
    raise ValueError(f"protocol {protocol!r} is not TCP, UDP or SCTP")


def _external(direction: str, address: str) -> DirectionVerdict:
    return DirectionVerdict(
        True, "Default", None, None, f"{direction} at {address}: outside the cluster, no policy"
    )


def evaluate_direction(cluster: Cluster, flow: DirectedFlow) -> DirectionVerdict:
    """Admin tier, then NetworkPolicy, then Baseline tier, then the default (allow)."""
    passed: list[str] = []
    verdict = _tier(cluster, flow, "Admin", passed)
    if verdict is not None:
        return verdict
    verdict = _network_policies(cluster, flow)
    if verdict is not None:
        return verdict
    verdict = _tier(cluster, flow, "Baseline", passed)
    if verdict is not None:
        return verdict
    why = "no policy decided" if not passed else "passed by " + ", ".join(passed)
    return DirectionVerdict(True, "Default", None, None, f"{why}: allowed by default")


# --- cluster policies (ClusterNetworkPolicy, AdminNetworkPolicy, BaselineANP) ------------


def _tier(
    cluster: Cluster, flow: DirectedFlow, tier: Tier, passed: list[str]
) -> DirectionVerdict | None:
    """The first matching rule of the tier's policies, in order; Pass ends the tier."""
    for policy in cluster.cluster_policies:
        if policy.tier != tier or not subject_selects(cluster, policy.subject, flow.subject):
            continue
        rules = policy.ingress if flow.direction == "Ingress" else policy.egress
        for index, rule in enumerate(rules):
            if not cluster_rule_matches(cluster, rule, flow):
                continue
            where = _rule_label(policy, flow.direction, index, rule)
            if rule.action == "Pass":
                passed.append(where)
                return None
            return DirectionVerdict(
                rule.action == "Accept", tier, policy.name, index,
                f"{where}: {rule.action}",
            )
    return None


def _rule_label(
    policy: ClusterPolicy, direction: PolicyType, index: int, rule: ClusterPolicyRule
) -> str:
    named = f" ({rule.name})" if rule.name else ""
    return f"{policy.kind} {policy.name} {direction.lower()}[{index}]{named}"


def subject_selects(cluster: Cluster, subject: ClusterPolicySubject, pod: Workload) -> bool:
    """`subject.namespaces`: every pod of the selected namespaces; `subject.pods`: the
    selected pods of the selected namespaces."""
    if subject.namespaces is not None:
        return _namespace_selected(cluster, subject.namespaces, pod)
    assert subject.pods is not None
    return _namespaced_pod_selects(cluster, subject.pods, pod)


def _namespace_selected(cluster: Cluster, selector: LabelSelector, pod: Workload) -> bool:
    return selector_matches(selector, cluster.namespace_labels(pod.namespace))


def _namespaced_pod_selects(cluster: Cluster, pods: NamespacedPod, pod: Workload) -> bool:
    return _namespace_selected(cluster, pods.namespace_selector, pod) and selector_matches(
        pods.pod_selector, pod.labels
    )


def cluster_rule_matches(cluster: Cluster, rule: ClusterPolicyRule, flow: DirectedFlow) -> bool:
    """"If any element [of from/to] matches" the peer, and the protocol/port matches
    (no ports: every port)."""
    if not any(cluster_peer_matches(cluster, peer, flow.peer) for peer in rule.peers):
        return False
    if rule.ports is None:
        return True
    return any(_cluster_port_matches(p, flow) for p in rule.ports)


def cluster_peer_matches(cluster: Cluster, peer: ClusterPolicyPeer, endpoint: Endpoint) -> bool:
    """namespaces/pods match pods by labels; networks match addresses (a pod through its
    known IPs); nodes and domainNames match nothing here."""
    if peer.networks is not None:
        return _address_in_any(endpoint, peer.networks)
    if not isinstance(endpoint, Workload):
        return False
    if peer.namespaces is not None:
        return _namespace_selected(cluster, peer.namespaces, endpoint)
    if peer.pods is not None:
        return _namespaced_pod_selects(cluster, peer.pods, endpoint)
    return False  # nodes, domainNames


def _cluster_port_matches(port: ClusterPolicyPort, flow: DirectedFlow) -> bool:
    if port.name is not None:
        dst = flow.destination
        if not isinstance(dst, Workload):
            return False
        return any(
            cp.protocol == flow.protocol and cp.port == flow.port
            for cp in named_ports(dst, port.name)
        )
    assert port.start is not None and port.end is not None
    return port.protocol == flow.protocol and port.start <= flow.port <= port.end


# --- NetworkPolicy v1 ---------------------------------------------------------------------


def _network_policies(cluster: Cluster, flow: DirectedFlow) -> DirectionVerdict | None:
    selecting = [
        policy
        for policy in cluster.network_policies
        if policy_selects(policy, flow.subject) and flow.direction in policy.policy_types
    ]
    if not selecting:
        return None
    for policy in selecting:
        rules = policy.ingress if flow.direction == "Ingress" else policy.egress
        for index, rule in enumerate(rules):
            if network_policy_rule_matches(cluster, policy, rule, flow):
                return DirectionVerdict(
                    True, "NetworkPolicy", policy.id, index,
                    f"NetworkPolicy {policy.id} {flow.direction.lower()}[{index}] allows it",
                )
    names = ", ".join(p.id for p in selecting)
    return DirectionVerdict(
        False, "NetworkPolicy", None, None,
        f"{flow.subject.id} is isolated for {flow.direction.lower()} by {names} "
        "and no rule allows it",
    )


def policy_selects(policy: NetworkPolicy, pod: Workload) -> bool:
    """A NetworkPolicy applies to the pods of its namespace matched by its podSelector."""
    return pod.namespace == policy.namespace and selector_matches(policy.pod_selector, pod.labels)


def network_policy_rule_matches(
    cluster: Cluster, policy: NetworkPolicy, rule: NetworkPolicyRule, flow: DirectedFlow
) -> bool:
    """Traffic matches a rule if it matches at least one of `ports` (empty: all) AND
    comes from / goes to at least one of the peers (empty: all)."""
    if rule.ports and not any(_np_port_matches(p, flow) for p in rule.ports):
        return False
    if not rule.peers:
        return True
    return any(np_peer_matches(cluster, policy, peer, flow.peer) for peer in rule.peers)


def _np_port_matches(port: NetworkPolicyPort, flow: DirectedFlow) -> bool:
    if port.protocol != flow.protocol:
        return False
    if port.port is None:
        return True
    if isinstance(port.port, str):
        dst = flow.destination
        if not isinstance(dst, Workload):
            return False
        return flow.port in resolve_named_port(dst, port.port, port.protocol)
    if port.end_port is not None:
        return port.port <= flow.port <= port.end_port
    return flow.port == port.port


def np_peer_matches(
    cluster: Cluster, policy: NetworkPolicy, peer: NetworkPolicyPeer, endpoint: Endpoint
) -> bool:
    """ipBlock: addresses (a pod through its known IPs). Otherwise a pod: podSelector
    alone selects in the policy's namespace, namespaceSelector alone selects every pod of
    the matching namespaces, both select the matching pods of the matching namespaces."""
    if peer.ip_block is not None:
        return _address_in_block(endpoint, peer.ip_block)
    if not isinstance(endpoint, Workload):
        return False
    if peer.namespace_selector is None:
        if endpoint.namespace != policy.namespace:
            return False
    elif not _namespace_selected(cluster, peer.namespace_selector, endpoint):
        return False
    return peer.pod_selector is None or selector_matches(peer.pod_selector, endpoint.labels)


# --- addresses -----------------------------------------------------------------------------


def _addresses(endpoint: Endpoint) -> tuple[IPAddress, ...]:
    if isinstance(endpoint, Workload):
        return endpoint.ips
    return (ipaddress.ip_address(endpoint),)


def _in(address: IPAddress, network: IPNetwork) -> bool:
    return address.version == network.version and address in network


def _address_in_block(endpoint: Endpoint, block: IPBlock) -> bool:
    return any(
        _in(a, block.cidr) and not any(_in(a, ex) for ex in block.except_)
        for a in _addresses(endpoint)
    )


def _address_in_any(endpoint: Endpoint, networks: tuple[IPNetwork, ...]) -> bool:
    return any(_in(a, n) for a in _addresses(endpoint) for n in networks)
