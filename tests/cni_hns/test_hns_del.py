"""DEL, CHECK, GC and concurrency of the HNS backend on the twin."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hnsnode import NOTHING, HnsNode

from vfpnet.hns.schema.route import host_route


def test_del_removes_endpoint_routes_ip_and_record_and_a_repeated_del_succeeds(
    node: HnsNode,
) -> None:
    conf = node.netconf(dual_stack=True)
    ns = node.namespace()
    node.add(conf, "c1", ns)
    node.delete(conf, "c1", ns)

    assert node.leftovers() == NOTHING
    assert "Resources" not in node.hns.get_namespace(ns)
    node.delete(conf, "c1", ns)
    assert len(node.hns.list_networks()) == 1  # node-level: stays for the next pod


def test_del_deletes_the_endpoint_before_the_routes(node: HnsNode) -> None:
    conf = node.netconf()
    ns = node.namespace()
    node.add(conf, "c1", ns)
    node.hns.inject_fault("delete_route", 1, "E_INVALIDARG")
    rc, out = node.run("DEL", conf, "c1", ns)

    # The route delete failed: the endpoint was already gone, the route not yet.
    assert rc == 1 and out is not None and "delete host route 10.240.0.2/32" in out["msg"]
    assert node.endpoints() == []
    assert node.routes() == [("10.240.0.2/32", "10.240.0.1")]
    node.delete(conf, "c1", ns)  # a repeated DEL finishes
    assert node.leftovers() == NOTHING


@pytest.mark.parametrize("operation", ["detach_endpoint", "delete_endpoint"])
def test_del_with_failing_endpoint_delete_keeps_the_routes_and_a_repeated_del_finishes(
    node: HnsNode, operation: str
) -> None:
    conf = node.netconf()
    ns = node.namespace()
    node.add(conf, "c1", ns)
    node.hns.inject_fault(operation, 1, "HCN_E_MANAGER_STOPPED")
    rc, out = node.run("DEL", conf, "c1", ns)

    assert rc == 1 and out is not None and out["code"] == 100
    assert "HCN_E_MANAGER_STOPPED" in out["msg"] and "host routes are kept" in out["msg"]
    assert [e["Name"] for e in node.endpoints()] == ["c1_eth0"]
    assert node.routes() == [("10.240.0.2/32", "10.240.0.1")]
    assert node.allocations() == ["10.240.0.2"] and len(node.records()) == 1

    node.delete(conf, "c1", ns)
    assert node.leftovers() == NOTHING


def test_del_of_a_tunnel_pod_removes_its_routes_whatever_mode_the_netconf_says(
    node: HnsNode,
) -> None:
    ns = node.namespace()
    node.add(node.netconf("transparent-tunnel"), "c1", ns)
    node.delete(node.netconf("l2bridge"), "c1", ns)

    assert node.leftovers() == NOTHING


def test_del_of_an_l2bridge_pod_touches_no_host_route_though_the_netconf_says_tunnel(
    node: HnsNode,
) -> None:
    ns = node.namespace()
    node.add(node.netconf("l2bridge"), "c1", ns)
    # Any host route call would fail: DEL must not make one for an l2bridge pod.
    node.hns.inject_fault("list_routes", 1, "E_INVALIDARG")
    node.hns.inject_fault("delete_route", 1, "E_INVALIDARG")
    node.delete(node.netconf("transparent-tunnel"), "c1", ns)

    node.hns.clear_faults()
    assert node.leftovers() == NOTHING


def test_stateless_del_finds_the_endpoint_by_name_and_removes_its_routes(
    node: HnsNode,
) -> None:
    conf = node.netconf(dual_stack=True)
    ns = node.namespace()
    node.add(conf, "c1", ns)
    node.add(conf, "c2", node.namespace())
    node.record_path("c1").unlink()  # the plugin's state for c1 is lost
    node.delete(node.netconf("l2bridge", dual_stack=True), "c1", ns)

    assert node.leftovers() == {
        "endpoints": ["c2_eth0"],
        "routes": [("10.240.0.3/32", "10.240.0.1"), ("fd00:240::3/128", "fd00:240::1")],
        "allocations": ["10.240.0.3", "fd00:240::3"],
        "records": ["c2"],
    }


def test_stateless_del_of_an_l2bridge_endpoint_leaves_other_routes(node: HnsNode) -> None:
    conf = node.netconf("l2bridge")
    ns = node.namespace()
    node.add(conf, "c1", ns)
    node.hns.add_route(host_route("10.240.0.77/32", "10.240.0.1"))
    node.record_path("c1").unlink()
    node.delete(conf, "c1", ns)

    assert node.leftovers() == dict(NOTHING, routes=[("10.240.0.77/32", "10.240.0.1")])


def test_check_passes_after_add_and_reports_a_host_route_removed_by_hand(
    node: HnsNode,
) -> None:
    conf = node.netconf()
    ns = node.namespace()
    node.add(conf, "c1", ns)
    assert node.run("CHECK", conf, "c1", ns) == (0, None)

    node.hns.delete_route(host_route("10.240.0.2/32", "10.240.0.1"))
    rc, out = node.run("CHECK", conf, "c1", ns)

    assert rc == 1 and out is not None and out["code"] == 101
    assert out["msg"] == "CHECK: host route 10.240.0.2/32 via 10.240.0.1 is missing"


def test_check_reports_an_endpoint_deleted_or_detached_by_hand(node: HnsNode) -> None:
    conf = node.netconf("l2bridge")
    ns = node.namespace()
    node.add(conf, "c1", ns)
    [ep] = node.endpoints()
    node.hns.detach_endpoint(ns, ep["ID"])
    rc, out = node.run("CHECK", conf, "c1", ns)
    assert rc == 1 and out is not None
    assert out["msg"] == f"CHECK: HNS endpoint {ep['ID']} is not in namespace {ns}"

    node.hns.delete_endpoint(ep["ID"])
    rc, out = node.run("CHECK", conf, "c1", ns)
    assert rc == 1 and out is not None
    assert out["msg"] == f"CHECK: HNS endpoint {ep['ID']} is missing"


def test_gc_removes_endpoints_and_routes_not_in_valid_attachments(node: HnsNode) -> None:
    conf = node.netconf()
    for cid in ("c1", "c2", "c3"):
        node.add(conf, cid, node.namespace())
    node.record_path("c3").unlink()  # lost state: only HNS still knows c3
    gc_conf = dict(conf, **{"cni.dev/valid-attachments": [
        {"containerID": "c1", "ifname": "eth0"}]})
    rc, out = node.run("GC", gc_conf, "", None)

    assert rc == 0, out
    left = node.leftovers()
    assert left["endpoints"] == ["c1_eth0"] and left["records"] == ["c1"]
    assert left["routes"] == [("10.240.0.2/32", "10.240.0.1")]


def test_20_concurrent_adds_get_distinct_ips_and_all_dels_leave_nothing(node: HnsNode) -> None:
    conf = node.netconf()
    pods = [(f"c{i:02d}", node.namespace()) for i in range(20)]

    def add(pod: tuple[str, str]) -> tuple[int, dict[str, object] | None]:
        return node.run("ADD", conf, *pod)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(add, pods))

    assert all(rc == 0 for rc, _ in results), [out for rc, out in results if rc]
    addresses = [out["ips"][0]["address"].split("/")[0]  # type: ignore[index]
                 for _, out in results]
    assert len(set(addresses)) == 20
    assert sorted(node.routes()) == sorted((f"{a}/32", "10.240.0.1") for a in addresses)
    endpoints = node.endpoints()
    assert sorted(e["Name"] for e in endpoints) == sorted(f"{cid}_eth0" for cid, _ in pods)
    by_name = {e["Name"]: e for e in endpoints}
    for cid, ns in pods:
        assert by_name[f"{cid}_eth0"]["HostComputeNamespace"] == ns

    def delete(pod: tuple[str, str]) -> tuple[int, dict[str, object] | None]:
        return node.run("DEL", conf, *pod)

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert all(rc == 0 for rc, _ in pool.map(delete, pods))
    assert node.leftovers() == NOTHING
