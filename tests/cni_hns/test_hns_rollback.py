"""A failed or killed ADD on the HNS twin leaves nothing: no endpoint, route, IP or record."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hnsnode import NOTHING, HnsNode

from vfpnet.hns.schema.route import host_route

# Every HNS call of a transparent-tunnel ADD of a dual-stack pod, in order (the 2nd
# add_route is the IPv6 one: the IPv4 route made before it must go too).
HNS_STEPS = [
    "get_namespace:1", "list_networks:1", "create_network:1", "list_endpoints:1",
    "create_endpoint:1", "attach_endpoint:1", "list_routes:1", "add_route:1", "add_route:2",
]
CNI_POINTS = [
    "after-ipam", "after-hns-network", "after-hns-endpoint", "after-hns-attach",
    "after-hns-route", "before-record-ready",
]


@pytest.mark.parametrize("step", HNS_STEPS)
def test_hns_failure_at_each_add_step_leaves_nothing(node: HnsNode, step: str) -> None:
    operation, nth = step.split(":")
    node.hns.inject_fault(operation, int(nth), "E_INVALIDARG")
    rc, out = node.run("ADD", node.netconf(dual_stack=True), "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 100
    assert f"injected fault: {operation} call {nth}" in out["msg"], out
    assert "details" not in out, out  # every undo worked
    assert node.leftovers() == NOTHING


@pytest.mark.parametrize("point", CNI_POINTS)
def test_failure_at_each_plugin_step_leaves_nothing(node: HnsNode, point: str) -> None:
    rc, out = node.run("ADD", node.netconf(dual_stack=True), "c1", node.namespace(),
                       VFPNET_CNI_FAULT=point)

    assert rc == 1 and out is not None and out["msg"] == f"injected fault at {point}"
    assert node.leftovers() == NOTHING


def test_partial_route_failure_removes_the_first_route_and_the_endpoint(node: HnsNode) -> None:
    node.hns.inject_fault("add_route", 2, "ERROR_NOT_FOUND")
    rc, out = node.run("ADD", node.netconf(dual_stack=True), "c1", node.namespace())

    assert rc == 1 and out is not None
    assert "add host route fd00:240::2/128 via fd00:240::1" in out["msg"]
    assert node.routes() == [] and node.endpoints() == [] and node.allocations() == []


def test_a_failing_add_leaves_the_other_pods_alone(node: HnsNode) -> None:
    conf = node.netconf()
    node.add(conf, "c1", node.namespace())
    node.hns.inject_fault("add_route", 1, "E_INVALIDARG")
    rc, _ = node.run("ADD", conf, "c2", node.namespace())

    assert rc == 1
    assert node.leftovers() == {
        "endpoints": ["c1_eth0"], "routes": [("10.240.0.2/32", "10.240.0.1")],
        "allocations": ["10.240.0.2"], "records": ["c1"],
    }


def test_an_endpoint_left_by_a_failed_rollback_is_removed_by_the_next_del(
    node: HnsNode,
) -> None:
    conf = node.netconf()
    ns = node.namespace()
    node.hns.inject_fault("add_route", 1, "E_INVALIDARG")
    node.hns.inject_fault("delete_endpoint", 1, "HCN_E_MANAGER_STOPPED")
    rc, out = node.run("ADD", conf, "c1", ns)

    assert rc == 1 and out is not None
    assert "undo HNS endpoint" in out["details"] and "HCN_E_MANAGER_STOPPED" in out["details"]
    assert [e["Name"] for e in node.endpoints()] == ["c1_eth0"]  # the rollback could not
    node.delete(conf, "c1", ns)  # no record: found by its name
    assert node.leftovers() == NOTHING


def _wait_for(what: Callable[[], bool], proc: object) -> None:
    deadline = time.monotonic() + 30
    while not what():
        assert time.monotonic() < deadline, "the plugin never reached its pause"
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["after-hns-endpoint", "after-hns-route"])
def test_retried_add_after_the_plugin_was_killed_mid_add_succeeds_with_one_of_each(
    node: HnsNode, point: str
) -> None:
    conf = node.netconf()
    ns = node.namespace()
    proc = node.start("ADD", conf, "c1", ns, VFPNET_CNI_FAULT=f"{point}:pause")
    try:
        if point == "after-hns-endpoint":
            _wait_for(lambda: bool(node.endpoints()), proc)
            time.sleep(0.2)
            assert node.routes() == []  # the route comes only after the endpoint
        else:
            _wait_for(lambda: bool(node.routes()), proc)
    finally:
        node.kill(proc)
    assert node.records()[0]["status"] == "adding"

    out = node.add(conf, "c1", ns)  # the runtime retries

    [ep] = node.endpoints()
    assert ep["HostComputeNamespace"] == ns
    address = out["ips"][0]["address"].split("/")[0]
    assert node.routes() == [(f"{address}/32", "10.240.0.1")]
    assert node.allocations() == [address]
    node.delete(conf, "c1", ns)
    assert node.leftovers() == NOTHING


def _killed_after_the_route(node: HnsNode, conf: dict[str, object], ns: str) -> None:
    proc = node.start("ADD", conf, "c1", ns, VFPNET_CNI_FAULT="before-record-ready:pause")
    try:
        _wait_for(lambda: bool(node.routes()), proc)
    finally:
        node.kill(proc)
    node.record_path("c1").unlink()  # the plugin's state is gone; HNS keeps its objects


STATIC = {"type": "static", "addresses": [{"address": "10.240.0.7/24"}]}


def test_retried_add_with_its_state_lost_replaces_the_endpoint_that_already_exists(
    node: HnsNode,
) -> None:
    conf = node.netconf(ipam=STATIC)
    ns = node.namespace()
    _killed_after_the_route(node, conf, ns)
    [stale] = node.endpoints()

    node.add(conf, "c1", ns)

    [ep] = node.endpoints()
    assert ep["ID"] != stale["ID"] and ep["HostComputeNamespace"] == ns
    assert node.routes() == [("10.240.0.7/32", "10.240.0.1")]
    node.delete(conf, "c1", ns)
    assert node.leftovers() == NOTHING


def test_retried_add_adopts_a_host_route_that_already_exists(node: HnsNode) -> None:
    conf = node.netconf(ipam=STATIC)
    ns = node.namespace()
    _killed_after_the_route(node, conf, ns)
    [stale] = node.endpoints()
    node.hns.delete_endpoint(stale["ID"])  # e.g. HNS dropped it; the host route survived

    node.add(conf, "c1", ns)  # add_route answers ERROR_OBJECT_ALREADY_EXISTS

    assert node.routes() == [("10.240.0.7/32", "10.240.0.1")]
    assert node.records()[0]["backend_state"]["routes"] == [
        {"destination": "10.240.0.7/32", "nextHop": "10.240.0.1"}
    ]
    node.delete(conf, "c1", ns)  # the adopted route is the pod's: DEL removes it
    assert node.leftovers() == NOTHING


def test_a_route_to_the_pod_via_another_next_hop_is_refused_and_kept(node: HnsNode) -> None:
    node.hns.add_route(host_route("10.240.0.2/32", "10.240.0.200"))
    rc, out = node.run("ADD", node.netconf(), "c1", node.namespace())

    assert rc == 1 and out is not None and out["code"] == 100
    assert out["msg"].startswith(
        "host route 10.240.0.2/32 via 10.240.0.200 already exists and would bypass gateway "
        "10.240.0.1"
    )
    assert node.leftovers() == dict(NOTHING, routes=[("10.240.0.2/32", "10.240.0.200")])
