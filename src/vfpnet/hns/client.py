"""The one small protocol every HNS client speaks, and how to open one.

Resources go in and come out as HCN v2 JSON (dicts, or JSON text on the way in), exactly as
hcsshim's `hcn` package marshals them; a refused call raises `HcnError`. Host routes are
`HostRoute` values (the IP helper API's forward table, not an HCN object). The `*_v1`
calls and `attach_container`/`detach_container` speak HNS v1 (hcsshim's HNSNetwork/HNSEndpoint JSON,
`/endpoints/<id>/attach` with a ContainerId), for runtimes that name a container rather
than an HCN namespace.

Implementations: `vfpnet.hns.win32.Win32Client` (computenetwork.dll + iphlpapi.dll on
Windows) and `vfpnet.hns.emulator.Emulator` (a SQLite state file, anywhere).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Protocol

from vfpnet.hns.schema.route import HostRoute
from vfpnet.hns.version import HnsVersion

Json = Mapping[str, Any] | str | bytes
Query = Mapping[str, Any] | str | None


class HnsClient(Protocol):
    def version(self) -> HnsVersion: ...

    def supported_features(self) -> dict[str, Any]: ...

    def create_network(self, settings: Json) -> dict[str, Any]: ...

    def get_network(self, network_id: str) -> dict[str, Any]: ...

    def list_networks(self, query: Query = None) -> list[dict[str, Any]]: ...

    def modify_network(self, network_id: str, request: Json) -> dict[str, Any]: ...

    def delete_network(self, network_id: str) -> None: ...

    def create_endpoint(self, network_id: str, settings: Json) -> dict[str, Any]: ...

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]: ...

    def list_endpoints(self, query: Query = None) -> list[dict[str, Any]]: ...

    def modify_endpoint(self, endpoint_id: str, request: Json) -> dict[str, Any]: ...

    def delete_endpoint(self, endpoint_id: str) -> None: ...

    # The HNS v1 API (HNSCall `/networks/...`, `/endpoints/...`): HNSNetwork/HNSEndpoint
    # JSON in and out, the same objects the v2 calls see; a container attachment by its ID.

    def create_network_v1(self, settings: Json) -> dict[str, Any]: ...

    def get_network_v1(self, network_id: str) -> dict[str, Any]: ...

    def list_networks_v1(self) -> list[dict[str, Any]]: ...

    def delete_network_v1(self, network_id: str) -> None: ...

    def create_endpoint_v1(self, settings: Json) -> dict[str, Any]: ...

    def get_endpoint_v1(self, endpoint_id: str) -> dict[str, Any]: ...

    def list_endpoints_v1(self) -> list[dict[str, Any]]: ...

    def delete_endpoint_v1(self, endpoint_id: str) -> None: ...

    def attach_container(self, endpoint_id: str, container_id: str) -> None: ...

    def detach_container(self, endpoint_id: str, container_id: str) -> None: ...

    def create_namespace(self, settings: Json | None = None) -> dict[str, Any]: ...

    def get_namespace(self, namespace_id: str) -> dict[str, Any]: ...

    def list_namespaces(self, query: Query = None) -> list[dict[str, Any]]: ...

    def modify_namespace(self, namespace_id: str, request: Json) -> dict[str, Any]: ...

    def delete_namespace(self, namespace_id: str) -> None: ...

    def attach_endpoint(self, namespace_id: str, endpoint_id: str) -> None: ...

    def detach_endpoint(self, namespace_id: str, endpoint_id: str) -> None: ...

    def add_route(self, route: HostRoute) -> None: ...

    def delete_route(self, route: HostRoute) -> None: ...

    def list_routes(self) -> list[HostRoute]: ...

    def close(self) -> None: ...


def open_client(state: str | None = None, version: str | None = None) -> HnsClient:
    """The emulator on `state` when given, else (on Windows only) the real HNS."""
    if state:
        from vfpnet.hns.emulator import Emulator

        return Emulator(state, version=version)
    if sys.platform == "win32":
        from vfpnet.hns.win32 import Win32Client

        return Win32Client()
    from vfpnet.errors import InputError

    raise InputError("hns: no real HNS off Windows; give the emulator's state file (--state)")
