"""Equivalence classes of workloads: those no policy can tell apart.

Policy sees a workload only through its namespace (name and labels), its pod labels, its
container ports and its known IPs. Workloads equal in all of these get the same verdict
for every flow, so the analysis evaluates one representative per class and expands the
result to the members.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vfpnet.k8s.model import ContainerPort, IPAddress, Labels, Workload


@dataclass(frozen=True)
class ClassKey:
    namespace: str
    labels: Labels
    ports: frozenset[ContainerPort]
    ips: frozenset[IPAddress]


@dataclass(frozen=True)
class WorkloadClass:
    representative: Workload
    members: tuple[Workload, ...]


def class_key(w: Workload) -> ClassKey:
    return ClassKey(w.namespace, w.labels, frozenset(w.ports), frozenset(w.ips))


def workload_classes(workloads: Iterable[Workload]) -> tuple[WorkloadClass, ...]:
    """Classes in order of first appearance; the representative is the first member."""
    groups: dict[ClassKey, list[Workload]] = {}
    for w in workloads:
        groups.setdefault(class_key(w), []).append(w)
    return tuple(WorkloadClass(ms[0], tuple(ms)) for ms in groups.values())
