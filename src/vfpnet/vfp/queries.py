"""What the `vfpnet vfp` command asks of a node's state file, one function per command."""

from __future__ import annotations

from pathlib import Path

from vfpnet.errors import InputError
from vfpnet.vfp.node import endpoint_port, load_node
from vfpnet.vfp.nsg import Nsg
from vfpnet.vfp.nsg_store import load_nsg, read_nsg_file, save_nsg
from vfpnet.vfp.packet import (
    PORTED_PROTOCOLS,
    Direction,
    Packet,
    address_key,
    parse_endpoint_address,
    protocol_number,
)
from vfpnet.vfp.path import PathTrace, path_trace
from vfpnet.vfp.port import Port
from vfpnet.vfp.verdict import Verdict


def endpoint_rules(state: str, endpoint: str) -> Port:
    return endpoint_port(load_node(state), endpoint)


def trace_packet(
    state: str,
    endpoint: str,
    direction: Direction,
    protocol: str,
    src: str,
    dst: str,
    reply: bool = False,
) -> Verdict:
    """One packet through one endpoint's layers.

    The packet opens a connection (the port has no flows yet); with `reply` it answers
    one: the connection's opening packet (the other way) goes through the port first, so
    the reply rides its flow when that packet was allowed.
    """
    proto = protocol_number(protocol)
    src_ip, src_port = parse_endpoint_address(src, "--src", proto)
    dst_ip, dst_port = parse_endpoint_address(dst, "--dst", proto)
    if address_key(src_ip)[0] != address_key(dst_ip)[0]:
        raise InputError(f"--src {src} and --dst {dst}: one is IPv4, the other IPv6")
    port = endpoint_port(load_node(state), endpoint)
    packet = Packet(proto, src_ip, src_port, dst_ip, dst_port)
    if reply:
        port.process(packet.reply(), "in" if direction == "out" else "out")
    return port.process(packet, direction)


def trace_path(
    state: str, from_endpoint: str, dst: str, protocol: str, src_port: int | None
) -> PathTrace:
    proto = protocol_number(protocol)
    dst_ip, dst_port = parse_endpoint_address(dst, "--dst", proto)
    if src_port is not None and not 0 <= src_port <= 65535:
        raise InputError(f"--src-port {src_port}: not a port 0-65535")
    sport = 0 if proto not in PORTED_PROTOCOLS else (49152 if src_port is None else src_port)
    return path_trace(load_node(state), from_endpoint, dst_ip, dst_port, proto, sport)


def set_nsg(state: str, path: str) -> Nsg:
    """Validate an NSG file and make it the node's uplink NSG (all or nothing)."""
    nsg = read_nsg_file(path)
    save_nsg(state, nsg)
    return nsg


def show_nsg(state: str) -> Nsg:
    """The node's uplink NSG. A state file that is not there is an error, as for every other
    query: showing Azure's defaults for a mistyped path would look like a real answer."""
    if not Path(state).exists():
        raise InputError(f"state {state}: no such file")
    return load_nsg(state)
