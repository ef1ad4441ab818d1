"""The node's local endpoints: where the agent finds them and how it names them.

Two sources, one shape (`LocalEndpoint`):

- the CNI's state dir: one JSON record per attachment,
  `<state dir>/<network>/endpoints/<containerID>:<ifname>.json`, written by `vfpnet`'s CNI
  plugin with `ips` (CIDR notation), `podNamespace`/`podName` (from `CNI_ARGS`
  `K8S_POD_NAMESPACE`/`K8S_POD_NAME`) and `status` ("ready" once ADD finished). Only
  ready records are endpoints; the handle is `containerID:ifname`.
- HNS: the endpoints HNS holds (`list_endpoints`), by their IDs; HNS does not know the
  pod, so these are joined to Pods by address.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vfpnet.vfp.acl import endpoint_addresses


@dataclass(frozen=True)
class LocalEndpoint:
    """One endpoint on this node: `handle` is what the dataplane driver addresses it by."""

    handle: str
    ips: tuple[str, ...]
    pod_namespace: str | None = None
    pod_name: str | None = None

    @property
    def pod(self) -> str | None:
        if self.pod_namespace and self.pod_name:
            return f"{self.pod_namespace}/{self.pod_name}"
        return None


class EndpointSource(Protocol):
    def local_endpoints(self) -> tuple[list[LocalEndpoint], list[str]]:
        """The endpoints now, and one message per record that could not be read."""
        ...


DEFAULT_CNI_STATE_DIR = "/var/lib/vfpnet/cni"  # the CNI's default (cni.netconf)


def _address(text: str) -> str:
    return str(ipaddress.ip_interface(text).ip)


def endpoint_of_record(record: Mapping[str, Any], where: str) -> LocalEndpoint | None:
    """The endpoint a CNI state record describes; None while ADD has not finished.
    Raises ValueError naming the field at fault."""
    if record.get("status") != "ready":
        return None
    ips = record.get("ips")
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise ValueError(f"{where}: field 'ips': expected a list of addresses")
    try:
        addresses = tuple(_address(ip) for ip in ips)
    except ValueError as exc:
        raise ValueError(f"{where}: field 'ips': {exc}") from None
    handle = f"{record.get('containerID', '')}:{record.get('ifname', '')}"
    namespace = record.get("podNamespace") or None
    name = record.get("podName") or None
    return LocalEndpoint(
        handle, addresses,
        str(namespace) if namespace else None, str(name) if name else None,
    )


@dataclass(frozen=True)
class CniStateEndpoints:
    """Endpoints from the CNI plugin's state dir (every network under it)."""

    state_dir: str = DEFAULT_CNI_STATE_DIR

    def local_endpoints(self) -> tuple[list[LocalEndpoint], list[str]]:
        from vfpnet.cni.errors import CniError
        from vfpnet.cni.state import Store

        found: list[LocalEndpoint] = []
        problems: list[str] = []
        try:
            networks = sorted(os.listdir(self.state_dir))
        except FileNotFoundError:
            return [], []
        for network in networks:
            store = Store(self.state_dir, network)
            if not os.path.isdir(store.endpoints):
                continue
            for name in sorted(os.listdir(store.endpoints)):
                container_id, sep, ifname = name.removesuffix(".json").rpartition(":")
                if not name.endswith(".json") or not sep:
                    continue
                where = store.path(container_id, ifname)
                try:
                    record = store.read(container_id, ifname)
                    endpoint = None if record is None else endpoint_of_record(record, where)
                except (CniError, ValueError) as exc:
                    problems.append(f"CNI state: {exc}")
                    continue
                if endpoint is not None:
                    found.append(endpoint)
        return found, problems


class _ListsEndpoints(Protocol):
    def list_endpoints(self, query: Any = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class HnsEndpoints:
    """Endpoints HNS holds (optionally only those of the networks named)."""

    client: _ListsEndpoints
    networks: Sequence[str] = ()

    def local_endpoints(self) -> tuple[list[LocalEndpoint], list[str]]:
        found: list[LocalEndpoint] = []
        for endpoint in self.client.list_endpoints():
            network = str(endpoint.get("HostComputeNetwork") or "")
            if self.networks and network not in self.networks:
                continue
            found.append(LocalEndpoint(str(endpoint["ID"]), endpoint_addresses(endpoint)))
        return found, []
