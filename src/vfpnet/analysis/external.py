"""Addresses outside the cluster as nodes of kind `IPBlock`, the way netpol-analyzer shows them.

The IPv4 space is cut into disjoint ranges at every boundary a policy draws: sources at
the boundaries of NetworkPolicy ingress ipBlocks (cidr and excepts), destinations at those
of NetworkPolicy egress ipBlocks and cluster policy `networks`. Each range is one node,
named `FIRST-LAST` (`0.0.0.0-255.255.255.255` when no policy draws a boundary), and no
policy can tell two addresses of one range apart, so one address decides for all of it.
An address outside the cluster has no policy of its own: a connection from a range needs
ingress at the workload, one to a range egress at the workload. Only ranges with some
connection appear. IPv6 blocks are not shown (as netpol-analyzer does).
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from vfpnet.k8s.model import Cluster, IPBlock, IPNetwork
from vfpnet.policy.ir import CidrBlock, PeerSet

IPV4_END = 2**32 - 1


@dataclass(frozen=True)
class AddressRange:
    """An inclusive range of IPv4 addresses, as integers."""

    first: int
    last: int

    @property
    def name(self) -> str:
        return f"{ipaddress.IPv4Address(self.first)}-{ipaddress.IPv4Address(self.last)}"


def _span(net: IPNetwork) -> tuple[int, int]:
    return int(net.network_address), int(net.broadcast_address)


def _block_intervals(block: IPBlock) -> list[tuple[int, int]]:
    """The IPv4 addresses of `cidr` minus every except, as merged intervals."""
    if block.cidr.version != 4:
        return []
    intervals = [_span(block.cidr)]
    for ex in block.except_:
        if ex.version != 4:
            continue
        ex_first, ex_last = _span(ex)
        cut: list[tuple[int, int]] = []
        for first, last in intervals:
            if ex_last < first or last < ex_first:
                cut.append((first, last))
                continue
            if first < ex_first:
                cut.append((first, ex_first - 1))
            if ex_last < last:
                cut.append((ex_last + 1, last))
        intervals = cut
    return intervals


def _boundaries(blocks: Iterable[IPBlock]) -> set[int]:
    # Cut at the edges of what each block matches (adjacent excepts make one hole), as
    # netpol-analyzer does with its interval sets.
    cuts: set[int] = set()
    for block in blocks:
        for first, last in _block_intervals(block):
            cuts.add(first)
            cuts.add(last + 1)
    return cuts


def _ranges(cuts: set[int]) -> tuple[AddressRange, ...]:
    points = sorted({0, IPV4_END + 1} | {c for c in cuts if 0 <= c <= IPV4_END + 1})
    return tuple(AddressRange(a, b - 1) for a, b in itertools.pairwise(points))


def source_ranges(cluster: Cluster) -> tuple[AddressRange, ...]:
    """The ranges that sources outside the cluster fall into."""
    blocks = [
        peer.ip_block
        for np in cluster.network_policies
        for rule in np.ingress
        for peer in rule.peers
        if peer.ip_block is not None
    ]
    return _ranges(_boundaries(blocks))


def destination_ranges(cluster: Cluster) -> tuple[AddressRange, ...]:
    """The ranges that destinations outside the cluster fall into."""
    blocks = [
        peer.ip_block
        for np in cluster.network_policies
        for rule in np.egress
        for peer in rule.peers
        if peer.ip_block is not None
    ]
    for cp in cluster.cluster_policies:
        for cp_rule in cp.egress:
            for cp_peer in cp_rule.peers:
                blocks.extend(IPBlock(net) for net in cp_peer.networks or ())
    return _ranges(_boundaries(blocks))


def _inside(r: AddressRange, block: CidrBlock) -> bool:
    span = _block_spans(block)
    if span is None:
        return False
    (first, last), excepts = span
    if not (first <= r.first and r.last <= last):
        return False
    return not any(ex_first <= r.last and r.first <= ex_last for ex_first, ex_last in excepts)


@functools.lru_cache(maxsize=65536)
def _block_spans(
    block: CidrBlock,
) -> tuple[tuple[int, int], tuple[tuple[int, int], ...]] | None:
    """The IPv4 span of a block and of its IPv4 excepts, parsed once per block: reach asks
    for every (range, block) pair, which re-parsed the same CIDRs hundreds of thousands of
    times on large clusters."""
    net = ipaddress.ip_network(block.cidr)
    if net.version != 4:
        return None
    excepts = tuple(
        _span(ex_net)
        for ex_net in (ipaddress.ip_network(ex) for ex in block.excepts)
        if ex_net.version == 4
    )
    return _span(net), excepts


class RangeMatcher:
    """Which ranges a rule's peer set matches (a range matches when all of it is inside
    one of the set's CIDR blocks), cached per peer set."""

    def __init__(self, ranges: tuple[AddressRange, ...]) -> None:
        self.ranges = ranges
        self._cache: dict[int, frozenset[int]] = {}
        self._all = frozenset(range(len(ranges)))

    def matching(self, peers: PeerSet) -> frozenset[int]:
        found = self._cache.get(id(peers))
        if found is None:
            if peers.any_peer:
                found = self._all
            else:
                found = frozenset(
                    i for i, r in enumerate(self.ranges)
                    if any(_inside(r, block) for block in peers.cidrs)
                )
            self._cache[id(peers)] = found
        return found
