"""Sets of (protocol, port) as sorted, merged, inclusive port ranges per protocol.

The one value type the rule IR, the reach analysis and the renderers share for "which
ports". It is immutable and hashable, and always normalized (ranges sorted, disjoint and
non-adjacent, protocols in `PROTOCOLS` order, empty protocols left out), so two equal
sets compare equal and a set can key a memo table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PROTOCOLS: tuple[str, ...] = ("TCP", "UDP", "SCTP")
MIN_PORT = 1
MAX_PORT = 65535

Range = tuple[int, int]


def _merge(ranges: Iterable[Range]) -> tuple[Range, ...]:
    out: list[list[int]] = []
    for start, end in sorted(ranges):
        if start > end:
            continue
        if out and start <= out[-1][1] + 1:
            if end > out[-1][1]:
                out[-1][1] = end
        else:
            out.append([start, end])
    return tuple((a, b) for a, b in out)


def _intersect(xs: tuple[Range, ...], ys: tuple[Range, ...]) -> tuple[Range, ...]:
    out: list[Range] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        start = max(xs[i][0], ys[j][0])
        end = min(xs[i][1], ys[j][1])
        if start <= end:
            out.append((start, end))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(xs: tuple[Range, ...], ys: tuple[Range, ...]) -> tuple[Range, ...]:
    out: list[Range] = []
    j = 0
    for start, end in xs:
        cur = start
        while j < len(ys) and ys[j][1] < cur:
            j += 1
        k = j
        while k < len(ys) and ys[k][0] <= end:
            if ys[k][0] > cur:
                out.append((cur, ys[k][0] - 1))
            cur = max(cur, ys[k][1] + 1)
            k += 1
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


@dataclass(frozen=True)
class PortSet:
    """A set of (protocol, port) pairs; `items` holds (protocol, merged ranges) pairs."""

    items: tuple[tuple[str, tuple[Range, ...]], ...] = ()

    @staticmethod
    def from_mapping(mapping: Mapping[str, Iterable[Range]]) -> PortSet:
        unknown = set(mapping) - set(PROTOCOLS)
        if unknown:
            raise ValueError(f"unknown protocol(s) {sorted(unknown)}")
        items = []
        for proto in PROTOCOLS:
            merged = _merge(
                (max(a, MIN_PORT), min(b, MAX_PORT)) for a, b in mapping.get(proto, ())
            )
            if merged:
                items.append((proto, merged))
        return PortSet(tuple(items))

    @staticmethod
    def of(protocol: str, start: int, end: int | None = None) -> PortSet:
        """Ports `start`..`end` (inclusive; `end` defaults to `start`) of one protocol."""
        return PortSet.from_mapping({protocol: [(start, start if end is None else end)]})

    @staticmethod
    def all_ports(protocol: str | None = None) -> PortSet:
        """Every port of `protocol`, or of every protocol when it is None."""
        protos = PROTOCOLS if protocol is None else (protocol,)
        return PortSet.from_mapping({p: [(MIN_PORT, MAX_PORT)] for p in protos})

    def ranges(self, protocol: str) -> tuple[Range, ...]:
        for proto, rs in self.items:
            if proto == protocol:
                return rs
        return ()

    def as_dict(self) -> dict[str, list[list[int]]]:
        """The JSON shape of CONTRACTS.md: {"TCP": [[1, 65535]], ...}."""
        return {proto: [[a, b] for a, b in rs] for proto, rs in self.items}

    def is_empty(self) -> bool:
        return not self.items

    def is_all(self) -> bool:
        return self == ALL_PORTS

    def contains(self, protocol: str, port: int) -> bool:
        return any(a <= port <= b for a, b in self.ranges(protocol))

    def union(self, other: PortSet) -> PortSet:
        if not other.items:
            return self
        if not self.items:
            return other
        return PortSet.from_mapping(
            {p: self.ranges(p) + other.ranges(p) for p in PROTOCOLS}
        )

    def intersection(self, other: PortSet) -> PortSet:
        if not self.items or not other.items:
            return EMPTY_PORTS
        return PortSet(
            tuple(
                (p, rs)
                for p in PROTOCOLS
                if (rs := _intersect(self.ranges(p), other.ranges(p)))
            )
        )

    def difference(self, other: PortSet) -> PortSet:
        if not self.items or not other.items:
            return self
        return PortSet(
            tuple(
                (p, rs)
                for p in PROTOCOLS
                if (rs := _subtract(self.ranges(p), other.ranges(p)))
            )
        )

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def __bool__(self) -> bool:
        return bool(self.items)

    def __str__(self) -> str:
        return format_ports(self)


def format_ports(ports: PortSet) -> str:
    """Compact text: `All`, `TCP 80,8080-8090`, `TCP all; UDP 53`, `-` for none."""
    if ports.is_all():
        return "All"
    if not ports.items:
        return "-"
    parts = []
    for proto, rs in ports.items:
        if rs == ((MIN_PORT, MAX_PORT),):
            parts.append(f"{proto} all")
        else:
            parts.append(
                proto + " " + ",".join(str(a) if a == b else f"{a}-{b}" for a, b in rs)
            )
    return "; ".join(parts)


EMPTY_PORTS = PortSet()
ALL_PORTS = PortSet.all_ports()
