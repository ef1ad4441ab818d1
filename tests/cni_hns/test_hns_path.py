"""The point of transparent-tunnel, shown by a VFP path trace on the twin.

Two pods on one node, made by the plugin. In transparent-tunnel their same-node flow
follows the /32 host route to the gateway, out through the uplink and back, so the cloud
NSG on the uplink sees it (and can block it); in l2bridge the vSwitch switches it directly
and the NSG never sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hnsnode import HnsNode

from vfpnet.vfp import load_node, path_trace


def _vfp(node: HnsNode, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "VFPNET_"))}
    return subprocess.run(
        [sys.executable, "-m", "vfpnet", "vfp", "--state", str(node.hns_state), *args],
        capture_output=True, text=True, env=env, input=stdin, timeout=60,
    )


def _two_pods(node: HnsNode, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    conf = node.netconf(mode)
    node.add(conf, "a", node.namespace())
    node.add(conf, "b", node.namespace())
    by_name = {e["Name"]: e for e in node.endpoints()}
    return by_name["a_eth0"], by_name["b_eth0"]


def _trace(node: HnsNode, src: dict[str, Any], dst: dict[str, Any]) -> dict[str, Any]:
    dst_ip = dst["IpConfigurations"][0]["IpAddress"]
    res = _vfp(node, "trace-path", "--from-endpoint", src["ID"], "--dst", f"{dst_ip}:80",
               "--protocol", "TCP", "--format", "json")
    assert res.returncode == 0, res.stderr
    trace: dict[str, Any] = json.loads(res.stdout)
    return trace


def _deny_a_to_b(node: HnsNode, a: dict[str, Any], b: dict[str, Any]) -> None:
    rule = {
        "name": "deny-a-to-b",
        "properties": {
            "priority": 100, "direction": "Outbound", "access": "Deny", "protocol": "Tcp",
            "sourceAddressPrefix": a["IpConfigurations"][0]["IpAddress"],
            "sourcePortRange": "*",
            "destinationAddressPrefix": b["IpConfigurations"][0]["IpAddress"],
            "destinationPortRange": "80",
        },
    }
    res = _vfp(node, "set-nsg", "-", stdin=json.dumps({"securityRules": [rule]}))
    assert res.returncode == 0, res.stderr


def test_same_node_flow_crosses_the_uplink_nsg_in_transparent_tunnel(node: HnsNode) -> None:
    a, b = _two_pods(node, "transparent-tunnel")
    trace = _trace(node, a, b)

    assert trace["verdict"] == "allow" and trace["crosses_uplink"] is True
    assert [h["hop"] for h in trace["hops"]] == [
        "source-port", "host-route", "uplink-nsg-out", "uplink-nsg-in", "destination-port",
    ]
    assert trace["hops"][1]["next_hop"] == "10.240.0.1"
    assert trace["to_endpoint"] == b["ID"]


def test_same_node_flow_stays_on_the_vswitch_in_l2bridge(node: HnsNode) -> None:
    a, b = _two_pods(node, "l2bridge")
    trace = _trace(node, a, b)

    assert trace["verdict"] == "allow" and trace["crosses_uplink"] is False
    assert [h["hop"] for h in trace["hops"]] == ["source-port", "vswitch", "destination-port"]


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [("transparent-tunnel", "block"), ("l2bridge", "allow"), ("transparent", "allow")],
)
def test_an_nsg_rule_against_a_same_node_pod_applies_only_in_transparent_tunnel(
    node: HnsNode, mode: str, verdict: str
) -> None:
    a, b = _two_pods(node, mode)
    _deny_a_to_b(node, a, b)

    assert _trace(node, a, b)["verdict"] == verdict
    # The rule names pod A as source: B -> A is not affected in any mode.
    assert _trace(node, b, a)["verdict"] == "allow"
    if mode == "transparent-tunnel":
        blocked = _trace(node, a, b)["hops"][-1]
        assert (blocked["hop"], blocked["rule"]) == ("uplink-nsg-out", "deny-a-to-b")


def test_after_del_the_flow_to_the_deleted_pod_no_longer_rides_a_host_route(
    node: HnsNode,
) -> None:
    a, b = _two_pods(node, "transparent-tunnel")
    node.delete(node.netconf(), "b", None)
    b_ip = b["IpConfigurations"][0]["IpAddress"]

    trace = path_trace(load_node(str(node.hns_state)), a["ID"], b_ip, 80, 6)

    assert trace.to_endpoint is None
    assert "host-route" not in [h.hop for h in trace.hops]
