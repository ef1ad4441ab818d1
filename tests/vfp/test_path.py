"""Path traces across the node: vSwitch for same-subnet peers, uplink NSG for routed ones."""

from __future__ import annotations

from typing import Any

import pytest

from vfpnet.errors import InputError
from vfpnet.hns.errors import HcnError
from vfpnet.vfp.nsg import parse_nsg
from vfpnet.vfp.packet import TCP
from vfpnet.vfp.path import HostRoute, NodeSnapshot, parse_route, path_trace

from .endpoints import acl, endpoint

NETWORK: dict[str, Any] = {
    "ID": "net-1",
    "Name": "podnet",
    "Type": "L2Bridge",
    "Ipams": [
        {
            "Type": "Static",
            "Subnets": [
                {
                    "IpAddressPrefix": "10.240.0.0/24",
                    "Routes": [{"NextHop": "10.240.0.1", "DestinationPrefix": "0.0.0.0/0"}],
                }
            ],
        }
    ],
}
A, B = "10.240.0.5", "10.240.0.6"
DENY_80_IN = parse_nsg(
    {
        "securityRules": [
            {
                "name": "deny-web-in",
                "properties": {
                    "priority": 100,
                    "direction": "Inbound",
                    "access": "Deny",
                    "protocol": "Tcp",
                    "sourceAddressPrefix": "*",
                    "sourcePortRange": "*",
                    "destinationAddressPrefix": "*",
                    "destinationPortRange": "80",
                },
            }
        ]
    },
    "nsg.json",
)


def node(*endpoints: dict[str, Any], routes: tuple[HostRoute, ...] = (), nsg: Any = None) -> Any:
    return NodeSnapshot(tuple(endpoints), (NETWORK,), routes, nsg or DENY_80_IN)


def hops(trace: Any) -> list[tuple[str, str]]:
    return [(h.hop, h.verdict) for h in trace.hops]


def test_same_subnet_endpoints_are_switched_without_the_uplink_nsg() -> None:
    t = path_trace(node(endpoint("a", A), endpoint("b", B)), "a", B, 80, TCP)
    assert t.verdict == "allow"
    assert not t.crosses_uplink
    assert hops(t) == [
        ("source-port", "allow"),
        ("vswitch", "allow"),
        ("destination-port", "allow"),
    ]
    assert t.to_endpoint == "b"


def test_host_route_via_gateway_crosses_the_uplink_nsg_both_ways() -> None:
    routes = (parse_route({"DestinationPrefix": f"{B}/32", "NextHop": "10.240.0.1"}),)
    t = path_trace(node(endpoint("a", A), endpoint("b", B), routes=routes), "a", B, 80, TCP)
    assert t.crosses_uplink
    assert t.verdict == "block"
    assert hops(t) == [
        ("source-port", "allow"),
        ("host-route", "allow"),
        ("uplink-nsg-out", "allow"),
        ("uplink-nsg-in", "block"),
    ]
    assert t.hops[-1].rule == "deny-web-in"
    assert t.hops[1].next_hop == "10.240.0.1"
    ok = path_trace(node(endpoint("a", A), endpoint("b", B), routes=routes), "a", B, 443, TCP)
    assert ok.verdict == "allow"
    assert [h for h, _ in hops(ok)][-1] == "destination-port"
    assert ok.hops[2].rule == "AllowVnetOutBound"


def test_route_with_mask_shape_is_read_and_longest_prefix_wins() -> None:
    routes = (
        parse_route({"Destination": "10.240.0.0", "Mask": "255.255.255.0",
                     "Gateway": "10.240.0.1"}),
        parse_route({"Destination": B, "Mask": "255.255.255.255", "Gateway": "10.240.0.2"}),
    )  # fmt: skip
    t = path_trace(node(endpoint("a", A), endpoint("b", B), routes=routes), "a", B, 443, TCP)
    assert t.hops[1].next_hop == "10.240.0.2"


def test_source_acl_block_stops_the_packet_at_the_source_port() -> None:
    a = endpoint("a", A, acl("Allow", "Out", 100, protocols="17"))
    t = path_trace(node(a, endpoint("b", B)), "a", B, 80, TCP)
    assert hops(t) == [("source-port", "block")]
    assert t.verdict == "block"


def test_destination_acl_block_is_the_last_hop() -> None:
    b = endpoint("b", B, acl("Block", "In", 100, protocols="6", local_ports="443", rule_id="no443"))
    t = path_trace(node(endpoint("a", A), b), "a", B, 443, TCP)
    assert hops(t)[-1] == ("destination-port", "block")
    assert t.hops[-1].rule == "no443"


def test_address_off_the_node_leaves_through_the_gateway() -> None:
    t = path_trace(node(endpoint("a", A)), "a", "10.1.0.9", 80, TCP)
    assert hops(t) == [
        ("source-port", "allow"),
        ("gateway-route", "allow"),
        ("uplink-nsg-out", "allow"),
        ("leaves-node", "allow"),
    ]
    assert t.hops[1].next_hop == "10.240.0.1"
    assert t.to_endpoint is None


def test_remote_endpoint_is_not_on_this_node() -> None:
    remote = endpoint("r", B)
    remote["Flags"] = 1
    t = path_trace(node(endpoint("a", A), remote), "a", B, 80, TCP)
    assert t.to_endpoint is None
    assert hops(t)[-1] == ("leaves-node", "allow")


def test_outbound_nsg_deny_blocks_at_the_uplink() -> None:
    nsg = parse_nsg(
        {"securityRules": [{"name": "no-out", "properties": {
            "priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "Internet", "destinationPortRange": "*"}}]},
        "nsg.json",
    )  # fmt: skip
    t = path_trace(node(endpoint("a", A), nsg=nsg), "a", "203.0.113.7", 443, TCP)
    assert hops(t)[-1] == ("uplink-nsg-out", "block")


def test_unknown_endpoint_and_missing_family_are_input_errors() -> None:
    with pytest.raises(HcnError, match=r"0x803B0002 .*endpoint nope"):
        path_trace(node(endpoint("a", A)), "nope", B, 80, TCP)
    with pytest.raises(InputError, match="no IPv6 address"):
        path_trace(node(endpoint("a", A)), "a", "fd00::1", 80, TCP)


def test_bad_route_is_an_input_error() -> None:
    with pytest.raises(InputError, match="host route"):
        parse_route({"DestinationPrefix": "nowhere", "NextHop": "10.0.0.1"})


def test_on_link_host_route_keeps_the_packet_on_the_vswitch() -> None:
    routes = (
        parse_route({"DestinationPrefix": "10.240.0.0/24", "NextHop": "10.240.0.1"}),
        parse_route({"DestinationPrefix": f"{B}/32", "NextHop": "0.0.0.0"}),
    )
    t = path_trace(node(endpoint("a", A), endpoint("b", B), routes=routes), "a", B, 80, TCP)
    assert not t.crosses_uplink
    assert [h for h, _ in hops(t)] == ["source-port", "vswitch", "destination-port"]


def test_route_objects_with_attributes_are_read() -> None:
    class Row:
        destination_prefix = "10.240.0.6/32"
        next_hop = "10.240.0.1"

    assert parse_route(Row()) == HostRoute("10.240.0.6/32", "10.240.0.1")
