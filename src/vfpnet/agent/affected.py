"""Which local endpoints a Pod's label change can touch, so only those are recompiled.

A Pod relabel changes an endpoint's rules only when (a) the Pod is that endpoint (its own
subject selection), or (b) a policy that applies to the endpoint has a peer selector
that matches the Pod before or after the change (the Pod enters or leaves a peer set).
A change of anything else (addresses, ports on which named ports resolve, node,
hostNetwork, namespaces, policies) is not narrowed here: everything is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable

from vfpnet.k8s.model import (
    Cluster,
    ClusterPolicyPeer,
    LabelSelector,
    NetworkPolicy,
    NetworkPolicyPeer,
    Workload,
)
from vfpnet.k8s.selector import selector_matches


def only_labels_changed(before: Workload, after: Workload) -> bool:
    return (before.ips, before.ports, before.node_name, before.host_network) == (
        after.ips, after.ports, after.node_name, after.host_network
    )


def _np_peer_matches(
    cluster: Cluster, policy: NetworkPolicy, peer: NetworkPolicyPeer, pod: Workload
) -> bool:
    if peer.pod_selector is None and peer.namespace_selector is None:
        return False  # an ipBlock: addresses, not labels
    if peer.namespace_selector is None:
        if pod.namespace != policy.namespace:
            return False
    elif not selector_matches(peer.namespace_selector, cluster.namespace_labels(pod.namespace)):
        return False
    return selector_matches(peer.pod_selector or LabelSelector(), pod.labels)


def _cp_peer_matches(cluster: Cluster, peer: ClusterPolicyPeer, pod: Workload) -> bool:
    ns_labels = cluster.namespace_labels(pod.namespace)
    if peer.namespaces is not None:
        return selector_matches(peer.namespaces, ns_labels)
    if peer.pods is not None:
        return selector_matches(peer.pods.namespace_selector, ns_labels) and selector_matches(
            peer.pods.pod_selector, pod.labels
        )
    return False


def policies_peering(cluster: Cluster, pods: Iterable[Workload]) -> set[str]:
    """Ids of the policies (`NS/NAME` for NetworkPolicies, the name for cluster-scoped
    ones) with a peer selector that matches one of `pods`."""
    found: set[str] = set()
    pods = [p for p in pods if not p.host_network]
    for np in cluster.network_policies:
        if any(
            _np_peer_matches(cluster, np, peer, pod)
            for rule in (*np.ingress, *np.egress) for peer in rule.peers for pod in pods
        ):
            found.add(np.id)
    for cp in cluster.cluster_policies:
        if any(
            _cp_peer_matches(cluster, peer, pod)
            for rule in (*cp.ingress, *cp.egress) for peer in rule.peers for pod in pods
        ):
            found.add(cp.name)
    return found

