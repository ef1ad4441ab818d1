"""HostComputeNetwork (hcsshim's hcnnetwork.go) and ModifyNetworkSettingRequest."""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield
from vfpnet.hns.schema.hcn import Health, SchemaVersion
from vfpnet.hns.schema.policy import NetworkPolicy, SubnetPolicy

NETWORK_TYPES = (
    "NAT",
    "ICS",
    "Transparent",
    "L2Bridge",
    "L2Tunnel",
    "Overlay",
    "Private",
    "Internal",
)
# Flags
NETWORK_FLAG_ENABLE_NON_PERSISTENT = 8
NETWORK_FLAG_DISABLE_HOST_PORT = 1024
NETWORK_FLAG_ENABLE_IOV = 8192
SUBNET_FLAG_DO_NOT_RESERVE_GATEWAY = 1
NETWORK_RESOURCE_TYPES = ("Policy", "DNS", "Extension")


@dataclass(frozen=True)
class Route:
    next_hop: str | None = jfield("NextHop")
    destination_prefix: str | None = jfield("DestinationPrefix")
    metric: int | None = jfield("Metric", lo=0, hi=0xFFFF)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class Subnet:
    ip_address_prefix: str | None = jfield("IpAddressPrefix")
    policies: tuple[SubnetPolicy, ...] | None = jfield("Policies")
    routes: tuple[Route, ...] | None = jfield("Routes")
    flags: int | None = jfield("Flags", lo=0, hi=0xFFFFFFFF)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class Ipam:
    type: str | None = jfield("Type")
    subnets: tuple[Subnet, ...] | None = jfield("Subnets")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class MacRange:
    start_mac_address: str | None = jfield("StartMacAddress")
    end_mac_address: str | None = jfield("EndMacAddress")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class MacPool:
    ranges: tuple[MacRange, ...] | None = jfield("Ranges")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class Dns:
    domain: str | None = jfield("Domain")
    search: tuple[str, ...] | None = jfield("Search")
    server_list: tuple[str, ...] | None = jfield("ServerList")
    options: tuple[str, ...] | None = jfield("Options")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HostComputeNetwork:
    id: str | None = jfield("ID")
    name: str | None = jfield("Name")
    type: str | None = jfield("Type")
    policies: tuple[NetworkPolicy, ...] | None = jfield("Policies")
    mac_pool: MacPool | None = jfield("MacPool")
    dns: Dns | None = jfield("Dns")
    ipams: tuple[Ipam, ...] | None = jfield("Ipams")
    flags: int | None = jfield("Flags", lo=0, hi=0xFFFFFFFF)
    health: Health | None = jfield("Health")
    schema_version: SchemaVersion | None = jfield("SchemaVersion")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class ModifyNetworkSettingRequest:
    """`Settings` is raw JSON: for ResourceType Policy a PolicyNetworkRequest."""

    resource_type: str | None = jfield("ResourceType")
    request_type: str | None = jfield("RequestType")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class PolicyNetworkRequest:
    policies: tuple[NetworkPolicy, ...] | None = jfield("Policies")
    extra: Mapping[str, Any] = extra_field()
