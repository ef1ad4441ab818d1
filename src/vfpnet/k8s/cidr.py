"""Parsing CIDR and IP values the way the API server does.

NetworkPolicy `ipBlock.cidr`/`except` are validated strictly (Kubernetes with the
StrictIPCIDRValidation gate, on by default since 1.36): the address must have no bits set
past the prefix length, IPv4 octets and the prefix length have no leading zeros, and an
IPv4-mapped IPv6 address is refused. Cluster policy `networks` are CRD fields checked by
CEL `isCIDR()`, which accepts an address with host bits set (we mask them).
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


def parse_cidr(value: str, *, strict: bool) -> IPNetwork | str:
    """The network `value` names, or the reason it is not a valid CIDR.

    `strict`: also refuse bits set past the prefix length (NetworkPolicy ipBlock);
    otherwise those bits are masked (cluster policy networks).
    """
    address_part, slash, prefix_part = value.partition("/")
    if not slash or not _PREFIX_LEN.fullmatch(prefix_part):
        return f"must be a valid CIDR value, {_EXAMPLE}"
    address = parse_address(address_part)
    if isinstance(address, str):
        return f"must be a valid CIDR value, {_EXAMPLE}"
    if int(prefix_part) > address.max_prefixlen:
        return f"must be a valid CIDR value, {_EXAMPLE}"
    network = ipaddress.ip_network(f"{address}/{prefix_part}", strict=False)
    if strict and network.network_address != address:
        return f'must be a valid CIDR value (host bits set: did you mean "{network}"?)'
    return network
