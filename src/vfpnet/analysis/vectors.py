"""Allowed ports from one rule list towards every class (or address range) at once.

A class is one bit. Each rule's peer set becomes a bit mask; refining the full mask by the
masks of a rule list's rules gives blocks of classes matched by the same rules, and each
block one allowed port set (`policy.decide.allowed_ports`, memoized on what it depends
on). The largest block becomes the default and the others exceptions, so the pair loop
of `analysis.reach` only visits what differs. Port sets are interned as small ints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from vfpnet.analysis.external import RangeMatcher
from vfpnet.policy.decide import allowed_ports
from vfpnet.policy.ir import EndpointRules, Rule
from vfpnet.policy.portset import EMPTY_PORTS, PortSet


class PortSetTable:
    """Interns port sets as small ints so the pair loop works on ints."""

    def __init__(self) -> None:
        self.sets: list[PortSet] = [EMPTY_PORTS]
        self.ids: dict[PortSet, int] = {EMPTY_PORTS: 0}
        self._inter: dict[tuple[int, int], int] = {}

    def intern(self, ports: PortSet) -> int:
        found = self.ids.get(ports)
        if found is None:
            found = len(self.sets)
            self.sets.append(ports)
            self.ids[ports] = found
        return found

    def intersect(self, a: int, b: int) -> int:
        found = self._inter.get((a, b))
        if found is None:
            found = self.intern(self.sets[a] & self.sets[b])
            self._inter[(a, b)] = found
        return found


class PeerVector:
    """Interned allowed ports towards each class: `default` for every class outside the
    `blocks` (bit masks of classes, each with its own port set)."""

    __slots__ = ("_exceptions", "blocks", "default")

    def __init__(self, default: int, blocks: list[tuple[int, int]]) -> None:
        self.default = default
        self.blocks = blocks
        self._exceptions: dict[int, int] | None = None

    @property
    def exceptions(self) -> dict[int, int]:
        """Class -> port set id for every class outside the default (built on first use)."""
        if self._exceptions is None:
            self._exceptions = {c: pid for block, pid in self.blocks for c in bits(block)}
        return self._exceptions

    def get(self, c: int) -> int:
        if self._exceptions is not None:
            return self._exceptions.get(c, self.default)
        for block, pid in self.blocks:
            if block >> c & 1:
                return pid
        return self.default

    def allowed_mask(self) -> int:
        """The classes towards which something is allowed, when the default allows nothing."""
        mask = 0
        for block, pid in self.blocks:
            if pid:
                mask |= block
        return mask


def bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class VectorBuilder:
    """Turns rule lists into `_Vector`s by partitioning classes with bit masks.

    A class is one bit. Each rule's peer set is a mask; refining the full mask by the masks
    of a rule list's rules gives blocks of classes matched by the same rules, each with one
    allowed port set. The largest block becomes the default, the rest exceptions, so the
    pair loop only visits what differs.
    """

    def __init__(self, class_index: dict[str, int], table: PortSetTable) -> None:
        self.class_index = class_index
        self.table = table
        self.full = (1 << len(class_index)) - 1
        self._masks: dict[int, int] = {}
        self._vectors: dict[tuple[int, ...], PeerVector] = {}
        self._semantic: dict[int, int] = {}
        self._semantic_ids: dict[tuple[object, ...], int] = {}
        self._allowed_memo: dict[tuple[int, ...], int] = {}

    def _mask(self, rule: Rule) -> int:
        # Keyed by the peer set object: the compiler shares one between equal rules.
        found = self._masks.get(id(rule.peers))
        if found is None:
            if rule.peers.any_peer:
                found = self.full
            else:
                found = 0
                index = self.class_index
                for key in rule.peers.endpoints:
                    c = index.get(key)
                    if c is not None:
                        found |= 1 << c
            self._masks[id(rule.peers)] = found
        return found

    def allowed(self, matching: list[Rule]) -> int:
        """Interned `allowed_ports(matching)`, memoized on what it depends on: each rule's
        stage, action and ports (not its peers)."""
        sem = self._semantic
        key = []
        for r in matching:
            found = sem.get(id(r))
            if found is None:
                found = self._semantic_ids.setdefault(
                    (r.stage, r.action, r.ports), len(self._semantic_ids)
                )
                sem[id(r)] = found
            key.append(found)
        memo_key = tuple(key)
        pid = self._allowed_memo.get(memo_key)
        if pid is None:
            pid = self.table.intern(allowed_ports(matching))
            self._allowed_memo[memo_key] = pid
        return pid

    def vector(self, rl: EndpointRules) -> PeerVector:
        rules = rl.rules
        memo_key = tuple(id(r) for r in rules)
        found = self._vectors.get(memo_key)
        if found is None:
            found = self._build(rules)
            self._vectors[memo_key] = found
        return found

    def _build(self, rules: tuple[Rule, ...]) -> PeerVector:
        blocks: list[tuple[int, tuple[int, ...]]] = [(self.full, ())]
        for i, rule in enumerate(rules):
            if rule.peers.any_peer:
                continue
            mask = self._mask(rule)
            if not mask:
                continue
            refined = []
            for block, sig in blocks:
                inside = block & mask
                if not inside:
                    refined.append((block, sig))
                    continue
                refined.append((inside, (*sig, i)))
                if inside != block:
                    refined.append((block ^ inside, sig))
            blocks = refined
        by_ports: dict[int, int] = {}
        for block, sig in blocks:
            chosen = set(sig)
            matching = [r for j, r in enumerate(rules) if r.peers.any_peer or j in chosen]
            pid = self.allowed(matching)
            by_ports[pid] = by_ports.get(pid, 0) | block
        default = max(by_ports, key=lambda pid: by_ports[pid].bit_count())
        others = [(block, pid) for pid, block in by_ports.items() if pid != default]
        # Small blocks first: lookups by bit test then usually stop early.
        others.sort(key=lambda bp: bp[0].bit_count())
        return PeerVector(default, others)


def range_vectors(
    rule_lists: Sequence[EndpointRules], matcher: RangeMatcher, builder: VectorBuilder
) -> list[list[int]]:
    """For each rule list, the interned ports it allows towards each address range."""
    memo: dict[tuple[int, ...], list[int]] = {}
    out = []
    for rl in rule_lists:
        rules = rl.rules
        memo_key = tuple(id(r) for r in rules)
        vector = memo.get(memo_key)
        if vector is None:
            per_rule = [matcher.matching(r.peers) for r in rules]
            vector = []
            by_sig: dict[tuple[int, ...], int] = {}
            for i in range(len(matcher.ranges)):
                sig = tuple(j for j, hits in enumerate(per_rule) if i in hits)
                pid = by_sig.get(sig)
                if pid is None:
                    pid = by_sig[sig] = builder.allowed([rules[j] for j in sig])
                vector.append(pid)
            memo[memo_key] = vector
        out.append(vector)
    return out
