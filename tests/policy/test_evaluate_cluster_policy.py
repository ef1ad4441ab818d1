"""evaluate_flow on the tiers: ClusterNetworkPolicy v1alpha2, AdminNetworkPolicy and
BaselineAdminNetworkPolicy v1alpha1, and their precedence around NetworkPolicy."""

from __future__ import annotations

from typing import Any

import pytest
from evaluate_setup import (
    ALL_NS,
    allowed,
    anp,
    banp,
    build,
    cnp,
    flow,
    netpol,
    ns_sel,
    pod_sel,
)

FROM_ALL: dict[str, Any] = {"from": [ALL_NS]}
TO_ALL: dict[str, Any] = {"to": [ALL_NS]}


def tcp(port: int) -> dict[str, Any]:
    return {"tcp": {"destinationPort": {"number": port}}}


def test_admin_deny_overrides_a_network_policy_allow() -> None:
    c = build(netpol("allow", "x", ingress=[{}]),
              cnp("deny", "Admin", 5, ingress=[{"action": "Deny", **FROM_ALL}]))
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.tier, verdict.policy, verdict.rule) == (
        False, "Admin", "deny", 0
    )


def test_admin_accept_overrides_network_policy_isolation() -> None:
    c = build(netpol("deny", "x"),
              cnp("accept", "Admin", 5, ingress=[{"action": "Accept", **FROM_ALL}]))
    assert allowed(c, "y/a", "x/a")
    assert flow(c, "y/a", "x/a").ingress.tier == "Admin"


def test_admin_pass_hands_the_decision_to_network_policy() -> None:
    c = build(netpol("deny", "x"),
              cnp("pass", "Admin", 1, ingress=[{"action": "Pass", **FROM_ALL}]),
              cnp("accept", "Admin", 2, ingress=[{"action": "Accept", **FROM_ALL}]))
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.tier) == (False, "NetworkPolicy")


def test_admin_pass_without_network_policy_reaches_baseline() -> None:
    c = build(cnp("pass", "Admin", 1, ingress=[{"action": "Pass", **FROM_ALL}]),
              cnp("base", "Baseline", 1, ingress=[{"action": "Deny", **FROM_ALL}]))
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.tier, verdict.policy) == (False, "Baseline", "base")


def test_baseline_applies_only_where_no_network_policy_selects_the_pod() -> None:
    c = build(netpol("allow-a", "x", podSelector=pod_sel("a"), ingress=[{}]),
              cnp("base", "Baseline", 1, ingress=[{"action": "Deny", **FROM_ALL}]))
    assert allowed(c, "y/a", "x/a")
    assert not allowed(c, "y/a", "x/b")


def test_network_policy_for_the_other_direction_does_not_override_baseline() -> None:
    c = build(netpol("egress-only", "x", policyTypes=["Egress"], egress=[{}]),
              cnp("base", "Baseline", 1, ingress=[{"action": "Deny", **FROM_ALL}]))
    assert not allowed(c, "y/a", "x/a")


def test_baseline_pass_falls_through_to_the_default_allow() -> None:
    c = build(cnp("pass", "Baseline", 1, ingress=[{"action": "Pass", **FROM_ALL}]),
              cnp("deny", "Baseline", 2, ingress=[{"action": "Deny", **FROM_ALL}]))
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.tier) == (True, "Default")
    assert "ClusterNetworkPolicy pass ingress[0]" in verdict.reason


def test_lower_priority_number_is_checked_first() -> None:
    c = build(cnp("later", "Admin", 20, ingress=[{"action": "Deny", **FROM_ALL}]),
              cnp("sooner", "Admin", 10, ingress=[{"action": "Accept", **FROM_ALL}]))
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.policy) == (True, "sooner")


def test_equal_priorities_are_ordered_by_name() -> None:
    c = build(cnp("b", "Admin", 10, ingress=[{"action": "Deny", **FROM_ALL}]),
              cnp("a", "Admin", 10, ingress=[{"action": "Accept", **FROM_ALL}]))
    assert flow(c, "y/a", "x/a").ingress.policy == "a"


def test_rules_inside_a_policy_are_checked_in_order() -> None:
    c = build(cnp("p", "Admin", 1, ingress=[
        {"action": "Accept", "from": [{"namespaces": ns_sel("y")}], "protocols": [tcp(80)]},
        {"action": "Deny", **FROM_ALL},
    ]))
    assert allowed(c, "y/a", "x/a", 80)
    verdict = flow(c, "y/a", "x/a", 81).ingress
    assert (verdict.allowed, verdict.rule) == (False, 1)


def test_subject_by_pods_selects_pods_in_selected_namespaces() -> None:
    subject = {"pods": {"namespaceSelector": ns_sel("x"), "podSelector": pod_sel("a")}}
    c = build(cnp("p", "Admin", 1, subject, ingress=[{"action": "Deny", **FROM_ALL}]))
    assert not allowed(c, "z/c", "x/a")
    assert allowed(c, "z/c", "x/b")
    assert allowed(c, "z/c", "y/a")


def test_subject_by_namespaces_selects_every_pod_there() -> None:
    c = build(cnp("p", "Admin", 1, {"namespaces": ns_sel("y")},
                  egress=[{"action": "Deny", **TO_ALL}]))
    assert not allowed(c, "y/c", "x/a")
    assert allowed(c, "x/c", "y/a")


def test_peer_pods_and_namespaces() -> None:
    c = build(cnp("p", "Admin", 1, ingress=[
        {"action": "Deny", "from": [{"pods": {"namespaceSelector": ns_sel("y"),
                                              "podSelector": pod_sel("b")}}]},
        {"action": "Accept", "from": [{"namespaces": ns_sel("z")}]},
    ]), netpol("deny", "x"))
    assert not allowed(c, "y/b", "x/c")
    assert not allowed(c, "y/c", "x/c")  # falls to the NetworkPolicy that isolates x
    assert allowed(c, "z/a", "x/c")


def test_ports_of_a_rule_number_range_and_protocol() -> None:
    c = build(cnp("p", "Admin", 1, ingress=[{"action": "Deny", **FROM_ALL, "protocols": [
        tcp(80), {"udp": {"destinationPort": {"range": {"start": 80, "end": 81}}}}]}]))
    assert not allowed(c, "y/a", "x/a", 80, "TCP")
    assert allowed(c, "y/a", "x/a", 81, "TCP")
    assert not allowed(c, "y/a", "x/a", 81, "UDP")
    assert allowed(c, "y/a", "x/a", 80, "SCTP")


def test_destination_named_port_uses_the_container_port_protocol() -> None:
    c = build(cnp("p", "Admin", 1, ingress=[{"action": "Deny", **FROM_ALL, "protocols": [
        {"destinationNamedPort": "serve-81-sctp"}]}]))
    assert not allowed(c, "y/a", "x/a", 81, "SCTP")
    assert allowed(c, "y/a", "x/a", 81, "TCP")
    assert allowed(c, "y/a", "x/a", 80, "SCTP")


def test_egress_named_port_resolves_on_the_destination_pod() -> None:
    c = build(cnp("p", "Admin", 1, egress=[{"action": "Deny", **TO_ALL, "protocols": [
        {"destinationNamedPort": "serve-80-udp"}]}]))
    assert not allowed(c, "x/a", "y/b", 80, "UDP")
    assert allowed(c, "x/a", "y/b", 80, "TCP")


def test_networks_peer_matches_external_addresses_and_pod_ips() -> None:
    c = build(cnp("p", "Admin", 1, egress=[
        {"action": "Deny", "to": [{"networks": ["10.0.2.0/24", "203.0.113.0/24"]}]}]))
    assert not allowed(c, "x/b", "203.0.113.9")
    assert not allowed(c, "x/b", "y/a")  # y/a is 10.0.2.1
    assert allowed(c, "x/b", "y/b")  # no known IP
    assert allowed(c, "x/b", "198.51.100.1")


def test_nodes_and_domain_names_peers_match_nothing() -> None:
    c = build(cnp("p", "Admin", 1, egress=[
        {"action": "Deny", "to": [{"nodes": {}}]},
        {"action": "Accept", "to": [{"domainNames": ["*.example.com"]}]},
    ]), cnp("q", "Admin", 2, egress=[{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]))
    assert allowed(c, "x/a", "y/b")
    verdict = flow(c, "x/a", "192.0.2.1").egress
    assert (verdict.allowed, verdict.policy) == (False, "q")


def test_ingress_peers_never_match_external_addresses() -> None:
    c = build(cnp("p", "Admin", 1, ingress=[{"action": "Deny", **FROM_ALL}]))
    assert allowed(c, "192.0.2.1", "x/a")
    assert not allowed(c, "y/b", "x/a")


def test_egress_accept_does_not_bypass_ingress_at_the_destination() -> None:
    c = build(cnp("out", "Admin", 1, {"namespaces": ns_sel("x")},
                  egress=[{"action": "Accept", **TO_ALL}]),
              netpol("deny", "y"))
    verdict = flow(c, "x/a", "y/a")
    assert verdict.egress.allowed and verdict.egress.tier == "Admin"
    assert not verdict.ingress.allowed and not verdict.allowed


@pytest.mark.parametrize(("action", "allows"), [("Allow", True), ("Deny", False)])
def test_admin_network_policy_v1alpha1_is_an_admin_tier_policy(action: str, allows: bool) -> None:
    c = build(netpol("deny", "x") if allows else netpol("allow", "x", ingress=[{}]),
              anp("a", 3, ingress=[{"action": action, **FROM_ALL,
                                    "ports": [{"portNumber": {"protocol": "TCP", "port": 80}}]}]))
    verdict = flow(c, "y/a", "x/a", 80).ingress
    assert (verdict.allowed, verdict.tier, verdict.policy) == (allows, "Admin", "a")
    assert flow(c, "y/a", "x/a", 81).ingress.tier == "NetworkPolicy"


def test_admin_network_policy_port_range_and_named_port() -> None:
    c = build(anp("a", 3, ingress=[{"action": "Deny", **FROM_ALL, "ports": [
        {"portRange": {"protocol": "UDP", "start": 80, "end": 81}},
        {"namedPort": "serve-80-sctp"}]}]))
    assert not allowed(c, "y/a", "x/a", 81, "UDP")
    assert not allowed(c, "y/a", "x/a", 80, "SCTP")
    assert allowed(c, "y/a", "x/a", 81, "SCTP")
    assert allowed(c, "y/a", "x/a", 80, "TCP")


def test_admin_network_policy_pass_goes_to_network_policy_then_baseline() -> None:
    c = build(anp("a", 3, ingress=[{"action": "Pass", **FROM_ALL}]),
              netpol("allow-b", "x", podSelector=pod_sel("b"), ingress=[{}]),
              banp(ingress=[{"action": "Deny", **FROM_ALL}]))
    assert allowed(c, "y/a", "x/b")
    verdict = flow(c, "y/a", "x/a").ingress
    assert (verdict.allowed, verdict.tier, verdict.policy) == (False, "Baseline", "default")


def test_banp_comes_after_baseline_cluster_network_policies() -> None:
    c = build(banp(ingress=[{"action": "Deny", **FROM_ALL}]),
              cnp("base", "Baseline", 1000, ingress=[{"action": "Accept", "from": [
                  {"namespaces": ns_sel("y")}]}]))
    assert flow(c, "y/a", "x/a").ingress.policy == "base"
    assert flow(c, "z/a", "x/a").ingress.policy == "default"
    assert not allowed(c, "z/a", "x/a")


def test_rules_without_ports_match_every_protocol() -> None:
    c = build(banp(egress=[{"action": "Deny", **TO_ALL}]))
    for protocol in ("TCP", "UDP", "SCTP"):
        assert not allowed(c, "x/a", "y/a", 65535, protocol)


def test_cluster_policy_with_no_rules_for_a_direction_does_not_affect_it() -> None:
    c = build(cnp("only-egress", "Admin", 1, egress=[{"action": "Deny", **TO_ALL}]))
    assert flow(c, "y/a", "x/a").ingress.tier == "Default"
    assert not flow(c, "y/a", "x/a").egress.allowed
