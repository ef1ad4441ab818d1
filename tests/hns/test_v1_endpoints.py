"""The emulator's HNS v1 endpoint calls: one store with v2, container attachments, HNS's errors."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from vfpnet.hns.emulator import Emulator
from vfpnet.hns.errors import HcnError
from vfpnet.hns.faults import V1_OPERATIONS

from .conftest import acl, l2bridge, recorded

CONTAINER = "4f1c2d3e5a6b7c8d9e0f4f1c2d3e5a6b7c8d9e0f4f1c2d3e5a6b7c8d9e0f4f1c"


def v1(net: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Name": "c1_eth0", "VirtualNetwork": net["ID"], **extra}


def refused(call: Callable[[], Any]) -> HcnError:
    with pytest.raises(HcnError) as err:
        call()
    return err.value


def test_v1_create_returns_the_endpoint_as_hns_v1_shows_it(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint_v1(v1(net, IPAddress="10.240.0.9", PrefixLength=24))

    assert ep["ID"] == ep["ID"].upper() and ep["MacAddress"].startswith("00-15-5D-")
    assert {k: v for k, v in ep.items() if k not in ("ID", "MacAddress")} == {
        "Name": "c1_eth0", "VirtualNetwork": net["ID"], "VirtualNetworkName": "azure",
        "IPAddress": "10.240.0.9", "PrefixLength": 24, "GatewayAddress": "10.240.0.1",
        "SharedContainers": [], "State": 1,
    }
    assert emu.get_endpoint_v1(ep["ID"]) == ep


def test_a_v1_endpoint_is_a_v2_endpoint_and_the_reverse(
    emu: Emulator, net: dict[str, Any]
) -> None:
    made_v1 = emu.create_endpoint_v1(
        v1(net, IPAddress="10.240.0.9", DNSServerList="10.0.0.10,10.0.0.11"))
    made_v2 = emu.create_endpoint(net["ID"], {
        "Name": "c2_eth0", "IpConfigurations": [{"IpAddress": "10.240.0.10"}],
        "Dns": {"ServerList": ["10.0.0.10"], "Search": ["svc.local", "local"]},
        "Policies": [acl(Protocols="6", LocalPorts="80")],
    })

    seen_v2 = emu.get_endpoint(made_v1["ID"])
    assert seen_v2["HostComputeNetwork"] == net["ID"]
    assert seen_v2["IpConfigurations"] == [{"IpAddress": "10.240.0.9", "PrefixLength": 24}]
    assert seen_v2["Dns"] == {"ServerList": ["10.0.0.10", "10.0.0.11"]}
    assert [e["ID"] for e in emu.list_endpoints()] == [made_v1["ID"], made_v2["ID"]]
    seen_v1 = emu.list_endpoints_v1()[1]
    assert seen_v1["ID"] == made_v2["ID"] and seen_v1["IPAddress"] == "10.240.0.10"
    assert (seen_v1["DNSServerList"], seen_v1["DNSSuffix"]) == ("10.0.0.10", "svc.local,local")
    assert seen_v1["Policies"] == [{"Type": "ACL", "Protocol": 6, "Action": "Allow",
                                    "Direction": "In", "RuleType": "Switch", "Priority": 100,
                                    "LocalPorts": "80"}]
    assert "IpConfigurations" not in seen_v1 and "HostComputeNetwork" not in seen_v1


def test_a_recorded_calico_v1_endpoint_reads_back_with_its_flat_policies(
    emu: Emulator, net: dict[str, Any]
) -> None:
    sent = recorded("calico_v1_endpoint.json")
    sent = dict(sent, VirtualNetwork=net["ID"], IPAddress="10.240.0.9", PrefixLength=24,
                GatewayAddress="10.240.0.1", VirtualNetworkName="azure")
    ep = emu.create_endpoint_v1(sent)

    assert ep["Policies"] == sent["Policies"]
    for key in ("Name", "IPAddress", "PrefixLength", "GatewayAddress", "DNSServerList",
                "DNSSuffix", "MacAddress", "VirtualNetworkName"):
        assert ep[key] == sent[key], key


def test_v1_and_v2_endpoints_share_the_network_addresses(
    emu: Emulator, net: dict[str, Any]
) -> None:
    emu.create_endpoint(net["ID"], {"IpConfigurations": [{"IpAddress": "10.240.0.9"}]})
    err = refused(lambda: emu.create_endpoint_v1(v1(net, IPAddress="10.240.0.9")))
    assert err.name == "HCN_E_PORT_ALREADY_EXISTS"
    allocated = emu.create_endpoint_v1(v1(net))  # no address given: the lowest free one
    assert allocated["IPAddress"] == "10.240.0.2"


def test_v1_create_finds_the_network_by_name_or_refuses(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint_v1({"Name": "x", "VirtualNetworkName": "azure"})
    assert ep["VirtualNetwork"] == net["ID"]
    assert refused(lambda: emu.create_endpoint_v1({"VirtualNetworkName": "nope"})).name == (
        "HCN_E_NETWORK_NOT_FOUND")
    assert refused(lambda: emu.create_endpoint_v1(
        {"VirtualNetwork": "0B1C2D3E-0000-4000-8000-000000000009"})).name == (
        "HCN_E_NETWORK_NOT_FOUND")
    assert refused(lambda: emu.create_endpoint_v1({"Name": "x"})).name == (
        "HCN_E_INVALID_ENDPOINT")
    assert refused(lambda: emu.create_endpoint_v1(v1(net, PrefixLength="24"))).name == (
        "HCN_E_INVALID_JSON")
    assert len(emu.list_endpoints()) == 1  # the refused ones made nothing


def test_container_attach_is_recorded_on_the_endpoint_with_hcsshims_state(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint_v1(v1(net))
    emu.attach_container(ep["ID"], CONTAINER)
    seen = emu.get_endpoint_v1(ep["ID"])
    assert (seen["SharedContainers"], seen["State"]) == ([CONTAINER], 2)  # Attached

    emu.attach_container(ep["ID"], "workload-2")  # a second container shares it
    seen = emu.get_endpoint_v1(ep["ID"])
    assert (seen["SharedContainers"], seen["State"]) == ([CONTAINER, "workload-2"], 3)

    emu.detach_container(ep["ID"], CONTAINER.upper())  # IDs compare without case
    emu.detach_container(ep["ID"], "workload-2")
    seen = emu.get_endpoint_v1(ep["ID"])
    assert (seen["SharedContainers"], seen["State"]) == ([], 1)
    assert "SharedContainers" not in emu.get_endpoint(ep["ID"])  # not a v2 member


def test_an_hcn_query_on_state_sees_container_attachments(
    emu: Emulator, net: dict[str, Any]
) -> None:
    held = emu.create_endpoint_v1(v1(net))
    emu.create_endpoint_v1(v1(net, Name="idle"))
    emu.attach_container(held["ID"], CONTAINER)

    query = {"SchemaVersion": {"Major": 2, "Minor": 0}, "Filter": '{"State": 2}'}
    assert [e["ID"] for e in emu.list_endpoints(query)] == [held["ID"]]


def test_attaching_a_container_that_already_holds_the_endpoint_is_0x803B0014(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint_v1(v1(net))
    emu.attach_container(ep["ID"], CONTAINER)

    err = refused(lambda: emu.attach_container(ep["ID"], CONTAINER.upper()))
    assert (err.hresult, err.message) == (0x803B0014,
                                          "This endpoint is already attached to the switch.")
    assert emu.get_endpoint_v1(ep["ID"])["SharedContainers"] == [CONTAINER]


@pytest.mark.parametrize("call", ["get", "delete", "attach", "detach"])
def test_an_unknown_endpoint_is_the_endpoint_was_not_found(emu: Emulator, call: str) -> None:
    gone = "0B1C2D3E-0000-4000-8000-00000000000A"
    calls: dict[str, Callable[[], Any]] = {
        "get": lambda: emu.get_endpoint_v1(gone),
        "delete": lambda: emu.delete_endpoint_v1(gone),
        "attach": lambda: emu.attach_container(gone, CONTAINER),
        "detach": lambda: emu.detach_container(gone, CONTAINER),
    }
    err = refused(calls[call])
    # Azure CNI's v1 DEL recognises this by its text ("not found").
    assert (err.hresult, err.message) == (0x803B0002, "The endpoint was not found.")


def test_detaching_a_container_that_does_not_hold_the_endpoint_is_refused(
    emu: Emulator, net: dict[str, Any]
) -> None:
    ep = emu.create_endpoint_v1(v1(net))
    emu.attach_container(ep["ID"], CONTAINER)
    assert refused(lambda: emu.detach_container(ep["ID"], "other")).name == (
        "HCN_E_ENDPOINT_NOT_ATTACHED")
    assert emu.get_endpoint_v1(ep["ID"])["SharedContainers"] == [CONTAINER]


def test_container_attach_refuses_remote_endpoints_namespaced_ones_and_no_container(
    emu: Emulator, net: dict[str, Any]
) -> None:
    remote = emu.create_endpoint_v1(v1(net, IsRemoteEndpoint=True, IPAddress="10.1.0.5"))
    assert refused(lambda: emu.attach_container(remote["ID"], CONTAINER)).name == (
        "HCN_E_INVALID_REMOTE_ENDPOINT_OPERATION")
    in_ns = emu.create_endpoint(net["ID"], {})
    ns = emu.create_namespace()
    emu.attach_endpoint(ns["ID"], in_ns["ID"])
    assert refused(lambda: emu.attach_container(in_ns["ID"], CONTAINER)).name == (
        "HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS")
    assert emu.get_endpoint_v1(in_ns["ID"])["Namespace"] == {"ID": ns["ID"]}
    plain = emu.create_endpoint_v1(v1(net))
    assert refused(lambda: emu.attach_container(plain["ID"], " ")).name == (
        "E_INVALIDARG")
    emu.attach_container(plain["ID"], CONTAINER)
    assert refused(lambda: emu.attach_endpoint(ns["ID"], plain["ID"])).name == (
        "HCN_E_ENDPOINT_ALREADY_ATTACHED")


@pytest.mark.parametrize("delete", ["v1", "v2", "network"])
def test_deleting_an_attached_endpoint_drops_its_attachments(
    emu: Emulator, net: dict[str, Any], delete: str
) -> None:
    ep = emu.create_endpoint_v1(v1(net, IPAddress="10.240.0.9"))
    emu.attach_container(ep["ID"], CONTAINER)
    {"v1": lambda: emu.delete_endpoint_v1(ep["ID"]),
     "v2": lambda: emu.delete_endpoint(ep["ID"]),
     "network": lambda: emu.delete_network(net["ID"])}[delete]()

    assert emu.list_endpoints_v1() == []
    if delete != "network":  # the same ID again: no attachment is inherited
        again = emu.create_endpoint_v1(v1(net, ID=ep["ID"], IPAddress="10.240.0.9"))
        assert again["SharedContainers"] == []


def test_attachments_persist_in_the_state_file_and_go_with_a_service_restart(
    state: str,
) -> None:
    with Emulator(state) as emu:
        net = emu.create_network(l2bridge())
        ep = emu.create_endpoint_v1(v1(net))
        emu.attach_container(ep["ID"], CONTAINER)
    with Emulator(state) as emu:
        assert emu.get_endpoint_v1(ep["ID"])["SharedContainers"] == [CONTAINER]
        emu.restart()
        assert emu.list_endpoints_v1() == []
        again = emu.create_endpoint_v1(v1(net, ID=ep["ID"]))
        assert again["SharedContainers"] == []


def test_v1_calls_need_no_v2_api(state: str) -> None:
    with Emulator(state) as emu:
        net = emu.create_network(l2bridge())
    with Emulator(state, version="7.2") as old:  # Windows Server 2016: HNS v1 only
        assert refused(lambda: old.create_endpoint(net["ID"], {})).name == "E_NOTIMPL"
        ep = old.create_endpoint_v1(v1(net))
        old.attach_container(ep["ID"], CONTAINER)
        old.detach_container(ep["ID"], CONTAINER)
        old.delete_endpoint_v1(ep["ID"])
        assert old.list_endpoints_v1() == []


def _v1_calls(emu: Emulator, net: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    ep = emu.create_endpoint_v1(v1(net))
    held = emu.create_endpoint_v1(v1(net, Name="held"))
    emu.attach_container(held["ID"], CONTAINER)
    names = iter(range(100))

    def spare_network() -> str:
        n = next(names)
        return str(emu.create_network(l2bridge(f"gone{n}", f"10.8.{n}.0/24", f"10.8.{n}.1"))["ID"])

    return {
        "create_network_v1": lambda: emu.create_network_v1(
            {"Name": "n1", "Type": "L2Bridge", "Subnets": [{"AddressPrefix": "10.9.0.0/24"}]}),
        "get_network_v1": lambda: emu.get_network_v1(net["ID"]),
        "list_networks_v1": emu.list_networks_v1,
        "delete_network_v1": lambda: emu.delete_network_v1(spare_network()),
        "create_endpoint_v1": lambda: emu.create_endpoint_v1(v1(net, Name="new")),
        "get_endpoint_v1": lambda: emu.get_endpoint_v1(ep["ID"]),
        "list_endpoints_v1": emu.list_endpoints_v1,
        "delete_endpoint_v1": lambda: emu.delete_endpoint_v1(ep["ID"]),
        "attach_container": lambda: emu.attach_container(ep["ID"], CONTAINER),
        "detach_container": lambda: emu.detach_container(held["ID"], CONTAINER),
    }


@pytest.mark.parametrize("operation", V1_OPERATIONS)
def test_fault_at_each_v1_operation_fails_that_call_only_and_changes_nothing(
    emu: Emulator, net: dict[str, Any], operation: str
) -> None:
    call = _v1_calls(emu, net)[operation]
    before = (emu.list_networks(), emu.list_endpoints_v1())
    emu.inject_fault(operation, 1, "HCN_E_MANAGER_STOPPED")

    assert refused(call).hresult == 0x803B0020
    if operation != "delete_network_v1":  # that one creates its victim first
        assert (emu.list_networks(), emu.list_endpoints_v1()) == before
    call()  # the fault fired once and is gone


def test_concurrent_attaches_of_one_container_give_one_attachment(
    emu: Emulator, net: dict[str, Any], state: str
) -> None:
    ep = emu.create_endpoint_v1(v1(net))

    def attach(_: int) -> str:
        with Emulator(state) as other:
            try:
                other.attach_container(ep["ID"], CONTAINER)
            except HcnError as exc:
                return exc.name
            return "ok"

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = sorted(pool.map(attach, range(6)))
    assert answers == ["HCN_E_ENDPOINT_ALREADY_ATTACHED"] * 5 + ["ok"]
    assert emu.get_endpoint_v1(ep["ID"])["SharedContainers"] == [CONTAINER]


def _attach_in_a_process(state: str, endpoint_id: str, container: str) -> None:
    with Emulator(state) as emu:
        emu.attach_container(endpoint_id, container)


def test_an_attachment_made_by_another_process_is_seen_here(
    emu: Emulator, net: dict[str, Any], state: str
) -> None:
    ep = emu.create_endpoint_v1(v1(net))
    proc = multiprocessing.get_context("spawn").Process(
        target=_attach_in_a_process, args=(state, ep["ID"], CONTAINER))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert emu.get_endpoint_v1(ep["ID"])["SharedContainers"] == [CONTAINER]
