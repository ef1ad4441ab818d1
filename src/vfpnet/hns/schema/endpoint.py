"""HostComputeEndpoint (hcsshim's hcnendpoint.go) and ModifyEndpointSettingRequest.

The endpoint's id is `ID` (not `Id`). `Flags: 1` marks a remote endpoint (one standing for
a pod on another node, as kube-proxy creates them).
"""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield
from vfpnet.hns.schema.hcn import Health, SchemaVersion
from vfpnet.hns.schema.network import Dns, Route
from vfpnet.hns.schema.policy import EndpointPolicy

ENDPOINT_FLAG_REMOTE = 1
ENDPOINT_RESOURCE_TYPES = ("Policy", "Port")


@dataclass(frozen=True)
class IpConfig:
    ip_address: str | None = jfield("IpAddress")
    prefix_length: int | None = jfield("PrefixLength", lo=0, hi=255)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HostComputeEndpoint:
    id: str | None = jfield("ID")
    name: str | None = jfield("Name")
    host_compute_network: str | None = jfield("HostComputeNetwork")
    host_compute_namespace: str | None = jfield("HostComputeNamespace")
    policies: tuple[EndpointPolicy, ...] | None = jfield("Policies")
    ip_configurations: tuple[IpConfig, ...] | None = jfield("IpConfigurations")
    dns: Dns | None = jfield("Dns")
    routes: tuple[Route, ...] | None = jfield("Routes")
    mac_address: str | None = jfield("MacAddress")
    flags: int | None = jfield("Flags", lo=0, hi=0xFFFFFFFF)
    health: Health | None = jfield("Health")
    schema_version: SchemaVersion | None = jfield("SchemaVersion")
    extra: Mapping[str, Any] = extra_field()

    @property
    def is_remote(self) -> bool:
        return bool((self.flags or 0) & ENDPOINT_FLAG_REMOTE)


@dataclass(frozen=True)
class ModifyEndpointSettingRequest:
    """`Settings` is raw JSON: for ResourceType Policy a PolicyEndpointRequest."""

    resource_type: str | None = jfield("ResourceType")
    request_type: str | None = jfield("RequestType")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class PolicyEndpointRequest:
    policies: tuple[EndpointPolicy, ...] | None = jfield("Policies")
    extra: Mapping[str, Any] = extra_field()
