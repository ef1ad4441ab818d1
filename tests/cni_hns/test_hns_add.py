"""ADD on the HNS twin: network, endpoint, namespace, host routes, gateway choice, HNS v1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hnsnode import NOTHING, SUBNET, SUBNET6, HnsNode


def test_tunnel_add_makes_an_endpoint_in_the_pod_namespace_and_a_slash32_route(
    node: HnsNode,
) -> None:
    ns = node.namespace()
    out = node.add(node.netconf(), "c1", ns)

    assert out["ips"] == [{"address": "10.240.0.2/24", "gateway": "10.240.0.1", "interface": 0}]
    assert out["interfaces"][0]["sandbox"] == ns
    [network] = node.hns.list_networks()
    assert network["Name"] == node.network and network["Type"] == "L2Bridge"
    [subnet] = network["Ipams"][0]["Subnets"]
    assert subnet["IpAddressPrefix"] == SUBNET
    assert subnet["Routes"] == [{"NextHop": "10.240.0.1", "DestinationPrefix": "0.0.0.0/0"}]
    [ep] = node.endpoints()
    assert ep["Name"] == "c1_eth0" and ep["HostComputeNetwork"] == network["ID"]
    assert ep["IpConfigurations"] == [{"IpAddress": "10.240.0.2", "PrefixLength": 24}]
    assert ep["HostComputeNamespace"] == ns
    assert {"Type": "Endpoint", "Data": {"ID": ep["ID"]}} in node.hns.get_namespace(ns)[
        "Resources"
    ]
    assert node.routes() == [("10.240.0.2/32", "10.240.0.1")]
    [record] = node.records()
    assert (record["podNamespace"], record["podName"]) == ("ns1", "pod-c1")
    assert record["mode"] == "transparent-tunnel" and record["backend"] == "hns"


def test_dual_stack_pod_gets_a_slash32_and_a_slash128_route_via_each_gateway(
    node: HnsNode,
) -> None:
    node.add(node.netconf(dual_stack=True), "c1", node.namespace())

    assert sorted(node.routes()) == [
        ("10.240.0.2/32", "10.240.0.1"),
        ("fd00:240::2/128", "fd00:240::1"),
    ]
    [network] = node.hns.list_networks()
    assert [s["IpAddressPrefix"] for s in network["Ipams"][0]["Subnets"]] == [SUBNET, SUBNET6]


def test_second_pod_reuses_the_network_found_by_name(node: HnsNode) -> None:
    conf = node.netconf()
    node.add(conf, "c1", node.namespace())
    node.add(conf, "c2", node.namespace())

    assert len(node.hns.list_networks()) == 1
    assert sorted(node.routes()) == [("10.240.0.2/32", "10.240.0.1"),
                                     ("10.240.0.3/32", "10.240.0.1")]


def _static(address: str, gateway: str | None = None) -> dict[str, Any]:
    entry = {"address": address}
    if gateway is not None:
        entry["gateway"] = gateway
    return {"type": "static", "addresses": [entry]}


@pytest.mark.parametrize(
    ("netconf_gateway", "ipam_gateway", "expected"),
    [
        ("10.240.0.9", "10.240.0.254", "10.240.0.9"),  # netconf wins
        (None, "10.240.0.254", "10.240.0.254"),  # else the IPAM result's
        (None, None, "10.240.0.1"),  # else the first host of the subnet
    ],
    ids=["netconf-gateway", "ipam-gateway", "first-host"],
)
def test_gateway_is_netconf_then_ipam_then_first_host(
    node: HnsNode, netconf_gateway: str | None, ipam_gateway: str | None, expected: str
) -> None:
    extra: dict[str, Any] = {"ipam": _static("10.240.0.7/24", ipam_gateway)}
    if netconf_gateway:
        extra["gateway"] = netconf_gateway
    out = node.add(node.netconf(**extra), "c1", node.namespace())

    assert node.routes() == [("10.240.0.7/32", expected)]
    assert out["ips"][0]["gateway"] == expected
    [ep] = node.endpoints()
    assert ep["Routes"] == [{"NextHop": expected, "DestinationPrefix": "0.0.0.0/0"}]


@pytest.mark.parametrize(
    ("extra", "field", "why"),
    [
        ({"gateway": "10.9.9.1"}, "gateway:", "outside the pod's subnet 10.240.0.0/24"),
        ({"gateway": "0.0.0.0"}, "gateway:", "0.0.0.0"),
        ({"gateway": "10.240.0.7", "ipam": _static("10.240.0.7/24")}, "gateway:",
         "the pod's own address"),
        ({"ipam": _static("10.240.0.7/24", "0.0.0.0")}, "ipam result ips[0].gateway:",
         "unspecified"),
        ({"ipam": _static("10.240.0.7/24", "10.1.0.1")}, "ipam result ips[0].gateway:",
         "outside the pod's subnet"),
        ({"ipam": _static("10.240.0.7/32")}, "ipam result ips[0].address:", "no first host"),
        ({"gateway": "10.240.0.1", "ipam": _static("fd00:240::7/64")}, "gateway:",
         "the pod has no IPv4 address"),
    ],
    ids=["netconf-outside", "netconf-unspecified", "netconf-own-address", "ipam-unspecified",
         "ipam-outside", "no-subnet", "netconf-other-family"],
)
def test_a_gateway_that_cannot_be_is_refused_naming_the_field_and_leaves_nothing(
    node: HnsNode, extra: dict[str, Any], field: str, why: str
) -> None:
    rc, out = node.run("ADD", node.netconf(**extra), "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"].startswith(field) and why in out["msg"], out
    assert node.leftovers() == NOTHING


def test_hns_api_v1_is_refused_for_transparent_tunnel_before_anything_is_made(
    node: HnsNode,
) -> None:
    conf = node.netconf(hns={"api": "v1", "state": str(node.hns_state)})
    rc, out = node.run("ADD", conf, "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"].startswith("hns.api:") and "transparent-tunnel needs HNS v2" in out["msg"]
    assert node.leftovers() == NOTHING
    assert node.hns.list_networks() == []


def test_a_netns_path_instead_of_a_namespace_guid_is_refused_for_transparent_tunnel(
    node: HnsNode,
) -> None:
    rc, out = node.run("ADD", node.netconf(), "c1", "/var/run/netns/not-a-guid")

    assert rc == 1 and out is not None and out["code"] == 4
    assert out["msg"].startswith("CNI_NETNS:") and "HNS v1" in out["msg"]
    assert node.leftovers() == NOTHING


@pytest.mark.parametrize(
    ("version", "lacks"),
    [("9.1", "the V2 API and host routes"), ("7.2", "the V2 API and host routes")],
)
def test_an_hns_without_v2_and_host_routes_is_refused_for_transparent_tunnel(
    make_node: Callable[[str], HnsNode], version: str, lacks: str
) -> None:
    node = make_node(version)
    guid = "0B1C2D3E-0000-4000-8000-000000000001"
    rc, out = node.run("ADD", node.netconf(), "c1", guid)

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"] == (
        f"mode: transparent-tunnel needs HNS v2 with host routes; HNS {version} lacks {lacks}"
    )
    assert node.leftovers() == NOTHING
    rc, out = node.run("STATUS", node.netconf(), "", None)
    assert rc == 1 and out is not None and out["code"] == 50


def test_status_is_ok_on_an_hns_with_v2_and_host_routes(node: HnsNode) -> None:
    rc, out = node.run("STATUS", node.netconf(), "", None)
    assert (rc, out) == (0, None)


@pytest.mark.parametrize("mode", ["l2bridge", "transparent"])
def test_l2bridge_and_transparent_make_no_host_routes(node: HnsNode, mode: str) -> None:
    ns = node.namespace()
    out = node.add(node.netconf(mode), "c1", ns)

    assert node.routes() == []
    [ep] = node.endpoints()
    assert ep["HostComputeNamespace"] == ns
    prefix = 32 if mode == "transparent" else 24  # transparent: the pod holds its /32
    assert ep["IpConfigurations"] == [{"IpAddress": "10.240.0.2", "PrefixLength": prefix}]
    assert out["ips"][0]["address"] == f"10.240.0.2/{prefix}"
    [network] = node.hns.list_networks()
    assert network["Type"] == "L2Bridge"


def test_l2bridge_with_hns_v1_makes_a_v1_endpoint_outside_any_namespace(node: HnsNode) -> None:
    conf = node.netconf("l2bridge", hns={"api": "v1", "state": str(node.hns_state)})
    node.add(conf, "c1", node.namespace())

    [ep] = node.endpoints()
    assert "HostComputeNamespace" not in ep
    assert node.records()[0]["backend_state"]["api"] == "v1"
    node.delete(conf, "c1", None)
    assert node.leftovers() == NOTHING


@pytest.mark.parametrize(
    ("hns", "needle"),
    [
        ({"api": "v3"}, "hns.api: 'v3' is not an HNS API"),
        ({"api": "v2", "state": "relative/hns.db"}, "hns.state: 'relative/hns.db' must be"),
        ({"api": "v2", "State": "/x"}, "hns.State: unknown field"),
        ({"api": "v2"}, "hns.state: required off Windows"),
        ({"api": "v2", "state": "/nonexistent/vt/hns.db"}, "hns.state: /nonexistent/vt/hns.db "
         "does not exist"),
    ],
    ids=["api", "relative-state", "unknown-field", "no-state", "missing-state"],
)
def test_a_bad_hns_block_is_refused_naming_the_field_and_leaves_nothing(
    node: HnsNode, hns: dict[str, Any], needle: str
) -> None:
    rc, out = node.run("ADD", node.netconf(hns=hns), "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"].startswith(needle), out
    assert node.leftovers() == NOTHING


def test_a_namespace_that_does_not_exist_is_refused_and_leaves_nothing(node: HnsNode) -> None:
    guid = "0B1C2D3E-0000-4000-8000-000000000002"
    rc, out = node.run("ADD", node.netconf(), "c1", guid)

    assert rc == 1 and out is not None and out["code"] == 4
    assert out["msg"] == f"CNI_NETNS: HNS namespace {guid} does not exist"
    assert node.leftovers() == NOTHING


def test_an_existing_network_of_another_type_is_refused(node: HnsNode) -> None:
    node.hns.create_network({
        "Name": node.network, "Type": "NAT", "SchemaVersion": {"Major": 2, "Minor": 0},
        "Ipams": [{"Type": "Static", "Subnets": [{"IpAddressPrefix": SUBNET}]}],
    })
    rc, out = node.run("ADD", node.netconf(), "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 7
    assert "Type 'NAT', not L2Bridge" in out["msg"]
    assert node.leftovers() == NOTHING


def test_a_lower_case_braced_namespace_guid_is_the_same_namespace(node: HnsNode) -> None:
    ns = node.namespace()
    conf = node.netconf()
    node.add(conf, "c1", "{" + ns.lower() + "}")

    [ep] = node.endpoints()
    assert ep["HostComputeNamespace"] == ns
    assert node.run("CHECK", conf, "c1", "{" + ns.lower() + "}") == (0, None)


def test_a_pod_outside_the_existing_network_subnet_is_refused_and_leaves_nothing_of_it(
    node: HnsNode,
) -> None:
    node.add(node.netconf(), "c1", node.namespace())
    other = node.netconf(ipam={"type": "static", "addresses": [{"address": "10.241.0.7/24"}]})
    rc, out = node.run("ADD", other, "c2", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"] == (
        f"name: HNS network {node.network!r} has subnets {SUBNET}, not the pod's 10.241.0.0/24"
    )
    assert node.leftovers() == {
        "endpoints": ["c1_eth0"], "routes": [("10.240.0.2/32", "10.240.0.1")],
        "allocations": ["10.240.0.2"], "records": ["c1"],
    }


def test_chained_after_a_plugin_that_gave_the_address_uses_its_prev_result(
    node: HnsNode,
) -> None:
    conf = node.netconf()
    del conf["ipam"]
    conf["prevResult"] = {"cniVersion": "1.1.0", "interfaces": [],
                          "ips": [{"address": "10.240.0.9/24", "gateway": "10.240.0.1"}]}
    ns = node.namespace()
    out = node.add(conf, "c1", ns)

    assert out["ips"] == [{"address": "10.240.0.9/24", "gateway": "10.240.0.1", "interface": 0}]
    assert node.routes() == [("10.240.0.9/32", "10.240.0.1")]
    node.delete(conf, "c1", ns)
    assert node.leftovers() == NOTHING
