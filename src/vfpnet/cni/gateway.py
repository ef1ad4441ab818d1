"""Which gateway a pod address uses: netconf `gateway`, else IPAM's, else the subnet's first host.

transparent-tunnel steers every packet of a pod through this address (a host route per pod
address via it), so a wrong gateway is never guessed around: 0.0.0.0 (::), an address
outside the pod's subnet, the pod's own address and the subnet's network or broadcast
address are refused with an error naming the field the gateway came from.

IPv4 and IPv6 (dual-stack pods): netconf `gateway` is one address and applies to the
addresses of its own family only; the other family takes IPAM's or the first host.

On the ADD path: addresses are integers from `_socket.inet_pton`, written back in the
`ipaddress` module's text forms (RFC 5952 for IPv6), without importing `ipaddress` and
`dataclasses` (~20 ms of a plugin's start here).
"""

from __future__ import annotations

import _socket

from vfpnet.cni import errors

_AF = {4: _socket.AF_INET, 6: _socket.AF_INET6}
_BITS = {4: 32, 6: 128}


class PodAddress:
    """One address of the pod with the gateway chosen for it and where that came from."""

    __slots__ = ("address", "gateway", "prefix", "source", "subnet", "version")

    def __init__(self, address: str, prefix: int, version: int, gateway: str,
                 source: str, subnet: str) -> None:
        self.address = address  # canonical text, e.g. 10.240.0.7
        self.prefix = prefix  # the subnet's prefix length, e.g. 24
        self.subnet = subnet  # e.g. 10.240.0.0/24
        self.version = version  # 4 or 6
        self.gateway = gateway  # canonical text
        self.source = source  # "gateway", "ipam result ips[N].gateway" or "first host of SUBNET"

    @property
    def max_prefixlen(self) -> int:
        return _BITS[self.version]

    @property
    def host_prefix(self) -> str:
        """The address as a host route destination: /32 for IPv4, /128 for IPv6."""
        return f"{self.address}/{self.max_prefixlen}"

    def __repr__(self) -> str:
        return (f"PodAddress({self.address}/{self.prefix} via {self.gateway} "
                f"from {self.source})")


def choose_gateways(configured: str, ips: list[dict[str, object]]) -> list[PodAddress]:
    """The pod's addresses (an IPAM result's `ips`) each with its gateway; CniError if none fits.

    `configured` is netconf `gateway` ("" when absent).
    """
    out: list[PodAddress] = []
    for i, ip in enumerate(ips):
        out.append(_choose(configured, ip, i))
    if configured:
        family = _parse_address(configured, "gateway")[0]
        if not any(p.version == family for p in out):
            raise _invalid(
                f"gateway: {configured} is IPv{family}, but the pod has no IPv{family} address"
            )
    return out


def _choose(configured: str, ip: dict[str, object], index: int) -> PodAddress:
    where = f"ipam result ips[{index}]"
    text = str(ip.get("address"))
    address, sep, length = text.partition("/")
    parsed = _parse(address.strip())
    if parsed is None or (sep and not _is_prefix(length, _BITS[parsed[0]])):
        raise _invalid(f"{where}.address: {text!r} is not an address in CIDR notation")
    if not sep:
        raise _invalid(f"{where}.address: {text!r} has no prefix length")
    version, value = parsed
    prefix = int(length)
    network = _network(version, value, prefix)
    subnet = f"{_text(version, network)}/{prefix}"
    size = 1 << (_BITS[version] - prefix)
    wanted = _parse_address(configured, "gateway") if configured else None
    ipam_gateway = ip.get("gateway")
    if wanted is not None and wanted[0] == version:
        gateway, source = wanted, "gateway"
    elif ipam_gateway:
        gateway, source = _parse_address(str(ipam_gateway), f"{where}.gateway"), f"{where}.gateway"
    else:
        if size <= 2:
            raise _invalid(
                f"{where}.address: {_text(version, value)}/{prefix} leaves no first host to use "
                "as the gateway (set netconf gateway or an IPAM gateway)"
            )
        gateway, source = (version, network + 1), f"first host of {subnet}"
    _check(gateway, version, value, network, size, subnet, source)
    return PodAddress(_text(version, value), prefix, version, _text(*gateway), source, subnet)


def _check(gateway: tuple[int, int], version: int, value: int, network: int, size: int,
           subnet: str, source: str) -> None:
    g_version, g_value = gateway
    shown = _text(g_version, g_value)
    if g_value == 0:
        raise _invalid(f"{source}: {shown} is unspecified, not a gateway")
    if g_version != version or not network <= g_value < network + size:
        raise _invalid(f"{source}: {shown} is outside the pod's subnet {subnet}")
    if g_value == value:
        raise _invalid(f"{source}: {shown} is the pod's own address")
    if size > 2 and g_value == network:
        raise _invalid(f"{source}: {shown} is the network address of {subnet}")
    if version == 4 and size > 2 and g_value == network + size - 1:
        raise _invalid(f"{source}: {shown} is the broadcast address of {subnet}")


def _is_prefix(text: str, bits: int) -> bool:
    return text.isdigit() and text.isascii() and int(text) <= bits


def _parse(text: str) -> tuple[int, int] | None:
    """(4 or 6, the address as an integer), or None when `text` is no address."""
    version = 6 if ":" in text else 4
    try:
        packed = _socket.inet_pton(_AF[version], text)
    except (OSError, ValueError):
        return None
    return version, int.from_bytes(packed, "big")


def _parse_address(text: str, field: str) -> tuple[int, int]:
    parsed = _parse(text.strip())
    if parsed is None:
        raise _invalid(f"{field}: {text!r} is not an IP address")
    return parsed


def _network(version: int, value: int, prefix: int) -> int:
    host_bits = _BITS[version] - prefix
    return (value >> host_bits) << host_bits


def _text(version: int, value: int) -> str:
    """The address as the `ipaddress` module writes it (IPv6: RFC 5952, hex groups only)."""
    if version == 4:
        return _socket.inet_ntop(_socket.AF_INET, value.to_bytes(4, "big"))
    groups = [(value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    best_start, best_len, start = -1, 0, -1
    for i, group in enumerate([*groups, 1]):  # a sentinel closes a trailing run
        if group == 0 and start < 0:
            start = i
        elif group != 0 and start >= 0:
            if i - start > best_len:
                best_start, best_len = start, i - start
            start = -1
    parts = [f"{g:x}" for g in groups]
    if best_len > 1:
        head = ":".join(parts[:best_start])
        tail = ":".join(parts[best_start + best_len:])
        return f"{head}::{tail}"
    return ":".join(parts)


def _invalid(msg: str) -> errors.CniError:
    return errors.CniError(errors.INVALID_CONFIG, msg)
