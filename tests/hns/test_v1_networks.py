"""The emulator's HNS v1 network calls: the same networks as v2, in v1's shape."""

from __future__ import annotations

from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError

from .conftest import l2bridge, recorded

AZURE_V1 = {  # Azure CNI's newNetworkImplHnsV1
    "Name": "azure", "Type": "L2Bridge", "NetworkAdapterName": "Ethernet 2",
    "DNSServerList": "168.63.129.16",
    "Subnets": [{"AddressPrefix": "10.240.0.0/16", "GatewayAddress": "10.240.0.1"}],
}


def test_a_recorded_v1_network_reads_back_unchanged_through_v1(emu: Emulator) -> None:
    sent = recorded("hns_v1_network.json")
    made = emu.create_network_v1(sent)

    assert {k: v for k, v in made.items() if k != "ID"} == sent
    assert emu.get_network_v1(made["ID"]) == made
    assert emu.list_networks_v1() == [made]


def test_a_v1_network_is_a_v2_network_and_the_reverse(emu: Emulator) -> None:
    made_v1 = emu.create_network_v1(AZURE_V1)
    made_v2 = emu.create_network(l2bridge("other", "10.9.0.0/24", "10.9.0.254"))

    [subnet] = emu.get_network(made_v1["ID"])["Ipams"][0]["Subnets"]
    assert subnet == {"IpAddressPrefix": "10.240.0.0/16",
                      "Routes": [{"NextHop": "10.240.0.1", "DestinationPrefix": "0.0.0.0/0"}]}
    assert [n["Name"] for n in emu.list_networks()] == ["azure", "other"]
    seen = emu.get_network_v1(made_v2["ID"])
    assert seen["Subnets"] == [{"AddressPrefix": "10.9.0.0/24", "GatewayAddress": "10.9.0.254"}]
    assert "Ipams" not in seen and "SchemaVersion" not in seen


@pytest.mark.parametrize("first", ["v1", "v2"])
def test_a_network_name_is_unique_across_v1_and_v2(emu: Emulator, first: str) -> None:
    if first == "v1":
        emu.create_network_v1(AZURE_V1)
    else:
        emu.create_network(l2bridge("azure"))
    with pytest.raises(HcnError) as err:
        if first == "v1":
            emu.create_network(l2bridge("azure"))
        else:
            emu.create_network_v1(AZURE_V1)
    assert err.value.hresult == 0x803B0010  # HCN_E_NETWORK_ALREADY_EXISTS
    assert len(emu.list_networks_v1()) == 1


def test_v1_network_calls_refuse_what_hns_refuses(emu: Emulator) -> None:
    bad_subnet = dict(AZURE_V1, Subnets=[{"AddressPrefix": "10.240.0.0/33"}])
    with pytest.raises(HcnError):
        emu.create_network_v1(bad_subnet)
    with pytest.raises(HcnError) as err:
        emu.create_network_v1(dict(AZURE_V1, Subnets="10.0.0.0/8"))
    assert err.value.name == "HCN_E_INVALID_JSON"
    gone = "0B1C2D3E-0000-4000-8000-00000000000B"
    for call in (emu.get_network_v1, emu.delete_network_v1):
        with pytest.raises(HcnError) as err:
            call(gone)
        assert err.value.name == "HCN_E_NETWORK_NOT_FOUND"
    assert emu.list_networks_v1() == []


def test_deleting_a_v1_network_deletes_its_endpoints_and_attachments(emu: Emulator) -> None:
    net = emu.create_network_v1(AZURE_V1)
    ep = emu.create_endpoint_v1({"Name": "p", "VirtualNetwork": net["ID"]})
    emu.attach_container(ep["ID"], "c1")

    emu.delete_network_v1(net["ID"])

    assert emu.list_networks() == [] and emu.list_endpoints_v1() == []


def test_a_node_with_hns_7_makes_networks_and_endpoints_through_v1_only(state: str) -> None:
    with Emulator(state, version="7.2") as old:
        with pytest.raises(HcnError) as err:
            old.create_network(l2bridge())
        assert err.value.name == "E_NOTIMPL"
        net: dict[str, Any] = old.create_network_v1(AZURE_V1)
        ep = old.create_endpoint_v1({"Name": "p", "VirtualNetworkName": "azure"})
        assert ep["VirtualNetwork"] == net["ID"] and ep["IPAddress"] == "10.240.0.2"
        assert ep["GatewayAddress"] == "10.240.0.1"
