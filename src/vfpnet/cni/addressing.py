"""IPv4 CIDR arithmetic for the plugin (the `ipaddress` module costs milliseconds to import)."""

from __future__ import annotations

import _socket

from vfpnet.cni import errors


def parse_cidr(text: str, field: str) -> tuple[str, int]:
    """'10.244.1.5/24' -> ('10.244.1.5', 24); a CNI error naming `field` otherwise."""
    addr, sep, prefix = text.partition("/")
    try:
        if not sep or not prefix.isdigit() or int(prefix) > 32 or addr.count(".") != 3:
            raise OSError
        _socket.inet_aton(addr)
    except OSError:
        raise errors.CniError(
            errors.INVALID_CONFIG, f"{field}: {text!r} is not an IPv4 address in CIDR notation"
        ) from None
    return addr, int(prefix)


def to_int(addr: str) -> int:
    return int.from_bytes(_socket.inet_aton(addr), "big")


def from_int(value: int) -> str:
    return _socket.inet_ntoa(value.to_bytes(4, "big"))


def network_of(addr: str, prefix: int) -> int:
    return to_int(addr) & (((1 << prefix) - 1) << (32 - prefix))


def first_host(addr: str, prefix: int) -> str:
    return from_int(network_of(addr, prefix) + 1)


def contains(addr: str, prefix: int, other: str) -> bool:
    return network_of(addr, prefix) == network_of(other, prefix)
