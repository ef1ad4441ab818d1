"""Workload-level connectivity: for every ordered pair of workloads, the allowed ports.

A connection from A to B on (protocol, port) needs egress allowed at A towards B and
ingress allowed at B from A. Both are read from the compiled rule IR, per equivalence
class of workloads (`analysis.classes`) rather than per workload:

1. compile the IR of one representative per class (selectors resolve to classes);
2. for each distinct egress rule list, the destinations split by which of its rules match
   them; each such signature gives one allowed port set (`policy.decide.allowed_ports`);
   the same for ingress and sources;
3. a class pair's ports are egress & ingress, memoized on the pair of port sets;
4. members are expanded, pairs of a workload with itself left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from vfpnet.analysis.classes import WorkloadClass, workload_classes
from vfpnet.analysis.nodes import nodes_of
from vfpnet.analysis.result import Connection, ReachResult
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


def _peer_vectors(
    rule_lists: Sequence[EndpointRules],
    class_index: dict[str, int],
    table: _PortSetTable,
) -> list[list[int]]:
    """For each endpoint's rule list, the interned allowed port set towards every class."""
    n = len(class_index)
    by_rules: dict[tuple[int, ...], list[int]] = {}
    out: list[list[int]] = []
    for rl in rule_lists:
        rules = rl.rules
        memo_key = tuple(id(r) for r in rules)
        vector = by_rules.get(memo_key)
        if vector is None:
            vector = _vector(rules, n, class_index, table)
            by_rules[memo_key] = vector
        out.append(vector)
    return out


def _vector(
    rules: tuple[Rule, ...], n: int, class_index: dict[str, int], table: _PortSetTable
) -> list[int]:
    # Rules matching every peer are the same for all classes, so a class's signature is
    # the tuple of the other rules that match it.
    specific: list[list[int]] = [[] for _ in range(n)]
    for i, rule in enumerate(rules):
        if rule.peers.any_peer:
            continue
        for key in rule.peers.endpoints:
            c = class_index.get(key)
            if c is not None:
                specific[c].append(i)
    by_signature: dict[tuple[int, ...], int] = {}
    vector = [0] * n
    for c in range(n):
        sig = tuple(specific[c])
        found = by_signature.get(sig)
        if found is None:
            chosen = set(sig)
            matching = [r for i, r in enumerate(rules) if r.peers.any_peer or i in chosen]
            found = table.intern(allowed_ports(matching))
            by_signature[sig] = found
        vector[c] = found
    return vector


def class_connectivity(
    cluster: Cluster, classes: Sequence[WorkloadClass]
) -> tuple[list[list[int]], _PortSetTable]:
    """matrix[s][d] = interned ports allowed from class s to class d."""
    reps = [c.representative for c in classes]
    compiled = compile_cluster(cluster, reps)
    keys = [endpoint_key(w) for w in reps]
    class_index = {k: i for i, k in enumerate(keys)}
    table = _PortSetTable()
    egress = _peer_vectors([compiled.egress[k] for k in keys], class_index, table)
    ingress = _peer_vectors([compiled.ingress[k] for k in keys], class_index, table)
    n = len(keys)
    matrix: list[list[int]] = []
    inter = table.intersect
    for s in range(n):
        eg = egress[s]
        row = [0] * n
        for d in range(n):
            e = eg[d]
            if e:
                i = ingress[d][s]
                if i:
                    row[d] = inter(e, i)
        matrix.append(row)
    return matrix, table


def reach(cluster: Cluster) -> ReachResult:
    """Every ordered pair of distinct workloads with something allowed, and its ports."""
    by_workload, nodes = nodes_of(cluster.workloads)
    classes = workload_classes(cluster.workloads)
    matrix, table = class_connectivity(cluster, classes)
    member_ids = [sorted(by_workload[w].id for w in c.members) for c in classes]
    connections: list[Connection] = []
    for s, row in enumerate(matrix):
        for d, ports_id in enumerate(row):
            if not ports_id:
                continue
            ports = table.sets[ports_id]
            for src in member_ids[s]:
                for dst in member_ids[d]:
                    if src != dst:
                        connections.append(Connection(src, dst, ports))
    connections.sort(key=lambda c: (c.src, c.dst))
    return ReachResult(nodes=nodes, connections=tuple(connections), warnings=cluster.warnings)
