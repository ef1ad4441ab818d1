"""Parsing CIDR and IP values the way the API server does.

Refused: a value without a prefix length, a prefix length longer than the address or
with leading zeros, IPv4 octets with leading zeros, IPv4-mapped IPv6 addresses (the
strict IP/CIDR validation of recent Kubernetes, and CEL `isCIDR()` for the CRDs).

Accepted: an address with bits set past the prefix length (`10.0.0.1/24`). API servers
before the StrictIPCIDRValidation gate took it for NetworkPolicy ipBlocks, the CRDs' CEL
`isCIDR()` takes it, and analyzers take it: it is read as its network (`10.0.0.0/24`);
`host_bits_set` lets callers warn about it.
"""

from __future__ import annotations

import ipaddress
import re

from vfpnet.k8s.model import IPAddress, IPNetwork

_EXAMPLE = "(e.g. 10.9.8.0/24 or 2001:db8::/64)"
_PREFIX_LEN = re.compile(r"0|[1-9][0-9]{0,2}")


def parse_address(value: str) -> IPAddress | str:
    """The address, or the reason it is not one."""
    if "%" in value:
        return "must be a valid IP address (zone not allowed)"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "must not be an IPv4-mapped IPv6 address"
    return address


def parse_cidr(value: str) -> IPNetwork | str:
    """The network `value` names (host bits masked), or the reason it is not a valid
    CIDR."""
    address_part, slash, prefix_part = value.partition("/")
    if not slash or not _PREFIX_LEN.fullmatch(prefix_part):
        return f"must be a valid CIDR value, {_EXAMPLE}"
    address = parse_address(address_part)
    if isinstance(address, str):
        return f"must be a valid CIDR value, {_EXAMPLE}"
    if int(prefix_part) > address.max_prefixlen:
        return f"must be a valid CIDR value, {_EXAMPLE}"
    return ipaddress.ip_network(f"{address}/{prefix_part}", strict=False)


def host_bits_set(value: str, network: IPNetwork) -> bool:
    """Whether the CIDR text `value` (already parsed into `network`) has an address
    other than its network's."""
    return ipaddress.ip_address(value.partition("/")[0]) != network.network_address
