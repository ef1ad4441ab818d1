"""The nodes of the output: which workloads they are and their ids.

Ids follow CONTRACTS.md: `NS/NAME`, or `NS/NAME[Kind]` for every object whose `NS/NAME`
is shared with an object of another kind. A Pod made by a controller (a controller
ownerReference to anything but a Node) is shown as that controller, as netpol-analyzer
does: the Pods of one ReplicaSet, DaemonSet, Job... in a cluster dump are one node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from vfpnet.analysis.result import Node
from vfpnet.errors import InputError
from vfpnet.k8s.model import Workload


def fold_owned_pods(workloads: Sequence[Workload]) -> tuple[Workload, ...]:
    """Each controller-made Pod renamed to its controller, one workload per controller.

    The first in `workloads` order represents the group (the controller object itself when
    the manifests hold it, since it sorts before its pods, else the first pod).
    """
    seen: set[tuple[str, str, str]] = set()
    out: list[Workload] = []
    for w in workloads:
        if w.kind == "Pod" and w.owner is not None and w.owner[0] != "Node":
            w = replace(w, kind=w.owner[0], name=w.owner[1])
        key = (w.namespace, w.kind, w.name)
        if key not in seen:
            seen.add(key)
            out.append(w)
    return tuple(out)


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
