"""Endpoint addresses of a network: claiming a given one, allocating the lowest free one.

Why apart: the `hns_addresses` table is the one place an address is known to be in use
(its primary key makes a second claim fail inside the same transaction). An address
already used by another endpoint of the network is HCN_E_PORT_ALREADY_EXISTS (as a
duplicate PortMapping is). Allocation takes the lowest free address of the network's
first subnet of each family (network, broadcast and gateway addresses excluded; the
gateway is the next hop of the subnet's routes, else its first host, as HNS reserves it
unless the subnet has Flags DoNotReserveGatewayAddress); none free or no subnet:
HCN_E_SUBNET_NOT_FOUND.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from vfpnet.hns.errors import hcn_error
from vfpnet.hns.schema.network import HostComputeNetwork
from vfpnet.hns.validate import network_gateways, network_subnets


def claim(db: sqlite3.Connection, nid: str, address: str, eid: str) -> None:
    try:
        db.execute("INSERT INTO hns_addresses VALUES (?, ?, ?)", (nid, address, eid))
    except sqlite3.IntegrityError:
        raise hcn_error(
            "HCN_E_PORT_ALREADY_EXISTS", f"address {address} is used by another endpoint"
        ) from None


def allocate(
    db: sqlite3.Connection, network: HostComputeNetwork, nid: str, eid: str
) -> list[dict[str, Any]]:
    subnets = network_subnets(network)
    if not subnets:
        raise hcn_error("HCN_E_SUBNET_NOT_FOUND", "the network has no subnet to allocate from")
    used = {
        row[0]
        for row in db.execute("SELECT address FROM hns_addresses WHERE network_id = ?", (nid,))
    }
    gateways = network_gateways(network)
    configs: list[dict[str, Any]] = []
    for family in (4, 6):
        candidates = [s for s in subnets if s.version == family]
        if not candidates:
            continue
        subnet = candidates[0]
        chosen = None
        for host in subnet.hosts():
            text = str(host)
            if text not in used and host not in gateways:
                chosen = text
                break
        if chosen is None:
            raise hcn_error("HCN_E_SUBNET_NOT_FOUND", f"no free address left in {subnet}")
        claim(db, nid, chosen, eid)
        configs.append({"IpAddress": chosen, "PrefixLength": subnet.prefixlen})
    return configs
