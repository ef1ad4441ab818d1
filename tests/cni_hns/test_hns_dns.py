"""The pod's DNS on its HNS endpoint, as Azure CNI and win-bridge put it there: HCN v2
`Dns` {Domain, Search, ServerList, Options}; HNS v1 `DNSServerList`/`DNSSuffix` as
comma-joined text. CHECK compares the endpoint's DNS with the one recorded at ADD."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hnsnode import NOTHING, HnsNode

INFRA = "container:4f1c2d3e5a6b"  # docker's infra container namespace: the v1 flow

POD_DNS = {"nameservers": ["10.0.0.10", "10.0.0.11"],
           "search": ["ns1.svc.cluster.local", "svc.cluster.local"],
           "options": ["ndots:5"], "domain": "cluster.local"}
RUNTIME_DNS = {"servers": ["10.96.0.10"], "searches": ["default.svc.cluster.local"],
               "options": ["ndots:2"]}


def v1_conf(node: HnsNode, **extra: Any) -> dict[str, Any]:
    return node.netconf("l2bridge", hns={"api": "v1", "state": str(node.hns_state)}, **extra)


def add_pod(node: HnsNode, api: str, conf: dict[str, Any] | None = None,
            **extra: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """ADD one pod through `api`: (its netconf, the CNI result, the endpoint as that API
    shows it, CNI_NETNS)."""
    if conf is None:
        conf = v1_conf(node, **extra) if api == "v1" else node.netconf(**extra)
    netns = INFRA if api == "v1" else node.namespace()
    out = node.add(conf, "c1", netns)
    [ep] = node.hns.list_endpoints_v1() if api == "v1" else node.endpoints()
    return conf, out, ep, netns


def test_netconf_dns_goes_on_the_v2_endpoint_as_hcn_dns(node: HnsNode) -> None:
    _, out, ep, _ = add_pod(node, "v2", dns=POD_DNS)

    assert ep["Dns"] == {"Domain": "cluster.local",
                         "Search": ["ns1.svc.cluster.local", "svc.cluster.local"],
                         "ServerList": ["10.0.0.10", "10.0.0.11"], "Options": ["ndots:5"]}
    assert out["dns"] == POD_DNS
    # The same endpoint through HNS v1: servers and search list as comma-joined text.
    [v1] = node.hns.list_endpoints_v1()
    assert (v1["DNSServerList"], v1["DNSSuffix"]) == (
        "10.0.0.10,10.0.0.11", "ns1.svc.cluster.local,svc.cluster.local")


def test_netconf_dns_goes_on_the_v1_endpoint_as_comma_joined_server_list_and_suffix(
    node: HnsNode,
) -> None:
    _, out, ep, _ = add_pod(node, "v1", dns=POD_DNS)

    assert ep["DNSServerList"] == "10.0.0.10,10.0.0.11"
    assert ep["DNSSuffix"] == "ns1.svc.cluster.local,svc.cluster.local"
    assert "DNSDomain" not in ep  # Azure CNI and win-bridge send no domain through v1
    [v2] = node.endpoints()
    assert v2["Dns"] == {"Search": ["ns1.svc.cluster.local", "svc.cluster.local"],
                         "ServerList": ["10.0.0.10", "10.0.0.11"]}
    assert out["dns"] == POD_DNS  # the result still reports all of it


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_runtime_config_dns_overrides_the_netconf_dns_on_the_endpoint(
    node: HnsNode, api: str
) -> None:
    _, out, ep, _ = add_pod(node, api, dns=POD_DNS, runtimeConfig={"dns": RUNTIME_DNS})

    if api == "v2":
        assert ep["Dns"] == {"Search": ["default.svc.cluster.local"],
                             "ServerList": ["10.96.0.10"], "Options": ["ndots:2"]}
    else:
        assert (ep["DNSServerList"], ep["DNSSuffix"]) == (
            "10.96.0.10", "default.svc.cluster.local")
    assert out["dns"] == {"nameservers": ["10.96.0.10"],
                          "search": ["default.svc.cluster.local"], "options": ["ndots:2"]}


def static_ipam(node: HnsNode, address: str = "10.240.0.9/24") -> dict[str, Any]:
    return {"type": "static", "addresses": [{"address": address, "gateway": "10.240.0.1"}],
            "dns": {"nameservers": ["10.0.0.53"], "search": ["ipam.local"]}}


def test_the_ipam_dns_goes_on_the_endpoint_when_the_netconf_has_none(node: HnsNode) -> None:
    _, out, ep, _ = add_pod(node, "v2", ipam=static_ipam(node))

    assert ep["Dns"] == {"Search": ["ipam.local"], "ServerList": ["10.0.0.53"]}
    assert out["dns"] == {"nameservers": ["10.0.0.53"], "search": ["ipam.local"]}


def test_the_netconf_dns_wins_over_the_ipam_dns_on_the_endpoint(node: HnsNode) -> None:
    _, _, ep, _ = add_pod(node, "v2", ipam=static_ipam(node),
                          dns={"nameservers": ["10.0.0.10"]})

    assert ep["Dns"] == {"ServerList": ["10.0.0.10"]}


def chained_conf(node: HnsNode, dns: object) -> dict[str, Any]:
    conf = node.netconf()
    del conf["ipam"]
    conf["prevResult"] = {"cniVersion": "1.1.0", "interfaces": [], "dns": dns,
                          "ips": [{"address": "10.240.0.9/24", "gateway": "10.240.0.1"}]}
    return conf


def test_the_prev_result_dns_goes_on_the_endpoint_when_chained_without_ipam(
    node: HnsNode,
) -> None:
    conf = chained_conf(node, {"nameservers": ["10.0.0.99"], "options": ["ndots:1"]})
    _, out, ep, _ = add_pod(node, "v2", conf)

    assert ep["Dns"] == {"ServerList": ["10.0.0.99"], "Options": ["ndots:1"]}
    assert out["dns"] == {"nameservers": ["10.0.0.99"], "options": ["ndots:1"]}


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_no_dns_anywhere_puts_no_dns_field_on_the_endpoint(node: HnsNode, api: str) -> None:
    _, out, ep, _ = add_pod(node, api, dns={"nameservers": []})  # empty asks for nothing

    assert not {"Dns", "DNSServerList", "DNSSuffix", "DNSDomain"} & set(ep)
    assert "dns" not in out
    assert "Dns" not in node.endpoints()[0]


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_check_passes_while_the_endpoint_dns_is_the_recorded_one(
    node: HnsNode, api: str
) -> None:
    conf, _, _, netns = add_pod(node, api, dns=POD_DNS)

    assert node.records()[0]["backend_state"]["dns"] == POD_DNS
    assert node.run("CHECK", conf, "c1", netns) == (0, None)


def replace_endpoint_dns(node: HnsNode, api: str, netns: str, dns: dict[str, Any]) -> None:
    """Someone remade the pod's endpoint (same ID, name, address) with other DNS settings."""
    if api == "v1":
        [old] = node.hns.list_endpoints_v1()
        node.hns.delete_endpoint_v1(old["ID"])
        keep = ("ID", "Name", "VirtualNetwork", "IPAddress", "PrefixLength", "GatewayAddress")
        node.hns.create_endpoint_v1({**{k: old[k] for k in keep}, **dns})
        node.hns.attach_container(old["ID"], "c1")
        return
    [old] = node.endpoints()
    node.hns.delete_endpoint(old["ID"])
    keep = ("ID", "Name", "HostComputeNetwork", "IpConfigurations", "Routes", "SchemaVersion")
    node.hns.create_endpoint(old["HostComputeNetwork"], {**{k: old[k] for k in keep}, **dns})
    node.hns.attach_endpoint(netns, old["ID"])


@pytest.mark.parametrize(
    ("api", "dns", "shown"),
    [
        ("v2", {"Dns": {"ServerList": ["10.0.0.66"]}}, '{"ServerList":["10.0.0.66"]}'),
        ("v2", {}, "none"),
        ("v1", {"DNSServerList": "10.0.0.10", "DNSSuffix": "svc.cluster.local"},
         '{"DNSServerList":"10.0.0.10","DNSSuffix":"svc.cluster.local"}'),
    ],
    ids=["v2-other-server", "v2-dns-gone", "v1-one-server-lost"],
)
def test_check_reports_drift_when_the_endpoint_dns_differs_from_the_recorded_one(
    node: HnsNode, api: str, dns: dict[str, Any], shown: str
) -> None:
    conf, _, ep, netns = add_pod(node, api, dns=POD_DNS)
    replace_endpoint_dns(node, api, netns, dns)

    rc, out = node.run("CHECK", conf, "c1", netns)

    assert rc != 0 and out is not None and out["code"] == 101, out
    assert f"HNS endpoint {ep['ID']} has DNS {shown}, not the recorded " in out["msg"]


def test_check_reports_drift_when_dns_appears_on_an_endpoint_made_without(
    node: HnsNode,
) -> None:
    conf, _, ep, netns = add_pod(node, "v2")
    replace_endpoint_dns(node, "v2", netns, {"Dns": {"ServerList": ["10.0.0.66"]}})

    rc, out = node.run("CHECK", conf, "c1", netns)

    assert rc != 0 and out is not None and out["code"] == 101, out
    shown = '{"ServerList":["10.0.0.66"]}'
    assert out["msg"].endswith(f"HNS endpoint {ep['ID']} has DNS {shown}, not the recorded none")


def test_check_leaves_the_dns_of_a_record_made_before_dns_was_recorded_alone(
    node: HnsNode,
) -> None:
    conf, _, _, netns = add_pod(node, "v2", dns=POD_DNS)
    path = node.record_path("c1")
    record = json.loads(path.read_text())
    del record["backend_state"]["dns"]
    path.write_text(json.dumps(record))

    assert node.run("CHECK", conf, "c1", netns) == (0, None)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"dns": {"nameservers": "10.0.0.10"}}, "dns.nameservers: must be an array of strings"),
        ({"dns": {"search": ["a", 1]}}, "dns.search: must be an array of strings"),
        ({"dns": {"domain": ["cluster.local"]}}, "dns.domain: must be a string"),
        ({"dns": "10.0.0.10"}, "dns: must be an object"),
        ({"runtimeConfig": {"dns": {"servers": "10.0.0.10"}}},
         "runtimeConfig.dns.servers: must be an array of strings"),
        ({"runtimeConfig": {"dns": ["10.0.0.10"]}}, "runtimeConfig.dns: must be an object"),
    ],
    ids=["nameservers", "search", "domain", "dns", "runtime-servers", "runtime-dns"],
)
def test_invalid_dns_is_refused_naming_the_field_and_leaves_nothing(
    node: HnsNode, extra: dict[str, Any], field: str
) -> None:
    rc, out = node.run("ADD", node.netconf(**extra), "c1", node.namespace())

    assert rc != 0 and out is not None and out["code"] == 7, out
    assert out["msg"] == field
    assert node.leftovers() == NOTHING


def test_a_malformed_prev_result_dns_is_refused_naming_the_field_and_leaves_nothing(
    node: HnsNode,
) -> None:
    conf = chained_conf(node, {"nameservers": "10.0.0.99"})
    rc, out = node.run("ADD", conf, "c1", node.namespace())

    assert rc != 0 and out is not None and out["code"] == 6, out
    assert out["msg"] == "prevResult.dns.nameservers: must be an array of strings"
    assert node.leftovers() == NOTHING

