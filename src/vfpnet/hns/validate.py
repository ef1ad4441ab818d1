"""What HNS checks before it accepts a network, an endpoint or a policy, and how it refuses.

Each check raises `HcnError` with HNS's HRESULT and message, plus a detail naming the
member at fault. Used by the emulator; pure functions over schema objects.

Codes (where the public record was unclear, the choice is marked *):
- JSON that does not parse, or a member of the wrong JSON type: HCN_E_INVALID_JSON
- a network Type HNS does not know: HCN_E_INVALID_NETWORK_TYPE
- a subnet prefix or subnet route that is not an address/prefix: HCN_E_INVALID_SUBNET
- a policy Type HNS does not know, or one the configured version does not support
  (hcsshim's feature gates): HCN_E_INVALID_POLICY_TYPE
- policy settings that are not valid (an ACL address that is not an IP/CIDR or a SetPolicy
  Id of the network, e.g. "Any"; a bad action, direction, protocol or port list; ports
  with a protocol that has none*): HCN_E_INVALID_POLICY
- one SetPolicy Id twice on a network: HCN_E_POLICY_ALREADY_EXISTS
- a PortMapping whose InternalPort is missing or 0: HCN_E_INVALID_INTERNAL_PORT
- an endpoint address that is not an IP or lies outside every subnet: HCN_E_INVALID_IP
- an endpoint address that is the subnet's network, broadcast or gateway address*:
  HCN_E_ADDR_INVALID_OR_RESERVED
- IPv6 subnets/addresses before HNS 11.10 (IPv6DualStack)*: HCN_E_REQUEST_UNSUPPORTED
- an endpoint PrefixLength beyond the family, or /32 (/128) where hcsshim's
  Slash32EndpointPrefixes is off: HCN_E_INVALID_PREFIX
- network Flags DisableHostPort (1024) before HNS 15.1*: HCN_E_INVALID_NETWORK
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.codec import SchemaError, decode
from vfpnet.hns.schema.hcn import REQUEST_TYPES
from vfpnet.hns.schema.network import (
    NETWORK_FLAG_DISABLE_HOST_PORT,
    NETWORK_TYPES,
    SUBNET_FLAG_DO_NOT_RESERVE_GATEWAY,
    HostComputeNetwork,
)
from vfpnet.hns.schema.policy import (
    ACL_ACTIONS,
    ACL_DIRECTIONS,
    ACL_RULE_TYPES,
    ENDPOINT_SETTINGS_TYPES,
    NETWORK_SETTINGS_TYPES,
    PORT_PROTOCOLS,
    SET_POLICY_TYPES,
    SUBNET_SETTINGS_TYPES,
    AclPolicySetting,
    EndpointPolicy,
    NetworkACLPolicySetting,
    NetworkPolicy,
    OutboundNatPolicySetting,
    PortMappingPolicySetting,
    SDNRoutePolicySetting,
    SetPolicySetting,
    TierAclPolicySetting,
    canonical_type,
    is_type,
    parse_address,
    parse_ports,
    parse_protocols,
    split_list,
)
from vfpnet.hns.version import HnsVersion, supports

T = TypeVar("T")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# policy type -> the hcsshim feature that gates it
ENDPOINT_POLICY_GATES = {
    "ACL": "Acl",
    "L4Proxy": "L4Proxy",
    "L4WFPPROXY": "L4WfpProxy",
    "TierAcl": "TierAcl",
}
NETWORK_POLICY_GATES = {
    "RemoteSubnetRoute": "RemoteSubnet",
    "HostRoute": "HostRoute",
    "SetPolicy": "SetPolicy",
    "VxlanPort": "VxlanPort",
    "L4Proxy": "L4Proxy",
    "NetworkACL": "NetworkACL",
}


def parse_json_text(text: str | bytes, what: str) -> Any:
    """Parse a JSON document as HNS does; HCN_E_INVALID_JSON if it does not parse."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        # Cut Python's advice ("; use sys.set_int_max_str_digits() ...") off a long integer.
        raise hcn_error("HCN_E_INVALID_JSON", f"{what}: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise hcn_error("HCN_E_INVALID_JSON", f"{what}: nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_as(cls: type[T], data: Any, what: str) -> T:
    """Decode JSON into a schema type; HCN_E_INVALID_JSON naming the member at fault."""
    try:
        return decode(cls, data)
    except SchemaError as exc:
        raise hcn_error("HCN_E_INVALID_JSON", f"{what}: {exc}") from None


def network_type_name(value: str | None) -> str:
    """The canonical network Type for `value` (case-insensitive), or HCN_E_INVALID_NETWORK_TYPE."""
    for known in NETWORK_TYPES:
        if value is not None and value.lower() == known.lower():
            return known
    raise hcn_error("HCN_E_INVALID_NETWORK_TYPE", f"network Type {value!r}")


def network_subnets(network: HostComputeNetwork) -> list[IpNetwork]:
    """The network's subnets (already validated)."""
    out: list[IpNetwork] = []
    for ipam in network.ipams or ():
        for subnet in ipam.subnets or ():
            if subnet.ip_address_prefix:
                out.append(ipaddress.ip_network(subnet.ip_address_prefix, strict=False))
    return out


def network_gateways(
    network: HostComputeNetwork,
) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Addresses reserved as gateways, which no endpoint gets.

    Per subnet: the next hops of its routes, or, with no route, its first host address
    (HNS's default gateway); none when the subnet has Flags DoNotReserveGatewayAddress (1),
    or is a /31, /32 (/127, /128) with no room for one.
    """
    out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for ipam in network.ipams or ():
        for subnet in ipam.subnets or ():
            if (subnet.flags or 0) & SUBNET_FLAG_DO_NOT_RESERVE_GATEWAY:
                continue
            hops = [ipaddress.ip_address(r.next_hop) for r in subnet.routes or () if r.next_hop]
            if hops:
                out.update(hops)
                continue
            prefix = ipaddress.ip_network(subnet.ip_address_prefix or "", strict=False)
            if prefix.prefixlen < prefix.max_prefixlen - 1:
                out.add(prefix.network_address + 1)
    return out


def validate_network(network: HostComputeNetwork, version: HnsVersion) -> None:
    """Check a network to be created (Type, flags, subnets, policies)."""
    network_type_name(network.type)
    if (network.flags or 0) & NETWORK_FLAG_DISABLE_HOST_PORT and not supports(
        version, "DisableHostPort"
    ):
        raise hcn_error(
            "HCN_E_INVALID_NETWORK", f"Flags DisableHostPort needs HNS 15.1, this is {version}"
        )
    for i, ipam in enumerate(network.ipams or ()):
        for j, subnet in enumerate(ipam.subnets or ()):
            where = f"Ipams[{i}].Subnets[{j}]"
            try:
                prefix = ipaddress.ip_network(subnet.ip_address_prefix or "", strict=False)
            except ValueError:
                raise hcn_error(
                    "HCN_E_INVALID_SUBNET",
                    f"{where}.IpAddressPrefix {subnet.ip_address_prefix!r} is not a prefix",
                ) from None
            if prefix.version == 6 and not supports(version, "IPv6DualStack"):
                raise hcn_error(
                    "HCN_E_REQUEST_UNSUPPORTED", f"{where}: IPv6 needs HNS 11.10, this is {version}"
                )
            for k, route in enumerate(subnet.routes or ()):
                try:
                    if route.next_hop:
                        ipaddress.ip_address(route.next_hop)
                    if route.destination_prefix:
                        ipaddress.ip_network(route.destination_prefix, strict=False)
                except ValueError:
                    raise hcn_error(
                        "HCN_E_INVALID_SUBNET", f"{where}.Routes[{k}] has a malformed address"
                    ) from None
            for k, policy in enumerate(subnet.policies or ()):
                known = canonical_type(SUBNET_SETTINGS_TYPES, policy.type)
                cls = SUBNET_SETTINGS_TYPES.get(known or "")
                if cls is None:
                    raise hcn_error(
                        "HCN_E_INVALID_POLICY_TYPE", f"{where}.Policies[{k}].Type {policy.type!r}"
                    )
                decode_as(cls, policy.settings or {}, f"{where}.Policies[{k}].Settings")
    validate_network_policies(network.policies or (), version, network.policies or ())


def validate_network_policies(
    policies: Sequence[NetworkPolicy], version: HnsVersion, all_policies: Sequence[NetworkPolicy]
) -> None:
    """Check network policies; `all_policies` is the network's list once they are applied."""
    ids = [sid for sid in map(_set_policy_id, all_policies) if sid is not None]
    set_ids = set(ids)
    if len(set_ids) < len(ids):
        twice = next(sid for sid in ids if ids.count(sid) > 1)
        raise hcn_error("HCN_E_POLICY_ALREADY_EXISTS", f"set policy Id {twice!r} twice")
    for i, policy in enumerate(policies):
        where = f"Policies[{i}]"
        settings = _decode_settings(
            NETWORK_SETTINGS_TYPES,
            NETWORK_POLICY_GATES,
            policy.type,
            policy.settings,
            version,
            where,
        )
        if isinstance(settings, SetPolicySetting):
            _check_set_policy(settings, version, set_ids, where)
        elif isinstance(settings, NetworkACLPolicySetting):
            _check_acl(settings, version, set_ids, f"{where}.Settings")


def set_policy_ids(policies: Iterable[NetworkPolicy]) -> set[str]:
    """Ids of the SetPolicies among a network's policies."""
    return {sid for sid in map(_set_policy_id, policies) if sid is not None}


def _set_policy_id(policy: NetworkPolicy) -> str | None:
    # Read from the raw settings: ids are needed before (and whether or not) they decode.
    if is_type(policy.type, "SetPolicy") and isinstance(policy.settings, dict):
        sid = policy.settings.get("Id")
        if isinstance(sid, str):
            return sid
    return None


def _decode_settings(
    types: dict[str, type],
    gates: Mapping[str, str],
    policy_type: str | None,
    raw: Any,
    version: HnsVersion,
    where: str,
) -> object:
    """A policy's Settings as its schema type, once its Type is known and allowed by `version`."""
    ptype = canonical_type(types, policy_type) or ""
    cls = types.get(ptype)
    if cls is None:
        raise hcn_error("HCN_E_INVALID_POLICY_TYPE", f"{where}.Type {policy_type!r}")
    gate = gates.get(ptype)
    if gate and not supports(version, gate):
        raise hcn_error(
            "HCN_E_INVALID_POLICY_TYPE",
            f"{where}: {ptype} needs a newer HNS than {version} ({gate})",
        )
    settings: object = decode_as(cls, raw or {}, f"{where}.Settings")
    return settings


def _check_set_policy(
    s: SetPolicySetting, version: HnsVersion, set_ids: set[str], where: str
) -> None:
    if not s.id:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.Settings.Id is missing")
    if s.policy_type not in SET_POLICY_TYPES:
        raise hcn_error(
            "HCN_E_INVALID_POLICY",
            f"{where}.Settings.PolicyType {s.policy_type!r} (IPSET|NESTEDIPSET)",
        )
    if s.policy_type == "NESTEDIPSET":
        if not supports(version, "NestedIpSet"):
            raise hcn_error(
                "HCN_E_INVALID_POLICY_TYPE",
                f"{where}: NESTEDIPSET needs HNS 15.0, this is {version}",
            )
        for member in split_list(s.values):
            if member not in set_ids or member == s.id:
                raise hcn_error(
                    "HCN_E_INVALID_POLICY", f"{where}.Settings.Values: no set policy {member!r}"
                )
        return
    for item in split_list(s.values):
        try:
            parse_address(item)
        except ValueError:
            raise hcn_error(
                "HCN_E_INVALID_POLICY", f"{where}.Settings.Values: {item!r} is not an IP or prefix"
            ) from None


def validate_endpoint_policies(
    policies: Sequence[EndpointPolicy],
    version: HnsVersion,
    set_ids: set[str],
    prefix: str = "Policies",
) -> None:
    """Check endpoint policies against the version and the network's SetPolicy Ids."""
    for i, policy in enumerate(policies):
        where = f"{prefix}[{i}]"
        settings = _decode_settings(
            ENDPOINT_SETTINGS_TYPES,
            ENDPOINT_POLICY_GATES,
            policy.type,
            policy.settings,
            version,
            where,
        )
        sw = f"{where}.Settings"
        if isinstance(settings, AclPolicySetting):
            _check_acl(settings, version, set_ids, sw)
        elif isinstance(settings, TierAclPolicySetting):
            if settings.direction not in ACL_DIRECTIONS:
                raise hcn_error("HCN_E_INVALID_POLICY", f"{sw}.Direction {settings.direction!r}")
            for j, rule in enumerate(settings.tier_acl_rules or ()):
                _check_acl_fields(
                    rule.tier_acl_rule_action,
                    settings.direction,
                    None,
                    rule.protocols,
                    rule.local_addresses,
                    rule.remote_addresses,
                    rule.local_ports,
                    rule.remote_ports,
                    version,
                    set_ids,
                    f"{sw}.TierAclRules[{j}]",
                )
        elif isinstance(settings, PortMappingPolicySetting):
            if not settings.internal_port:
                raise hcn_error("HCN_E_INVALID_INTERNAL_PORT", f"{sw}.InternalPort")
            if settings.protocol is not None and settings.protocol not in (6, 17):
                raise hcn_error("HCN_E_INVALID_POLICY", f"{sw}.Protocol {settings.protocol}")
            if settings.vip:
                _ip(settings.vip, f"{sw}.VIP")
        elif isinstance(settings, OutboundNatPolicySetting):
            for j, item in enumerate(settings.exceptions or ()):
                _prefix(item, f"{sw}.Exceptions[{j}]")
            for j, item in enumerate(settings.destinations or ()):
                _prefix(item, f"{sw}.Destinations[{j}]")
            if settings.virtual_ip:
                _ip(settings.virtual_ip, f"{sw}.VirtualIP")
        elif isinstance(settings, SDNRoutePolicySetting):
            if settings.destination_prefix:
                _prefix(settings.destination_prefix, f"{sw}.DestinationPrefix")
            if settings.next_hop:
                _ip(settings.next_hop, f"{sw}.NextHop")


def _check_acl(
    s: AclPolicySetting | NetworkACLPolicySetting,
    version: HnsVersion,
    set_ids: set[str],
    where: str,
) -> None:
    _check_acl_fields(
        s.action,
        s.direction,
        s.rule_type,
        s.protocols,
        s.local_addresses,
        s.remote_addresses,
        s.local_ports,
        s.remote_ports,
        version,
        set_ids,
        where,
    )


def _check_acl_fields(
    action: str | None,
    direction: str | None,
    rule_type: str | None,
    protocols: str | None,
    local_addresses: str | None,
    remote_addresses: str | None,
    local_ports: str | None,
    remote_ports: str | None,
    version: HnsVersion,
    set_ids: set[str],
    where: str,
) -> None:
    if action not in ACL_ACTIONS:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.Action {action!r} (Allow|Block|Pass)")
    if direction not in ACL_DIRECTIONS:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.Direction {direction!r} (In|Out)")
    if rule_type is not None and rule_type not in ACL_RULE_TYPES:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.RuleType {rule_type!r} (Host|Switch)")
    try:
        numbers = parse_protocols(protocols)
    except ValueError as exc:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.Protocols: {exc}") from None
    if 252 in numbers and not supports(version, "AclSupportForProtocol252"):
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.Protocols: 252 needs HNS 11.0")
    for name, value in (("LocalPorts", local_ports), ("RemotePorts", remote_ports)):
        try:
            ports = parse_ports(value)
        except ValueError as exc:
            raise hcn_error("HCN_E_INVALID_POLICY", f"{where}.{name}: {exc}") from None
        if ports and (not numbers or any(n not in PORT_PROTOCOLS for n in numbers)):
            raise hcn_error(
                "HCN_E_INVALID_POLICY",
                f"{where}.{name} needs a protocol with ports (TCP 6, UDP 17, SCTP 132, ...)",
            )
    for name, value in (("LocalAddresses", local_addresses), ("RemoteAddresses", remote_addresses)):
        for item in split_list(value):
            if item in set_ids:
                continue
            try:
                parse_address(item)
            except ValueError:
                raise hcn_error(
                    "HCN_E_INVALID_POLICY",
                    f"{where}.{name}: {item!r} is not an IP address, a prefix or a set policy Id",
                ) from None


def _ip(text: str, where: str) -> None:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise hcn_error("HCN_E_INVALID_POLICY", f"{where}: {text!r} is not an IP address") from None


def _prefix(text: str, where: str) -> None:
    try:
        parse_address(text)
    except ValueError:
        raise hcn_error(
            "HCN_E_INVALID_POLICY", f"{where}: {text!r} is not an IP or prefix"
        ) from None


def check_prefix_length(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    prefix_length: int | None,
    version: HnsVersion,
    where: str,
) -> None:
    """An endpoint's PrefixLength: within the family, and /32 (/128) only where supported."""
    if prefix_length is None:
        return
    full = address.max_prefixlen
    if prefix_length > full:
        raise hcn_error("HCN_E_INVALID_PREFIX", f"{where}.PrefixLength {prefix_length} > {full}")
    if prefix_length == full and not supports(version, "Slash32EndpointPrefixes"):
        raise hcn_error(
            "HCN_E_INVALID_PREFIX",
            f"{where}.PrefixLength /{full} needs HNS 9.3-9.x or 10.4+, this is {version}",
        )


def check_endpoint_address(
    text: str | None, network: HostComputeNetwork, version: HnsVersion, where: str
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, IpNetwork | None]:
    """A local endpoint's address and its subnet; HCN_E_INVALID_IP if outside every subnet.

    A network with no subnet at all (e.g. Transparent, addressed from the physical
    network) takes any address; the subnet is then None.
    """
    try:
        address = ipaddress.ip_address(text or "")
    except ValueError:
        raise hcn_error("HCN_E_INVALID_IP", f"{where}.IpAddress {text!r} is not an IP") from None
    if address.version == 6 and not supports(version, "IPv6DualStack"):
        raise hcn_error("HCN_E_REQUEST_UNSUPPORTED", f"{where}: IPv6 needs HNS 11.10")
    subnets = network_subnets(network)
    if not subnets:
        return address, None
    for subnet in subnets:
        if address in subnet:
            reserved = address in network_gateways(network) or address == subnet.network_address
            if subnet.version == 4 and subnet.prefixlen < 31:
                reserved = reserved or address == subnet.broadcast_address
            if reserved:
                raise hcn_error(
                    "HCN_E_ADDR_INVALID_OR_RESERVED",
                    f"{where}.IpAddress {address} is reserved in {subnet}",
                )
            return address, subnet
    raise hcn_error(
        "HCN_E_INVALID_IP", f"{where}.IpAddress {address} is outside every subnet of the network"
    )


def check_modify_kinds(
    resource_type: str | None, request_type: str | None, resource_types: Iterable[str | None]
) -> None:
    """A Modify*SettingRequest's ResourceType and RequestType, refused as HNS refuses them."""
    if resource_type not in resource_types:
        raise hcn_error("HCN_E_REQUEST_UNSUPPORTED", f"request.ResourceType {resource_type!r}")
    if request_type not in REQUEST_TYPES:
        raise hcn_error("HCN_E_REQUEST_UNSUPPORTED", f"request.RequestType {request_type!r}")
