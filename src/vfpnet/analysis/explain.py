"""Why one flow between two workloads is allowed or denied.

Read from the same compiled rule IR as `reach` (so the two never disagree): egress at the
source towards the destination, ingress at the destination from the source, each with the
tier, policy and rule that decided, or the default that applied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from vfpnet.analysis.nodes import find_workload, fold_owned_pods, nodes_of
from vfpnet.analysis.result import DirectionVerdict, Explanation, Node
from vfpnet.errors import InputError
from vfpnet.k8s.model import PROTOCOLS, Cluster, Workload
from vfpnet.policy.compile import compile_cluster, endpoint_key
from vfpnet.policy.decide import Decision, decide
from vfpnet.policy.ir import DEFAULT_TIER, Direction, EndpointRules, PeerSet, Rule


def _rule_label(rule: Rule, direction: Direction) -> str:
    p = rule.provenance
    name = f" ({p.rule_name})" if p.rule_name else ""
    return f"{p.kind} {p.policy} {direction.value.lower()} rule {p.rule}{name}"


def _verdict(
    decision: Decision, rules: EndpointRules, direction: Direction, subject: str, peer: str,
    flow: str,
) -> DirectionVerdict:
    towards = f"to {peer}" if direction is Direction.EGRESS else f"from {peer}"
    passed = "".join(
        f"passed by {_rule_label(r, direction)}; " for r in decision.passed
    )
    rule = decision.rule
    if rule is None:
        if decision.passed:
            reason = f"{passed}no later rule decides {flow} {towards}: allowed by default"
        else:
            reason = (
                f"no policy rule for {direction.value.lower()} of {subject} matches {flow} "
                f"{towards}: allowed by default"
            )
        return DirectionVerdict(decision.allowed, DEFAULT_TIER, None, None, reason)
    p = rule.provenance
    if p.policy is None:  # the isolation deny of the NetworkPolicy stage
        policies = ", ".join(rules.isolated_by)
        reason = (
            f"{passed}{subject} is isolated for {direction.value.lower()} by NetworkPolicy "
            f"{policies} and no rule of them allows {flow} {towards}"
        )
        # As policy.evaluate does: an isolation default names no single policy.
        return DirectionVerdict(False, p.tier, None, None, reason, kind=p.kind)
    verb = {"Allow": "allows", "Deny": "denies"}[rule.action.value]
    reason = f"{passed}{_rule_label(rule, direction)} {verb} {flow} {towards}"
    return DirectionVerdict(decision.allowed, p.tier, p.policy, p.rule, reason, kind=p.kind)


Endpoint = Workload | str
"""A flow end: a workload, or an address outside the cluster (an IP address string)."""

def _outside(address: str, direction: Direction) -> DirectionVerdict:
    return DirectionVerdict(
        True, DEFAULT_TIER, None, None,
        f"{direction.value.lower()} at {address}: outside the cluster, no policy applies",
    )


def explain_flow(
    cluster: Cluster, src: Endpoint, dst: Endpoint, protocol: str, port: int
) -> Explanation:
    """The verdict of one flow, per direction, from the compiled IR. An end given as an IP
    address is outside the cluster: it has no policy, and only CIDR peers match it."""
    workloads = fold_owned_pods(cluster.workloads)
    subjects = [w for w in (src, dst) if isinstance(w, Workload)]
    compiled = compile_cluster(cluster, workloads, subjects=subjects)
    by_workload, _ = nodes_of(workloads)
    flow = f"{protocol}/{port}"

    def node(end: Endpoint) -> Node:
        return by_workload[end] if isinstance(end, Workload) else Node(end, "IPBlock", "", end)

    def matcher(end: Endpoint) -> Callable[[PeerSet], bool]:
        if isinstance(end, Workload):
            key = endpoint_key(end)
            return lambda peers: peers.matches_endpoint(key)
        return lambda peers: peers.matches_address(end)

    src_node, dst_node = node(src), node(dst)
    if isinstance(src, Workload):
        rules = compiled.egress[endpoint_key(src)]
        egress = _verdict(
            decide(rules, matcher(dst), protocol, port), rules, Direction.EGRESS,
            src_node.id, dst_node.id, flow,
        )
    else:
        egress = _outside(src, Direction.EGRESS)
    if isinstance(dst, Workload):
        rules = compiled.ingress[endpoint_key(dst)]
        ingress = _verdict(
            decide(rules, matcher(src), protocol, port), rules, Direction.INGRESS,
            dst_node.id, src_node.id, flow,
        )
    else:
        ingress = _outside(dst, Direction.INGRESS)
    return Explanation(src_node, dst_node, protocol, port, egress, ingress, cluster.warnings)


def explain(cluster: Cluster, src: str, dst: str, port: int, protocol: str = "TCP") -> Explanation:
    """`explain_flow` for ends named as on the command line: a workload (`NS/NAME`,
    `NS/NAME[Kind]`), or an address outside the cluster (`10.1.2.3`, or an IPBlock node of
    `reach` such as `0.0.0.0-9.255.255.255`, which stands for its first address)."""
    proto = protocol.upper()
    if proto not in PROTOCOLS:
        raise InputError(f"--protocol {protocol}: must be one of TCP, UDP, SCTP")
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port}: must be a port number from 1 to 65535")
    workloads = fold_owned_pods(cluster.workloads)
    src_w = _find(cluster, workloads, src, "--from")
    dst_w = _find(cluster, workloads, dst, "--to")
    return explain_flow(cluster, src_w, dst_w, proto, port)


def _address(ref: str, option: str) -> str | None:
    """The address `ref` stands for, or None when it names no address (but a workload)."""
    first, dash, last = ref.partition("-") if "/" not in ref else (ref, "", "")
    try:
        start = ipaddress.ip_address(first)
    except ValueError:
        return None
    if dash:
        # A typo in an IPBlock node must not quietly stand for some other range's address.
        try:
            end = ipaddress.ip_address(last)
        except ValueError:
            end = None
        if end is None or end.version != start.version or int(end) < int(start):
            raise InputError(f"{option} {ref}: not an IPBlock range FIRST-LAST (FIRST <= LAST)")
    return str(start)


def _find(cluster: Cluster, nodes: tuple[Workload, ...], ref: str, option: str) -> Endpoint:
    """The node named `ref`, the node a controller-made Pod named `ref` belongs to, or the
    address `ref` stands for."""
    address = _address(ref, option)
    if address is not None:
        return address
    try:
        return find_workload(nodes, ref, option)
    except InputError as not_a_node:
        try:
            pod = find_workload(cluster.workloads, ref, option)
        except InputError:
            raise not_a_node from None
        (folded,) = fold_owned_pods([pod])
        for w in nodes:
            if (w.namespace, w.kind, w.name) == (folded.namespace, folded.kind, folded.name):
                return w
        raise
