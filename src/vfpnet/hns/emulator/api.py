"""The public `Emulator` class: the HCN client protocol, each call one function of a module.

Why apart: callers (the CNI's hns backend, the VFP twin, the lab, tests, benches) see one
object with stable method names (`vfpnet.hns.client.HnsClient`); the rules live in the
resource modules (networks, endpoints, namespaces, routes, lifecycle) over one `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vfpnet.hns.emulator import endpoints, lifecycle, namespaces, networks, routes
from vfpnet.hns.emulator.store import Store
from vfpnet.hns.schema.route import HostRoute
from vfpnet.hns.version import HnsVersion, supported_features

_Settings = Mapping[str, Any] | str | bytes
_Query = Mapping[str, Any] | str | None


class Emulator:
    """HNS on a SQLite state file shared by every process that opens it."""

    def __init__(self, path: str, version: str | tuple[int, int] | HnsVersion | None = None):
        self.path = path
        self._store = Store(path, version)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- faults and restart ----

    def inject_fault(self, operation: str, nth: int, hresult: int | str) -> None:
        """Fail the `nth` call of `operation` from now on (any process) with `hresult`."""
        lifecycle.inject_fault(self._store, operation, nth, hresult)

    def clear_faults(self) -> None:
        lifecycle.clear_faults(self._store)

    def restart(self, reboot: bool = False) -> None:
        """Simulate an HNS service restart (or, with `reboot`, a node reboot)."""
        lifecycle.restart(self._store, reboot)

    # ---- version ----

    def version(self) -> HnsVersion:
        return self._store.version

    def supported_features(self) -> dict[str, Any]:
        return supported_features(self._store.version)

    # ---- networks ----

    def create_network(self, settings: _Settings) -> dict[str, Any]:
        return networks.create_network(self._store, settings)

    def get_network(self, network_id: str) -> dict[str, Any]:
        return networks.get_network(self._store, network_id)

    def list_networks(self, query: _Query = None) -> list[dict[str, Any]]:
        return networks.list_networks(self._store, query)

    def modify_network(self, network_id: str, request: _Settings) -> dict[str, Any]:
        return networks.modify_network(self._store, network_id, request)

    def delete_network(self, network_id: str) -> None:
        networks.delete_network(self._store, network_id)

    # ---- endpoints ----

    def create_endpoint(self, network_id: str, settings: _Settings) -> dict[str, Any]:
        return endpoints.create_endpoint(self._store, network_id, settings)

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        return endpoints.get_endpoint(self._store, endpoint_id)

    def list_endpoints(self, query: _Query = None) -> list[dict[str, Any]]:
        return endpoints.list_endpoints(self._store, query)

    def modify_endpoint(self, endpoint_id: str, request: _Settings) -> dict[str, Any]:
        return endpoints.modify_endpoint(self._store, endpoint_id, request)

    def delete_endpoint(self, endpoint_id: str) -> None:
        endpoints.delete_endpoint(self._store, endpoint_id)

    # ---- networks through the HNS v1 API (the same objects; imported when first used, so
    # a v2 caller such as the CNI plugin does not pay for them) ----

    def create_network_v1(self, settings: _Settings) -> dict[str, Any]:
        from vfpnet.hns.emulator import v1networks

        return v1networks.create_network_v1(self._store, settings)

    def get_network_v1(self, network_id: str) -> dict[str, Any]:
        from vfpnet.hns.emulator import v1networks

        return v1networks.get_network_v1(self._store, network_id)

    def list_networks_v1(self) -> list[dict[str, Any]]:
        from vfpnet.hns.emulator import v1networks

        return v1networks.list_networks_v1(self._store)

    def delete_network_v1(self, network_id: str) -> None:
        from vfpnet.hns.emulator import v1networks

        v1networks.delete_network_v1(self._store, network_id)

    # ---- endpoints through the HNS v1 API (the same objects) ----

    def create_endpoint_v1(self, settings: _Settings) -> dict[str, Any]:
        from vfpnet.hns.emulator import v1endpoints

        return v1endpoints.create_endpoint_v1(self._store, settings)

    def get_endpoint_v1(self, endpoint_id: str) -> dict[str, Any]:
        from vfpnet.hns.emulator import v1endpoints

        return v1endpoints.get_endpoint_v1(self._store, endpoint_id)

    def list_endpoints_v1(self) -> list[dict[str, Any]]:
        from vfpnet.hns.emulator import v1endpoints

        return v1endpoints.list_endpoints_v1(self._store)

    def delete_endpoint_v1(self, endpoint_id: str) -> None:
        from vfpnet.hns.emulator import v1endpoints

        v1endpoints.delete_endpoint_v1(self._store, endpoint_id)

    def attach_container(self, endpoint_id: str, container_id: str) -> None:
        from vfpnet.hns.emulator import v1endpoints

        v1endpoints.attach_container(self._store, endpoint_id, container_id)

    def detach_container(self, endpoint_id: str, container_id: str) -> None:
        from vfpnet.hns.emulator import v1endpoints

        v1endpoints.detach_container(self._store, endpoint_id, container_id)

    # ---- namespaces ----

    def create_namespace(self, settings: _Settings | None = None) -> dict[str, Any]:
        return namespaces.create_namespace(self._store, settings)

    def get_namespace(self, namespace_id: str) -> dict[str, Any]:
        return namespaces.get_namespace(self._store, namespace_id)

    def list_namespaces(self, query: _Query = None) -> list[dict[str, Any]]:
        return namespaces.list_namespaces(self._store, query)

    def modify_namespace(self, namespace_id: str, request: _Settings) -> dict[str, Any]:
        return namespaces.modify_namespace(self._store, namespace_id, request)

    def attach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        namespaces.attach_endpoint(self._store, namespace_id, endpoint_id)

    def detach_endpoint(self, namespace_id: str, endpoint_id: str) -> None:
        namespaces.detach_endpoint(self._store, namespace_id, endpoint_id)

    def delete_namespace(self, namespace_id: str) -> None:
        namespaces.delete_namespace(self._store, namespace_id)

    # ---- host routes ----

    def add_route(self, route: HostRoute) -> None:
        routes.add_route(self._store, route)

    def delete_route(self, route: HostRoute) -> None:
        """Delete the route to `route.destination_prefix` via `route.next_hop` (and, when not
        0, on `route.interface_index`); ERROR_NOT_FOUND if there is none."""
        routes.delete_route(self._store, route)

    def list_routes(self) -> list[HostRoute]:
        return routes.list_routes(self._store)


if TYPE_CHECKING:
    from vfpnet.hns.client import HnsClient

    def _speaks_the_protocol(emulator: Emulator) -> HnsClient:
        return emulator
