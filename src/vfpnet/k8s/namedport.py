"""Resolving a named port on a destination workload.

A NetworkPolicy port `{protocol: P, port: NAME}` matches the containerPort named NAME
whose protocol is P. A cluster policy named port (v1alpha2 `destinationNamedPort`,
v1alpha1 `namedPort`) carries no protocol: it matches the containerPort named NAME on that
container port's own protocol. Container port names are unique within a pod (the API
server enforces it per container; across containers of one pod we take every match).
"""

from __future__ import annotations

from vfpnet.k8s.model import ContainerPort, Protocol, Workload


def named_ports(workload: Workload, name: str) -> tuple[ContainerPort, ...]:
    """The container ports of `workload` called `name` (any protocol)."""
    return tuple(p for p in workload.ports if p.name == name)


def resolve_named_port(workload: Workload, name: str, protocol: Protocol) -> tuple[int, ...]:
    """The port numbers that `name` stands for on `workload` for `protocol` (often one,
    empty when the pod has no such port)."""
    return tuple(p.port for p in workload.ports if p.name == name and p.protocol == protocol)
