"""The Win32 client's encoding, decoding and error mapping, against recorded HCN answers."""

from __future__ import annotations

import ctypes
import sys
import uuid
from typing import Any

import pytest

from vfpnet.hns import win32
from vfpnet.hns.errors import HcnError
from vfpnet.hns.schema.codec import decode, encode
from vfpnet.hns.schema.endpoint import HostComputeEndpoint
from vfpnet.hns.schema.route import host_route

from .conftest import recorded

RESPONSES = recorded("win32_responses.json")


@pytest.mark.parametrize("case", RESPONSES["failures"], ids=lambda c: c["name"])
def test_failing_hresult_and_error_record_map_to_hcn_error(case: dict[str, Any]) -> None:
    with pytest.raises(HcnError) as err:
        win32.check_result(case["function"], case["hresult"], case["error_record"])
    assert f"0x{err.value.code:X}" == case["code"]
    assert err.value.name == case["name"]
    assert err.value.message == case["message"]
    assert case["function"] in str(err.value)


@pytest.mark.parametrize("case", RESPONSES["successes"])
def test_success_without_error_record_passes(case: dict[str, Any]) -> None:
    win32.check_result(case["function"], case["hresult"], case["error_record"])


def test_error_record_of_the_emulator_is_what_win32_decodes() -> None:
    from vfpnet.hns.errors import hcn_error

    original = hcn_error("HCN_E_INVALID_POLICY")
    with pytest.raises(HcnError) as err:
        win32.check_result("HcnModifyEndpoint", original.hresult, original.error_record())
    assert err.value.hresult == original.hresult and err.value.message == original.message


def test_enumerated_ids_are_decoded_to_upper_case_guids() -> None:
    ids = win32.decode_id_list("HcnEnumerateEndpoints", RESPONSES["enumerate_endpoints"])
    assert ids == ["1B6D8A0E-5C2F-4C4E-9D7A-3E1F2A9B8C7D", "A2C4E6F8-1357-49BD-8ACE-0F1E2D3C4B5A"]
    assert win32.decode_id_list("HcnEnumerateEndpoints", RESPONSES["enumerate_empty"]) == []


def test_queried_properties_decode_into_the_schema_and_back() -> None:
    props = win32.decode_object(
        "HcnQueryEndpointProperties", RESPONSES["query_endpoint_properties"]
    )
    ep = decode(HostComputeEndpoint, props)
    assert ep.id == "1B6D8A0E-5C2F-4C4E-9D7A-3E1F2A9B8C7D" and ep.flags == 0
    assert encode(ep) == props


def test_garbage_from_hcn_is_HCN_E_INVALID_JSON() -> None:
    with pytest.raises(HcnError) as err:
        win32.decode_object("HcnQueryNetworkProperties", "<xml/>")
    assert err.value.hresult == 0x803B001B
    with pytest.raises(HcnError):
        win32.decode_id_list("HcnEnumerateNetworks", '{"a": 1}')


def test_hns_v1_version_response_is_decoded() -> None:
    assert win32.decode_hns_response(RESPONSES["hns_version_response"]) == {"Major": 13, "Minor": 3}
    with pytest.raises(HcnError, match="Element not found"):
        win32.decode_hns_response(RESPONSES["hns_failed_response"])


def test_guid_structure_has_windows_byte_order() -> None:
    text = "1B6D8A0E-5C2F-4C4E-9D7A-3E1F2A9B8C7D"
    g = win32.guid_from_str(text.lower())
    assert g.Data1 == 0x1B6D8A0E and g.Data2 == 0x5C2F and g.Data3 == 0x4C4E
    assert bytes(g.Data4) == bytes.fromhex("9D7A3E1F2A9B8C7D")
    assert win32.guid_to_str(g) == text
    assert bytes(win32.GUID()) == uuid.UUID(int=0).bytes_le
    with pytest.raises(HcnError) as err:
        win32.guid_from_str("azure")
    assert err.value.hresult == 0x803B0019


def test_requests_are_sent_as_compact_json_text() -> None:
    assert win32.request_text({"A": [1, 2]}) == '{"A":[1,2]}'
    assert win32.request_text(b'{"B":1}') == '{"B":1}'
    assert win32.request_text(None) == ""
    assert win32.namespace_endpoint_request("Add", "E1") == {
        "ResourceType": "Endpoint",
        "RequestType": "Add",
        "Settings": {"EndpointId": "E1"},
    }


def test_mib_ipforward_row2_has_the_windows_x64_layout() -> None:
    assert ctypes.sizeof(win32.SOCKADDR_INET) == 28
    assert ctypes.sizeof(win32.MIB_IPFORWARD_ROW2) == 104
    assert win32.MIB_IPFORWARD_ROW2.DestinationPrefix.offset == 12
    assert win32.MIB_IPFORWARD_ROW2.NextHop.offset == 44
    assert win32.MIB_IPFORWARD_ROW2.Metric.offset == 84


@pytest.mark.parametrize(
    ("dest", "hop"),
    [("10.240.0.7", "10.240.0.1"), ("10.0.0.0/8", "0.0.0.0"), ("fd00::/64", "fd00::1")],
)
def test_route_rows_pack_and_unpack(dest: str, hop: str) -> None:
    route = host_route(dest, hop, interface_index=12, metric=5)
    row = win32.row_for_route(route)
    assert row.Protocol == win32.MIB_IPPROTO_NETMGMT and row.ValidLifetime == 0xFFFFFFFF
    family = int.from_bytes(bytes(row.NextHop.raw)[:2], "little")
    assert family == (win32.AF_INET if ":" not in hop else win32.AF_INET6)
    assert win32.route_of_row(row) == route


@pytest.mark.parametrize(("status", "code"), [(0x1392, 0x1392), (0x490, 0x490), (5, 5)])
def test_route_api_errors_map_to_win32_codes(status: int, code: int) -> None:
    with pytest.raises(HcnError) as err:
        win32.check_netio("CreateIpForwardEntry2", status)
    assert err.value.code == code
    win32.check_netio("CreateIpForwardEntry2", 0)


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows")
def test_win32_client_refuses_to_start_off_windows() -> None:
    with pytest.raises(OSError, match="needs Windows"):
        win32.Win32Client()
