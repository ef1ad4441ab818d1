"""Workload-level connectivity: for every ordered pair of workloads, the allowed ports.

A connection from A to B on (protocol, port) needs egress allowed at A towards B and
ingress allowed at B from A. Both are read from the compiled rule IR, per equivalence
class of workloads (`analysis.classes`) rather than per workload:

1. compile the IR of one representative per class (selectors resolve to classes);
2. for each distinct egress rule list, the destination classes split (bit masks) by which
   of its rules match them; each block gives one allowed port set
   (`policy.decide.allowed_ports`); the largest block is the default, the others
   exceptions; the same for ingress and sources;
3. a class pair's ports are egress & ingress, memoized on the pair of port sets; only
   pairs where both can be non-empty are visited, so the work follows the output;
4. members are expanded, pairs of a workload with itself left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from vfpnet.analysis.classes import WorkloadClass, workload_classes
from vfpnet.analysis.external import (
    AddressRange,
    RangeMatcher,
    destination_ranges,
    source_ranges,
)
from vfpnet.analysis.nodes import fold_owned_pods, nodes_of
from vfpnet.analysis.result import Connection, Node, ReachResult
from vfpnet.k8s.model import Cluster
from vfpnet.policy.compile import compile_cluster, endpoint_key
from vfpnet.policy.decide import allowed_ports
from vfpnet.policy.ir import EndpointRules, Rule
from vfpnet.policy.portset import EMPTY_PORTS, PortSet


class _PortSetTable:
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


class _Vector:
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
            self._exceptions = {c: pid for block, pid in self.blocks for c in _bits(block)}
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


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _VectorBuilder:
    """Turns rule lists into `_Vector`s by partitioning classes with bit masks.

    A class is one bit. Each rule's peer set is a mask; refining the full mask by the masks
    of a rule list's rules gives blocks of classes matched by the same rules, each with one
    allowed port set. The largest block becomes the default, the rest exceptions, so the
    pair loop only visits what differs.
    """

    def __init__(self, class_index: dict[str, int], table: _PortSetTable) -> None:
        self.class_index = class_index
        self.table = table
        self.full = (1 << len(class_index)) - 1
        self._masks: dict[int, int] = {}
        self._vectors: dict[tuple[int, ...], _Vector] = {}
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

    def vector(self, rl: EndpointRules) -> _Vector:
        rules = rl.rules
        memo_key = tuple(id(r) for r in rules)
        found = self._vectors.get(memo_key)
        if found is None:
            found = self._build(rules)
            self._vectors[memo_key] = found
        return found

    def _build(self, rules: tuple[Rule, ...]) -> _Vector:
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
        return _Vector(default, others)


@dataclass
class ClassConnectivity:
    """`rows[s][d]`: interned ports allowed from class s to class d (non-empty only);
    `from_ranges[d][i]` / `to_ranges[s][i]`: from / to external range i (`external`)."""

    rows: dict[int, dict[int, int]]
    table: _PortSetTable
    sources: tuple[AddressRange, ...] = ()
    destinations: tuple[AddressRange, ...] = ()
    from_ranges: list[list[int]] = field(default_factory=list)
    to_ranges: list[list[int]] = field(default_factory=list)


def _range_vectors(
    rule_lists: Sequence[EndpointRules], matcher: RangeMatcher, builder: _VectorBuilder
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


def class_connectivity(
    cluster: Cluster, classes: Sequence[WorkloadClass], external: bool = True
) -> ClassConnectivity:
    """The ports allowed between classes (and, if `external`, with address ranges)."""
    reps = [c.representative for c in classes]
    compiled = compile_cluster(cluster, reps)
    keys = [endpoint_key(w) for w in reps]
    class_index = {k: i for i, k in enumerate(keys)}
    table = _PortSetTable()
    builder = _VectorBuilder(class_index, table)
    egress = [builder.vector(compiled.egress[k]) for k in keys]
    ingress = [builder.vector(compiled.ingress[k]) for k in keys]
    n = len(keys)
    # Destinations whose ingress lets in a source that is no exception, and for each
    # source the destinations where it is one: together, every d that might admit s.
    open_dsts = [d for d in range(n) if ingress[d].default]
    exception_dsts: list[list[int]] = [[] for _ in range(n)]
    for d, vec in enumerate(ingress):
        for s in vec.exceptions:
            exception_dsts[s].append(d)
    inter = table.intersect
    open_set = set(open_dsts)
    rows: dict[int, dict[int, int]] = {}
    for s in range(n):
        eg = egress[s]
        # Every d that might admit s; when s's egress allows nothing by default, the d it
        # may reach are few too: iterate the smaller side.
        admitting: Iterable[int] = (
            open_set.union(exception_dsts[s]) if open_set else exception_dsts[s]
        )
        candidates: Iterable[int]
        if eg.default:
            candidates = admitting
        else:
            reachable = eg.allowed_mask()
            if not reachable:
                continue
            admitting = list(admitting)
            if len(admitting) <= reachable.bit_count():
                candidates = [d for d in admitting if reachable >> d & 1]
            else:
                candidates = _bits(reachable)
        row: dict[int, int] = {}
        for d in candidates:
            e = eg.get(d)
            if not e:
                continue
            i = ingress[d].get(s)
            if i:
                r = inter(e, i)
                if r:
                    row[d] = r
        if row:
            rows[s] = row
    result = ClassConnectivity(rows, table)
    if external:
        result.sources = source_ranges(cluster)
        result.destinations = destination_ranges(cluster)
        result.from_ranges = _range_vectors(
            [compiled.ingress[k] for k in keys], RangeMatcher(result.sources), builder
        )
        result.to_ranges = _range_vectors(
            [compiled.egress[k] for k in keys], RangeMatcher(result.destinations), builder
        )
    return result


def reach(cluster: Cluster, external: bool = True) -> ReachResult:
    """Every ordered pair of distinct workloads with something allowed, and its ports;
    with `external`, also the connections from and to address ranges outside the
    cluster (nodes of kind IPBlock, `analysis.external`)."""
    workloads = fold_owned_pods(cluster.workloads)
    by_workload, workload_nodes = nodes_of(workloads)
    classes = workload_classes(workloads)
    cc = class_connectivity(cluster, classes, external)
    sets = cc.table.sets
    member_ids = [sorted(by_workload[w].id for w in c.members) for c in classes]
    connections: list[Connection] = []
    for s, row in cc.rows.items():
        for d, ports_id in row.items():
            ports = sets[ports_id]
            for src in member_ids[s]:
                for dst in member_ids[d]:
                    if src != dst:
                        connections.append(Connection(src, dst, ports))
    used: dict[AddressRange, Node] = {}
    for d, vector in enumerate(cc.from_ranges):
        for i, pid in enumerate(vector):
            if pid:
                node = _range_node(cc.sources[i], used)
                connections.extend(Connection(node, dst, sets[pid]) for dst in member_ids[d])
    for s, vector in enumerate(cc.to_ranges):
        for i, pid in enumerate(vector):
            if pid:
                node = _range_node(cc.destinations[i], used)
                connections.extend(Connection(src, node, sets[pid]) for src in member_ids[s])
    connections.sort(key=lambda c: (c.src, c.dst))
    nodes = tuple(sorted((*workload_nodes, *used.values()), key=lambda n: n.id))
    return ReachResult(nodes=nodes, connections=tuple(connections), warnings=cluster.warnings)


def _range_node(r: AddressRange, used: dict[AddressRange, Node]) -> str:
    node = used.get(r)
    if node is None:
        name = r.name
        node = used[r] = Node(name, "IPBlock", "", name)
    return node.id
