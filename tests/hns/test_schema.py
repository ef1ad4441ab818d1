"""The HCN schema reads recorded HCN v2 / HNS v1 JSON and writes it back unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from vfpnet.hns.schema.codec import SchemaError, decode, encode
from vfpnet.hns.schema.endpoint import HostComputeEndpoint, ModifyEndpointSettingRequest
from vfpnet.hns.schema.namespace import HostComputeNamespace
from vfpnet.hns.schema.network import HostComputeNetwork, ModifyNetworkSettingRequest
from vfpnet.hns.schema.policy import (
    ENDPOINT_SETTINGS_TYPES,
    NETWORK_SETTINGS_TYPES,
    AclPolicySetting,
    SetPolicySetting,
    canonical_type,
    parse_ports,
    parse_protocols,
)
from vfpnet.hns.schema.v1 import HNSEndpoint, HNSNetwork, V1AclPolicy, is_v1_endpoint
from vfpnet.hns.v1convert import endpoint_v1_to_v2, network_v1_to_v2

from .conftest import recorded

ROUND_TRIPS = [
    ("azure_cni_network_v2.json", HostComputeNetwork),
    ("azure_cni_endpoint_v2.json", HostComputeEndpoint),
    ("kube_proxy_overlay_network_v2.json", HostComputeNetwork),
    ("kube_proxy_remote_endpoint_v2.json", HostComputeEndpoint),
    ("azure_npm_setpolicy_add.json", ModifyNetworkSettingRequest),
    ("azure_npm_acl_add.json", ModifyEndpointSettingRequest),
    ("calico_v2_acl_update.json", ModifyEndpointSettingRequest),
    ("hcsshim_namespace_v2.json", HostComputeNamespace),
    ("hcsshim_network_v2.json", HostComputeNetwork),
    ("hcsshim_endpoint_v2.json", HostComputeEndpoint),
    ("calico_cni_endpoint_v2.json", HostComputeEndpoint),
    ("hcn_tier_acl_endpoint_v2.json", HostComputeEndpoint),
    ("calico_v1_endpoint.json", HNSEndpoint),
    ("hns_v1_network.json", HNSNetwork),
]


@pytest.mark.parametrize(("name", "cls"), ROUND_TRIPS)
def test_recorded_json_round_trips_unchanged(name: str, cls: type) -> None:
    data = recorded(name)
    assert encode(decode(cls, data)) == data


def _policies(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(data.get("Policies") or data.get("Settings", {}).get("Policies") or [])


@pytest.mark.parametrize("name", [n for n, c in ROUND_TRIPS if "v2" in n or "npm" in n])
def test_recorded_policy_settings_round_trip_through_their_types(name: str) -> None:
    types = {**NETWORK_SETTINGS_TYPES, **ENDPOINT_SETTINGS_TYPES}
    for policy in _policies(recorded(name)):
        cls = types[canonical_type(types, policy["Type"]) or ""]
        assert encode(decode(cls, policy["Settings"])) == policy["Settings"]


def test_unknown_members_round_trip_untouched() -> None:
    data = {
        "ID": "X",
        "Name": "e",
        "FutureThing": {"a": [1, 2]},
        "Flags": 0,
        "IpConfigurations": [{"IpAddress": "10.0.0.2", "Vendor": True}],
    }
    ep = decode(HostComputeEndpoint, data)
    assert ep.extra == {"FutureThing": {"a": [1, 2]}}
    assert ep.ip_configurations is not None and ep.ip_configurations[0].extra == {"Vendor": True}
    assert encode(ep) == data


def test_present_zero_values_come_back_and_absent_ones_stay_absent() -> None:
    assert encode(decode(HostComputeEndpoint, {"Flags": 0, "Name": ""})) == {"Flags": 0, "Name": ""}
    assert encode(decode(HostComputeEndpoint, {})) == {}


def test_endpoint_id_is_ID_not_Id() -> None:
    ep = decode(HostComputeEndpoint, {"ID": "ABC"})
    assert ep.id == "ABC"
    assert encode(ep) == {"ID": "ABC"}


def test_member_differing_only_in_case_is_read_like_go_and_written_canonically() -> None:
    ep = decode(HostComputeEndpoint, {"name": "x", "ipconfigurations": [{"ipaddress": "10.0.0.2"}]})
    assert encode(ep) == {"Name": "x", "IpConfigurations": [{"IpAddress": "10.0.0.2"}]}


def test_azure_npm_acl_id_member_is_part_of_the_acl_setting() -> None:
    acl = decode(AclPolicySetting, {"Id": "azure-acl-ns-pol", "Action": "Allow", "Direction": "In"})
    assert acl.id == "azure-acl-ns-pol"


def test_set_policy_type_is_read_from_PolicyType() -> None:
    s = decode(
        SetPolicySetting, {"Id": "a", "Name": "n", "PolicyType": "NESTEDIPSET", "Values": "b"}
    )
    assert s.policy_type == "NESTEDIPSET"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"Flags": "1"}, "Flags"),
        ({"Flags": True}, "Flags"),
        ({"IpConfigurations": {"IpAddress": "x"}}, "IpConfigurations"),
        ({"IpConfigurations": [{"PrefixLength": 300}]}, "IpConfigurations[0].PrefixLength"),
        ({"Name": 5}, "Name"),
    ],
)
def test_wrong_json_types_are_refused_naming_the_member(data: dict[str, Any], path: str) -> None:
    with pytest.raises(SchemaError) as err:
        decode(HostComputeEndpoint, data)
    assert err.value.path == path


def test_acl_priority_is_a_uint16() -> None:
    with pytest.raises(SchemaError):
        decode(AclPolicySetting, {"Priority": 70000})


def test_hns_value_formats() -> None:
    assert parse_ports("80,443,8000-8080") == [(80, 80), (443, 443), (8000, 8080)]
    assert parse_ports("") == []
    assert parse_protocols("6") == [6]
    assert parse_protocols("256") == []
    assert parse_protocols(None) == []
    with pytest.raises(ValueError):
        parse_ports("90-80")
    with pytest.raises(ValueError):
        parse_protocols("TCP")


def test_v1_calico_endpoint_is_recognised_and_converted_to_v2() -> None:
    v1 = recorded("calico_v1_endpoint.json")
    assert is_v1_endpoint(v1)
    v2 = endpoint_v1_to_v2(v1)
    assert v2["IpConfigurations"] == [{"IpAddress": "10.244.1.9", "PrefixLength": 24}]
    assert v2["Routes"] == [{"NextHop": "10.244.1.2", "DestinationPrefix": "0.0.0.0/0"}]
    acls = [p["Settings"] for p in v2["Policies"] if p["Type"] == "ACL"]
    assert acls[0]["Protocols"] == "6" and acls[0]["LocalPorts"] == "8080-8090,9000"
    assert acls[1]["Protocols"] == "256"
    nat = v2["Policies"][0]
    assert nat == {
        "Type": "OutBoundNAT",
        "Settings": {"Exceptions": ["10.244.0.0/16", "10.96.0.0/12"]},
    }
    decode(HostComputeEndpoint, v2)  # and it is valid v2


def test_v1_acl_policy_type_reads_calico_rules() -> None:
    rule = recorded("calico_v1_endpoint.json")["Policies"][1]
    assert encode(decode(V1AclPolicy, rule)) == rule


def test_v1_network_subnets_become_v2_ipams_and_vlan_a_subnet_policy() -> None:
    v2 = network_v1_to_v2(recorded("hns_v1_network.json"))
    subnet = v2["Ipams"][0]["Subnets"][0]
    assert subnet["IpAddressPrefix"] == "10.244.3.0/24"
    assert subnet["Routes"] == [{"NextHop": "10.244.3.1", "DestinationPrefix": "0.0.0.0/0"}]
    assert subnet["Policies"] == [{"Type": "VLAN", "Settings": {"IsolationId": 0}}]
    assert "Policies" not in v2


def test_v1_nat_route_and_pa_policies_become_their_v2_types() -> None:
    from vfpnet.hns.v1convert import policy_v1_to_v2

    assert policy_v1_to_v2(
        {"Type": "NAT", "Protocol": "UDP", "InternalPort": 53, "ExternalPort": 53}
    ) == {
        "Type": "PortMapping",
        "Settings": {"Protocol": 17, "InternalPort": 53, "ExternalPort": 53},
    }
    assert policy_v1_to_v2(
        {"Type": "ROUTE", "DestinationPrefix": "10.0.0.0/8", "NeedEncap": True}
    ) == {"Type": "SDNRoute", "Settings": {"DestinationPrefix": "10.0.0.0/8", "NeedEncap": True}}
    assert policy_v1_to_v2({"Type": "PA", "PA": "10.0.0.5"}) == {
        "Type": "ProviderAddress",
        "Settings": {"ProviderAddress": "10.0.0.5"},
    }
    v2 = {"Type": "ACL", "Settings": {"Action": "Allow", "Direction": "In"}}
    assert policy_v1_to_v2(v2) is v2
