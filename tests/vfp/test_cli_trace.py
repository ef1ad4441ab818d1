"""`vfpnet vfp list-rules / trace / trace-path` on endpoints made through the HNS emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.schema.route import host_route

from .cli_run import assert_one_line_error, vfpnet
from .endpoints import acl

V2 = {"Major": 2, "Minor": 0}
NETWORK = {
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
    "SchemaVersion": V2,
}
WEB, CLIENT, TUNNELED = "10.240.0.10", "10.240.0.11", "10.240.0.12"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A node: `web` allows TCP 80 in, `client` has no ACLs, `tunneled` has a /32 route."""
    state = tmp_path / "state.db"
    emu = Emulator(str(state))
    try:
        net = emu.create_network(NETWORK)

        def ep(name: str, ip: str, *policies: dict[str, Any]) -> str:
            doc = {
                "Name": name,
                "IpConfigurations": [{"IpAddress": ip, "PrefixLength": 24}],
                "Policies": list(policies),
                "SchemaVersion": V2,
            }
            return str(emu.create_endpoint(net["ID"], doc)["ID"])

        ids = {
            "state": str(state),
            "web": ep(
                "web",
                WEB,
                acl("Allow", "In", 100, protocols="6", local_ports="80", rule_id="allow-web"),
            ),
            "client": ep("client", CLIENT),
            "tunneled": ep("tunneled", TUNNELED, acl("Allow", "In", 100, protocols="6")),
        }
        emu.add_route(host_route(TUNNELED, "10.240.0.1"))
    finally:
        emu.close()
    yield ids


def vfp(node: dict[str, Any], *args: str) -> Any:
    res = vfpnet("vfp", "--state", node["state"], *args)
    assert res.returncode == 0, res.stderr
    return res


def trace(node: dict[str, Any], endpoint: str, direction: str, protocol: str, src: str,
          dst: str, *more: str) -> Any:  # fmt: skip
    return vfp(
        node, "trace", "--endpoint", endpoint, "--direction", direction, "--protocol", protocol,
        "--src", src, "--dst", dst, *more,
    )  # fmt: skip


def test_trace_json_names_the_deciding_rule(node: dict[str, Any]) -> None:
    res = trace(node, node["web"], "in", "TCP", f"{CLIENT}:40000", f"{WEB}:80", "--format", "json")
    out = json.loads(res.stdout)
    assert out["verdict"] == "allow"
    assert (out["layer"], out["group"], out["rule"]) == (
        "ACL_ENDPOINT_LAYER",
        "ACL_ENDPOINT_GROUP_IPV4_IN",
        "allow-web",
    )


def test_trace_default_block_and_text_format(node: dict[str, Any]) -> None:
    res = trace(node, node["web"], "in", "udp", f"{CLIENT}:40000", f"{WEB}:80", "--format", "json")
    out = json.loads(res.stdout)
    assert (out["verdict"], out["rule"]) == ("block", None)
    text = trace(node, "web", "in", "TCP", f"{CLIENT}:40000", f"{WEB}:81").stdout
    assert text.splitlines()[0] == "verdict: block"
    assert "default" in text


def test_trace_of_endpoint_without_acls_allows(node: dict[str, Any]) -> None:
    res = trace(node, node["client"], "out", "ICMP", CLIENT, WEB, "--format", "json")
    assert json.loads(res.stdout)["verdict"] == "allow"


def test_list_rules_shows_layers_groups_and_rules(node: dict[str, Any]) -> None:
    text = vfp(node, "list-rules", "--endpoint", node["web"]).stdout
    for needle in (
        "LAYER : ACL_ENDPOINT_LAYER",
        "GROUP : ACL_ENDPOINT_GROUP_IPV4_IN",
        "RULE : allow-web",
        "Priority : 100",
        "Local ports : 80",
    ):
        assert needle in text
    data = json.loads(vfp(node, "list-rules", "--endpoint", "web", "--format", "json").stdout)
    group = data["layers"][0]["groups"][0]
    assert group["group"] == "ACL_ENDPOINT_GROUP_IPV4_IN"
    assert group["rules"][0]["id"] == "allow-web"


def test_trace_path_same_subnet_does_not_cross_the_uplink(node: dict[str, Any]) -> None:
    res = vfp(
        node,
        "trace-path",
        "--from-endpoint",
        node["client"],
        "--dst",
        f"{WEB}:80",
        "--protocol",
        "TCP",
        "--format",
        "json",
    )
    out = json.loads(res.stdout)
    assert out["verdict"] == "allow"
    assert out["crosses_uplink"] is False
    assert [h["hop"] for h in out["hops"]] == ["source-port", "vswitch", "destination-port"]


def test_trace_path_host_route_meets_the_nsg_set_by_set_nsg(
    node: dict[str, Any], tmp_path: Path
) -> None:
    nsg = tmp_path / "nsg.json"
    nsg.write_text(
        json.dumps(
            {
                "securityRules": [
                    {
                        "name": "deny-8080",
                        "properties": {
                            "priority": 100,
                            "direction": "Inbound",
                            "access": "Deny",
                            "protocol": "Tcp",
                            "sourceAddressPrefix": "*",
                            "sourcePortRange": "*",
                            "destinationAddressPrefix": f"{TUNNELED}/32",
                            "destinationPortRange": "8080",
                        },
                    }
                ]
            }
        )
    )
    vfp(node, "set-nsg", str(nsg))
    args = (
        "trace-path",
        "--from-endpoint",
        node["client"],
        "--protocol",
        "TCP",
        "--src-port",
        "40000",
        "--format",
        "json",
    )
    blocked = json.loads(vfp(node, *args, "--dst", f"{TUNNELED}:8080").stdout)
    assert blocked["verdict"] == "block"
    assert blocked["crosses_uplink"] is True
    assert [(h["hop"], h["verdict"]) for h in blocked["hops"]][-1] == ("uplink-nsg-in", "block")
    assert blocked["hops"][-1]["rule"] == "deny-8080"
    assert blocked["src"] == f"{CLIENT}:40000"
    allowed = json.loads(vfp(node, *args, "--dst", f"{TUNNELED}:443").stdout)
    assert allowed["verdict"] == "allow"
    assert [h["hop"] for h in allowed["hops"]] == [
        "source-port",
        "host-route",
        "uplink-nsg-out",
        "uplink-nsg-in",
        "destination-port",
    ]
    text = vfp(
        node,
        "trace-path",
        "--from-endpoint",
        "client",
        "--dst",
        f"{TUNNELED}:8080",
        "--protocol",
        "TCP",
    ).stdout
    assert "crosses the uplink NSG: yes" in text and "deny-8080" in text


def test_unknown_endpoint_is_one_line_hns_error(node: dict[str, Any]) -> None:
    res = vfpnet("vfp", "--state", node["state"], "list-rules", "--endpoint", "nope")
    assert_one_line_error(res, "0x803B0002", "nope")
    res = vfpnet(
        "vfp",
        "--state",
        node["state"],
        "trace-path",
        "--from-endpoint",
        "nope",
        "--dst",
        f"{WEB}:80",
        "--protocol",
        "TCP",
    )
    assert_one_line_error(res, "0x803B0002", "nope")


def test_trace_reply_rides_the_flow_of_the_allowed_connection(node: dict[str, Any]) -> None:
    args = (
        "trace",
        "--endpoint",
        node["web"],
        "--direction",
        "out",
        "--protocol",
        "TCP",
        "--src",
        f"{WEB}:80",
        "--dst",
        f"{CLIENT}:40000",
        "--format",
        "json",
    )
    alone = json.loads(vfp(node, *args).stdout)
    assert alone["verdict"] == "block"  # web has no Out rule: default block
    reply = json.loads(vfp(node, *args, "--reply").stdout)
    assert (reply["verdict"], reply["flow"], reply["rule"]) == ("allow", "reply", "allow-web")
    other = list(args)
    other[other.index(f"{WEB}:80")] = f"{WEB}:81"  # answers a connection that was blocked
    assert json.loads(vfp(node, *other, "--reply").stdout)["verdict"] == "block"
