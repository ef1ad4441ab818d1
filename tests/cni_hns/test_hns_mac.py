"""A requested pod MAC on the HNS backend: the endpoint is created with it (`MacAddress`, in
HNS's dashed form) through HCN v2 and HNS v1, the result reports it, and an HNS that
hands out another MAC fails the ADD instead of giving the pod a MAC nobody asked for."""

from __future__ import annotations

import pytest
from hnsnode import NOTHING, HnsNode

MAC = "c2:11:22:33:44:55"


@pytest.mark.parametrize("api", ["v2", "v1"])
@pytest.mark.parametrize("how", ["runtimeConfig", "args", "CNI_ARGS"])
def test_requested_mac_is_the_endpoints(node: HnsNode, api: str, how: str) -> None:
    conf = node.netconf("l2bridge", hns={"api": api, "state": str(node.hns_state)})
    env = {}
    if how == "runtimeConfig":
        conf["runtimeConfig"] = {"mac": MAC}
    elif how == "args":
        conf["args"] = {"cni": {"mac": MAC.upper()}}
    else:
        env["CNI_ARGS"] = f"IgnoreUnknown=1;MAC={MAC}"
    netns = node.namespace() if api == "v2" else "none"
    result = node.add(conf, "c1", netns, **env)
    [endpoint] = node.endpoints()
    assert endpoint["MacAddress"] == "C2-11-22-33-44-55"
    assert result["interfaces"][0]["mac"] == MAC
    node.delete(conf, "c1", netns)
    assert node.leftovers() == NOTHING


def test_without_a_request_hns_picks_the_mac(node: HnsNode) -> None:
    conf = node.netconf("l2bridge")
    result = node.add(conf, "c1", node.namespace())
    [endpoint] = node.endpoints()
    assert result["interfaces"][0]["mac"] == endpoint["MacAddress"].replace("-", ":").lower()
    assert endpoint["MacAddress"].startswith("00-15-5D")


def test_a_bad_requested_mac_is_refused_before_anything_is_made(node: HnsNode) -> None:
    conf = node.netconf("transparent-tunnel", runtimeConfig={"mac": "01:00:5e:00:00:01"})
    rc, out = node.run("ADD", conf, "c1", node.namespace())
    assert rc == 1 and out is not None and out["code"] == 7
    assert str(out["msg"]).startswith("runtimeConfig.mac: 01:00:5e:00:00:01 is a multicast")
    assert node.leftovers() == NOTHING
