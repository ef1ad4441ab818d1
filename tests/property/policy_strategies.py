"""Hypothesis strategies: random clusters that exercise every corner of policy semantics.

Small vocabularies on purpose (three namespaces, a few labels, ports 53/80/81/8080, names
`http`/`dns`, a /29 of pod IPs) so that selectors, named ports, ipBlocks, priorities and
Pass rules collide often and the interesting cases are hit in every run.
"""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from vfpnet.k8s.model import (
    BANP_PRIORITY,
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
    LabelSelectorRequirement,
    Namespace,
    NamespacedPod,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    Workload,
    cluster_policy_order,
)

NAMESPACES = ("x", "y", "z")
PROTOCOLS = ("TCP", "UDP", "SCTP")
PORT_NUMBERS = (53, 80, 81, 8080)
PORT_NAMES = ("http", "dns")
POD_IPS = tuple(str(ip) for ip in ipaddress.ip_network("10.0.0.0/29").hosts())
CIDRS = (
    "10.0.0.0/29", "10.0.0.0/30", "10.0.0.4/30", "10.0.0.0/16", "0.0.0.0/0", "192.168.0.0/24",
    "fd00::/120", "fd00::/126", "::/0",
)
PROBE_PORTS = (1, 53, 80, 81, 82, 8080)
EXTERNAL_IPS = ("10.0.0.3", "192.168.0.9", "fd00::9")

POD_LABELS = {"app": ("a", "b", "c"), "tier": ("f", "b")}
NS_LABELS = {"env": ("prod", "dev"), "team": ("p", "q")}


def _labels(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[Labels]:
    return st.fixed_dictionaries(
        {}, optional={k: st.sampled_from(v) for k, v in vocab.items()}
    ).map(Labels.of)


def selectors(vocab: dict[str, tuple[str, ...]]) -> st.SearchStrategy[LabelSelector]:
    keys = sorted(vocab)
    values = sorted({v for vs in vocab.values() for v in vs})
    requirement = st.one_of(
        st.builds(
            LabelSelectorRequirement,
            st.sampled_from(keys),
            st.sampled_from(("In", "NotIn")),
            st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True).map(tuple),
        ),
        st.builds(
            LabelSelectorRequirement,
            st.sampled_from(keys),
            st.sampled_from(("Exists", "DoesNotExist")),
        ),
    )
    return st.builds(
        LabelSelector,
        _labels(vocab),
        st.lists(requirement, max_size=2).map(tuple),
    ) | st.just(LabelSelector())


POD_SELECTORS = selectors(POD_LABELS)
NS_SELECTORS = selectors({**NS_LABELS, NAMESPACE_NAME_LABEL: NAMESPACES})


@st.composite
def namespaces(draw: st.DrawFn) -> tuple[Namespace, ...]:
    names = draw(st.lists(st.sampled_from(NAMESPACES), min_size=1, max_size=3, unique=True))
    out = []
    for name in sorted(names):
        labels = draw(_labels(NS_LABELS)).with_label(NAMESPACE_NAME_LABEL, name)
        out.append(Namespace(name, labels))
    return tuple(out)


container_ports = st.builds(
    ContainerPort,
    st.sampled_from(PORT_NUMBERS),
    st.sampled_from(PROTOCOLS),
    st.none() | st.sampled_from(PORT_NAMES),
)


@st.composite
def workloads(draw: st.DrawFn, ns_names: tuple[str, ...]) -> tuple[Workload, ...]:
    count = draw(st.integers(1, 5))
    ips = list(POD_IPS)
    out = []
    for i in range(count):
        kind = draw(st.sampled_from(("Deployment", "Pod", "StatefulSet")))
        ports = draw(st.lists(container_ports, max_size=2, unique_by=lambda p: p.name or p))
        # Undeclared namespaces are legal: a workload may live in one that is only referenced.
        namespace = draw(st.sampled_from((*ns_names, "w")))
        pod_ips: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()
        host_network = False
        if kind == "Pod" and ips and draw(st.booleans()):
            pod_ips = (ipaddress.IPv4Address(ips.pop(draw(st.integers(0, len(ips) - 1)))),)
            if draw(st.integers(0, 3)) == 0:  # dual stack
                pod_ips += (ipaddress.IPv6Address(f"fd00::{i + 1}"),)
            host_network = draw(st.integers(0, 5)) == 0
        out.append(
            Workload(
                kind, namespace, f"w{i}", draw(_labels(POD_LABELS)), tuple(ports), pod_ips,
                host_network=host_network,
            )
        )
    return tuple(sorted(out, key=lambda w: (w.namespace, w.name, w.kind)))


@st.composite
def ip_blocks(draw: st.DrawFn) -> IPBlock:
    cidr = ipaddress.ip_network(draw(st.sampled_from(CIDRS)))
    nets = [ipaddress.ip_network(c) for c in CIDRS]
    candidates = [
        n for n in nets
        if n.version == cidr.version and n != cidr and n.subnet_of(cidr)  # type: ignore[arg-type]
    ]
    candidates.append(next(cidr.subnets(new_prefix=cidr.prefixlen + 1)))
    excepts = draw(st.lists(st.sampled_from(candidates), max_size=1, unique=True))
    return IPBlock(cidr, tuple(excepts))


np_peers = st.one_of(
    st.builds(NetworkPolicyPeer, pod_selector=POD_SELECTORS),
    st.builds(NetworkPolicyPeer, namespace_selector=NS_SELECTORS),
    st.builds(NetworkPolicyPeer, pod_selector=POD_SELECTORS, namespace_selector=NS_SELECTORS),
    st.builds(NetworkPolicyPeer, ip_block=ip_blocks()),
)


@st.composite
def np_ports(draw: st.DrawFn) -> NetworkPolicyPort:
    protocol = draw(st.sampled_from(PROTOCOLS))
    shape = draw(st.sampled_from(("any", "number", "range", "named")))
    if shape == "any":
        return NetworkPolicyPort(protocol)
    if shape == "named":
        return NetworkPolicyPort(protocol, draw(st.sampled_from(PORT_NAMES)))
    port = draw(st.sampled_from(PORT_NUMBERS))
    if shape == "range":
        return NetworkPolicyPort(protocol, port, draw(st.integers(port, port + 2)))
    return NetworkPolicyPort(protocol, port)


np_rules = st.builds(
    NetworkPolicyRule,
    st.lists(np_peers, max_size=2).map(tuple),
    st.lists(np_ports(), max_size=2).map(tuple),
)


@st.composite
def network_policies(draw: st.DrawFn, ns_names: tuple[str, ...]) -> NetworkPolicy:
    ingress = tuple(draw(st.lists(np_rules, max_size=2)))
    egress = tuple(draw(st.lists(np_rules, max_size=2)))
    written = draw(st.sampled_from(((), ("Ingress",), ("Egress",), ("Ingress", "Egress"))))
    types = frozenset(written) if written else frozenset(
        {"Ingress", *(("Egress",) if egress else ())}
    )
    return NetworkPolicy(
        draw(st.sampled_from((*ns_names, "w"))),
        f"np{draw(st.integers(0, 99))}",
        draw(POD_SELECTORS),
        types,  # type: ignore[arg-type]
        ingress,
        egress,
    )


@st.composite
def cp_ports(draw: st.DrawFn) -> ClusterPolicyPort:
    shape = draw(st.sampled_from(("number", "range", "all", "named")))
    if shape == "named":
        return ClusterPolicyPort(name=draw(st.sampled_from(PORT_NAMES)))
    protocol = draw(st.sampled_from(PROTOCOLS))
    if shape == "all":
        return ClusterPolicyPort(protocol, 1, 65535)
    port = draw(st.sampled_from(PORT_NUMBERS))
    end = draw(st.integers(port + 1, port + 2)) if shape == "range" else port
    return ClusterPolicyPort(protocol, port, end)


namespaced_pods = st.builds(NamespacedPod, NS_SELECTORS, POD_SELECTORS)


def cp_peers(egress: bool) -> st.SearchStrategy[ClusterPolicyPeer]:
    options = [
        st.builds(ClusterPolicyPeer, namespaces=NS_SELECTORS),
        st.builds(ClusterPolicyPeer, pods=namespaced_pods),
    ]
    if egress:
        options.append(
            st.lists(st.sampled_from(CIDRS), min_size=1, max_size=2, unique=True).map(
                lambda cs: ClusterPolicyPeer(networks=tuple(ipaddress.ip_network(c) for c in cs))
            )
        )
        options.append(st.builds(ClusterPolicyPeer, nodes=st.just(LabelSelector())))
    return st.one_of(options)


@st.composite
def cp_rules(draw: st.DrawFn, egress: bool, actions: tuple[str, ...]) -> ClusterPolicyRule:
    ports = draw(st.none() | st.lists(cp_ports(), min_size=1, max_size=2).map(tuple))
    return ClusterPolicyRule(
        draw(st.sampled_from(actions)),  # type: ignore[arg-type]
        tuple(draw(st.lists(cp_peers(egress), min_size=1, max_size=2))),
        ports,
        draw(st.sampled_from(("", "r"))),
    )


@st.composite
def cluster_policies(draw: st.DrawFn, index: int) -> ClusterPolicy:
    kind = draw(st.sampled_from(("ClusterNetworkPolicy", "AdminNetworkPolicy",
                                 "BaselineAdminNetworkPolicy")))
    if kind == "ClusterNetworkPolicy":
        tier = draw(st.sampled_from(("Admin", "Baseline")))
        actions: tuple[str, ...] = ("Accept", "Deny", "Pass")
    elif kind == "AdminNetworkPolicy":
        tier, actions = "Admin", ("Accept", "Deny", "Pass")
    else:
        tier, actions = "Baseline", ("Accept", "Deny")
    subject = draw(st.one_of(
        st.builds(ClusterPolicySubject, namespaces=NS_SELECTORS),
        st.builds(ClusterPolicySubject, pods=namespaced_pods),
    ))
    name = "default" if kind == "BaselineAdminNetworkPolicy" else f"cp{index}"
    priority = BANP_PRIORITY if kind == "BaselineAdminNetworkPolicy" else draw(st.integers(0, 2))
    return ClusterPolicy(
        kind,  # type: ignore[arg-type]
        name,
        tier,  # type: ignore[arg-type]
        priority,
        subject,
        tuple(draw(st.lists(cp_rules(False, actions), max_size=3))),
        tuple(draw(st.lists(cp_rules(True, actions), max_size=3))),
    )


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    nss = draw(namespaces())
    ns_names = tuple(n.name for n in nss)
    wls = draw(workloads(ns_names))
    nps = draw(st.lists(network_policies(ns_names), max_size=3, unique_by=lambda p: p.id))
    cps = [draw(cluster_policies(i)) for i in range(draw(st.integers(0, 3)))]
    # At most one BaselineAdminNetworkPolicy (it is a singleton named `default`).
    seen_banp = False
    kept = []
    for cp in cps:
        if cp.kind == "BaselineAdminNetworkPolicy":
            if seen_banp:
                continue
            seen_banp = True
        kept.append(cp)
    all_ns = {n.name for n in nss}
    extra = sorted(({w.namespace for w in wls} | {p.namespace for p in nps}) - all_ns)
    nss = tuple(sorted(
        (*nss, *(Namespace(n, Labels.of({NAMESPACE_NAME_LABEL: n}), declared=False)
                 for n in extra)),
        key=lambda n: n.name,
    ))
    return Cluster(
        namespaces=nss,
        workloads=wls,
        network_policies=tuple(sorted(nps, key=lambda p: (p.namespace, p.name))),
        cluster_policies=tuple(sorted(kept, key=cluster_policy_order)),
    )
