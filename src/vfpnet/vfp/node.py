"""The node as the VFP model sees it, read from the HNS emulator's state file."""

from __future__ import annotations

from pathlib import Path

from vfpnet.errors import InputError
from vfpnet.hns.errors import hcn_error
from vfpnet.vfp.acl import endpoint_id
from vfpnet.vfp.nsg_store import load_nsg
from vfpnet.vfp.path import NodeSnapshot, parse_route
from vfpnet.vfp.port import Port, build_port


def load_node(state: str) -> NodeSnapshot:
    """Endpoints, their networks, host routes and the uplink NSG of a state file."""
    if not Path(state).exists():
        raise InputError(f"state {state}: no such file")
    import sqlite3

    from vfpnet.hns.emulator import Emulator

    try:
        emulator = Emulator(state)
        try:
            endpoints = tuple(dict(ep) for ep in emulator.list_endpoints())
            networks = tuple(dict(net) for net in emulator.list_networks())
            routes = tuple(parse_route(r) for r in emulator.list_routes())
        finally:
            emulator.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"state {state}: not a usable HNS state file ({exc})") from None
    return NodeSnapshot(endpoints, networks, routes, load_nsg(state))


def endpoint_port(node: NodeSnapshot, wanted: str) -> Port:
    """The port of one endpoint of the node (by ID, case-insensitive, or Name)."""
    for ep in node.endpoints:
        if endpoint_id(ep).lower() == wanted.lower() or ep.get("Name") == wanted:
            return build_port(ep)
    raise hcn_error("HCN_E_ENDPOINT_NOT_FOUND", f"endpoint {wanted}")
