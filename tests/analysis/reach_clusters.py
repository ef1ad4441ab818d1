"""Small clusters built straight from the model, for the analysis tests."""

from __future__ import annotations

import ipaddress

from vfpnet.k8s.model import (
    NAMESPACE_NAME_LABEL,
    Cluster,
    ClusterPolicy,
    ClusterPolicyPeer,
    ClusterPolicyPort,
    ClusterPolicyRule,
    ClusterPolicySubject,
    ContainerPort,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    Workload,
    cluster_policy_order,
)


def ns(name: str, **labels: str) -> Namespace:
    return Namespace(name, Labels.of({**labels, NAMESPACE_NAME_LABEL: name}))


def sel(**labels: str) -> LabelSelector:
    return LabelSelector(Labels.of(labels))


def wl(
    namespace: str, name: str, kind: str = "Deployment", ports: tuple[ContainerPort, ...] = (),
    ips: tuple[str, ...] = (), **labels: str,
) -> Workload:
    return Workload(
        kind, namespace, name, Labels.of(labels), ports,
        tuple(ipaddress.ip_address(i) for i in ips),
    )


def cluster(
    namespaces: list[Namespace], workloads: list[Workload],
    nps: list[NetworkPolicy] | None = None, cps: list[ClusterPolicy] | None = None,
) -> Cluster:
    return Cluster(
        namespaces=tuple(sorted(namespaces, key=lambda n: n.name)),
        workloads=tuple(sorted(workloads, key=lambda w: (w.namespace, w.name, w.kind))),
        network_policies=tuple(nps or ()),
        cluster_policies=tuple(sorted(cps or (), key=cluster_policy_order)),
    )


__all__ = [
    "ClusterPolicy", "ClusterPolicyPeer", "ClusterPolicyPort", "ClusterPolicyRule",
    "ClusterPolicySubject", "ContainerPort", "IPBlock", "NetworkPolicy", "NetworkPolicyPeer",
    "NetworkPolicyPort", "NetworkPolicyRule", "cluster", "ns", "sel", "wl",
]
