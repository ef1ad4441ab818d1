"""evaluate_flow on NetworkPolicy v1, one semantic point per test."""

from __future__ import annotations

from evaluate_setup import allowed, build, flow, netpol, ns_sel, pod_sel

from vfpnet.policy.evaluate import DirectionVerdict


def test_no_policy_allows_everything_by_default() -> None:
    c = build()
    verdict = flow(c, "x/a", "y/b", 81, "SCTP")
    assert verdict.allowed
    assert verdict.egress == verdict.ingress == DirectionVerdict(
        True, "Default", None, None, "no policy decided: allowed by default"
    )


def test_policy_without_rules_denies_ingress_to_selected_pods_only() -> None:
    c = build(netpol("deny", "x", podSelector=pod_sel("a")))
    assert not allowed(c, "y/b", "x/a")
    assert allowed(c, "y/b", "x/b")
    assert allowed(c, "x/a", "y/b")  # egress of x/a is not isolated
    verdict = flow(c, "y/b", "x/a").ingress
    assert (verdict.allowed, verdict.tier, verdict.policy, verdict.rule) == (
        False, "NetworkPolicy", None, None
    )
    assert "x/deny" in verdict.reason


def test_empty_pod_selector_selects_every_pod_of_its_namespace_only() -> None:
    c = build(netpol("deny", "x"))
    assert not allowed(c, "z/c", "x/c")
    assert allowed(c, "x/c", "y/c")


def test_policy_types_omitted_with_egress_rules_isolate_both_directions() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("a"),
                     egress=[{"to": [{"podSelector": pod_sel("b")}]}]))
    assert not allowed(c, "x/a", "x/c")
    assert allowed(c, "x/a", "x/b")
    assert not allowed(c, "x/c", "x/a")  # Ingress inferred too, with no rules


def test_egress_only_policy_does_not_isolate_ingress() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("a"), policyTypes=["Egress"]))
    assert not allowed(c, "x/a", "x/b")
    assert allowed(c, "x/b", "x/a")


def test_rules_of_a_direction_not_in_policy_types_are_ignored() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("a"), policyTypes=["Egress"],
                     ingress=[{"from": [{"podSelector": pod_sel("b")}]}],
                     egress=[{"to": [{"podSelector": pod_sel("b")}]}]))
    assert allowed(c, "x/c", "x/a")  # ingress rules ignored: not isolated, default allow
    verdict = flow(c, "x/c", "x/a").ingress
    assert verdict.tier == "Default"


def test_rule_with_no_peers_and_no_ports_allows_everything() -> None:
    c = build(netpol("p", "x", ingress=[{}]))
    assert allowed(c, "z/c", "x/a", 9999, "UDP")


def test_pod_selector_peer_alone_selects_in_the_policy_namespace() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [{"podSelector": pod_sel("b")}]}]))
    assert allowed(c, "x/b", "x/a")
    assert not allowed(c, "y/b", "x/a")


def test_namespace_selector_peer_alone_selects_all_pods_of_matching_namespaces() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [{"namespaceSelector": ns_sel("y")}]}]))
    assert allowed(c, "y/a", "x/a")
    assert allowed(c, "y/c", "x/a")
    assert not allowed(c, "x/b", "x/a")


def test_empty_namespace_selector_selects_pods_of_every_namespace() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [{"namespaceSelector": {}}]}]))
    assert allowed(c, "z/c", "x/a")
    assert not allowed(c, "10.9.9.9", "x/a")  # not a pod


def test_namespace_and_pod_selector_in_one_peer_are_anded() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [
        {"namespaceSelector": ns_sel("y"), "podSelector": pod_sel("b")}]}]))
    assert allowed(c, "y/b", "x/a")
    assert not allowed(c, "y/c", "x/a")
    assert not allowed(c, "x/b", "x/a")


def test_separate_peers_are_ored() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [
        {"namespaceSelector": ns_sel("y")}, {"podSelector": pod_sel("b")}]}]))
    assert allowed(c, "y/c", "x/a")
    assert allowed(c, "x/b", "x/a")
    assert not allowed(c, "z/b", "x/a")


def test_namespace_selector_matches_the_automatic_name_label() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]))
    assert allowed(c, "z/a", "x/a")
    assert not allowed(c, "y/a", "x/a")


def test_ip_block_matches_external_addresses_minus_except() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [
        {"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}]}]))
    assert allowed(c, "192.168.7.7", "x/a")
    assert not allowed(c, "192.168.1.7", "x/a")
    assert not allowed(c, "10.0.0.1", "x/a")
    assert not allowed(c, "fd00::1", "x/a")


def test_ip_block_matches_a_pod_only_through_an_ip_it_is_known_to_have() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("c"),
                     ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]))
    assert allowed(c, "y/a", "x/c")  # y/a has status.podIP 10.0.2.1
    assert not allowed(c, "y/b", "x/c")  # y/b has no known IP


def test_ip_block_except_excludes_a_pod_ip() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("c"), ingress=[{"from": [
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.2.0/24"]}}]}]))
    assert allowed(c, "x/a", "x/c")
    assert not allowed(c, "y/a", "x/c")


def test_ip_block_written_with_host_bits_matches_its_whole_network() -> None:
    # upstream e2e writes the /4 "around the pod IP": 10.0.2.1/4 is 0.0.0.0/4
    c = build(netpol("p", "x", podSelector=pod_sel("c"), ingress=[{"from": [
        {"ipBlock": {"cidr": "10.0.2.1/4", "except": ["10.0.1.1/32"]}}]}]))
    assert allowed(c, "y/a", "x/c")
    assert allowed(c, "15.255.0.1", "x/c")
    assert not allowed(c, "x/a", "x/c")
    assert not allowed(c, "16.0.0.1", "x/c")


def test_egress_ip_block_to_external_and_to_pod() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("b"), egress=[{"to": [
        {"ipBlock": {"cidr": "10.0.1.0/24"}}]}]))
    assert allowed(c, "x/b", "10.0.1.200")
    assert allowed(c, "x/b", "x/a")  # x/a is 10.0.1.1
    assert not allowed(c, "x/b", "x/c")
    assert not allowed(c, "x/b", "8.8.8.8")


def test_numeric_port_matches_only_that_port_and_protocol() -> None:
    c = build(netpol("p", "x", ingress=[{"ports": [{"port": 80}]}]))
    assert allowed(c, "y/a", "x/a", 80, "TCP")
    assert not allowed(c, "y/a", "x/a", 81, "TCP")
    assert not allowed(c, "y/a", "x/a", 80, "UDP")


def test_port_without_number_matches_every_port_of_its_protocol() -> None:
    c = build(netpol("p", "x", ingress=[{"ports": [{"protocol": "UDP"}]}]))
    assert allowed(c, "y/a", "x/a", 12345, "UDP")
    assert not allowed(c, "y/a", "x/a", 80, "TCP")


def test_end_port_makes_an_inclusive_range() -> None:
    c = build(netpol("p", "x", ingress=[{"ports": [
        {"protocol": "SCTP", "port": 80, "endPort": 90}]}]))
    assert allowed(c, "y/a", "x/a", 80, "SCTP")
    assert allowed(c, "y/a", "x/a", 90, "SCTP")
    assert not allowed(c, "y/a", "x/a", 91, "SCTP")
    assert not allowed(c, "y/a", "x/a", 79, "SCTP")


def test_named_port_resolves_on_the_destination_pod_by_name_and_protocol() -> None:
    c = build(netpol("p", "x", ingress=[{"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]))
    assert allowed(c, "y/a", "x/a", 81, "UDP")
    assert not allowed(c, "y/a", "x/a", 80, "UDP")
    assert not allowed(c, "y/a", "x/a", 81, "TCP")


def test_named_port_with_wrong_protocol_matches_nothing() -> None:
    # serve-81-udp is a UDP container port; the policy port defaults to TCP
    c = build(netpol("p", "x", ingress=[{"ports": [{"port": "serve-81-udp"}]}]))
    assert not allowed(c, "y/a", "x/a", 81, "TCP")
    assert not allowed(c, "y/a", "x/a", 81, "UDP")


def test_named_port_on_egress_resolves_on_the_destination_not_the_source() -> None:
    dst = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "odd", "namespace": "y", "labels": {"pod": "odd"}},
           "spec": {"containers": [{"name": "c", "image": "i",
                                    "ports": [{"containerPort": 8443, "name": "serve-80-tcp"}]}]}}
    c = build(dst, netpol("p", "x", podSelector=pod_sel("a"), egress=[
        {"ports": [{"port": "serve-80-tcp"}]}]))
    assert allowed(c, "x/a", "y/odd", 8443)
    assert not allowed(c, "x/a", "y/odd", 80)
    assert allowed(c, "x/a", "y/b", 80)


def test_named_port_towards_an_external_address_matches_nothing() -> None:
    c = build(netpol("p", "x", podSelector=pod_sel("a"), egress=[
        {"ports": [{"port": "serve-80-tcp"}]}]))
    assert not allowed(c, "x/a", "1.2.3.4", 80)


def test_ports_and_peers_of_one_rule_must_both_match() -> None:
    c = build(netpol("p", "x", ingress=[{"from": [{"namespaceSelector": ns_sel("y")}],
                                         "ports": [{"port": 81}]}]))
    assert allowed(c, "y/a", "x/a", 81)
    assert not allowed(c, "y/a", "x/a", 80)
    assert not allowed(c, "z/a", "x/a", 81)


def test_rules_of_several_policies_add_up() -> None:
    c = build(netpol("p1", "x", ingress=[{"from": [{"namespaceSelector": ns_sel("y")}]}]),
              netpol("p2", "x", podSelector=pod_sel("a"),
                     ingress=[{"from": [{"namespaceSelector": ns_sel("z")}]}]))
    assert allowed(c, "y/c", "x/a")
    assert allowed(c, "z/c", "x/a")
    assert not allowed(c, "z/c", "x/b")  # only p1 selects x/b


def test_connection_needs_egress_at_source_and_ingress_at_destination() -> None:
    c = build(netpol("out", "x", podSelector=pod_sel("a"), policyTypes=["Egress"],
                     egress=[{"to": [{"namespaceSelector": ns_sel("y")}]}]),
              netpol("in", "y", podSelector=pod_sel("b"), ingress=[{"from": [
                  {"namespaceSelector": ns_sel("z")}]}]))
    verdict = flow(c, "x/a", "y/b")
    assert verdict.egress.allowed and not verdict.ingress.allowed and not verdict.allowed
    assert allowed(c, "x/a", "y/c")
    assert not allowed(c, "x/a", "z/c")


def test_allow_names_the_first_allowing_policy_and_rule() -> None:
    c = build(netpol("b-second", "x", ingress=[{"ports": [{"port": 81}]},
                                                {"from": [{"namespaceSelector": {}}]}]),
              netpol("a-first", "x", ingress=[{"ports": [{"port": 82}]}]))
    verdict = flow(c, "y/a", "x/a", 80).ingress
    assert (verdict.allowed, verdict.tier, verdict.policy, verdict.rule) == (
        True, "NetworkPolicy", "x/b-second", 1
    )
    verdict = flow(c, "y/a", "x/a", 82).ingress
    assert (verdict.policy, verdict.rule) == ("x/a-first", 0)


HOST_POD = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "h", "namespace": "x", "labels": {"pod": "a"}},
            "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "i"}]},
            "status": {"podIP": "172.16.0.5"}}


def test_host_network_pod_is_matched_by_selectors_like_any_pod() -> None:
    c = build(HOST_POD, netpol("p", "x", podSelector=pod_sel("b"),
                               ingress=[{"from": [{"podSelector": pod_sel("a")}]}]))
    assert allowed(c, "x/h", "x/b")
    assert not allowed(c, "x/c", "x/b")


def test_host_network_pod_is_selected_by_policies_like_any_pod() -> None:
    c = build(HOST_POD, netpol("q", "x", podSelector=pod_sel("a"), policyTypes=["Egress"],
                               egress=[{"to": [{"ipBlock": {"cidr": "172.16.0.0/16"}}]}]))
    assert not allowed(c, "x/h", "x/c")
    assert allowed(c, "x/a", "x/h")  # matched by its address through ipBlock
