"""Which gateway a pod address uses: netconf `gateway`, else IPAM's, else the subnet's first host.

transparent-tunnel steers every packet of a pod through this address (a host route per pod
address via it), so a wrong gateway is never guessed around: 0.0.0.0 (::), an address
outside the pod's subnet, the pod's own address and the subnet's network or broadcast
address are refused with an error naming the field the gateway came from.

IPv4 and IPv6 (dual-stack pods): netconf `gateway` is one address and applies to the
addresses of its own family only; the other family takes IPAM's or the first host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from vfpnet.cni import errors

IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class PodAddress:
    """One address of the pod with the gateway chosen for it and where that came from."""

    interface: IpInterface  # address with the subnet's prefix length, e.g. 10.240.0.7/24
    gateway: IpAddress
    source: str  # "gateway", "ipam result ips[N].gateway" or "first host of SUBNET"

    @property
    def address(self) -> str:
        return str(self.interface.ip)

    @property
    def host_prefix(self) -> str:
        """The address as a host route destination: /32 for IPv4, /128 for IPv6."""
        return f"{self.interface.ip}/{self.interface.ip.max_prefixlen}"

    @property
    def subnet(self) -> str:
        return str(self.interface.network)


def choose_gateways(configured: str, ips: list[dict[str, object]]) -> list[PodAddress]:
    """The pod's addresses (an IPAM result's `ips`) each with its gateway; CniError if none fits.

    `configured` is netconf `gateway` ("" when absent).
    """
    out: list[PodAddress] = []
    for i, ip in enumerate(ips):
        out.append(_choose(configured, ip, i))
    if configured:
        family = _parse_address(configured, "gateway").version
        if not any(p.interface.version == family for p in out):
            raise _invalid(
                f"gateway: {configured} is IPv{family}, but the pod has no IPv{family} address"
            )
    return out


def _choose(configured: str, ip: dict[str, object], index: int) -> PodAddress:
    where = f"ipam result ips[{index}]"
    text = ip.get("address")
    try:
        interface: IpInterface = ipaddress.ip_interface(str(text))
    except ValueError:
        raise _invalid(f"{where}.address: {text!r} is not an address in CIDR notation") from None
    if "/" not in str(text):
        raise _invalid(f"{where}.address: {text!r} has no prefix length")
    network = interface.network
    wanted = _parse_address(configured, "gateway") if configured else None
    ipam_gateway = ip.get("gateway")
    if wanted is not None and wanted.version == interface.version:
        gateway, source = wanted, "gateway"
    elif ipam_gateway:
        gateway, source = _parse_address(str(ipam_gateway), f"{where}.gateway"), f"{where}.gateway"
    else:
        if network.num_addresses <= 2:
            raise _invalid(
                f"{where}.address: {interface} leaves no first host to use as the gateway "
                "(set netconf gateway or an IPAM gateway)"
            )
        gateway, source = network.network_address + 1, f"first host of {network}"
    _check(gateway, interface, source)
    return PodAddress(interface, gateway, source)


def _check(gateway: IpAddress, interface: IpInterface, source: str) -> None:
    network = interface.network
    if gateway.is_unspecified:
        raise _invalid(f"{source}: {gateway} is unspecified, not a gateway")
    if gateway.version != interface.version or gateway not in network:
        raise _invalid(f"{source}: {gateway} is outside the pod's subnet {network}")
    if gateway == interface.ip:
        raise _invalid(f"{source}: {gateway} is the pod's own address")
    if network.num_addresses > 2 and gateway == network.network_address:
        raise _invalid(f"{source}: {gateway} is the network address of {network}")
    if (
        interface.version == 4
        and network.num_addresses > 2
        and gateway == network.broadcast_address
    ):
        raise _invalid(f"{source}: {gateway} is the broadcast address of {network}")


def _parse_address(text: str, field: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise _invalid(f"{field}: {text!r} is not an IP address") from None


def _invalid(msg: str) -> errors.CniError:
    return errors.CniError(errors.INVALID_CONFIG, msg)
