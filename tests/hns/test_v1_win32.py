"""The Win32 client's HNS v1 calls: the HNSCall requests it sends and how it reads recorded
answers (vmcompute.dll stood in by an object answering with recorded response text through
the same CoTaskMem string plumbing)."""

from __future__ import annotations

import ctypes
import json
from typing import Any

import pytest

from vfpnet.hns import win32
from vfpnet.hns.errors import HcnError
from vfpnet.hns.schema.codec import decode, encode
from vfpnet.hns.schema.v1 import HNSEndpoint

from .conftest import recorded

CALLS = recorded("hns_v1_endpoint_calls.json")
EP = "1B6D8A0E-5C2F-4C4E-9D7A-3E1F2A9B8C7D"


class Vmcompute:
    """HNSCall answering each call with the next recorded response, as a wide string."""

    def __init__(self, *responses: str) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, str, str]] = []
        self._buffers: list[Any] = []

    def HNSCall(self, method: Any, path: Any, request: Any, response: Any) -> int:
        self.calls.append((method.value, path.value, request.value))
        buf = ctypes.create_unicode_buffer(self.responses.pop(0))
        self._buffers.append(buf)  # alive until the client copied it
        response._obj.value = ctypes.addressof(buf)
        return 0


class Ole32:
    def __init__(self) -> None:
        self.freed = 0

    def CoTaskMemFree(self, ptr: Any) -> None:
        self.freed += 1


def client(*responses: str) -> tuple[win32.Win32Client, Vmcompute, Ole32]:
    vm, ole = Vmcompute(*responses), Ole32()
    return win32.Win32Client(dlls=(None, vm, None, ole)), vm, ole


def test_create_posts_the_hnsendpoint_and_reads_what_hns_made() -> None:
    c, vm, ole = client(CALLS["create_response"])
    ep = c.create_endpoint_v1(CALLS["create_request"])

    assert vm.calls == [("POST", "/endpoints/",
                         json.dumps(CALLS["create_request"], separators=(",", ":")))]
    assert ole.freed == 1  # the response string went back to CoTaskMem
    assert (ep["ID"], ep["IPAddress"], ep["SharedContainers"], ep["State"]) == (
        EP, "10.240.0.27", [], 1)
    assert encode(decode(HNSEndpoint, ep)) == ep  # the schema reads every member back


def test_get_and_list_read_the_v1_endpoints() -> None:
    c, vm, _ = client(CALLS["get_attached_response"], CALLS["list_response"],
                      CALLS["list_empty_response"])
    ep = c.get_endpoint_v1(EP.lower())
    listed = c.list_endpoints_v1()

    assert ep["SharedContainers"] == [CALLS["container_id"]] and ep["State"] == 2
    assert [e["Name"] for e in listed] == ["4f1c2d3e5a6b_eth0", "remote-10.1.0.5"]
    assert c.list_endpoints_v1() == []  # no Output: no endpoints
    assert [call[:2] for call in vm.calls] == [
        ("GET", f"/endpoints/{EP}"), ("GET", "/endpoints/"), ("GET", "/endpoints/")]


def test_attach_and_detach_send_hcsshims_container_request() -> None:
    c, vm, _ = client(CALLS["ok_response"], CALLS["ok_response"], CALLS["ok_response"])
    c.attach_container(EP, CALLS["container_id"])
    c.detach_container(EP, CALLS["container_id"])
    c.delete_endpoint_v1(EP)

    assert vm.calls == [
        ("POST", f"/endpoints/{EP}/attach", CALLS["attach_request"]),
        ("POST", f"/endpoints/{EP}/detach", CALLS["attach_request"]),
        ("DELETE", f"/endpoints/{EP}", ""),
    ]


@pytest.mark.parametrize(
    ("response", "hresult", "name", "message"),
    [
        ("already_attached_response", 0x803B0014, "HCN_E_ENDPOINT_ALREADY_ATTACHED",
         "This endpoint is already attached to the switch."),
        ("not_found_response", 0x803B0002, "HCN_E_ENDPOINT_NOT_FOUND",
         "The endpoint was not found."),
        ("old_failure_response", 0x80004005, "0x80004005", "Element not found."),
    ],
)
def test_a_failed_hnscall_is_its_signed_error_code_and_message(
    response: str, hresult: int, name: str, message: str
) -> None:
    c, _, ole = client(CALLS[response])
    with pytest.raises(HcnError) as err:
        c.attach_container(EP, CALLS["container_id"])

    assert (err.value.hresult, err.value.name, err.value.message) == (hresult, name, message)
    assert f"HNSCall POST /endpoints/{EP}/attach" in str(err.value)
    assert ole.freed == 1


def test_the_emulator_refuses_what_the_recorded_hns_refused(tmp_path: Any) -> None:
    """The emulator's answers and the recorded ones carry the same HRESULT and text."""
    from vfpnet.hns.emulator import Emulator

    from .conftest import l2bridge

    with Emulator(str(tmp_path / "vt-hns.db")) as emu:
        net = emu.create_network(l2bridge())
        ep = emu.create_endpoint_v1({"Name": "x", "VirtualNetwork": net["ID"]})
        emu.attach_container(ep["ID"], CALLS["container_id"])
        with pytest.raises(HcnError) as mine:
            emu.attach_container(ep["ID"], CALLS["container_id"])
    c, _, _ = client(CALLS["already_attached_response"])
    with pytest.raises(HcnError) as real:
        c.attach_container(EP, CALLS["container_id"])
    assert (mine.value.hresult, mine.value.message) == (real.value.hresult, real.value.message)


def test_an_endpoint_id_that_is_no_guid_never_reaches_the_hns_path() -> None:
    c, vm, _ = client()
    with pytest.raises(HcnError) as err:
        c.get_endpoint_v1("../networks")
    assert err.value.name == "HCN_E_GUID_CONVERSION_FAILURE" and vm.calls == []
    assert win32.v1_endpoint_path() == "/endpoints/"
    assert win32.v1_endpoint_path(EP.lower(), "detach") == f"/endpoints/{EP}/detach"


def test_an_answer_that_is_no_endpoint_is_HCN_E_INVALID_JSON() -> None:
    c, _, _ = client('{"Success":true,"Output":[1]}', '{"Success":true,"Output":"x"}')
    with pytest.raises(HcnError) as err:
        c.list_endpoints_v1()
    assert err.value.name == "HCN_E_INVALID_JSON"
    with pytest.raises(HcnError):
        c.get_endpoint_v1(EP)


NET = "5E8D2B6C-0A1F-4E3D-9C8B-7A6F5E4D3C2B"


def test_network_calls_go_to_networks_and_read_hnsnetwork_json() -> None:
    from vfpnet.hns.schema.v1 import HNSNetwork

    sent = recorded("hns_v1_network.json")
    c, vm, _ = client(CALLS["network_create_response"], CALLS["network_list_response"],
                      CALLS["ok_response"], CALLS["network_not_found_response"])
    made = c.create_network_v1(sent)
    [listed] = c.list_networks_v1()
    c.delete_network_v1(NET)
    with pytest.raises(HcnError) as err:
        c.get_network_v1(NET.lower())

    assert made["ID"] == NET and listed == made
    assert made["Subnets"] == sent["Subnets"]
    assert encode(decode(HNSNetwork, made)) == made
    assert err.value.name == "HCN_E_NETWORK_NOT_FOUND"
    assert vm.calls == [
        ("POST", "/networks/", json.dumps(sent, separators=(",", ":"))),
        ("GET", "/networks/", ""),
        ("DELETE", f"/networks/{NET}", ""),
        ("GET", f"/networks/{NET}", ""),
    ]
