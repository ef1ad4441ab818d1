"""A VFP port's verdicts for HNS ACL policies, packet by packet."""

from __future__ import annotations

import pytest

from vfpnet.errors import InputError
from vfpnet.vfp import FlowTable, Packet, build_port
from vfpnet.vfp.packet import ICMP, SCTP, TCP, UDP

from .endpoints import acl, endpoint

POD = "10.240.0.5"
PEER = "10.240.0.9"


def tcp_in(sport: int = 40000, dport: int = 80, src: str = PEER) -> Packet:
    return Packet(TCP, src, sport, POD, dport)


def tcp_out(dport: int = 443, dst: str = PEER, sport: int = 50000) -> Packet:
    return Packet(TCP, POD, sport, dst, dport)


def test_endpoint_without_acls_allows_everything() -> None:
    port = build_port(endpoint("ep1", POD))
    assert port.process(tcp_in(), "in").verdict == "allow"
    assert port.process(tcp_out(), "out").verdict == "allow"


def test_lower_priority_number_wins() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Allow", "In", 200, rule_id="allow-200"),
            acl("Block", "In", 100, protocols="6", local_ports="80", rule_id="block-100"),
        )
    )
    v = port.evaluate(tcp_in(dport=80), "in")
    assert (v.verdict, v.rule, v.priority) == ("block", "block-100", 100)
    v = port.evaluate(tcp_in(dport=81), "in")
    assert (v.verdict, v.rule) == ("allow", "allow-200")


def test_allow_at_lower_number_beats_later_block() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Block", "In", 500, rule_id="block-all"),
            acl("Allow", "In", 100, protocols="6", local_ports="80", rule_id="allow-80"),
        )
    )
    assert port.evaluate(tcp_in(dport=80), "in").rule == "allow-80"
    assert port.evaluate(tcp_in(dport=80), "in").verdict == "allow"
    assert port.evaluate(tcp_in(dport=22), "in").verdict == "block"


def test_block_wins_over_allow_at_same_priority() -> None:
    for order in ((0, 1), (1, 0)):
        rules = [acl("Allow", "In", 100, rule_id="a"), acl("Block", "In", 100, rule_id="b")]
        port = build_port(endpoint("ep1", POD, *(rules[i] for i in order)))
        v = port.evaluate(tcp_in(), "in")
        assert (v.verdict, v.rule) == ("block", "b")


def test_any_acl_blocks_unmatched_traffic_by_default() -> None:
    port = build_port(
        endpoint("ep1", POD, acl("Allow", "In", 100, protocols="6", local_ports="80"))
    )
    v = port.evaluate(tcp_in(dport=8080), "in")
    assert v.verdict == "block"
    assert v.rule is None
    assert v.layer == "ACL_ENDPOINT_LAYER"
    assert v.group == "ACL_ENDPOINT_GROUP_IPV4_IN"
    assert "default" in v.reason


def test_default_block_covers_the_direction_without_acls() -> None:
    port = build_port(endpoint("ep1", POD, acl("Block", "Out", 100, remote="10.0.0.25/32")))
    assert port.evaluate(tcp_out(dst="10.0.0.25"), "out").rule is not None
    assert port.evaluate(tcp_out(dst="10.0.0.26"), "out").verdict == "block"
    inbound = port.evaluate(tcp_in(), "in")
    assert inbound.verdict == "block"
    assert inbound.group == "ACL_ENDPOINT_GROUP_IPV4_IN"


def test_lone_block_plus_allow_all_blocks_only_its_target() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Block", "Out", 500, remote="10.0.0.25"),
            acl("Allow", "Out", 1000),
            acl("Allow", "In", 1000),
        )
    )
    assert port.evaluate(tcp_out(dst="10.0.0.25"), "out").verdict == "block"
    assert port.evaluate(tcp_out(dst="10.0.0.26"), "out").verdict == "allow"
    assert port.evaluate(tcp_in(), "in").verdict == "allow"


def test_reply_of_allowed_connection_passes_against_default_block() -> None:
    port = build_port(endpoint("ep1", POD, acl("Allow", "Out", 100, protocols="6")))
    first = port.process(tcp_out(), "out")
    assert (first.verdict, first.flow) == ("allow", "new")
    reply = port.process(tcp_out().reply(), "in")
    assert (reply.verdict, reply.flow, reply.rule) == ("allow", "reply", first.rule)
    again = port.process(tcp_out(), "out")
    assert again.flow == "established"
    # A packet in from the same peer that is not a reply is not let in.
    assert port.process(tcp_in(sport=443, dport=50001), "in").verdict == "block"


def test_blocked_packet_creates_no_flow_for_its_reply() -> None:
    port = build_port(endpoint("ep1", POD, acl("Allow", "Out", 100, protocols="17")))
    assert port.process(tcp_out(), "out").verdict == "block"
    assert port.process(tcp_out().reply(), "in").verdict == "block"


def test_flow_expires_after_idle_ttl_and_is_renewed_by_traffic() -> None:
    now = [1000.0]
    port = build_port(
        endpoint("ep1", POD, acl("Allow", "Out", 100)),
        FlowTable(ttls={TCP: 240.0}, clock=lambda: now[0]),
    )
    port.process(tcp_out(), "out")
    now[0] += 200
    assert port.process(tcp_out().reply(), "in").flow == "reply"  # renews the flow
    now[0] += 200
    assert port.process(tcp_out().reply(), "in").flow == "reply"
    now[0] += 241
    assert port.process(tcp_out().reply(), "in").verdict == "block"


def test_udp_flow_uses_the_default_ttl() -> None:
    now = [0.0]
    port = build_port(
        endpoint("ep1", POD, acl("Allow", "Out", 100)),
        FlowTable(ttls={TCP: 240.0}, default_ttl=60.0, clock=lambda: now[0]),
    )
    dns = Packet(UDP, POD, 53000, "10.0.0.10", 53)
    port.process(dns, "out")
    now[0] += 61
    assert port.process(dns.reply(), "in").verdict == "block"


def test_host_rules_form_their_own_layer_that_must_also_allow() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Allow", "In", 1000),
            acl("Block", "In", 100, protocols="6", local_ports="22", rule_type="Host", rule_id="h"),
            acl("Allow", "In", 1000, rule_type="Host"),
        )
    )
    v = port.evaluate(tcp_in(dport=22), "in")
    assert (v.verdict, v.layer, v.rule) == ("block", "HOST_FIREWALL_LAYER", "h")
    assert [d.layer for d in v.layers] == ["ACL_ENDPOINT_LAYER", "HOST_FIREWALL_LAYER"]
    assert port.evaluate(tcp_in(dport=80), "in").verdict == "allow"


def test_switch_layer_without_rules_lets_host_layer_decide() -> None:
    port = build_port(
        endpoint(
            "ep1", POD, acl("Allow", "In", 100, local_ports="80", protocols="6", rule_type="Host")
        )
    )
    assert port.evaluate(tcp_in(dport=80), "in").layer == "HOST_FIREWALL_LAYER"
    blocked = port.evaluate(tcp_in(dport=81), "in")
    assert (blocked.verdict, blocked.layer) == ("block", "HOST_FIREWALL_LAYER")
    assert blocked.layers[0].action == "no-rules"


def test_outbound_meets_host_layer_before_switch_layer() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Block", "Out", 100, rule_id="switch-block"),
            acl("Block", "Out", 100, rule_type="Host", rule_id="host-block"),
        )
    )
    assert port.evaluate(tcp_out(), "out").rule == "host-block"


def test_pass_leaves_the_decision_to_the_next_layer() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl("Pass", "In", 100, remote="10.240.0.0/24", rule_id="pass"),
            acl("Block", "In", 200, rule_id="block"),
            acl("Allow", "In", 100, protocols="6", local_ports="80", rule_type="Host"),
        )
    )
    v = port.evaluate(tcp_in(dport=80), "in")
    assert v.verdict == "allow"
    assert v.layers[0].action == "pass"
    assert v.layer == "HOST_FIREWALL_LAYER"
    assert port.evaluate(tcp_in(dport=81), "in").layer == "HOST_FIREWALL_LAYER"
    outside = port.evaluate(tcp_in(dport=80, src="192.168.1.1"), "in")
    assert (outside.verdict, outside.rule) == ("block", "block")


def test_pass_with_no_further_layer_allows() -> None:
    port = build_port(
        endpoint("ep1", POD, acl("Pass", "In", 100, rule_id="p"), acl("Block", "In", 200))
    )
    v = port.evaluate(tcp_in(), "in")
    assert (v.verdict, v.rule, v.layer) == ("allow", "p", "ACL_ENDPOINT_LAYER")
    assert "passes" in v.reason


def test_ipv4_and_ipv6_groups_are_separate() -> None:
    ep = endpoint("ep1", POD, acl("Allow", "In", 100, remote="fd00::/64", rule_id="v6"))
    ep["IpConfigurations"].append({"IpAddress": "fd00::5", "PrefixLength": 64})
    port = build_port(ep)
    v6 = port.evaluate(Packet(TCP, "fd00::9", 1000, "fd00::5", 80), "in")
    assert (v6.verdict, v6.group) == ("allow", "ACL_ENDPOINT_GROUP_IPV6_IN")
    v4 = port.evaluate(tcp_in(), "in")
    assert (v4.verdict, v4.group) == ("block", "ACL_ENDPOINT_GROUP_IPV4_IN")
    groups = {g.name: len(g.rules) for g in port.layers[0].groups}
    assert groups["ACL_ENDPOINT_GROUP_IPV6_IN"] == 1
    assert groups["ACL_ENDPOINT_GROUP_IPV4_IN"] == 0


def test_rule_without_addresses_lands_in_both_families() -> None:
    port = build_port(endpoint("ep1", POD, acl("Allow", "In", 100)))
    assert [len(g.rules) for g in port.layers[0].groups] == [1, 0, 1, 0]


def test_port_lists_and_ranges() -> None:
    port = build_port(
        endpoint("ep1", POD, acl("Allow", "In", 100, protocols="6", local_ports="80,81,8000-8010"))
    )
    for dport, verdict in (
        (80, "allow"),
        (81, "allow"),
        (82, "block"),
        (8000, "allow"),
        (8010, "allow"),
        (8011, "block"),
        (7999, "block"),
    ):
        assert port.evaluate(tcp_in(dport=dport), "in").verdict == verdict, dport


def test_remote_ports_and_address_lists() -> None:
    port = build_port(
        endpoint(
            "ep1",
            POD,
            acl(
                "Allow",
                "Out",
                100,
                protocols="17",
                remote="10.0.0.10,10.1.0.0/16",
                remote_ports="53",
            ),
        )
    )
    assert port.evaluate(Packet(UDP, POD, 5000, "10.0.0.10", 53), "out").verdict == "allow"
    assert port.evaluate(Packet(UDP, POD, 5000, "10.1.200.3", 53), "out").verdict == "allow"
    assert port.evaluate(Packet(UDP, POD, 5000, "10.0.0.11", 53), "out").verdict == "block"
    assert port.evaluate(Packet(UDP, POD, 5000, "10.0.0.10", 54), "out").verdict == "block"


def test_protocol_256_matches_every_protocol_and_numbers_match_one() -> None:
    any_port = build_port(endpoint("ep1", POD, acl("Allow", "In", 100, protocols="256")))
    udp_port = build_port(endpoint("ep1", POD, acl("Allow", "In", 100, protocols="17")))
    for proto in (TCP, UDP, SCTP, ICMP):
        pkt = Packet(proto, PEER, 0 if proto == ICMP else 1000, POD, 0 if proto == ICMP else 80)
        assert any_port.evaluate(pkt, "in").verdict == "allow"
        assert udp_port.evaluate(pkt, "in").verdict == ("allow" if proto == UDP else "block")


def test_rule_with_ports_does_not_match_icmp() -> None:
    port = build_port(endpoint("ep1", POD, acl("Allow", "In", 100, local_ports="0-65535")))
    assert port.evaluate(Packet(ICMP, PEER, 0, POD, 0), "in").verdict == "block"


def test_direction_is_inferred_from_the_endpoint_address() -> None:
    port = build_port(endpoint("ep1", POD, acl("Allow", "Out", 100)))
    assert port.process(tcp_out()).direction == "out"
    assert port.process(tcp_in()).direction == "in"


def test_hns_v1_flat_acl_policy_is_read() -> None:
    ep = {
        "Id": "v1ep",
        "IPAddress": POD,
        "Policies": [
            {
                "Type": "ACL",
                "Protocol": 6,
                "Action": "Allow",
                "Direction": "In",
                "LocalPorts": "80",
                "RuleType": "Switch",
                "Priority": 100,
            }
        ],
    }
    port = build_port(ep)
    assert port.endpoint == "v1ep"
    assert port.evaluate(tcp_in(dport=80), "in").verdict == "allow"
    assert port.evaluate(tcp_in(dport=81), "in").verdict == "block"


def test_non_acl_policies_are_ignored() -> None:
    ep = endpoint("ep1", POD, {"Type": "OutBoundNAT", "Settings": {"Exceptions": ["10.0.0.0/8"]}})
    assert build_port(ep).evaluate(tcp_in(), "in").verdict == "allow"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"Action": "Allow", "Direction": "In", "RemoteAddresses": "Any"}, "RemoteAddresses"),
        ({"Action": "Permit", "Direction": "In"}, "Action"),
        ({"Action": "Allow"}, "Direction"),
        ({"Action": "Allow", "Direction": "Up"}, "Direction"),
        ({"Action": "Allow", "Direction": "In", "Protocols": "TCP"}, "Protocols"),
        ({"Action": "Allow", "Direction": "In", "LocalPorts": "80-70"}, "LocalPorts"),
        ({"Action": "Allow", "Direction": "In", "RemotePorts": "http"}, "RemotePorts"),
        ({"Action": "Allow", "Direction": "In", "Priority": 70000}, "Priority"),
        ({"Action": "Allow", "Direction": "In", "RuleType": "Firewall"}, "RuleType"),
    ],
)
def test_invalid_acl_field_is_named_in_one_line(settings: dict[str, object], field: str) -> None:
    ep = endpoint("ep-bad", POD, {"Type": "ACL", "Settings": settings})
    with pytest.raises(InputError) as err:
        build_port(ep)
    message = str(err.value)
    assert "ep-bad" in message and "Policies[0]" in message and f"'{field}'" in message
    assert "\n" not in message
