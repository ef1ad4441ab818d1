"""The real HNS on Windows: ctypes bindings to computenetwork.dll (HCN v2), vmcompute.dll
(HNSCall: the service version and the HNS v1 endpoint calls) and iphlpapi.dll (the host
route table).

Importable everywhere; the DLLs are loaded only when a `Win32Client` is made, on Windows.
What does not need Windows (GUID conversion, the HRESULT + error-record mapping, decoding of
the JSON HCN returns, the MIB_IPFORWARD_ROW2 layout) is plain functions tested on Linux.

HCN calls return an HRESULT and, through `PWSTR* ErrorRecord`, a JSON error record
(`{"Success":false,"Error":"...","ErrorCode":2151350319}`) allocated with CoTaskMemAlloc;
every string HCN returns is freed with CoTaskMemFree after it is copied. As in hcsshim's
`checkForErrors`, a call failed when the HRESULT is a failure or the record is not empty.
HNSCall (v1) answers `{"Success":..,"Error":..,"ErrorCode":..,"Output":..}` as hcsshim's
`hnsCall` reads it; a container is attached by `POST /endpoints/<id>/attach` with
`{"ContainerId":..,"SystemType":"Container"}` (hcsshim's ContainerAttach), which HNS
refuses with 0x803B0014 when that container already holds the endpoint.
"""

from __future__ import annotations

import ctypes
import ipaddress
import json
import struct
import sys
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vfpnet.hns.errors import HcnError, hcn_error, normalize_hresult, parse_error_record
from vfpnet.hns.schema.route import HostRoute
from vfpnet.hns.version import HnsVersion, parse_version, supported_features

AF_INET = 2
AF_INET6 = 23  # Windows' value, not Linux's
AF_UNSPEC = 0
ERROR_SUCCESS = 0
DEFAULT_QUERY = json.dumps({"SchemaVersion": {"Major": 2, "Minor": 0}, "Flags": 0})


class GUID(ctypes.Structure):
    _fields_ = (
        ("Data1", ctypes.c_uint32),
        ("Data2", ctypes.c_uint16),
        ("Data3", ctypes.c_uint16),
        ("Data4", ctypes.c_uint8 * 8),
    )


def guid_from_str(text: str) -> GUID:
    """A GUID structure (little-endian fields, as Windows lays it out) from its string."""
    try:
        raw = uuid.UUID(text.strip().strip("{}")).bytes_le
    except ValueError:
        raise hcn_error("HCN_E_GUID_CONVERSION_FAILURE", f"ID {text!r}") from None
    return GUID.from_buffer_copy(raw)


def guid_to_str(guid: GUID) -> str:
    return str(uuid.UUID(bytes_le=bytes(guid))).upper()


def check_result(function: str, hresult: int, error_record: str) -> None:
    """Raise HcnError when an HCN call failed (failure HRESULT or non-empty error record)."""
    hr = hresult & 0xFFFFFFFF
    record = parse_error_record(error_record)
    if hr & 0x80000000 == 0 and record is None:
        return
    code = hr if hr & 0x80000000 else (record.error_code if record and record.error_code else 0)
    message = record.error.strip() if record and record.error.strip() else None
    if not code:
        code = 0x80004005  # E_FAIL: a record without a code
    raise HcnError(normalize_hresult(code), message, detail=function)


def decode_object(function: str, text: str) -> dict[str, Any]:
    """The JSON object an HCN query returned."""
    try:
        data = json.loads(text)
    except ValueError:
        raise hcn_error("HCN_E_INVALID_JSON", f"{function} returned {text[:80]!r}") from None
    if not isinstance(data, dict):
        raise hcn_error("HCN_E_INVALID_JSON", f"{function} returned no object")
    return data


def decode_id_list(function: str, text: str) -> list[str]:
    """The GUIDs HcnEnumerate* returned (a JSON array of strings; empty text is none)."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except ValueError:
        raise hcn_error("HCN_E_INVALID_JSON", f"{function} returned {text[:80]!r}") from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise hcn_error("HCN_E_INVALID_JSON", f"{function} returned no list of IDs")
    return [str(uuid.UUID(x.strip("{}"))).upper() for x in data]


def request_text(value: Mapping[str, Any] | str | bytes | None) -> str:
    """A request as the JSON text HCN takes."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def decode_hns_response(text: str, call: str = "HNSCall") -> Any:
    """The Output of an HNS v1 (HNSCall) response `{"Success":..,"Error":..,"Output":..}`.

    A failure carries HNS's message in Error and, on current builds, its HRESULT in
    ErrorCode (signed, as hcsshim's HNSError reads it: -2143617004 is 0x803B0014); without
    one it is E_FAIL."""
    data = decode_object(call, text)
    if not data.get("Success"):
        code = data.get("ErrorCode")
        hresult = code & 0xFFFFFFFF if isinstance(code, int) and code else 0x80004005
        message = str(data.get("Error") or "").strip() or "HNS failed"
        raise HcnError(hresult, message, detail=call)
    return data.get("Output")


def v1_path(kind: str, object_id: str = "", action: str = "") -> str:
    """`/<kind>/`, `/<kind>/<GUID>` or `/<kind>/<GUID>/<action>` for kind `networks` or
    `endpoints` (the ID checked, so no caller text reaches HNS's path)."""
    if not object_id:
        return f"/{kind}/"
    path = f"/{kind}/" + guid_to_str(guid_from_str(object_id))
    return f"{path}/{action}" if action else path


def v1_endpoint_path(endpoint_id: str = "", action: str = "") -> str:
    return v1_path("endpoints", endpoint_id, action)


def container_request(container_id: str) -> dict[str, Any]:
    """The EndpointAttachDetachRequest hcsshim's ContainerAttach/ContainerDetach send."""
    return {"ContainerId": container_id, "SystemType": "Container"}


def decode_v1_object(call: str, output: Any) -> dict[str, Any]:
    if not isinstance(output, dict):
        raise hcn_error("HCN_E_INVALID_JSON", f"{call} returned no object")
    return output


def decode_v1_list(call: str, output: Any) -> list[dict[str, Any]]:
    if output is None:
        return []
    if not isinstance(output, list) or not all(isinstance(x, dict) for x in output):
        raise hcn_error("HCN_E_INVALID_JSON", f"{call} returned no list of objects")
    return output


# ---- the IP helper route table ----


class SOCKADDR_INET(ctypes.Union):
    # sockaddr_in6 is the largest member: family, port, flowinfo, addr[16], scope id.
    _fields_ = (
        ("raw", ctypes.c_uint8 * 28),
        ("si_family", ctypes.c_uint16),
        ("_align", ctypes.c_uint32),
    )


class IP_ADDRESS_PREFIX(ctypes.Structure):
    _fields_ = (("Prefix", SOCKADDR_INET), ("PrefixLength", ctypes.c_uint8))


class MIB_IPFORWARD_ROW2(ctypes.Structure):
    _fields_ = (
        ("InterfaceLuid", ctypes.c_uint64),
        ("InterfaceIndex", ctypes.c_uint32),
        ("DestinationPrefix", IP_ADDRESS_PREFIX),
        ("NextHop", SOCKADDR_INET),
        ("SitePrefixLength", ctypes.c_uint8),
        ("ValidLifetime", ctypes.c_uint32),
        ("PreferredLifetime", ctypes.c_uint32),
        ("Metric", ctypes.c_uint32),
        ("Protocol", ctypes.c_int32),
        ("Loopback", ctypes.c_uint8),
        ("AutoconfigureAddress", ctypes.c_uint8),
        ("Publish", ctypes.c_uint8),
        ("Immortal", ctypes.c_uint8),
        ("Age", ctypes.c_uint32),
        ("Origin", ctypes.c_int32),
    )


class MIB_IPFORWARD_TABLE2(ctypes.Structure):
    _fields_ = (("NumEntries", ctypes.c_uint32), ("Table", MIB_IPFORWARD_ROW2 * 1))


MIB_IPPROTO_NETMGMT = 3  # a static route, as `route add` makes
INFINITE_LIFETIME = 0xFFFFFFFF


def pack_sockaddr(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> SOCKADDR_INET:
    sa = SOCKADDR_INET()
    if address.version == 4:
        raw = struct.pack("<HH", AF_INET, 0) + address.packed + b"\0" * 8
    else:
        raw = struct.pack("<HHI", AF_INET6, 0, 0) + address.packed + struct.pack("<I", 0)
    ctypes.memmove(ctypes.addressof(sa), raw, len(raw))
    return sa


def unpack_sockaddr(sa: SOCKADDR_INET) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes(sa.raw)
    family = struct.unpack_from("<H", raw)[0]
    if family == AF_INET:
        return ipaddress.IPv4Address(raw[4:8])
    if family == AF_INET6:
        return ipaddress.IPv6Address(raw[8:24])
    raise ValueError(f"address family {family} is neither AF_INET nor AF_INET6")


def row_for_route(route: HostRoute, row: MIB_IPFORWARD_ROW2 | None = None) -> MIB_IPFORWARD_ROW2:
    """The MIB_IPFORWARD_ROW2 CreateIpForwardEntry2 takes for `route`: filled into `row` (one
    InitializeIpForwardEntry prepared, on Windows) or a zeroed one; lifetimes infinite and
    protocol static, as `route add` makes it."""
    net = ipaddress.ip_network(route.destination_prefix)
    row = row if row is not None else MIB_IPFORWARD_ROW2()
    row.InterfaceIndex = route.interface_index
    row.DestinationPrefix.Prefix = pack_sockaddr(net.network_address)
    row.DestinationPrefix.PrefixLength = net.prefixlen
    row.NextHop = pack_sockaddr(ipaddress.ip_address(route.next_hop))
    row.ValidLifetime = INFINITE_LIFETIME
    row.PreferredLifetime = INFINITE_LIFETIME
    row.Metric = route.metric
    row.Protocol = MIB_IPPROTO_NETMGMT
    return row


def route_of_row(row: MIB_IPFORWARD_ROW2) -> HostRoute:
    prefix = unpack_sockaddr(row.DestinationPrefix.Prefix)
    net = ipaddress.ip_network(f"{prefix}/{row.DestinationPrefix.PrefixLength}", strict=False)
    return HostRoute(str(net), str(unpack_sockaddr(row.NextHop)), row.InterfaceIndex, row.Metric)


def check_netio(function: str, status: int) -> None:
    """Raise for a failing NETIO_STATUS (a Win32 error code) as HcnError."""
    if status != ERROR_SUCCESS:
        raise HcnError(normalize_hresult(status), message=_win32_message(status), detail=function)


def _win32_message(status: int) -> str | None:
    known = {
        0x1392: "The object already exists.",
        0x490: "Element not found.",
        0x57: "The parameter is incorrect.",
        0x5: "Access is denied.",
    }
    return known.get(status)


# ---- the client ----

_PWSTR = ctypes.c_void_p  # a CoTaskMem wide string HCN hands back


class Win32Client:
    """HnsClient over computenetwork.dll, vmcompute.dll and iphlpapi.dll (Windows only)."""

    def __init__(self, dlls: tuple[Any, Any, Any, Any] | None = None) -> None:
        # `dlls`: computenetwork, vmcompute, iphlpapi, ole32 as loaded (tests give stand-ins)
        self._hcn, self._vmcompute, self._iphlp, self._ole = dlls or _load_dlls()
        self._version: HnsVersion | None = None

    # -- string plumbing --

    def _take(self, ptr: _PWSTR) -> str:
        if not ptr.value:
            return ""
        text = ctypes.wstring_at(ptr.value)
        self._ole.CoTaskMemFree(ptr)
        return text

    def _call(self, function: str, *args: Any) -> None:
        """Call an HCN function whose last argument is PWSTR* ErrorRecord; raise on failure."""
        record = _PWSTR()
        hr = getattr(self._hcn, function)(*args, ctypes.byref(record))
        check_result(function, hr, self._take(record))

    def _query(self, function: str, handle: ctypes.c_void_p, query: str) -> dict[str, Any]:
        props, record = _PWSTR(), _PWSTR()
        hr = getattr(self._hcn, function)(
            handle, ctypes.c_wchar_p(query), ctypes.byref(props), ctypes.byref(record)
        )
        text = self._take(props)
        check_result(function, hr, self._take(record))
        return decode_object(function, text)

    def _enumerate(self, function: str, query: str) -> list[str]:
        ids, record = _PWSTR(), _PWSTR()
        hr = getattr(self._hcn, function)(
            ctypes.c_wchar_p(query), ctypes.byref(ids), ctypes.byref(record)
        )
        text = self._take(ids)
        check_result(function, hr, self._take(record))
        return decode_id_list(function, text)

    def _open(self, kind: str, object_id: str) -> ctypes.c_void_p:
        handle = ctypes.c_void_p()
        self._call(f"HcnOpen{kind}", ctypes.byref(guid_from_str(object_id)), ctypes.byref(handle))
        return handle

    def _get(self, kind: str, object_id: str, query: str = DEFAULT_QUERY) -> dict[str, Any]:
        handle = self._open(kind, object_id)
        try:
            return self._query(f"HcnQuery{kind}Properties", handle, query)
        finally:
            getattr(self._hcn, f"HcnClose{kind}")(handle)

    def _list(self, kind: str, plural: str, query: Any) -> list[dict[str, Any]]:
        text = request_text(query) or DEFAULT_QUERY
        return [self._get(kind, i, text) for i in self._enumerate(f"HcnEnumerate{plural}", text)]

    def _modify(self, kind: str, object_id: str, request: Any) -> dict[str, Any]:
        handle = self._open(kind, object_id)
        try:
            self._call(f"HcnModify{kind}", handle, ctypes.c_wchar_p(request_text(request)))
            return self._query(f"HcnQuery{kind}Properties", handle, DEFAULT_QUERY)
        finally:
            getattr(self._hcn, f"HcnClose{kind}")(handle)

    def _hns(self, method: str, path: str, request: str = "") -> Any:
        """One HNS v1 call (vmcompute's HNSCall): the Output of its response, or HcnError."""
        response = _PWSTR()
        hr = self._vmcompute.HNSCall(
            ctypes.c_wchar_p(method),
            ctypes.c_wchar_p(path),
            ctypes.c_wchar_p(request),
            ctypes.byref(response),
        )
        text = self._take(response)
        call = f"HNSCall {method} {path}"
        check_result(call, hr, "")
        return decode_hns_response(text, call)

    # -- version --

    def version(self) -> HnsVersion:
        if self._version is None:
            out = self._hns("GET", "/globals/version")
            self._version = parse_version((int(out["Major"]), int(out["Minor"])))
        return self._version

    def supported_features(self) -> dict[str, Any]:
        return supported_features(self.version())

    # -- networks --

    def create_network(self, settings: Any) -> dict[str, Any]:
        handle = ctypes.c_void_p()
        self._call(
            "HcnCreateNetwork",
            ctypes.byref(GUID()),
            ctypes.c_wchar_p(request_text(settings)),
            ctypes.byref(handle),
        )
        try:
            return self._query("HcnQueryNetworkProperties", handle, DEFAULT_QUERY)
        finally:
            self._hcn.HcnCloseNetwork(handle)

    def get_network(self, network_id: str) -> dict[str, Any]:
        return self._get("Network", network_id)

    def list_networks(self, query: Any = None) -> list[dict[str, Any]]:
        return self._list("Network", "Networks", query)

    def modify_network(self, network_id: str, request: Any) -> dict[str, Any]:
        return self._modify("Network", network_id, request)

    def delete_network(self, network_id: str) -> None:
        self._call("HcnDeleteNetwork", ctypes.byref(guid_from_str(network_id)))

    # -- endpoints --

    def create_endpoint(self, network_id: str, settings: Any) -> dict[str, Any]:
        network = self._open("Network", network_id)
        try:
            handle = ctypes.c_void_p()
            self._call(
                "HcnCreateEndpoint",
                network,
                ctypes.byref(GUID()),
                ctypes.c_wchar_p(request_text(settings)),
                ctypes.byref(handle),
            )
            try:
                return self._query("HcnQueryEndpointProperties", handle, DEFAULT_QUERY)
            finally:
                self._hcn.HcnCloseEndpoint(handle)
        finally:
            self._hcn.HcnCloseNetwork(network)

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        return self._get("Endpoint", endpoint_id)

    def list_endpoints(self, query: Any = None) -> list[dict[str, Any]]:
        return self._list("Endpoint", "Endpoints", query)

    def modify_endpoint(self, endpoint_id: str, request: Any) -> dict[str, Any]:
        return self._modify("Endpoint", endpoint_id, request)

    def delete_endpoint(self, endpoint_id: str) -> None:
        self._call("HcnDeleteEndpoint", ctypes.byref(guid_from_str(endpoint_id)))

    # -- networks and endpoints through HNS v1 (HNSCall) --

    def _v1_create(self, kind: str, settings: Any) -> dict[str, Any]:
        path = v1_path(kind)
        out = self._hns("POST", path, request_text(settings))
        return decode_v1_object(f"HNSCall POST {path}", out)

    def _v1_get(self, kind: str, object_id: str) -> dict[str, Any]:
        path = v1_path(kind, object_id)
        return decode_v1_object(f"HNSCall GET {path}", self._hns("GET", path))

    def _v1_list(self, kind: str) -> list[dict[str, Any]]:
        path = v1_path(kind)
        return decode_v1_list(f"HNSCall GET {path}", self._hns("GET", path))

    def create_network_v1(self, settings: Any) -> dict[str, Any]:
        return self._v1_create("networks", settings)

    def get_network_v1(self, network_id: str) -> dict[str, Any]:
        return self._v1_get("networks", network_id)

    def list_networks_v1(self) -> list[dict[str, Any]]:
        return self._v1_list("networks")

    def delete_network_v1(self, network_id: str) -> None:
        self._hns("DELETE", v1_path("networks", network_id))

    def create_endpoint_v1(self, settings: Any) -> dict[str, Any]:
        return self._v1_create("endpoints", settings)

    def get_endpoint_v1(self, endpoint_id: str) -> dict[str, Any]:
        return self._v1_get("endpoints", endpoint_id)

    def list_endpoints_v1(self) -> list[dict[str, Any]]:
        return self._v1_list("endpoints")

    def delete_endpoint_v1(self, endpoint_id: str) -> None:
        self._hns("DELETE", v1_endpoint_path(endpoint_id))

    def attach_container(self, endpoint_id: str, container_id: str) -> None:
        body = request_text(container_request(container_id))
        self._hns("POST", v1_endpoint_path(endpoint_id, "attach"), body)

    def detach_container(self, endpoint_id: str, container_id: str) -> None:
        body = request_text(container_request(container_id))
        self._hns("POST", v1_endpoint_path(endpoint_id, "detach"), body)

    # -- namespaces --

    def create_namespace(self, settings: Any = None) -> dict[str, Any]:
        handle = ctypes.c_void_p()
        text = request_text(settings) or json.dumps(
            {"Type": "Host", "SchemaVersion": {"Major": 2, "Minor": 0}}
        )
        self._call(
            "HcnCreateNamespace", ctypes.byref(GUID()), ctypes.c_wchar_p(text), ctypes.byref(handle)
        )
        try:
            return self._query("HcnQueryNamespaceProperties", handle, DEFAULT_QUERY)
        finally:
            self._hcn.HcnCloseNamespace(handle)

    def get_namespace(self, namespace_id: str) -> dict[str, Any]:
        return self._get("Namespace", namespace_id)

    def list_namespaces(self, query: Any = None) -> list[dict[str, Any]]:
        return self._list("Namespace", "Namespaces", query)

    def modify_namespace(self, namespace_id: str, request: Any) -> dict[str, Any]:
        return self._modify("Namespace", namespace_id, request)

    def delete_namespace(self, namespace_id: str) -> None:
        self._call("HcnDeleteNamespace", ctypes.byref(guid_from_str(namespace_id)))

    def attach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        self.modify_namespace(namespace_id, namespace_endpoint_request("Add", endpoint_id))

    def detach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        self.modify_namespace(namespace_id, namespace_endpoint_request("Remove", endpoint_id))

    # -- host routes --

    def add_route(self, route: HostRoute) -> None:
        row = MIB_IPFORWARD_ROW2()
        self._iphlp.InitializeIpForwardEntry(ctypes.byref(row))
        row = row_for_route(route, row)
        if not route.interface_index:
            # as `route add` without IF: the interface that reaches the next hop
            index = ctypes.c_uint32()
            hop = pack_sockaddr(ipaddress.ip_address(route.next_hop))
            check_netio(
                "GetBestInterfaceEx",
                self._iphlp.GetBestInterfaceEx(ctypes.byref(hop), ctypes.byref(index)),
            )
            row.InterfaceIndex = index.value
        check_netio("CreateIpForwardEntry2", self._iphlp.CreateIpForwardEntry2(ctypes.byref(row)))

    def delete_route(self, route: HostRoute) -> None:
        for existing in self._route_rows():
            found = route_of_row(existing)
            if (found.destination_prefix, found.next_hop) == (
                route.destination_prefix,
                route.next_hop,
            ) and route.interface_index in (0, found.interface_index):
                check_netio(
                    "DeleteIpForwardEntry2",
                    self._iphlp.DeleteIpForwardEntry2(ctypes.byref(existing)),
                )
                return
        raise hcn_error(
            "ERROR_NOT_FOUND", f"no route {route.destination_prefix} via {route.next_hop}"
        )

    def list_routes(self) -> list[HostRoute]:
        return [route_of_row(r) for r in self._route_rows()]

    def _route_rows(self) -> list[MIB_IPFORWARD_ROW2]:
        table = ctypes.POINTER(MIB_IPFORWARD_TABLE2)()
        check_netio(
            "GetIpForwardTable2", self._iphlp.GetIpForwardTable2(AF_UNSPEC, ctypes.byref(table))
        )
        try:
            count = table.contents.NumEntries
            first = ctypes.addressof(table.contents.Table)
            rows = (MIB_IPFORWARD_ROW2 * count).from_address(first)
            return [MIB_IPFORWARD_ROW2.from_buffer_copy(r) for r in rows]
        finally:
            self._iphlp.FreeMibTable(table)

    def close(self) -> None:
        return None


def _load_dlls() -> tuple[Any, Any, Any, Any]:
    """computenetwork, vmcompute, iphlpapi and ole32 (only Windows has them)."""
    if sys.platform == "win32":
        return (
            ctypes.WinDLL("computenetwork.dll"),
            ctypes.WinDLL("vmcompute.dll"),
            ctypes.WinDLL("iphlpapi.dll"),
            ctypes.WinDLL("ole32.dll"),
        )
    raise OSError("vfpnet.hns.win32 needs Windows; use the emulator elsewhere")


def namespace_endpoint_request(request_type: str, endpoint_id: str) -> dict[str, Any]:
    """The ModifyNamespaceSettingRequest hcsshim sends to (de)attach an endpoint."""
    return {
        "ResourceType": "Endpoint",
        "RequestType": request_type,
        "Settings": {"EndpointId": endpoint_id},
    }


if TYPE_CHECKING:
    from vfpnet.hns.client import HnsClient

    def _speaks_the_protocol(client: Win32Client) -> HnsClient:
        return client
