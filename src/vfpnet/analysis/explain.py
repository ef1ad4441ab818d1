"""Why one flow between two workloads is allowed or denied.

Read from the same compiled rule IR as `reach` (so the two never disagree): egress at the
source towards the destination, ingress at the destination from the source, each with the
tier, policy and rule that decided, or the default that applied.
"""

from __future__ import annotations

from vfpnet.analysis.nodes import find_workload, fold_owned_pods, nodes_of
from vfpnet.analysis.result import DirectionVerdict, Explanation
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


def explain_flow(
    cluster: Cluster, src: Workload, dst: Workload, protocol: str, port: int
) -> Explanation:
    """The verdict of one flow, per direction, from the compiled IR."""
    workloads = fold_owned_pods(cluster.workloads)
    compiled = compile_cluster(cluster, workloads, subjects=[src, dst])
    src_key, dst_key = endpoint_key(src), endpoint_key(dst)
    by_workload, _ = nodes_of(workloads)
    flow = f"{protocol}/{port}"

    def to_dst(peers: PeerSet) -> bool:
        return peers.matches_endpoint(dst_key)

    def from_src(peers: PeerSet) -> bool:
        return peers.matches_endpoint(src_key)

    egress_rules = compiled.egress[src_key]
    ingress_rules = compiled.ingress[dst_key]
    src_node, dst_node = by_workload[src], by_workload[dst]
    egress = _verdict(
        decide(egress_rules, to_dst, protocol, port), egress_rules, Direction.EGRESS,
        src_node.id, dst_node.id, flow,
    )
    ingress = _verdict(
        decide(ingress_rules, from_src, protocol, port), ingress_rules, Direction.INGRESS,
        dst_node.id, src_node.id, flow,
    )
    return Explanation(src_node, dst_node, protocol, port, egress, ingress, cluster.warnings)


def explain(cluster: Cluster, src: str, dst: str, port: int, protocol: str = "TCP") -> Explanation:
    """`explain_flow` for workloads named as on the command line (`NS/NAME[Kind]`)."""
    proto = protocol.upper()
    if proto not in PROTOCOLS:
        raise InputError(f"--protocol {protocol}: must be one of TCP, UDP, SCTP")
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port}: must be a port number from 1 to 65535")
    workloads = fold_owned_pods(cluster.workloads)
    src_w = find_workload(workloads, src, "--from")
    dst_w = find_workload(workloads, dst, "--to")
    return explain_flow(cluster, src_w, dst_w, proto, port)
