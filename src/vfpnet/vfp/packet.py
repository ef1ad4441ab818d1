"""Packets as the VFP model sees them: a protocol number and a 5-tuple.

Addresses stay strings in the packet (cheap to hash for the flow table); rule matching turns
them into integers once, through a cache, because that is what makes a walk over a thousand
rules fast enough.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from vfpnet.errors import InputError

Direction = Literal["in", "out"]

ICMP = 1
TCP = 6
UDP = 17
ICMPV6 = 58
SCTP = 132
ANY_PROTOCOL = 256  # HNS writes "256" for "every protocol"

PROTOCOL_NUMBERS: dict[str, int] = {
    "ICMP": ICMP,
    "TCP": TCP,
    "UDP": UDP,
    "ICMPV6": ICMPV6,
    "SCTP": SCTP,
}
PROTOCOL_NAMES: dict[int, str] = {v: k for k, v in PROTOCOL_NUMBERS.items()}
PORTED_PROTOCOLS = frozenset({TCP, UDP, SCTP})


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet: addresses as text, ports 0 for protocols without ports (ICMP)."""

    protocol: int
    src: str
    src_port: int
    dst: str
    dst_port: int

    def reply(self) -> Packet:
        return Packet(self.protocol, self.dst, self.dst_port, self.src, self.src_port)


@lru_cache(maxsize=65536)
def address_key(text: str) -> tuple[int, int]:
    """(IP version, address as an integer); ValueError when `text` is not an address."""
    addr = ipaddress.ip_address(text)
    return addr.version, int(addr)


def protocol_number(text: str) -> int:
    """`TCP`, `udp`, `6`: the protocol number; InputError otherwise."""
    upper = text.strip().upper()
    if upper in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[upper]
    if upper.isdigit() and 0 <= int(upper) <= 255:
        return int(upper)
    raise InputError(
        f"protocol {text!r}: expected one of {', '.join(PROTOCOL_NUMBERS)} or a number 0-255"
    )


def protocol_name(number: int) -> str:
    if number == ANY_PROTOCOL:
        return "ANY"
    return PROTOCOL_NAMES.get(number, str(number))


def parse_endpoint_address(text: str, what: str, protocol: int | None = None) -> tuple[str, int]:
    """`10.0.0.5:80`, `[fd00::5]:80` or a bare address (port 0): (address, port).

    A port is required for TCP/UDP/SCTP when `protocol` is given; addresses come back in
    canonical form so that flow keys of the same host compare equal.
    """
    raw = text.strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InputError(f"{what} {text!r}: missing ']' after an IPv6 address")
        host, rest = raw[1:end], raw[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise InputError(f"{what} {text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif raw.count(":") == 1:
        host, port_text = raw.split(":")
    try:
        addr = str(ipaddress.ip_address(host))
    except ValueError:
        raise InputError(f"{what} {text!r}: {host!r} is not an IP address") from None
    port = 0
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise InputError(f"{what} {text!r}: port {port_text!r} is not a number 0-65535")
        port = int(port_text)
    if protocol in PORTED_PROTOCOLS and not port_text:
        raise InputError(f"{what} {text!r}: a port is required for {protocol_name(protocol)}")
    return addr, port
