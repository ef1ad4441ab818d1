"""A packet's path across the node: source port, vSwitch or uplink, destination port.

The vSwitch forwards traffic between endpoints of the same subnet directly: it never
leaves the node and meets only the two ports' ACLs. Traffic that a host route sends to a
gateway (the /32 routes of transparent-tunnel mode), and traffic for another subnet or
for an address off the node (via the network's gateway), leaves through the uplink,
where the cloud NSG's Outbound rules apply; when its destination is an endpoint on this
node it comes back through the uplink, meeting the NSG's Inbound rules, and then the
destination port's ACLs. A host route via a gateway wins over the same-subnet shortcut,
as the host's routing table would have it; among host routes the longest prefix wins; an
on-link host route (next hop 0.0.0.0 or ::) to a local endpoint keeps the packet on the
vSwitch.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from vfpnet.errors import InputError
from vfpnet.hns.errors import hcn_error
from vfpnet.vfp.acl import endpoint_addresses, endpoint_id
from vfpnet.vfp.nsg import Nsg, NsgDirection, evaluate_nsg
from vfpnet.vfp.packet import Packet, address_key
from vfpnet.vfp.port import Port, build_port
from vfpnet.vfp.verdict import Verdict

HopKind = Literal[
    "source-port",
    "vswitch",
    "host-route",
    "gateway-route",
    "uplink-nsg-out",
    "uplink-nsg-in",
    "leaves-node",
    "destination-port",
]


@dataclass(frozen=True, slots=True)
class HostRoute:
    """One entry of the node's host route table (`route add DEST mask MASK GW`)."""

    prefix: str
    next_hop: str

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.prefix, strict=False)


@dataclass(frozen=True, slots=True)
class Subnet:
    prefix: str
    gateway: str | None


@dataclass(frozen=True)
class NodeSnapshot:
    """What a path trace reads: the node's endpoints, networks, host routes and NSG."""

    endpoints: tuple[Mapping[str, Any], ...]
    networks: tuple[Mapping[str, Any], ...] = ()
    routes: tuple[HostRoute, ...] = ()
    nsg: Nsg = field(default_factory=Nsg)


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of the path. `rule`/`priority` are an ACL rule id or an NSG rule name."""

    hop: HopKind
    verdict: Literal["allow", "block"]
    detail: str
    endpoint: str | None = None
    layer: str | None = None
    group: str | None = None
    rule: str | None = None
    priority: int | None = None
    next_hop: str | None = None


@dataclass(frozen=True, slots=True)
class PathTrace:
    verdict: Literal["allow", "block"]
    packet: Packet
    from_endpoint: str
    to_endpoint: str | None
    crosses_uplink: bool
    hops: tuple[Hop, ...]


def path_trace(
    node: NodeSnapshot,
    from_endpoint: str,
    dst: str,
    dst_port: int,
    protocol: int,
    src_port: int = 49152,
    make_port: Callable[[Mapping[str, Any]], Port] = build_port,
) -> PathTrace:
    """Follow a connection's first packet from an endpoint to `dst:dst_port`.

    Hops after the first that blocks are left out: the packet never reaches them.
    """
    src_ep = _find_endpoint(node, from_endpoint)
    family, _ = address_key(dst)
    src_ip = next((a for a in endpoint_addresses(src_ep) if address_key(a)[0] == family), None)
    if src_ip is None:
        raise InputError(f"endpoint {from_endpoint}: has no IPv{family} address to send from")
    packet = Packet(protocol, src_ip, src_port, str(ipaddress.ip_address(dst)), dst_port)
    dst_ep = _local_endpoint_with(node, packet.dst)
    hops: list[Hop] = []

    def done(crosses: bool) -> PathTrace:
        blocked = any(h.verdict == "block" for h in hops)
        return PathTrace(
            "block" if blocked else "allow",
            packet,
            endpoint_id(src_ep),
            endpoint_id(dst_ep) if dst_ep is not None else None,
            crosses,
            tuple(hops),
        )

    first = _port_hop("source-port", make_port(src_ep).evaluate(packet, "out"))
    hops.append(first)
    if first.verdict == "block":
        return done(False)

    route = _host_route(node.routes, packet.dst)
    on_link = route is not None and ipaddress.ip_address(route.next_hop).is_unspecified
    src_subnet = _subnet_of(node, src_ep, src_ip)
    if dst_ep is not None and (
        on_link or (route is None and _same_subnet(node, src_ep, dst_ep, src_subnet))
    ):
        why = (
            f"on-link host route {route.prefix}"
            if on_link and route is not None
            else f"same subnet {src_subnet}"
        )
        hops.append(Hop("vswitch", "allow", f"{why}: the vSwitch forwards it directly"))
    else:
        if route is not None and not on_link:
            hops.append(
                Hop(
                    "host-route",
                    "allow",
                    f"host route {route.prefix} via {route.next_hop}: out through the uplink",
                    next_hop=route.next_hop,
                )
            )
        else:
            gateway = _gateway(node, src_ep, src_ip)
            hops.append(
                Hop(
                    "gateway-route",
                    "allow",
                    f"not on the source's subnet: via the gateway {gateway or '?'} and the uplink",
                    next_hop=gateway,
                )
            )
        vnet = _virtual_network(node)
        out_hop = _nsg_hop("uplink-nsg-out", node.nsg, packet, "Outbound", vnet)
        hops.append(out_hop)
        if out_hop.verdict == "block":
            return done(True)
        if dst_ep is None:
            hops.append(
                Hop("leaves-node", "allow", f"{packet.dst} is not an endpoint on this node")
            )
            return done(True)
        in_hop = _nsg_hop("uplink-nsg-in", node.nsg, packet, "Inbound", vnet)
        hops.append(in_hop)
        if in_hop.verdict == "block":
            return done(True)
    if dst_ep is not None:
        hops.append(_port_hop("destination-port", make_port(dst_ep).evaluate(packet, "in")))
    return done(any(h.hop == "uplink-nsg-out" for h in hops))


def parse_route(route: Mapping[str, Any] | Any) -> HostRoute:
    """A host route from the emulator's route objects or MIB_IPFORWARD_ROW2-shaped JSON.

    Accepts `{"DestinationPrefix", "NextHop"}`, `{"Destination", "Mask", "Gateway"}` or an
    object with `.destination_prefix` and `.next_hop`.
    """
    if not isinstance(route, Mapping):
        route = {
            "DestinationPrefix": getattr(route, "destination_prefix", None),
            "NextHop": getattr(route, "next_hop", None),
        }
    prefix = route.get("DestinationPrefix") or route.get("Prefix")
    hop = route.get("NextHop") or route.get("Gateway") or route.get("GatewayAddress")
    if prefix is None and route.get("Destination") is not None:
        mask = route.get("Mask") or route.get("Netmask") or "255.255.255.255"
        prefix = f"{route['Destination']}/{mask}"
    try:
        net = ipaddress.ip_network(str(prefix), strict=False)
        next_hop = str(ipaddress.ip_address(str(hop)))
    except ValueError:
        raise InputError(f"host route {dict(route)!r}: not a destination and next hop") from None
    return HostRoute(str(net), next_hop)


def network_subnets(network: Mapping[str, Any]) -> list[Subnet]:
    """Subnets of an HCN v2 network (Ipams/Subnets) or an HNS v1 one (Subnets)."""
    out: list[Subnet] = []
    v2 = [s for ipam in network.get("Ipams") or () for s in ipam.get("Subnets") or ()]
    for s in v2:
        gateway = None
        for r in s.get("Routes") or ():
            if r.get("DestinationPrefix") in ("0.0.0.0/0", "::/0"):
                gateway = r.get("NextHop")
        if s.get("IpAddressPrefix"):
            out.append(Subnet(str(s["IpAddressPrefix"]), gateway))
    for s in network.get("Subnets") or ():
        if s.get("AddressPrefix"):
            out.append(Subnet(str(s["AddressPrefix"]), s.get("GatewayAddress")))
    return out


def _find_endpoint(node: NodeSnapshot, wanted: str) -> Mapping[str, Any]:
    for ep in node.endpoints:
        if endpoint_id(ep).lower() == wanted.lower() or ep.get("Name") == wanted:
            return ep
    raise hcn_error("HCN_E_ENDPOINT_NOT_FOUND", f"endpoint {wanted}")


def _is_remote(ep: Mapping[str, Any]) -> bool:
    flags = ep.get("Flags") or 0
    return (isinstance(flags, int) and bool(flags & 1)) or bool(ep.get("IsRemoteEndpoint"))


def _local_endpoint_with(node: NodeSnapshot, address: str) -> Mapping[str, Any] | None:
    for ep in node.endpoints:
        if not _is_remote(ep) and address in endpoint_addresses(ep):
            return ep
    return None


def _host_route(routes: Iterable[HostRoute], address: str) -> HostRoute | None:
    addr = ipaddress.ip_address(address)
    best: HostRoute | None = None
    for route in routes:
        net = route.network
        if (
            net.version == addr.version
            and addr in net
            and (best is None or net.prefixlen > best.network.prefixlen)
        ):
            best = route
    return best


def _network_of(node: NodeSnapshot, ep: Mapping[str, Any]) -> Mapping[str, Any] | None:
    wanted = str(ep.get("HostComputeNetwork") or ep.get("VirtualNetwork") or "").lower()
    for net in node.networks:
        if str(net.get("ID") or net.get("Id") or "").lower() == wanted:
            return net
    return None


def _subnet_of(node: NodeSnapshot, ep: Mapping[str, Any], ip: str) -> str | None:
    addr = ipaddress.ip_address(ip)
    net = _network_of(node, ep)
    if net is not None:
        for subnet in network_subnets(net):
            if addr in ipaddress.ip_network(subnet.prefix, strict=False):
                return str(ipaddress.ip_network(subnet.prefix, strict=False))
    for conf in ep.get("IpConfigurations") or ():
        if conf.get("IpAddress") and str(ipaddress.ip_address(conf["IpAddress"])) == ip:
            length = conf.get("PrefixLength")
            if isinstance(length, int):
                return str(ipaddress.ip_network(f"{ip}/{length}", strict=False))
    return None


def _same_subnet(
    node: NodeSnapshot, src: Mapping[str, Any], dst: Mapping[str, Any], subnet: str | None
) -> bool:
    if subnet is None:
        return False
    src_net = str(src.get("HostComputeNetwork") or src.get("VirtualNetwork") or "").lower()
    dst_net = str(dst.get("HostComputeNetwork") or dst.get("VirtualNetwork") or "").lower()
    if src_net != dst_net:
        return False
    net = ipaddress.ip_network(subnet)
    return any(ipaddress.ip_address(a) in net for a in endpoint_addresses(dst))


def _gateway(node: NodeSnapshot, ep: Mapping[str, Any], ip: str) -> str | None:
    net = _network_of(node, ep)
    addr = ipaddress.ip_address(ip)
    if net is not None:
        for subnet in network_subnets(net):
            if addr in ipaddress.ip_network(subnet.prefix, strict=False) and subnet.gateway:
                return subnet.gateway
    for route in ep.get("Routes") or ():
        if route.get("DestinationPrefix") in ("0.0.0.0/0", "::/0") and route.get("NextHop"):
            return str(route["NextHop"])
    gw = ep.get("GatewayAddress")
    return str(gw) if gw else None


def _virtual_network(node: NodeSnapshot) -> list[str]:
    """The node's HNS subnets: what the VirtualNetwork tag means when the NSG names none."""
    prefixes: list[str] = []
    for net in node.networks:
        prefixes.extend(s.prefix for s in network_subnets(net))
    if not prefixes:
        for ep in node.endpoints:
            for conf in ep.get("IpConfigurations") or ():
                if conf.get("IpAddress") and isinstance(conf.get("PrefixLength"), int):
                    cidr = f"{conf['IpAddress']}/{conf['PrefixLength']}"
                    prefixes.append(str(ipaddress.ip_network(cidr, strict=False)))
    return prefixes


def _port_hop(kind: HopKind, verdict: Verdict) -> Hop:
    return Hop(
        kind,
        verdict.verdict,
        verdict.reason,
        endpoint=verdict.endpoint,
        layer=verdict.layer,
        group=verdict.group,
        rule=verdict.rule,
        priority=verdict.priority,
    )


def _nsg_hop(
    kind: HopKind, nsg: Nsg, packet: Packet, direction: NsgDirection, vnet: list[str]
) -> Hop:
    decision = evaluate_nsg(nsg, packet, direction, vnet)
    origin = "default rule" if decision.default else "rule"
    return Hop(
        kind,
        "allow" if decision.access == "Allow" else "block",
        f"NSG {direction} {origin} {decision.rule} (priority {decision.priority}): "
        f"{decision.access}",
        layer="NSG",
        group=direction,
        rule=decision.rule,
        priority=decision.priority,
    )
