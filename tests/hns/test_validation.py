"""The emulator refuses what HNS refuses, with HNS's HRESULT, and changes nothing then."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError

from .conftest import acl, l2bridge, recorded

UNKNOWN = "5A4B3C2D-1E0F-4A9B-8C7D-6E5F4A3B2C1D"


def refused(code: int, call: Any, *args: Any) -> HcnError:
    with pytest.raises(HcnError) as err:
        call(*args)
    assert err.value.hresult == code, str(err.value)
    return err.value


def test_unknown_network_is_HCN_E_NETWORK_NOT_FOUND(emu: Emulator) -> None:
    refused(0x803B0001, emu.get_network, UNKNOWN)
    refused(0x803B0001, emu.create_endpoint, UNKNOWN, {})
    refused(0x803B0001, emu.delete_network, "not-a-guid")
    refused(
        0x803B0001,
        emu.modify_network,
        UNKNOWN,
        {"ResourceType": "Policy", "RequestType": "Add", "Settings": {}},
    )


def test_unknown_endpoint_is_HCN_E_ENDPOINT_NOT_FOUND(emu: Emulator) -> None:
    refused(0x803B0002, emu.get_endpoint, UNKNOWN)
    refused(0x803B0002, emu.delete_endpoint, UNKNOWN)
    refused(
        0x803B0002,
        emu.modify_endpoint,
        UNKNOWN,
        {"ResourceType": "Policy", "RequestType": "Add", "Settings": {}},
    )


def test_unknown_namespace_is_ERROR_NOT_FOUND_shown_as_0x490(emu: Emulator) -> None:
    err = refused(0x80070490, emu.get_namespace, UNKNOWN)
    assert err.code == 0x490
    assert "Element not found." in str(err)


def test_network_name_that_exists_is_HCN_E_NETWORK_ALREADY_EXISTS(emu: Emulator) -> None:
    emu.create_network(l2bridge("azure"))
    err = refused(0x803B0010, emu.create_network, l2bridge("azure", "10.9.0.0/24", "10.9.0.1"))
    assert str(err).startswith(
        "0x803B0010 HCN_E_NETWORK_ALREADY_EXISTS: A network with this name already exists."
    )
    assert len(emu.list_networks()) == 1


def test_address_in_use_is_HCN_E_PORT_ALREADY_EXISTS(emu: Emulator, net: dict[str, Any]) -> None:
    ep = {"IpConfigurations": [{"IpAddress": "10.240.0.9", "PrefixLength": 24}]}
    emu.create_endpoint(net["ID"], ep)
    refused(0x803B0013, emu.create_endpoint, net["ID"], ep)
    assert len(emu.list_endpoints()) == 1


def test_duplicate_port_mapping_is_HCN_E_PORT_ALREADY_EXISTS(
    emu: Emulator, net: dict[str, Any]
) -> None:
    pm = {
        "Type": "PortMapping",
        "Settings": {"Protocol": 6, "InternalPort": 80, "ExternalPort": 8080},
    }
    emu.create_endpoint(net["ID"], {"Policies": [pm]})
    refused(0x803B0013, emu.create_endpoint, net["ID"], {"Policies": [pm]})


@pytest.mark.parametrize("address", ["10.9.0.5", "10.240.1.1", "fd00::5", "not-an-ip", ""])
def test_address_outside_every_subnet_is_HCN_E_INVALID_IP(
    emu: Emulator, net: dict[str, Any], address: str
) -> None:
    refused(
        0x803B001E, emu.create_endpoint, net["ID"], {"IpConfigurations": [{"IpAddress": address}]}
    )
    assert emu.list_endpoints() == []


@pytest.mark.parametrize("address", ["10.240.0.0", "10.240.0.1", "10.240.0.255"])
def test_network_gateway_and_broadcast_addresses_are_reserved(
    emu: Emulator, net: dict[str, Any], address: str
) -> None:
    refused(
        0x803B002F, emu.create_endpoint, net["ID"], {"IpConfigurations": [{"IpAddress": address}]}
    )


def test_remote_endpoint_is_exempt_from_subnet_and_in_use_checks(emu: Emulator) -> None:
    net = emu.create_network(recorded("kube_proxy_overlay_network_v2.json"))
    remote = recorded("kube_proxy_remote_endpoint_v2.json")
    first = emu.create_endpoint(net["ID"], remote)
    assert first["Flags"] == 1
    assert first["IpConfigurations"] == [{"IpAddress": "10.244.2.17"}]
    emu.create_endpoint(net["ID"], remote)  # a second one for the same remote pod
    local = emu.create_endpoint(net["ID"], {"IpConfigurations": [{"IpAddress": "10.244.1.17"}]})
    assert local["IpConfigurations"][0]["PrefixLength"] == 24


@pytest.mark.parametrize(
    "text", ["{", "", "[1, 2]", '{"Name": }', "null", '{"Flags": NaN}', "[" * 100000]
)
def test_malformed_json_is_HCN_E_INVALID_JSON(emu: Emulator, text: str) -> None:
    refused(0x803B001B, emu.create_network, text)


def test_integer_too_long_to_convert_is_HCN_E_INVALID_JSON_without_python_advice(
    emu: Emulator,
) -> None:
    err = refused(0x803B001B, emu.create_network, '{"Flags": ' + "9" * 5000 + "}")
    assert str(err).endswith(
        "(network: Exceeds the limit (4300 digits) for integer string conversion: "
        "value has 5000 digits)"
    )


def test_member_of_the_wrong_type_is_HCN_E_INVALID_JSON(emu: Emulator, net: dict[str, Any]) -> None:
    err = refused(0x803B001B, emu.create_endpoint, net["ID"], {"Flags": "remote"})
    assert "Flags" in str(err)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("RemoteAddresses", "Any"),
        ("RemoteAddresses", "*"),
        ("LocalAddresses", "10.0.0.0/8,any"),
        ("RemoteAddresses", "10.0.0.300"),
        ("RemoteAddresses", "10.0.0.1-10.0.0.9"),
    ],
)
def test_acl_address_that_is_not_an_ip_list_is_HCN_E_INVALID_POLICY(
    emu: Emulator, net: dict[str, Any], field: str, value: str
) -> None:
    err = refused(0x803B000D, emu.create_endpoint, net["ID"], {"Policies": [acl(**{field: value})]})
    assert field in str(err)


@pytest.mark.parametrize(
    "settings",
    [
        {"Action": "Deny"},
        {"Direction": "Inbound"},
        {"RuleType": "WFP"},
        {"Protocols": "TCP"},
        {"Protocols": "6", "LocalPorts": "80-"},
        {"Protocols": "6", "RemotePorts": "70000"},
        {"LocalPorts": "80"},  # ports without a protocol that has ports
        {"Protocols": "1", "LocalPorts": "80"},
    ],
)
def test_invalid_acl_settings_are_HCN_E_INVALID_POLICY(
    emu: Emulator, net: dict[str, Any], settings: dict[str, Any]
) -> None:
    refused(0x803B000D, emu.create_endpoint, net["ID"], {"Policies": [acl(**settings)]})


def test_acl_with_ip_lists_prefixes_and_port_ranges_is_accepted(
    emu: Emulator, net: dict[str, Any]
) -> None:
    policy = acl(
        Protocols="6",
        RemoteAddresses="10.0.0.0/8,192.168.1.5,fd00::/64",
        LocalPorts="80,443,8000-8080",
        Id="calico-rule-1",
    )
    ep = emu.create_endpoint(net["ID"], {"Policies": [policy]})
    assert ep["Policies"] == [policy]


def test_unknown_policy_type_is_HCN_E_INVALID_POLICY_TYPE(
    emu: Emulator, net: dict[str, Any]
) -> None:
    refused(
        0x803B000E,
        emu.create_endpoint,
        net["ID"],
        {"Policies": [{"Type": "Firewall", "Settings": {}}]},
    )
    refused(
        0x803B000E,
        emu.create_network,
        l2bridge("x", "10.8.0.0/24", "10.8.0.1", Policies=[{"Type": "ACL", "Settings": {}}]),
    )


@pytest.mark.parametrize(
    ("version", "policy"),
    [
        ("13.3", {"Type": "TierAcl", "Settings": {"Name": "t", "Direction": "In", "Order": 1}}),
        ("13.1", {"Type": "L4WFPPROXY", "Settings": {}}),
        ("7.1", acl()),
    ],
)
def test_endpoint_policy_the_version_does_not_support_is_refused(
    state: str, version: str, policy: dict[str, Any]
) -> None:
    emu = Emulator(state, version=version)
    try:
        if version == "7.1":
            refused(0x80004001, emu.create_network, l2bridge())  # no v2 API before 9.2
            return
        net = emu.create_network(l2bridge())
        refused(0x803B000E, emu.create_endpoint, net["ID"], {"Policies": [policy]})
    finally:
        emu.close()


def test_set_policy_before_hns_13_is_refused_and_accepted_from_13(state: str) -> None:
    old = Emulator(state, version="12.0")
    try:
        net = old.create_network(l2bridge())
        request = recorded("azure_npm_setpolicy_add.json")
        refused(0x803B000E, old.modify_network, net["ID"], request)
    finally:
        old.close()
    new = Emulator(state, version="13.0")
    try:
        only_ipsets = copy.deepcopy(request)
        only_ipsets["Settings"]["Policies"] = only_ipsets["Settings"]["Policies"][:3]
        new.modify_network(net["ID"], only_ipsets)
        # NESTEDIPSET came with 15.0
        refused(
            0x803B000E,
            new.modify_network,
            net["ID"],
            {
                "ResourceType": "Policy",
                "RequestType": "Add",
                "Settings": {"Policies": [request["Settings"]["Policies"][3]]},
            },
        )
    finally:
        new.close()


def test_ipv6_needs_dual_stack_from_hns_11_10(state: str) -> None:
    emu = Emulator(state, version="11.9")
    try:
        refused(0x803B0015, emu.create_network, l2bridge("v6", "fd00::/64", "fd00::1"))
    finally:
        emu.close()


def test_acl_protocol_252_needs_hns_11(state: str) -> None:
    emu = Emulator(state, version="10.5")
    try:
        net = emu.create_network(l2bridge())
        refused(0x803B000D, emu.create_endpoint, net["ID"], {"Policies": [acl(Protocols="252")]})
    finally:
        emu.close()


def test_invalid_network_type_and_subnet(emu: Emulator) -> None:
    refused(0x803B000B, emu.create_network, {"Name": "n", "Type": "Bridge"})
    refused(0x803B000B, emu.create_network, {"Name": "n"})
    refused(0x803B0032, emu.create_network, l2bridge("n", "10.0.0.0/33"))


def test_port_mapping_without_internal_port_is_HCN_E_INVALID_INTERNAL_PORT(
    emu: Emulator, net: dict[str, Any]
) -> None:
    refused(
        0x803B002D,
        emu.create_endpoint,
        net["ID"],
        {"Policies": [{"Type": "PortMapping", "Settings": {"ExternalPort": 80}}]},
    )


def test_acl_naming_a_set_policy_of_its_network_is_accepted_unknown_set_refused(
    emu: Emulator, net: dict[str, Any]
) -> None:
    emu.modify_network(net["ID"], recorded("azure_npm_setpolicy_add.json"))
    ep = emu.create_endpoint(net["ID"], {})
    emu.modify_endpoint(ep["ID"], recorded("azure_npm_acl_add.json"))
    assert len(emu.get_endpoint(ep["ID"])["Policies"]) == 3
    refused(
        0x803B000D,
        emu.modify_endpoint,
        ep["ID"],
        {
            "ResourceType": "Policy",
            "RequestType": "Add",
            "Settings": {"Policies": [acl(RemoteAddresses="azure-npm-999")]},
        },
    )


def test_nested_set_naming_an_unknown_set_is_refused(emu: Emulator, net: dict[str, Any]) -> None:
    refused(
        0x803B000D,
        emu.modify_network,
        net["ID"],
        {
            "ResourceType": "Policy",
            "RequestType": "Add",
            "Settings": {
                "Policies": [
                    {
                        "Type": "SetPolicy",
                        "Settings": {
                            "Id": "n1",
                            "Name": "n1",
                            "PolicyType": "NESTEDIPSET",
                            "Values": "nope",
                        },
                    }
                ]
            },
        },
    )


def test_set_policy_id_added_twice_is_HCN_E_POLICY_ALREADY_EXISTS(
    emu: Emulator, net: dict[str, Any]
) -> None:
    request = recorded("azure_npm_setpolicy_add.json")
    emu.modify_network(net["ID"], request)
    refused(0x803B0012, emu.modify_network, net["ID"], request)


def test_a_refused_modify_leaves_the_endpoint_as_it_was(emu: Emulator, net: dict[str, Any]) -> None:
    ep = emu.create_endpoint(net["ID"], {"Policies": [acl()]})
    bad = {
        "ResourceType": "Policy",
        "RequestType": "Update",
        "Settings": {"Policies": [acl(), acl(RemoteAddresses="Any")]},
    }
    refused(0x803B000D, emu.modify_endpoint, ep["ID"], bad)
    assert emu.get_endpoint(ep["ID"]) == ep


@pytest.mark.parametrize(
    "request_",
    [
        {"ResourceType": "Routes", "RequestType": "Add", "Settings": {}},
        {"ResourceType": "Policy", "RequestType": "Replace", "Settings": {}},
    ],
)
def test_unknown_modify_request_shape_is_HCN_E_REQUEST_UNSUPPORTED(
    emu: Emulator, net: dict[str, Any], request_: dict[str, Any]
) -> None:
    ep = emu.create_endpoint(net["ID"], {})
    refused(0x803B0015, emu.modify_endpoint, ep["ID"], request_)


def test_endpoint_without_subnet_to_allocate_from_is_HCN_E_SUBNET_NOT_FOUND(emu: Emulator) -> None:
    net = emu.create_network({"Name": "nat", "Type": "NAT"})
    refused(0x803B0005, emu.create_endpoint, net["ID"], {})


def test_exhausted_subnet_is_HCN_E_SUBNET_NOT_FOUND(emu: Emulator) -> None:
    net = emu.create_network(l2bridge("tiny", "10.7.0.0/30", "10.7.0.1"))
    assert emu.create_endpoint(net["ID"], {})["IpConfigurations"][0]["IpAddress"] == "10.7.0.2"
    refused(0x803B0005, emu.create_endpoint, net["ID"], {})


def test_set_policy_id_twice_in_one_network_is_refused(emu: Emulator) -> None:
    sets = [
        {
            "Type": "SetPolicy",
            "Settings": {"Id": "s1", "Name": "a", "PolicyType": "IPSET", "Values": ""},
        }
    ] * 2
    refused(0x803B0012, emu.create_network, l2bridge(Policies=sets))


def test_remote_endpoint_cannot_join_a_namespace(emu: Emulator) -> None:
    net = emu.create_network(recorded("kube_proxy_overlay_network_v2.json"))
    remote = emu.create_endpoint(net["ID"], recorded("kube_proxy_remote_endpoint_v2.json"))
    ns = emu.create_namespace()
    refused(0x803B000F, emu.attach_endpoint, ns["ID"], remote["ID"])


def test_prefix_length_beyond_the_family_is_HCN_E_INVALID_PREFIX(
    emu: Emulator, net: dict[str, Any]
) -> None:
    refused(
        0x803B0030,
        emu.create_endpoint,
        net["ID"],
        {"IpConfigurations": [{"IpAddress": "10.240.0.9", "PrefixLength": 33}]},
    )


def test_slash_32_endpoint_prefix_follows_hcsshim_version_ranges(state: str) -> None:
    ep = {"IpConfigurations": [{"IpAddress": "10.240.0.9", "PrefixLength": 32}]}
    for version, accepted in (("10.3", False), ("9.4", True), ("10.4", True)):
        emu = Emulator(state, version=version)
        try:
            net = emu.create_network(l2bridge(f"n{version}"))
            if accepted:
                assert emu.create_endpoint(net["ID"], ep)["IpConfigurations"] == [
                    {"IpAddress": "10.240.0.9", "PrefixLength": 32}
                ]
            else:
                refused(0x803B0030, emu.create_endpoint, net["ID"], ep)
            emu.delete_network(net["ID"])
        finally:
            emu.close()


def test_disable_host_port_flag_needs_hns_15_1(state: str) -> None:
    emu = Emulator(state, version="15.0")
    try:
        refused(0x803B000A, emu.create_network, l2bridge(Flags=1024))
    finally:
        emu.close()
