"""HNS v1 (the HNSCall API of vmcompute.dll; hcsshim's internal/hns): HNSNetwork, HNSEndpoint.

v1 objects carry Policies as raw JSON (`{"Type":"ACL","Protocol":6,...}` flat, not wrapped
in Settings). vfpnet reads them to recognise and convert, or to refuse, v1 input.
"""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield

U16 = {"lo": 0, "hi": 0xFFFF}


@dataclass(frozen=True)
class V1Subnet:
    address_prefix: str | None = jfield("AddressPrefix")
    gateway_address: str | None = jfield("GatewayAddress")
    policies: tuple[Any, ...] | None = jfield("Policies")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class V1MacPool:
    start_mac_address: str | None = jfield("StartMacAddress")
    end_mac_address: str | None = jfield("EndMacAddress")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HNSNetwork:
    id: str | None = jfield("ID")
    name: str | None = jfield("Name")
    type: str | None = jfield("Type")
    network_adapter_name: str | None = jfield("NetworkAdapterName")
    source_mac: str | None = jfield("SourceMac")
    policies: tuple[Any, ...] | None = jfield("Policies")
    mac_pools: tuple[V1MacPool, ...] | None = jfield("MacPools")
    subnets: tuple[V1Subnet, ...] | None = jfield("Subnets")
    dns_suffix: str | None = jfield("DNSSuffix")
    dns_server_list: str | None = jfield("DNSServerList")
    dns_server_compartment: int | None = jfield("DNSServerCompartment", lo=0, hi=0xFFFFFFFF)
    management_ip: str | None = jfield("ManagementIP")
    automatic_dns: bool | None = jfield("AutomaticDNS")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class HNSEndpoint:
    id: str | None = jfield("ID")
    name: str | None = jfield("Name")
    virtual_network: str | None = jfield("VirtualNetwork")
    virtual_network_name: str | None = jfield("VirtualNetworkName")
    policies: tuple[Any, ...] | None = jfield("Policies")
    mac_address: str | None = jfield("MacAddress")
    ip_address: str | None = jfield("IPAddress")
    ipv6_address: str | None = jfield("IPv6Address")
    dns_suffix: str | None = jfield("DNSSuffix")
    dns_server_list: str | None = jfield("DNSServerList")
    dns_domain: str | None = jfield("DNSDomain")
    gateway_address: str | None = jfield("GatewayAddress")
    gateway_address_v6: str | None = jfield("GatewayAddressV6")
    enable_internal_dns: bool | None = jfield("EnableInternalDNS")
    disable_icc: bool | None = jfield("DisableICC")
    prefix_length: int | None = jfield("PrefixLength", lo=0, hi=255)
    ipv6_prefix_length: int | None = jfield("IPv6PrefixLength", lo=0, hi=255)
    is_remote_endpoint: bool | None = jfield("IsRemoteEndpoint")
    enable_low_metric: bool | None = jfield("EnableLowMetric")
    namespace: Any = jfield("Namespace")
    encap_overhead: int | None = jfield("EncapOverhead", **U16)
    shared_containers: tuple[str, ...] | None = jfield("SharedContainers")
    state: int | None = jfield("State", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class V1AclPolicy:
    """A v1 ACL policy: flat, with `Protocol` (number) or `Protocols` (string)."""

    type: str | None = jfield("Type")
    id: str | None = jfield("Id")
    protocol: int | None = jfield("Protocol", **U16)
    protocols: str | None = jfield("Protocols")
    internal_port: int | None = jfield("InternalPort", **U16)
    action: str | None = jfield("Action")
    direction: str | None = jfield("Direction")
    local_addresses: str | None = jfield("LocalAddresses")
    remote_addresses: str | None = jfield("RemoteAddresses")
    local_ports: str | None = jfield("LocalPorts")
    local_port: int | None = jfield("LocalPort", **U16)
    remote_ports: str | None = jfield("RemotePorts")
    remote_port: int | None = jfield("RemotePort", **U16)
    rule_type: str | None = jfield("RuleType")
    priority: int | None = jfield("Priority", **U16)
    service_name: str | None = jfield("ServiceName")
    extra: Mapping[str, Any] = extra_field()


def is_v1_endpoint(data: Mapping[str, Any]) -> bool:
    """Whether endpoint JSON is v1-shaped (VirtualNetwork/IPAddress instead of v2 members)."""
    v1_only = (
        "VirtualNetwork",
        "VirtualNetworkName",
        "IPAddress",
        "GatewayAddress",
        "IsRemoteEndpoint",
        "PrefixLength",
    )
    v2_only = ("HostComputeNetwork", "IpConfigurations", "SchemaVersion")
    return any(k in data for k in v1_only) and not any(k in data for k in v2_only)


def is_v1_network(data: Mapping[str, Any]) -> bool:
    """Whether network JSON is v1-shaped (Subnets/AddressPrefix instead of Ipams)."""
    v1_only = (
        "Subnets",
        "NetworkAdapterName",
        "SourceMac",
        "MacPools",
        "ManagementIP",
        "DNSServerList",
    )
    v2_only = ("Ipams", "SchemaVersion", "MacPool")
    return any(k in data for k in v1_only) and not any(k in data for k in v2_only)
