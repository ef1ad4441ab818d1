"""The two readings of the spec agree: the compiled rule IR (`policy.compile`, read by
`policy.decide`) and the spec-literal evaluator (`policy.evaluate`) give the same verdict,
and the same deciding tier, policy and rule, for every flow of random clusters; so does
the IR flattened for dataplanes without jumps (`policy.flatten`); and `analysis.reach`
(classes, bit-mask partitions, port-set algebra) agrees with all of them.

Flows: every ordered pair of endpoints (workloads, and two addresses outside the
cluster, one of them inside the pod /29 but owned by no pod) x TCP/UDP/SCTP x probe ports
chosen on and around the ports policies use.
"""

from __future__ import annotations

import ipaddress

from hypothesis import HealthCheck, given, settings
from policy_strategies import EXTERNAL_IPS, PROBE_PORTS, PROTOCOLS, clusters

from vfpnet.analysis.external import destination_ranges, source_ranges
from vfpnet.analysis.nodes import node_ids
from vfpnet.analysis.reach import reach
from vfpnet.k8s.model import Cluster, Workload
from vfpnet.policy.compile import compile_cluster, endpoint_key
from vfpnet.policy.decide import Decision, decide
from vfpnet.policy.evaluate import DirectionVerdict, evaluate_flow
from vfpnet.policy.flatten import flatten
from vfpnet.policy.ir import Action, EndpointRules, PeerSet, Rule
from vfpnet.policy.portset import PortSet

Endpoint = Workload | str


def _matcher(end: Endpoint):  # type: ignore[no-untyped-def]
    if isinstance(end, Workload):
        key = endpoint_key(end)
        return lambda peers: peers.matches_endpoint(key)
    return lambda peers: peers.matches_address(end)


def _ir(rules: EndpointRules | None, peer: Endpoint, protocol: str, port: int) -> tuple:  # type: ignore[type-arg]
    if rules is None:  # an address outside the cluster has no policy
        return (True, "Default", None, None)
    d: Decision = decide(rules, _matcher(peer), protocol, port)
    p = d.provenance
    return (d.allowed, p.tier, p.policy, p.rule)


def _flat(flat: tuple[Rule, ...] | None, peer: Endpoint, protocol: str, port: int) -> tuple:  # type: ignore[type-arg]
    """First match over a flattened list (only ALLOW/DENY, ends with a catch-all)."""
    if flat is None:
        return (True, "Default", None, None)
    matches = _matcher(peer)
    for rule in flat:
        if rule.ports.contains(protocol, port) and matches(rule.peers):
            p = rule.provenance
            return (rule.action is Action.ALLOW, p.tier, p.policy, p.rule)
    raise AssertionError("a flattened list ends with a rule that matches everything")


def _ev(v: DirectionVerdict) -> tuple:  # type: ignore[type-arg]
    return (v.allowed, v.tier, v.policy, v.rule)


def _name(end: Endpoint) -> str:
    return f"{end.id}[{end.kind}]" if isinstance(end, Workload) else end


def _check(cluster: Cluster) -> None:
    compiled = compile_cluster(cluster)
    ends: list[Endpoint] = [*cluster.workloads, *EXTERNAL_IPS]
    ids = node_ids(cluster.workloads)
    result = reach(cluster)
    pairs = [(c.src, c.dst) for c in result.connections]
    assert pairs == sorted(set(pairs)), "connections sorted, one per pair"
    assert all(c.src != c.dst and not c.allowed.is_empty() for c in result.connections)
    reached = {(c.src, c.dst): c.allowed for c in result.connections}
    flat_egress = {k: flatten(r) for k, r in compiled.egress.items()}
    flat_ingress = {k: flatten(r) for k, r in compiled.ingress.items()}
    for src in ends:
        egress = compiled.egress[endpoint_key(src)] if isinstance(src, Workload) else None
        src_flat = flat_egress[endpoint_key(src)] if isinstance(src, Workload) else None
        for dst in ends:
            if src is dst:
                continue
            ingress = compiled.ingress[endpoint_key(dst)] if isinstance(dst, Workload) else None
            dst_flat = flat_ingress[endpoint_key(dst)] if isinstance(dst, Workload) else None
            pair = (ids[src], ids[dst]) if isinstance(src, Workload) and isinstance(
                dst, Workload) else None
            for protocol in PROTOCOLS:
                for port in PROBE_PORTS:
                    verdict = evaluate_flow(cluster, src, dst, protocol, port)
                    flow = f"{_name(src)} -> {_name(dst)} {protocol}/{port}"
                    assert _ir(egress, dst, protocol, port) == _ev(verdict.egress), flow
                    assert _ir(ingress, src, protocol, port) == _ev(verdict.ingress), flow
                    assert _flat(src_flat, dst, protocol, port) == _ev(verdict.egress), flow
                    assert _flat(dst_flat, src, protocol, port) == _ev(verdict.ingress), flow
                    if pair is not None:
                        ports = reached.get(pair)
                        in_reach = ports is not None and ports.contains(protocol, port)
                        assert in_reach == verdict.allowed, flow
    _check_ranges(cluster, reached, ids)


def _check_ranges(
    cluster: Cluster, reached: dict[tuple[str, str], PortSet], ids: dict[Workload, str]
) -> None:
    """Every address of an IPBlock range is decided as reach says for the whole range:
    probe its first and last address."""
    for ranges, outward in ((source_ranges(cluster), False), (destination_ranges(cluster), True)):
        for r in ranges:
            for ip in {str(ipaddress.IPv4Address(r.first)), str(ipaddress.IPv4Address(r.last))}:
                for w in cluster.workloads:
                    pair = (ids[w], r.name) if outward else (r.name, ids[w])
                    ports = reached.get(pair)
                    for protocol in PROTOCOLS:
                        for port in PROBE_PORTS:
                            src, dst = (w, ip) if outward else (ip, w)
                            verdict = evaluate_flow(cluster, src, dst, protocol, port)
                            in_reach = ports is not None and ports.contains(protocol, port)
                            assert in_reach == verdict.allowed, f"{pair} {protocol}/{port} {ip}"


@settings(
    max_examples=500, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(clusters())
def test_compiled_ir_and_evaluator_agree_flow_by_flow(cluster: Cluster) -> None:
    _check(cluster)


def test_peer_set_of_address_ignores_endpoints() -> None:
    assert not PeerSet(endpoints=frozenset({"x/Pod/a"})).matches_address("10.0.0.1")
