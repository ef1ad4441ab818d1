"""A host route of the node's IP forwarding table (the IP helper API's MIB_IPFORWARD_ROW2).

This is what `route add 10.240.0.7 mask 255.255.255.255 10.240.0.1` or
CreateIpForwardEntry2 creates; it is not an HCN object (HCN's SDN routes are policies).
JSON names follow MIB_IPFORWARD_ROW2 (DestinationPrefix as a CIDR string).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HostRoute:
    destination_prefix: str  # CIDR, e.g. "10.240.0.7/32"
    next_hop: str  # "0.0.0.0" for on-link
    interface_index: int = 0
    metric: int = 0

    @property
    def key(self) -> tuple[str, str, int]:
        """What identifies a route in the table (as for CreateIpForwardEntry2's duplicate check)."""
        return (self.destination_prefix, self.next_hop, self.interface_index)

    def to_json(self) -> dict[str, Any]:
        return {
            "DestinationPrefix": self.destination_prefix,
            "NextHop": self.next_hop,
            "InterfaceIndex": self.interface_index,
            "Metric": self.metric,
        }


def host_route(
    destination: str, next_hop: str, interface_index: int = 0, metric: int = 0
) -> HostRoute:
    """A HostRoute with destination and next hop in canonical form; ValueError if malformed.

    `destination` is a CIDR or a bare address (a host route, /32 or /128).
    """
    net = ipaddress.ip_network(destination.strip(), strict=False)
    hop = ipaddress.ip_address(next_hop.strip())
    if hop.version != net.version:
        raise ValueError(f"next hop {next_hop} is not of the family of {destination}")
    if not 0 <= interface_index <= 0xFFFFFFFF or not 0 <= metric <= 0xFFFFFFFF:
        raise ValueError("interface index and metric must be 0..4294967295")
    return HostRoute(str(net), str(hop), interface_index, metric)


def route_from_json(data: Any) -> HostRoute:
    if not isinstance(data, dict):
        raise ValueError("a route must be a JSON object")
    return host_route(
        str(data.get("DestinationPrefix", "")),
        str(data.get("NextHop", "")),
        int(data.get("InterfaceIndex", 0)),
        int(data.get("Metric", 0)),
    )
