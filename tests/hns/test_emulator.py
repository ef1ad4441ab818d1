"""The emulator behaves as HNS does for what the CNI, kube-proxy, NPM and Calico send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError
from vfpnet.hns.schema.route import host_route
from vfpnet.hns.version import DEFAULT_VERSION

from .conftest import acl, l2bridge, recorded


def policy_request(kind: str, *policies: dict[str, Any]) -> dict[str, Any]:
    return {"ResourceType": "Policy", "RequestType": kind, "Settings": {"Policies": list(policies)}}


def test_azure_cni_network_and_endpoint_are_accepted_and_echoed_with_ids(emu: Emulator) -> None:
    net_json = recorded("azure_cni_network_v2.json")
    net = emu.create_network(net_json)
    assert set(net) >= set(net_json) | {"ID"}
    assert {k: v for k, v in net.items() if k != "ID"} == net_json
    ep_json = recorded("azure_cni_endpoint_v2.json")
    ep = emu.create_endpoint(net["ID"], json.dumps(ep_json))
    assert ep["HostComputeNetwork"] == net["ID"]
    for key, value in ep_json.items():
        assert ep[key] == value
    assert emu.get_endpoint(ep["ID"]) == ep
    assert emu.get_endpoint(ep["ID"].lower()) == ep


def test_endpoint_without_ip_configurations_gets_the_lowest_free_address(
    emu: Emulator, net: dict[str, Any]
) -> None:
    a = emu.create_endpoint(net["ID"], {})
    b = emu.create_endpoint(net["ID"], {"IpConfigurations": [{"IpAddress": "10.240.0.3"}]})
    c = emu.create_endpoint(net["ID"], {})
    assert a["IpConfigurations"] == [{"IpAddress": "10.240.0.2", "PrefixLength": 24}]
    assert b["IpConfigurations"] == [{"IpAddress": "10.240.0.3", "PrefixLength": 24}]
    assert c["IpConfigurations"][0]["IpAddress"] == "10.240.0.4"
    emu.delete_endpoint(a["ID"])
    assert emu.create_endpoint(net["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.240.0.2"


def test_dual_stack_network_allocates_one_address_per_family(emu: Emulator) -> None:
    net = l2bridge()
    net["Ipams"][0]["Subnets"].append({"IpAddressPrefix": "fd00:240::/64"})
    created = emu.create_network(net)
    ep = emu.create_endpoint(created["ID"], {})
    assert [c["IpAddress"] for c in ep["IpConfigurations"]] == ["10.240.0.2", "fd00:240::2"]


def test_modify_endpoint_add_appends_update_replaces_remove_removes(
    emu: Emulator, net: dict[str, Any]
) -> None:
    a, b, c = acl(Priority=100), acl(Priority=200), acl(Priority=300, Action="Block")
    ep = emu.create_endpoint(net["ID"], {"Policies": [a]})
    assert emu.modify_endpoint(ep["ID"], policy_request("Add", b))["Policies"] == [a, b]
    assert emu.modify_endpoint(ep["ID"], policy_request("Add", b))["Policies"] == [a, b, b]
    assert emu.modify_endpoint(ep["ID"], policy_request("Remove", b))["Policies"] == [a]
    assert emu.modify_endpoint(ep["ID"], policy_request("Remove", c))["Policies"] == [a]
    assert emu.modify_endpoint(ep["ID"], policy_request("Update", b, c))["Policies"] == [b, c]
    assert emu.modify_endpoint(ep["ID"], policy_request("Refresh"))["Policies"] == [b, c]
    assert "Policies" not in emu.modify_endpoint(ep["ID"], policy_request("Update"))
    assert emu.get_endpoint(ep["ID"]).get("Policies") is None


def test_calico_acl_update_replaces_the_endpoint_policies(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint(
        net["ID"],
        recorded("azure_cni_endpoint_v2.json")
        | {"IpConfigurations": [{"IpAddress": "10.240.0.27"}]},
    )
    request = recorded("calico_v2_acl_update.json")
    out = emu.modify_endpoint(ep["ID"], request)
    assert out["Policies"] == request["Settings"]["Policies"]


def test_modify_endpoint_port_request_is_accepted_without_changing_policies(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint(net["ID"], {"Policies": [acl()]})
    port = {
        "ResourceType": "Port",
        "RequestType": "Add",
        "Settings": {
            "PortId": "00000000-0000-0000-0000-000000000001",
            "VirtualNicName": "vnic",
            "VirtualMachineId": "00000000-0000-0000-0000-000000000002",
        },
    }
    assert emu.modify_endpoint(ep["ID"], port) == ep


def test_npm_set_policies_add_update_remove_by_id(emu: Emulator, net: dict[str, Any]) -> None:
    emu.modify_network(net["ID"], recorded("azure_npm_setpolicy_add.json"))
    sets = {p["Settings"]["Id"]: p["Settings"] for p in emu.get_network(net["ID"])["Policies"]}
    assert sets["azure-npm-3216600258"]["Values"] == "10.240.0.27,10.240.0.28"
    updated = {
        "Type": "SetPolicy",
        "Settings": {
            "Id": "azure-npm-3216600258",
            "Name": "ns-default",
            "PolicyType": "IPSET",
            "Values": "10.240.0.30",
        },
    }
    out = emu.modify_network(net["ID"], policy_request("Update", updated))
    sets = {p["Settings"]["Id"]: p["Settings"] for p in out["Policies"]}
    assert sets["azure-npm-3216600258"]["Values"] == "10.240.0.30"
    assert len(sets) == 4
    nested = recorded("azure_npm_setpolicy_add.json")["Settings"]["Policies"][3]
    out = emu.modify_network(net["ID"], policy_request("Remove", nested))
    assert "azure-npm-784554818" not in {p["Settings"]["Id"] for p in out["Policies"]}


def test_modify_network_dns(emu: Emulator, net: dict[str, Any]) -> None:
    out = emu.modify_network(
        net["ID"],
        {"ResourceType": "DNS", "RequestType": "Update", "Settings": {"ServerList": ["10.0.0.10"]}},
    )
    assert out["Dns"] == {"ServerList": ["10.0.0.10"]}


def test_namespace_attach_detach_and_state_filter(emu: Emulator, net: dict[str, Any]) -> None:
    ns = emu.create_namespace(recorded("hcsshim_namespace_v2.json"))
    assert ns["Type"] == "Host" and ns["NamespaceId"] >= 2
    ep = emu.create_endpoint(net["ID"], {})
    other = emu.create_endpoint(net["ID"], {})
    emu.attach_endpoint(ns["ID"], ep["ID"])
    assert emu.get_endpoint(ep["ID"])["HostComputeNamespace"] == ns["ID"]
    assert emu.get_namespace(ns["ID"])["Resources"] == [
        {"Type": "Endpoint", "Data": {"ID": ep["ID"]}}
    ]
    running = emu.list_endpoints(
        {"SchemaVersion": {"Major": 2, "Minor": 0}, "Filter": json.dumps({"State": 3})}
    )
    assert [e["ID"] for e in running] == [ep["ID"]]
    with pytest.raises(HcnError) as err:
        emu.attach_endpoint(ns["ID"], ep["ID"])
    assert err.value.hresult == 0x803B002B
    with pytest.raises(HcnError) as err:
        emu.detach_endpoint(ns["ID"], other["ID"])
    assert err.value.hresult == 0x803B0034
    emu.detach_endpoint(ns["ID"], ep["ID"])
    assert "HostComputeNamespace" not in emu.get_endpoint(ep["ID"])
    assert "Resources" not in emu.get_namespace(ns["ID"])


def test_hcsshim_namespace_modify_request_attaches_by_EndpointId(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ns = emu.create_namespace()
    ep = emu.create_endpoint(net["ID"], {})
    out = emu.modify_namespace(
        ns["ID"],
        {
            "ResourceType": "Endpoint",
            "RequestType": "Add",
            "Settings": {"EndpointId": ep["ID"].lower()},
        },
    )
    assert out["Resources"][0]["Data"]["ID"] == ep["ID"]


def test_deleting_an_attached_endpoint_detaches_it(emu: Emulator, net: dict[str, Any]) -> None:
    ns = emu.create_namespace()
    ep = emu.create_endpoint(net["ID"], {})
    emu.attach_endpoint(ns["ID"], ep["ID"])
    emu.delete_endpoint(ep["ID"])
    assert "Resources" not in emu.get_namespace(ns["ID"])


def test_deleting_a_network_deletes_its_endpoints_and_frees_addresses(
    emu: Emulator, net: dict[str, Any]
) -> None:
    emu.create_endpoint(net["ID"], {})
    emu.delete_network(net["ID"])
    assert emu.list_endpoints() == []
    again = emu.create_network(l2bridge())
    assert emu.create_endpoint(again["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.240.0.2"


def test_queries_filter_by_name_network_and_id(emu: Emulator, net: dict[str, Any]) -> None:
    other = emu.create_network(l2bridge("other", "10.50.0.0/24", "10.50.0.1"))
    a = emu.create_endpoint(net["ID"], {"Name": "a"})
    emu.create_endpoint(other["ID"], {"Name": "b"})
    q = {"SchemaVersion": {"Major": 2, "Minor": 0}}
    by_name = emu.list_networks(q | {"Filter": json.dumps({"Name": "other"})})
    assert [n["ID"] for n in by_name] == [other["ID"]]
    of_net = emu.list_endpoints(q | {"Filter": json.dumps({"VirtualNetwork": net["ID"].lower()})})
    assert [e["ID"] for e in of_net] == [a["ID"]]
    by_id = emu.list_endpoints(json.dumps(q | {"Filter": json.dumps({"ID": a["ID"]})}))
    assert [e["Name"] for e in by_id] == ["a"]
    with pytest.raises(HcnError) as err:
        emu.list_endpoints(q | {"Filter": "{nope"})
    assert err.value.hresult == 0x803B001B


def test_v1_endpoint_json_is_converted_and_accepted(emu: Emulator) -> None:
    net = emu.create_network(l2bridge("Calico", "10.244.1.0/24", "10.244.1.2"))
    ep = emu.create_endpoint(net["ID"], recorded("calico_v1_endpoint.json"))
    assert ep["IpConfigurations"] == [{"IpAddress": "10.244.1.9", "PrefixLength": 24}]
    assert [p["Type"] for p in ep["Policies"]] == ["OutBoundNAT", "ACL", "ACL", "ACL", "ACL"]


def test_v1_network_json_is_converted_and_accepted(emu: Emulator) -> None:
    net = emu.create_network(recorded("hns_v1_network.json"))
    assert net["Ipams"][0]["Subnets"][0]["IpAddressPrefix"] == "10.244.3.0/24"
    ep = emu.create_endpoint(net["ID"], {})
    assert ep["IpConfigurations"][0]["IpAddress"] == "10.244.3.2"


def test_tier_acl_is_accepted_on_a_current_version(emu: Emulator, net: dict[str, Any]) -> None:
    ep = emu.create_endpoint(net["ID"], recorded("hcn_tier_acl_endpoint_v2.json"))
    assert ep["Policies"][0]["Type"] == "TierAcl"


def test_host_routes_add_list_delete_and_their_errors(emu: Emulator) -> None:
    r1 = host_route("10.240.0.7", "10.240.0.1", interface_index=4)
    r2 = host_route("10.240.0.8/32", "10.240.0.1")
    emu.add_route(r1)
    emu.add_route(r2)
    assert emu.list_routes() == [r1, r2]
    with pytest.raises(HcnError) as err:
        emu.add_route(host_route("10.240.0.7/32", "10.240.0.1", interface_index=4))
    assert err.value.code == 0x1392
    emu.delete_route(host_route("10.240.0.7", "10.240.0.1"))
    with pytest.raises(HcnError) as err:
        emu.delete_route(r1)
    assert err.value.code == 0x490
    assert emu.list_routes() == [r2]


def test_state_survives_reopening_the_file(state: str) -> None:
    first = Emulator(state)
    net = first.create_network(l2bridge())
    ep = first.create_endpoint(net["ID"], {"Policies": [acl()]})
    first.add_route(host_route("10.240.0.2", "10.240.0.1"))
    first.close()
    second = Emulator(state)
    try:
        assert second.get_endpoint(ep["ID"]) == ep
        assert second.list_networks() == [net]
        assert len(second.list_routes()) == 1
        assert (
            second.create_endpoint(net["ID"], {})["IpConfigurations"][0]["IpAddress"]
            == "10.240.0.3"
        )
    finally:
        second.close()


def test_hns_restart_drops_endpoints_and_non_persistent_networks_only(emu: Emulator) -> None:
    keep = emu.create_network(l2bridge())
    gone = emu.create_network(l2bridge("np", "10.60.0.0/24", "10.60.0.1", Flags=8))
    ep = emu.create_endpoint(keep["ID"], {})
    emu.create_endpoint(gone["ID"], {})
    ns = emu.create_namespace()
    emu.attach_endpoint(ns["ID"], ep["ID"])
    emu.add_route(host_route("10.240.0.2", "10.240.0.1"))
    emu.restart()
    assert [n["ID"] for n in emu.list_networks()] == [keep["ID"]]
    assert emu.list_endpoints() == []
    assert emu.get_namespace(ns["ID"]) == {k: v for k, v in ns.items() if k != "Resources"}
    assert len(emu.list_routes()) == 1
    # the addresses are free again for the endpoints the CNI re-creates
    assert emu.create_endpoint(keep["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.240.0.2"


def test_reboot_also_drops_endpoints_namespaces_and_routes(
    emu: Emulator, net: dict[str, Any]
) -> None:
    emu.create_endpoint(net["ID"], {})
    emu.create_namespace()
    emu.add_route(host_route("10.240.0.2", "10.240.0.1"))
    emu.restart(reboot=True)
    assert [n["ID"] for n in emu.list_networks()] == [net["ID"]]
    assert emu.list_endpoints() == [] and emu.list_namespaces() == [] and emu.list_routes() == []
    assert emu.create_endpoint(net["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.240.0.2"


def test_version_defaults_to_a_current_build_and_is_shared_through_the_file(state: str) -> None:
    first = Emulator(state)
    assert first.version() == DEFAULT_VERSION
    assert first.supported_features()["TierAcl"] is True
    first.close()
    Emulator(state, version="13.0").close()
    later = Emulator(state)
    try:
        features = later.supported_features()
        assert str(later.version()) == "13.0"
        assert features["SetPolicy"] is True and features["TierAcl"] is False
        assert features["API"] == {"V1": True, "V2": True}
    finally:
        later.close()


def test_other_components_may_keep_tables_in_the_same_file(state: str) -> None:
    import sqlite3

    emu = Emulator(state)
    emu.create_network(l2bridge())
    other = sqlite3.connect(state)
    other.execute("CREATE TABLE vfp_nsg (rule TEXT)")
    other.commit()
    other.close()
    assert len(emu.list_networks()) == 1
    emu.close()


def test_json_exactly_as_hcsshim_marshals_it_is_accepted(emu: Emulator) -> None:
    """hcsshim always writes its struct members Dns, MacPool, Health and SchemaVersion."""
    net = emu.create_network(recorded("hcsshim_network_v2.json"))
    assert net["MacPool"] == {} and net["Health"] == {"Extra": {}}
    ep = emu.create_endpoint(net["ID"], recorded("hcsshim_endpoint_v2.json"))
    assert ep["HostComputeNetwork"] == net["ID"]  # the network the call names wins
    assert ep["IpConfigurations"] == [{"IpAddress": "192.168.100.37", "PrefixLength": 24}]
    assert ep["Dns"]["ServerList"] == ["10.96.0.10"]
    ns = emu.create_namespace(recorded("hcsshim_namespace_v2.json"))
    emu.modify_namespace(
        ns["ID"],
        {"ResourceType": "Endpoint", "RequestType": "Add", "Settings": {"EndpointId": ep["ID"]}},
    )
    filtered = emu.list_endpoints(
        {
            "SchemaVersion": {"Major": 2, "Minor": 0},
            "Flags": 0,
            "Filter": json.dumps({"Name": "b1c3e5f7a9-eth0"}),
        }
    )
    assert [e["HostComputeNamespace"] for e in filtered] == [ns["ID"]]


def test_first_host_is_the_gateway_unless_a_route_or_subnet_flag_says_otherwise(
    emu: Emulator,
) -> None:
    def subnet(prefix: str, **extra: Any) -> dict[str, Any]:
        return {
            "Name": prefix,
            "Type": "L2Bridge",
            "Ipams": [{"Subnets": [{"IpAddressPrefix": prefix, **extra}]}],
        }

    implicit = emu.create_network(subnet("10.1.0.0/24"))
    assert emu.create_endpoint(implicit["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.1.0.2"
    with pytest.raises(HcnError) as err:
        emu.create_endpoint(implicit["ID"], {"IpConfigurations": [{"IpAddress": "10.1.0.1"}]})
    assert err.value.hresult == 0x803B002F
    routed = emu.create_network(
        subnet("10.2.0.0/24", Routes=[{"NextHop": "10.2.0.254", "DestinationPrefix": "0.0.0.0/0"}])
    )
    assert emu.create_endpoint(routed["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.2.0.1"
    flagged = emu.create_network(
        subnet(
            "10.3.0.0/24",
            Flags=1,
            Routes=[{"NextHop": "10.3.0.1", "DestinationPrefix": "0.0.0.0/0"}],
        )
    )
    assert emu.create_endpoint(flagged["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.3.0.1"


def test_network_without_subnets_takes_any_address_but_allocates_none(emu: Emulator) -> None:
    net = emu.create_network({"Name": "ext", "Type": "Transparent"})
    ep = emu.create_endpoint(net["ID"], {"IpConfigurations": [{"IpAddress": "192.168.7.20"}]})
    assert ep["IpConfigurations"] == [{"IpAddress": "192.168.7.20"}]
    with pytest.raises(HcnError) as err:
        emu.create_endpoint(net["ID"], {"IpConfigurations": [{"IpAddress": "192.168.7.20"}]})
    assert err.value.hresult == 0x803B0013
    with pytest.raises(HcnError) as err:
        emu.create_endpoint(net["ID"], {})
    assert err.value.hresult == 0x803B0005


def test_calico_cni_endpoint_with_upper_case_policy_type_is_accepted(emu: Emulator) -> None:
    """Calico's CNI sends `SDNROUTE`; HNS reads policy Types without regard to case."""
    net = emu.create_network(l2bridge("Calico", "100.244.206.64/26", "100.244.206.65"))
    ep = emu.create_endpoint(net["ID"], recorded("calico_cni_endpoint_v2.json"))
    assert [p["Type"] for p in ep["Policies"]] == ["OutBoundNAT", "SDNROUTE", "ProviderAddress"]
    with pytest.raises(HcnError) as err:
        emu.create_endpoint(
            net["ID"],
            {
                "Policies": [
                    {
                        "Type": "acl",
                        "Settings": {
                            "Action": "Allow",
                            "Direction": "In",
                            "RemoteAddresses": "Any",
                        },
                    }
                ]
            },
        )
    assert err.value.hresult == 0x803B000D  # recognised as an ACL, and checked as one
