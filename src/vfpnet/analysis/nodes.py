"""Node ids of the output (CONTRACTS.md): `NS/NAME`, or `NS/NAME[Kind]` for every object
whose `NS/NAME` is shared with an object of another kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from vfpnet.analysis.result import Node
from vfpnet.errors import InputError
from vfpnet.k8s.model import Workload


def node_ids(workloads: Sequence[Workload]) -> dict[Workload, str]:
    kinds_per_id = Counter(w.id for w in workloads)
    return {
        w: (f"{w.id}[{w.kind}]" if kinds_per_id[w.id] > 1 else w.id) for w in workloads
    }


def nodes_of(workloads: Sequence[Workload]) -> tuple[dict[Workload, Node], tuple[Node, ...]]:
    """Each workload's node, and all nodes sorted by id."""
    ids = node_ids(workloads)
    by_workload = {w: Node(ids[w], w.kind, w.namespace, w.name) for w in workloads}
    return by_workload, tuple(sorted(by_workload.values(), key=lambda n: n.id))


def find_workload(workloads: Sequence[Workload], ref: str, option: str) -> Workload:
    """The workload named by `ref` (`NS/NAME`, `NS/NAME[Kind]`, or `NAME` in `default`)."""
    ids = node_ids(workloads)
    text = ref if "/" in ref.split("[", 1)[0] else f"default/{ref}"
    for w, node_id in ids.items():
        if node_id == text:
            return w
    candidates = sorted(node_id for w, node_id in ids.items() if w.id == text)
    for w in ids:
        if f"{w.id}[{w.kind}]" == text:
            return w
    if candidates:
        raise InputError(
            f"{option} {ref}: ambiguous, name one of: {', '.join(candidates)}"
        )
    raise InputError(f"{option} {ref}: no such workload (expected NS/NAME of a workload)")
