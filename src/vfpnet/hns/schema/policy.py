"""Endpoint, network and subnet policies (hcsshim's hcnpolicy.go) and their settings.

A policy is `{"Type": T, "Settings": {...}}`. `Settings` is kept as raw JSON on the policy so
that it round-trips exactly; `SETTINGS_TYPES` gives the schema type to read it with.
Values keep HNS's formats: address and port lists are comma-separated strings
(`"10.0.0.0/24,10.1.0.5"`, `"80,443,8000-8080"`), `Protocols` is a decimal protocol number
as a string (`"6"`) where `"256"` (or nothing) means any protocol.

`AclPolicySetting.id` is the `Id` member Azure NPM adds to tag its rules; HNS stores it.
"""

# jfield() is dataclasses.field() with the JSON name in its metadata; ruff cannot tell.
# ruff: noqa: RUF009

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vfpnet.hns.schema.codec import extra_field, jfield

U16 = {"lo": 0, "hi": 0xFFFF}
U32 = {"lo": 0, "hi": 0xFFFFFFFF}
U64 = {"lo": 0, "hi": 2**64 - 1}

ACL_ACTIONS = ("Allow", "Block", "Pass")
ACL_DIRECTIONS = ("In", "Out")
ACL_RULE_TYPES = ("Host", "Switch")
ANY_PROTOCOL = 256
PORT_PROTOCOLS = frozenset({6, 17, 33, 132, 136})  # TCP, UDP, DCCP, SCTP, UDP-Lite: with ports

ENDPOINT_POLICY_TYPES = (
    "PortMapping",
    "ACL",
    "QOS",
    "L2Driver",
    "OutBoundNAT",
    "SDNRoute",
    "L4Proxy",
    "L4WFPPROXY",
    "PortName",
    "EncapOverhead",
    "Iov",
    "ProviderAddress",
    "InterfaceConstraint",
    "TierAcl",
)
NETWORK_POLICY_TYPES = (
    "SourceMacAddress",
    "NetAdapterName",
    "VSwitchExtension",
    "DrMacAddress",
    "AutomaticDNS",
    "InterfaceConstraint",
    "ProviderAddress",
    "RemoteSubnetRoute",
    "VxlanPort",
    "HostRoute",
    "SetPolicy",
    "L4Proxy",
    "LayerConstraint",
    "NetworkACL",
)
SUBNET_POLICY_TYPES = ("VLAN", "VSID")
SET_POLICY_TYPES = ("IPSET", "NESTEDIPSET")


@dataclass(frozen=True)
class EndpointPolicy:
    type: str | None = jfield("Type")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class NetworkPolicy:
    type: str | None = jfield("Type")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class SubnetPolicy:
    type: str | None = jfield("Type")
    settings: Any = jfield("Settings")
    extra: Mapping[str, Any] = extra_field()


# ---- endpoint policy settings ----


@dataclass(frozen=True)
class PortMappingPolicySetting:
    protocol: int | None = jfield("Protocol", **U32)
    internal_port: int | None = jfield("InternalPort", **U16)
    external_port: int | None = jfield("ExternalPort", **U16)
    vip: str | None = jfield("VIP")
    flags: int | None = jfield("Flags", **U32)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class AclPolicySetting:
    id: str | None = jfield("Id")
    protocols: str | None = jfield("Protocols")
    action: str | None = jfield("Action")
    direction: str | None = jfield("Direction")
    local_addresses: str | None = jfield("LocalAddresses")
    remote_addresses: str | None = jfield("RemoteAddresses")
    local_ports: str | None = jfield("LocalPorts")
    remote_ports: str | None = jfield("RemotePorts")
    rule_type: str | None = jfield("RuleType")
    priority: int | None = jfield("Priority", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class QosPolicySetting:
    maximum_outgoing_bandwidth_in_bytes: int | None = jfield(
        "MaximumOutgoingBandwidthInBytes", **U64
    )
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class OutboundNatPolicySetting:
    virtual_ip: str | None = jfield("VirtualIP")
    exceptions: tuple[str, ...] | None = jfield("Exceptions")
    destinations: tuple[str, ...] | None = jfield("Destinations")
    flags: int | None = jfield("Flags", **U32)
    max_port_pool_usage: int | None = jfield("MaxPortPoolUsage", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class SDNRoutePolicySetting:
    destination_prefix: str | None = jfield("DestinationPrefix")
    next_hop: str | None = jfield("NextHop")
    need_encap: bool | None = jfield("NeedEncap")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class FiveTuple:
    protocols: str | None = jfield("Protocols")
    local_addresses: str | None = jfield("LocalAddresses")
    remote_addresses: str | None = jfield("RemoteAddresses")
    local_ports: str | None = jfield("LocalPorts")
    remote_ports: str | None = jfield("RemotePorts")
    priority: int | None = jfield("Priority", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class ProxyExceptions:
    ip_address_exceptions: tuple[str, ...] | None = jfield("IpAddressExceptions")
    port_exceptions: tuple[str, ...] | None = jfield("PortExceptions")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class L4WfpProxyPolicySetting:
    inbound_proxy_port: str | None = jfield("InboundProxyPort")
    outbound_proxy_port: str | None = jfield("OutboundProxyPort")
    filter_tuple: FiveTuple | None = jfield("FilterTuple")
    user_sid: str | None = jfield("UserSID")
    inbound_exceptions: ProxyExceptions | None = jfield("InboundExceptions")
    outbound_exceptions: ProxyExceptions | None = jfield("OutboundExceptions")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class PortnameEndpointPolicySetting:
    name: str | None = jfield("Name")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class EncapOverheadEndpointPolicySetting:
    overhead: int | None = jfield("Overhead", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class IovPolicySetting:
    iov_offload_weight: int | None = jfield("IovOffloadWeight", **U32)
    queue_pairs_requested: int | None = jfield("QueuePairsRequested", **U32)
    interrupt_moderation: int | None = jfield("InterruptModeration", **U32)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class ProviderAddressPolicySetting:
    provider_address: str | None = jfield("ProviderAddress")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class InterfaceConstraintPolicySetting:
    interface_guid: str | None = jfield("InterfaceGuid")
    interface_luid: int | None = jfield("InterfaceLuid", **U64)
    interface_index: int | None = jfield("InterfaceIndex", **U32)
    interface_media_type: int | None = jfield("InterfaceMediaType", **U32)
    interface_alias: str | None = jfield("InterfaceAlias")
    interface_description: str | None = jfield("InterfaceDescription")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class TierAclRule:
    id: str | None = jfield("Id")
    protocols: str | None = jfield("Protocols")
    tier_acl_rule_action: str | None = jfield("TierAclRuleAction")
    local_addresses: str | None = jfield("LocalAddresses")
    remote_addresses: str | None = jfield("RemoteAddresses")
    local_ports: str | None = jfield("LocalPorts")
    remote_ports: str | None = jfield("RemotePorts")
    priority: int | None = jfield("Priority", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class TierAclPolicySetting:
    name: str | None = jfield("Name")
    direction: str | None = jfield("Direction")
    order: int | None = jfield("Order", **U16)
    tier_acl_rules: tuple[TierAclRule, ...] | None = jfield("TierAclRules")
    extra: Mapping[str, Any] = extra_field()


# ---- network policy settings ----


@dataclass(frozen=True)
class SourceMacAddressNetworkPolicySetting:
    source_mac_address: str | None = jfield("SourceMacAddress")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class NetAdapterNameNetworkPolicySetting:
    network_adapter_name: str | None = jfield("NetworkAdapterName")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class VSwitchExtensionNetworkPolicySetting:
    extension_id: str | None = jfield("ExtensionID")
    enable: bool | None = jfield("Enable")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class DrMacAddressNetworkPolicySetting:
    address: str | None = jfield("Address")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class AutomaticDNSNetworkPolicySetting:
    enable: bool | None = jfield("Enable")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class LayerConstraintNetworkPolicySetting:
    layer_id: str | None = jfield("LayerId")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class RemoteSubnetRoutePolicySetting:
    destination_prefix: str | None = jfield("DestinationPrefix")
    isolation_id: int | None = jfield("IsolationId", **U16)
    provider_address: str | None = jfield("ProviderAddress")
    distributed_router_mac_address: str | None = jfield("DistributedRouterMacAddress")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class SetPolicySetting:
    """An IP set on a network; ACLs name it by `Id` in Local/RemoteAddresses."""

    id: str | None = jfield("Id")
    name: str | None = jfield("Name")
    policy_type: str | None = jfield("PolicyType")
    values: str | None = jfield("Values")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class VxlanPortPolicySetting:
    port: int | None = jfield("Port", **U16)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class L4ProxyPolicySetting:
    ip: str | None = jfield("IP")
    port: str | None = jfield("Port")
    protocol: int | None = jfield("Protocol", **U32)
    exceptions: tuple[str, ...] | None = jfield("Exceptions")
    destination: str | None = jfield("Destination")
    outbound_nat: bool | None = jfield("OutboundNAT")
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class NetworkACLPolicySetting:
    protocols: str | None = jfield("Protocols")
    action: str | None = jfield("Action")
    direction: str | None = jfield("Direction")
    local_addresses: str | None = jfield("LocalAddresses")
    remote_addresses: str | None = jfield("RemoteAddresses")
    local_ports: str | None = jfield("LocalPorts")
    remote_ports: str | None = jfield("RemotePorts")
    rule_type: str | None = jfield("RuleType")
    priority: int | None = jfield("Priority", **U16)
    extra: Mapping[str, Any] = extra_field()


# ---- subnet policy settings ----


@dataclass(frozen=True)
class IsolationPolicySetting:
    """VLAN and VSID subnet policies."""

    isolation_id: int | None = jfield("IsolationId", **U32)
    extra: Mapping[str, Any] = extra_field()


@dataclass(frozen=True)
class EmptySetting:
    """Settings of policies that carry none of their own (e.g. network HostRoute)."""

    extra: Mapping[str, Any] = extra_field()


ENDPOINT_SETTINGS_TYPES: dict[str, type] = {
    "PortMapping": PortMappingPolicySetting,
    "ACL": AclPolicySetting,
    "QOS": QosPolicySetting,
    "L2Driver": EmptySetting,
    "OutBoundNAT": OutboundNatPolicySetting,
    "SDNRoute": SDNRoutePolicySetting,
    "L4Proxy": L4ProxyPolicySetting,
    "L4WFPPROXY": L4WfpProxyPolicySetting,
    "PortName": PortnameEndpointPolicySetting,
    "EncapOverhead": EncapOverheadEndpointPolicySetting,
    "Iov": IovPolicySetting,
    "ProviderAddress": ProviderAddressPolicySetting,
    "InterfaceConstraint": InterfaceConstraintPolicySetting,
    "TierAcl": TierAclPolicySetting,
}

NETWORK_SETTINGS_TYPES: dict[str, type] = {
    "SourceMacAddress": SourceMacAddressNetworkPolicySetting,
    "NetAdapterName": NetAdapterNameNetworkPolicySetting,
    "VSwitchExtension": VSwitchExtensionNetworkPolicySetting,
    "DrMacAddress": DrMacAddressNetworkPolicySetting,
    "AutomaticDNS": AutomaticDNSNetworkPolicySetting,
    "InterfaceConstraint": InterfaceConstraintPolicySetting,
    "ProviderAddress": ProviderAddressPolicySetting,
    "RemoteSubnetRoute": RemoteSubnetRoutePolicySetting,
    "VxlanPort": VxlanPortPolicySetting,
    "HostRoute": EmptySetting,
    "SetPolicy": SetPolicySetting,
    "L4Proxy": L4ProxyPolicySetting,
    "LayerConstraint": LayerConstraintNetworkPolicySetting,
    "NetworkACL": NetworkACLPolicySetting,
}

SUBNET_SETTINGS_TYPES: dict[str, type] = {
    "VLAN": IsolationPolicySetting,
    "VSID": IsolationPolicySetting,
}


def canonical_type(types: dict[str, type], name: str | None) -> str | None:
    """The policy Type of `types` that `name` names, ignoring case as HNS does (Calico's
    CNI sends `SDNROUTE`); None when HNS does not know it."""
    if not name:
        return None
    if name in types:
        return name
    lowered = name.lower()
    for known in types:
        if known.lower() == lowered:
            return known
    return None


def is_type(policy_type: object, name: str) -> bool:
    """Whether a policy's Type is `name`, ignoring case."""
    return isinstance(policy_type, str) and policy_type.lower() == name.lower()


# ---- HNS value formats ----


def split_list(text: str | None) -> list[str]:
    """The items of a comma-separated HNS list ("" and None are the empty list)."""
    if not text:
        return []
    return [item.strip() for item in text.split(",")]


def parse_address(item: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One ACL address: an IPv4/IPv6 address or CIDR prefix. ValueError otherwise."""
    if not item:
        raise ValueError("empty address")
    return ipaddress.ip_network(item, strict=False)


def parse_ports(text: str | None) -> list[tuple[int, int]]:
    """`"80,443,8000-8080"` -> [(80, 80), (443, 443), (8000, 8080)]. ValueError if malformed."""
    ranges: list[tuple[int, int]] = []
    for item in split_list(text):
        lo_text, sep, hi_text = item.partition("-")
        if not lo_text.isdigit() or (sep and not hi_text.isdigit()):
            raise ValueError(f"port {item!r} is not a number or range")
        lo = int(lo_text)
        hi = int(hi_text) if sep else lo
        if not 0 <= lo <= hi <= 65535:
            raise ValueError(f"port range {item!r} is outside 0-65535 or reversed")
        ranges.append((lo, hi))
    return ranges


def parse_protocols(text: str | None) -> list[int]:
    """`"6"` -> [6]; `""`, None and `"256"` -> [] (any protocol). ValueError if malformed."""
    numbers: list[int] = []
    for item in split_list(text):
        if not item.isdigit() or int(item) > ANY_PROTOCOL:
            raise ValueError(f"protocol {item!r} is not a decimal number 0-256")
        numbers.append(int(item))
    if ANY_PROTOCOL in numbers:
        return []
    return numbers
