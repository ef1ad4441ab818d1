"""Workload-level connectivity: for every ordered pair of workloads, the allowed ports.

A connection from A to B on (protocol, port) needs egress allowed at A towards B and
ingress allowed at B from A. Both are read from the compiled rule IR, per equivalence
class of workloads (`analysis.classes`) rather than per workload:

1. compile the IR of one representative per class (selectors resolve to classes);
2. for each distinct egress rule list, the allowed ports towards every class at once
   (`analysis.vectors`: a default and exceptions); the same for ingress and sources;
3. a class pair's ports are egress & ingress, memoized on the pair of port sets; only
   pairs where both can be non-empty are visited, so the work follows the output;
4. members are expanded, pairs of a workload with itself left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
from vfpnet.analysis.vectors import PortSetTable, VectorBuilder, bits, range_vectors
from vfpnet.k8s.model import Cluster
from vfpnet.policy.compile import compile_cluster, endpoint_key


@dataclass
class ClassConnectivity:
    """`rows[s][d]`: interned ports allowed from class s to class d (non-empty only);
    `from_ranges[d][i]` / `to_ranges[s][i]`: from / to external range i (`external`)."""

    rows: dict[int, dict[int, int]]
    table: PortSetTable
    sources: tuple[AddressRange, ...] = ()
    destinations: tuple[AddressRange, ...] = ()
    from_ranges: list[list[int]] = field(default_factory=list)
    to_ranges: list[list[int]] = field(default_factory=list)


def class_connectivity(
    cluster: Cluster, classes: Sequence[WorkloadClass], external: bool = True
) -> ClassConnectivity:
    """The ports allowed between classes (and, if `external`, with address ranges)."""
    reps = [c.representative for c in classes]
    compiled = compile_cluster(cluster, reps)
    keys = [endpoint_key(w) for w in reps]
    class_index = {k: i for i, k in enumerate(keys)}
    table = PortSetTable()
    builder = VectorBuilder(class_index, table)
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
                candidates = bits(reachable)
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
        result.from_ranges = range_vectors(
            [compiled.ingress[k] for k in keys], RangeMatcher(result.sources), builder
        )
        result.to_ranges = range_vectors(
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
    # (src, dst, port set id) triples sort fast; Connections are made once, in order.
    triples: list[tuple[str, str, int]] = []
    for s, row in cc.rows.items():
        for d, ports_id in row.items():
            for src in member_ids[s]:
                for dst in member_ids[d]:
                    if src != dst:
                        triples.append((src, dst, ports_id))
    used: dict[AddressRange, Node] = {}
    for d, vector in enumerate(cc.from_ranges):
        for i, pid in enumerate(vector):
            if pid:
                node = _range_node(cc.sources[i], used)
                triples.extend((node, dst, pid) for dst in member_ids[d])
    for s, vector in enumerate(cc.to_ranges):
        for i, pid in enumerate(vector):
            if pid:
                node = _range_node(cc.destinations[i], used)
                triples.extend((src, node, pid) for src in member_ids[s])
    triples.sort()
    connections = tuple(Connection(src, dst, sets[pid]) for src, dst, pid in triples)
    nodes = tuple(sorted((*workload_nodes, *used.values()), key=lambda n: n.id))
    return ReachResult(nodes=nodes, connections=connections, warnings=cluster.warnings)


def _range_node(r: AddressRange, used: dict[AddressRange, Node]) -> str:
    node = used.get(r)
    if node is None:
        name = r.name
        node = used[r] = Node(name, "IPBlock", "", name)
    return node.id
