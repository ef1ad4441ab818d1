"""The flattened address rules decide every flow as the IR does (`policy.decide`), on
random clusters (the property suite's strategies): PASS, stages, excepts, named ports."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from property.policy_strategies import EXTERNAL_IPS, PROBE_PORTS, PROTOCOLS, clusters
from vfpnet.agent.flatten import PeerAddresses, first_match, flatten
from vfpnet.k8s.model import Cluster
from vfpnet.policy.compile import CompiledCluster, compile_cluster, endpoint_key
from vfpnet.policy.decide import decide
from vfpnet.policy.ir import Action, Direction


def address_in_cluster(compiled: CompiledCluster, ip: str) -> str | None:
    """The endpoint that owns `ip`, if any (an IR peer is then that endpoint, not an address)."""
    for key, w in compiled.endpoints.items():
        if any(str(own) == ip for own in w.ips):
            return key
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_flattened_rules_decide_as_the_ir(cluster: Cluster) -> None:
    compiled = compile_cluster(cluster)
    ips = {k: tuple(str(ip) for ip in w.ips) for k, w in compiled.endpoints.items()}
    resolve = PeerAddresses(ips.__getitem__)
    # Peers by address: single-address workloads (an address names one endpoint), and
    # addresses outside the cluster.
    peers: list[tuple[str, str | None]] = [
        (ip_list[0], key) for key, ip_list in ips.items() if len(ip_list) == 1
    ]
    peers += [(ip, None) for ip in EXTERNAL_IPS if address_in_cluster(compiled, ip) is None]
    for w in cluster.workloads:
        key = endpoint_key(w)
        for direction in Direction:
            rules = compiled.rules(key, direction)
            flat = flatten(rules, resolve)
            for ip, peer_key in peers:
                if peer_key == key:
                    continue

                def matches(peer_set, peer_key=peer_key, ip=ip):  # type: ignore[no-untyped-def]
                    if peer_key is not None:
                        return peer_set.matches_endpoint(peer_key)
                    return peer_set.matches_address(ip)

                for protocol in PROTOCOLS:
                    for port in PROBE_PORTS:
                        want = decide(rules, matches, protocol, port).allowed
                        got = first_match(flat, ip, protocol, port).action is Action.ALLOW
                        assert got == want, (key, direction, ip, protocol, port)
