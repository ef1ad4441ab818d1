"""The HNS v1 flow on the twin: an endpoint made through HNS v1 and attached to the container
(CNI_NETNS `container:<id>`/`none` as docker passes it, or netconf `hns.api` "v1")."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hnsnode import NOTHING, HnsNode

INFRA = "container:4f1c2d3e5a6b"  # how docker names the infra container's namespace


def v1_conf(node: HnsNode, mode: str = "l2bridge", **extra: Any) -> dict[str, Any]:
    return node.netconf(mode, hns={"api": "v1", "state": str(node.hns_state)}, **extra)


def v1_endpoint(node: HnsNode) -> dict[str, Any]:
    [ep] = node.hns.list_endpoints_v1()
    return ep


@pytest.mark.parametrize("mode", ["l2bridge", "transparent"])
@pytest.mark.parametrize(
    ("api", "netns"),
    [("v1", "namespace"), ("v2", INFRA), ("v2", "none")],
    ids=["api-v1", "netns-container", "netns-none"],
)
def test_v1_add_makes_the_endpoint_through_v1_and_attaches_it_to_the_container(
    node: HnsNode, mode: str, api: str, netns: str
) -> None:
    if netns == "namespace":
        netns = node.namespace()  # a GUID: still v1, because the netconf says so
    conf = node.netconf(mode, hns={"api": api, "state": str(node.hns_state)})
    out = node.add(conf, "c1", netns)

    prefix = 32 if mode == "transparent" else 24
    ep = v1_endpoint(node)
    assert ep["Name"] == "c1_eth0" and ep["SharedContainers"] == ["c1"] and ep["State"] == 2
    assert (ep["IPAddress"], ep["PrefixLength"], ep["GatewayAddress"]) == (
        "10.240.0.2", prefix, "10.240.0.1")
    [network] = node.hns.list_networks()
    assert ep["VirtualNetwork"] == network["ID"] and ep["VirtualNetworkName"] == node.network
    # The same endpoint through HCN v2: one object, in no HCN namespace.
    [v2] = node.endpoints()
    assert v2["ID"] == ep["ID"] and "HostComputeNamespace" not in v2
    assert v2["IpConfigurations"] == [{"IpAddress": "10.240.0.2", "PrefixLength": prefix}]
    assert out["ips"][0]["address"] == f"10.240.0.2/{prefix}"
    assert out["interfaces"][0]["mac"] == ep["MacAddress"].replace("-", ":").lower()
    assert out["interfaces"][0]["sandbox"] == netns
    assert node.routes() == []
    state = node.records()[0]["backend_state"]
    assert (state["api"], state["container"], state["endpoint"]) == ("v1", "c1", ep["ID"])
    assert "namespace" not in state


def test_v1_makes_the_network_through_v1_as_azure_cni_does(node: HnsNode) -> None:
    node.add(v1_conf(node, dual_stack=True), "c1", INFRA)

    [network] = node.hns.list_networks_v1()
    assert (network["Name"], network["Type"]) == (node.network, "L2Bridge")
    assert network["Subnets"] == [
        {"AddressPrefix": "10.240.0.0/24", "GatewayAddress": "10.240.0.1"},
        {"AddressPrefix": "fd00:240::/64", "GatewayAddress": "fd00:240::1"},
    ]


@pytest.mark.parametrize("first", ["v1", "v2"])
def test_v1_and_v2_pods_share_the_network_found_by_name(node: HnsNode, first: str) -> None:
    v1, v2 = v1_conf(node), node.netconf("l2bridge")
    ns = node.namespace()
    pods = [(v1, "c1", INFRA), (v2, "c2", ns)]
    for conf, container, netns in pods if first == "v1" else pods[::-1]:
        node.add(conf, container, netns)

    [network] = node.hns.list_networks()
    assert {e["HostComputeNetwork"] for e in node.endpoints()} == {network["ID"]}
    held = {e["Name"]: (e["SharedContainers"], e.get("Namespace"))
            for e in node.hns.list_endpoints_v1()}
    assert held == {"c1_eth0": (["c1"], None), "c2_eth0": ([], {"ID": ns})}
    for conf, container, netns in pods:
        node.delete(conf, container, netns)
    assert node.leftovers() == NOTHING


def test_v1_works_on_an_hns_without_the_v2_api(make_node: Callable[[str], HnsNode]) -> None:
    node = make_node("7.2")  # Windows Server 2016: no HCN v2, so no namespaces either
    conf = v1_conf(node)
    out = node.add(conf, "c1", INFRA)

    ep = v1_endpoint(node)
    assert ep["SharedContainers"] == ["c1"]
    assert out["ips"][0]["address"] == f"{ep['IPAddress']}/24"
    assert node.run("CHECK", conf, "c1", INFRA) == (0, None)
    node.delete(conf, "c1", INFRA)
    assert node.hns.list_endpoints_v1() == [] and node.allocations() == []


def test_gc_with_v1_removes_endpoints_of_no_valid_attachment(node: HnsNode) -> None:
    conf = v1_conf(node)
    for cid in ("c1", "c2", "c3"):
        node.add(conf, cid, f"container:{cid}")
    node.record_path("c3").unlink()  # lost state: only HNS still knows c3
    gc_conf = dict(conf, **{"cni.dev/valid-attachments": [
        {"containerID": "c1", "ifname": "eth0"}]})
    rc, out = node.run("GC", gc_conf, "", None)

    assert rc == 0, out
    assert [(e["Name"], e["SharedContainers"]) for e in node.hns.list_endpoints_v1()] == [
        ("c1_eth0", ["c1"])]
    assert [r["containerID"] for r in node.records()] == ["c1"]


def test_v1_dual_stack_endpoint_holds_one_address_of_each_family(node: HnsNode) -> None:
    node.add(v1_conf(node, dual_stack=True), "c1", "none")

    ep = v1_endpoint(node)
    assert (ep["IPAddress"], ep["GatewayAddress"]) == ("10.240.0.2", "10.240.0.1")
    assert (ep["IPv6Address"], ep["IPv6PrefixLength"], ep["GatewayAddressV6"]) == (
        "fd00:240::2", 64, "fd00:240::1")


def test_v1_refuses_two_addresses_of_one_family_and_leaves_nothing(node: HnsNode) -> None:
    ipam = {"type": "static", "addresses": [{"address": "10.240.0.7/24"},
                                            {"address": "10.240.0.8/24"}]}
    rc, out = node.run("ADD", v1_conf(node, ipam=ipam), "c1", "none")

    assert rc == 1 and out is not None and out["code"] == 7
    assert out["msg"] == ("ipam: HNS v1 gives an endpoint one IPv4 address; the IPAM result "
                          "has 10.240.0.7 and 10.240.0.8")
    assert node.leftovers() == NOTHING
    assert node.hns.list_networks() == []  # refused before the network was made


def test_v1_del_detaches_the_container_then_deletes_the_endpoint(node: HnsNode) -> None:
    conf = v1_conf(node)
    node.add(conf, "c1", INFRA)
    node.hns.inject_fault("delete_endpoint_v1", 1, "HCN_E_MANAGER_STOPPED")
    rc, out = node.run("DEL", conf, "c1", INFRA)

    # The delete failed after the detach: the endpoint is there, held by no container.
    assert rc == 1 and out is not None and "HCN_E_MANAGER_STOPPED" in out["msg"]
    ep = v1_endpoint(node)
    assert ep["SharedContainers"] == [] and ep["State"] == 1
    node.delete(conf, "c1", INFRA)  # a repeated DEL finishes
    assert node.leftovers() == NOTHING and node.hns.list_endpoints_v1() == []
    node.delete(conf, "c1", INFRA)  # and again: nothing left to do


def test_v1_del_follows_the_stored_api_not_the_netconf(node: HnsNode) -> None:
    node.add(v1_conf(node), "c1", "none")
    v2_conf = node.netconf("l2bridge")  # the netconf changed to v2 since the ADD
    node.hns.inject_fault("delete_endpoint", 1, "HCN_E_MANAGER_STOPPED")  # v2's delete
    node.delete(v2_conf, "c1", node.namespace())

    assert node.leftovers() == NOTHING


# Every HNS call of a v1 ADD of an l2bridge pod, in order.
V1_STEPS = ["list_networks_v1:1", "create_network_v1:1", "list_endpoints_v1:1",
            "create_endpoint_v1:1", "attach_container:1"]
CNI_POINTS = ["after-ipam", "after-hns-network", "after-hns-endpoint", "after-hns-attach",
              "before-record-ready"]


@pytest.mark.parametrize("step", V1_STEPS)
def test_hns_failure_at_each_v1_add_step_leaves_nothing(node: HnsNode, step: str) -> None:
    operation, nth = step.split(":")
    node.hns.inject_fault(operation, int(nth), "E_INVALIDARG")
    rc, out = node.run("ADD", v1_conf(node), "c1", INFRA)

    assert rc == 1 and out is not None and out["code"] == 100
    assert f"injected fault: {operation} call {nth}" in out["msg"], out
    assert "details" not in out, out  # every undo worked
    assert node.leftovers() == NOTHING and node.hns.list_endpoints_v1() == []


@pytest.mark.parametrize("point", CNI_POINTS)
def test_failure_at_each_plugin_step_of_a_v1_add_leaves_nothing(
    node: HnsNode, point: str
) -> None:
    rc, out = node.run("ADD", v1_conf(node), "c1", INFRA, VFPNET_CNI_FAULT=point)

    assert rc == 1 and out is not None and out["msg"] == f"injected fault at {point}"
    assert node.leftovers() == NOTHING and node.hns.list_endpoints_v1() == []


def test_a_v1_endpoint_left_by_a_failed_rollback_is_removed_by_the_next_del(
    node: HnsNode,
) -> None:
    conf = v1_conf(node)
    node.hns.inject_fault("detach_container", 1, "HCN_E_MANAGER_STOPPED")
    node.hns.inject_fault("delete_endpoint_v1", 1, "HCN_E_MANAGER_STOPPED")
    rc, out = node.run("ADD", conf, "c1", INFRA, VFPNET_CNI_FAULT="after-hns-attach")

    assert rc == 1 and out is not None
    assert "undo container c1 attachment" in out["details"]
    assert "undo HNS endpoint" in out["details"]
    assert v1_endpoint(node)["SharedContainers"] == ["c1"]  # the rollback could not
    assert node.records()[0]["status"] == "adding"
    node.delete(conf, "c1", INFRA)  # the crashed ADD's record says v1 (its netconf)
    assert node.leftovers() == NOTHING


def test_stateless_v1_del_finds_the_endpoint_by_name_and_detaches_it(node: HnsNode) -> None:
    conf = v1_conf(node)
    node.add(conf, "c1", INFRA)
    node.record_path("c1").unlink()  # the plugin's state is gone; HNS keeps its objects

    node.delete(conf, "c1", INFRA)

    assert node.leftovers() == NOTHING and node.hns.list_endpoints_v1() == []


def test_stateless_del_detaches_a_v1_endpoint_even_with_a_v2_netconf(node: HnsNode) -> None:
    node.add(v1_conf(node), "c1", INFRA)
    node.record_path("c1").unlink()
    node.hns.inject_fault("delete_endpoint", 1, "HCN_E_MANAGER_STOPPED")

    # No record: HNS says what is there. The delete fails after the detach...
    rc, out = node.run("DEL", node.netconf("l2bridge"), "c1", None)
    assert rc == 1 and out is not None and "HCN_E_MANAGER_STOPPED" in out["msg"]
    assert v1_endpoint(node)["SharedContainers"] == []
    node.delete(node.netconf("l2bridge"), "c1", None)  # ...and a repeated DEL finishes

    assert node.leftovers() == NOTHING


def _wait_for(what: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not what():
        assert time.monotonic() < deadline, "the plugin never reached its pause"
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["after-hns-endpoint", "after-hns-attach"])
def test_retried_v1_add_after_the_plugin_was_killed_mid_add_has_one_attached_endpoint(
    node: HnsNode, point: str
) -> None:
    conf = v1_conf(node)
    proc = node.start("ADD", conf, "c1", INFRA, VFPNET_CNI_FAULT=f"{point}:pause")
    try:
        _wait_for(lambda: bool(node.hns.list_endpoints_v1()))
        if point == "after-hns-attach":
            _wait_for(lambda: bool(v1_endpoint(node)["SharedContainers"]))
        else:
            time.sleep(0.2)
            assert v1_endpoint(node)["SharedContainers"] == []  # attach comes after
    finally:
        node.kill(proc)
    [stale] = node.hns.list_endpoints_v1()

    out = node.add(conf, "c1", INFRA)  # the runtime retries

    ep = v1_endpoint(node)
    assert ep["ID"] != stale["ID"] and ep["SharedContainers"] == ["c1"]
    assert node.allocations() == [out["ips"][0]["address"].split("/")[0]]
    node.delete(conf, "c1", INFRA)
    assert node.leftovers() == NOTHING


def test_retried_v1_add_with_its_state_lost_replaces_the_attached_endpoint(
    node: HnsNode,
) -> None:
    conf = v1_conf(node, ipam={"type": "static", "addresses": [{"address": "10.240.0.7/24"}]})
    proc = node.start("ADD", conf, "c1", INFRA, VFPNET_CNI_FAULT="before-record-ready:pause")
    try:
        _wait_for(lambda: bool(node.hns.list_endpoints_v1())
                  and bool(v1_endpoint(node)["SharedContainers"]))
    finally:
        node.kill(proc)
    node.record_path("c1").unlink()
    stale = v1_endpoint(node)

    node.add(conf, "c1", INFRA)  # the same name and address: the stale one must go first

    ep = v1_endpoint(node)
    assert ep["ID"] != stale["ID"] and ep["SharedContainers"] == ["c1"]
    assert ep["IPAddress"] == "10.240.0.7"
    node.delete(conf, "c1", INFRA)
    assert node.leftovers() == NOTHING


@pytest.mark.parametrize(
    ("api", "netns", "code", "start"),
    [("v1", "none", 7, "hns.api:"), ("v2", INFRA, 4, "CNI_NETNS:"),
     ("v2", "none", 4, "CNI_NETNS:")],
    ids=["api-v1", "netns-container", "netns-none"],
)
def test_transparent_tunnel_refuses_v1_before_anything_is_made(
    node: HnsNode, api: str, netns: str, code: int, start: str
) -> None:
    conf = node.netconf(hns={"api": api, "state": str(node.hns_state)})
    rc, out = node.run("ADD", conf, "c1", netns)

    assert rc == 1 and out is not None and out["code"] == code
    assert out["msg"].startswith(start) and "HNS v2" in out["msg"], out
    assert node.leftovers() == NOTHING
    assert node.hns.list_networks() == [] and node.hns.list_endpoints_v1() == []


def test_check_of_a_v1_attachment_reports_a_container_that_lost_its_endpoint(
    node: HnsNode,
) -> None:
    conf = v1_conf(node)
    node.add(conf, "c1", INFRA)
    assert node.run("CHECK", conf, "c1", INFRA) == (0, None)

    node.hns.detach_container(v1_endpoint(node)["ID"], "c1")
    rc, out = node.run("CHECK", conf, "c1", INFRA)

    assert rc == 1 and out is not None and out["code"] == 101
    assert out["msg"] == f"CHECK: HNS endpoint {v1_endpoint(node)['ID']} is not attached to " \
        "container c1"


def test_ten_concurrent_v1_adds_give_ten_addresses_each_attached_to_its_container(
    node: HnsNode,
) -> None:
    conf = v1_conf(node)
    containers = [f"c{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        outs = list(pool.map(lambda c: node.add(conf, c, f"container:{c}"), containers))

    addresses = [o["ips"][0]["address"] for o in outs]
    assert len(set(addresses)) == 10
    held = {ep["Name"]: (ep["SharedContainers"], ep["IPAddress"])
            for ep in node.hns.list_endpoints_v1()}
    assert held == {f"{c}_eth0": ([c], a.split("/")[0]) for c, a in zip(containers, addresses,
                                                                        strict=True)}
    assert len(node.allocations()) == 10
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda c: node.delete(conf, c, f"container:{c}"), containers))
    assert node.leftovers() == NOTHING


def test_v1_del_after_hns_dropped_the_endpoint_finishes(node: HnsNode) -> None:
    conf = v1_conf(node)
    node.add(conf, "c1", INFRA)
    node.hns.restart()  # HNS restarted: every endpoint is gone ("not found" on DEL)

    node.delete(conf, "c1", INFRA)

    assert node.leftovers() == NOTHING


def test_an_attach_hns_answers_already_attached_is_taken_as_done(node: HnsNode) -> None:
    # As hcsshim's HotAttachEndpoint: a container that already holds the endpoint is fine.
    from vfpnet.cni.backends.hns import _attach_container

    net = node.hns.create_network_v1({"Name": "n", "Type": "L2Bridge",
                                      "Subnets": [{"AddressPrefix": "10.9.0.0/24"}]})
    ep = node.hns.create_endpoint_v1({"Name": "p", "VirtualNetwork": net["ID"]})
    _attach_container(node.hns, ep["ID"], "c1")
    _attach_container(node.hns, ep["ID"], "C1")

    assert node.hns.get_endpoint_v1(ep["ID"])["SharedContainers"] == ["c1"]


def test_a_refused_detach_does_not_keep_the_v1_endpoint(node: HnsNode) -> None:
    conf = v1_conf(node)
    node.add(conf, "c1", INFRA)
    node.hns.inject_fault("detach_container", 1, "0xC037010E")  # the container is gone

    node.delete(conf, "c1", INFRA)  # the delete takes the attachment with it

    assert node.leftovers() == NOTHING and node.hns.list_endpoints_v1() == []
