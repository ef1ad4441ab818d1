"""`reach` on small hand-built clusters: the verdicts the spec gives."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from reach_clusters import (
    ClusterPolicy,
    ClusterPolicyPeer,
    ClusterPolicyPort,
    ClusterPolicyRule,
    ClusterPolicySubject,
    ContainerPort,
    IPBlock,
    NetworkPolicy,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicyRule,
    cluster,
    ns,
    sel,
    wl,
)

from vfpnet.analysis.reach import reach
from vfpnet.analysis.result import ReachResult
from vfpnet.k8s.model import LabelSelector


def _allowed(result: ReachResult) -> dict[tuple[str, str], dict[str, list[list[int]]]]:
    # Workload pairs only: IPBlock ids (address ranges) have no `/`.
    return {
        (c.src, c.dst): c.allowed.as_dict()
        for c in result.connections
        if "/" in c.src and "/" in c.dst
    }


ALL = {"TCP": [[1, 65535]], "UDP": [[1, 65535]], "SCTP": [[1, 65535]]}


def test_no_policy_allows_everything_between_distinct_workloads() -> None:
    c = cluster([ns("a")], [wl("a", "x", app="x"), wl("a", "y", app="y")])
    assert _allowed(reach(c)) == {("a/x", "a/y"): ALL, ("a/y", "a/x"): ALL}


def test_ingress_policy_with_named_port_allows_only_that_port() -> None:
    web = wl("a", "web", ports=(ContainerPort(8080, "TCP", "http"),), app="web")
    np = NetworkPolicy(
        "a", "web", sel(app="web"), frozenset({"Ingress"}),
        ingress=(NetworkPolicyRule(
            peers=(NetworkPolicyPeer(pod_selector=sel(app="cli")),),
            ports=(NetworkPolicyPort("TCP", "http"),),
        ),),
    )
    c = cluster([ns("a")], [web, wl("a", "cli", app="cli"), wl("a", "other", app="o")], [np])
    got = _allowed(reach(c))
    assert got[("a/cli", "a/web")] == {"TCP": [[8080, 8080]]}
    assert ("a/other", "a/web") not in got
    assert got[("a/web", "a/cli")] == ALL


def test_egress_named_port_resolves_per_destination() -> None:
    d1 = wl("b", "d1", ports=(ContainerPort(80, "TCP", "web"),), app="d")
    d2 = wl("b", "d2", ports=(ContainerPort(81, "TCP", "web"),), app="d", v="2")
    np = NetworkPolicy(
        "a", "eg", LabelSelector(), frozenset({"Egress"}),
        egress=(NetworkPolicyRule(ports=(NetworkPolicyPort("TCP", "web"),)),),
    )
    c = cluster([ns("a"), ns("b")], [wl("a", "s", app="s"), d1, d2], [np])
    got = _allowed(reach(c))
    assert got[("a/s", "b/d1")] == {"TCP": [[80, 80]]}
    assert got[("a/s", "b/d2")] == {"TCP": [[81, 81]]}


def test_admin_pass_defers_to_network_policy_and_deny_wins_over_it() -> None:
    np = NetworkPolicy(
        "a", "allow-all", LabelSelector(), frozenset({"Ingress"}),
        ingress=(NetworkPolicyRule(),),
    )
    anp = ClusterPolicy(
        "ClusterNetworkPolicy", "admin", "Admin", 10,
        ClusterPolicySubject(namespaces=sel(**{"kubernetes.io/metadata.name": "a"})),
        ingress=(
            ClusterPolicyRule("Pass", (ClusterPolicyPeer(namespaces=LabelSelector()),),
                              (ClusterPolicyPort("TCP", 80, 80),)),
            ClusterPolicyRule("Deny", (ClusterPolicyPeer(namespaces=LabelSelector()),)),
        ),
    )
    c = cluster([ns("a"), ns("b")], [wl("a", "t", app="t"), wl("b", "s", app="s")], [np], [anp])
    got = _allowed(reach(c))
    assert got[("b/s", "a/t")] == {"TCP": [[80, 80]]}


def test_ipblock_matches_only_pods_with_a_known_ip() -> None:
    np = NetworkPolicy(
        "a", "ipb", sel(app="t"), frozenset({"Ingress"}),
        ingress=(NetworkPolicyRule(peers=(NetworkPolicyPeer(ip_block=IPBlock(
            ipaddress.ip_network("10.0.0.0/24"), (ipaddress.ip_network("10.0.0.128/25"),),
        )),)),),
    )
    c = cluster(
        [ns("a")],
        [wl("a", "t", app="t"), wl("a", "in", kind="Pod", ips=("10.0.0.5",), app="i"),
         wl("a", "ex", kind="Pod", ips=("10.0.0.200",), app="i"), wl("a", "noip", app="i")],
        [np],
    )
    got = _allowed(reach(c))
    assert ("a/in", "a/t") in got
    assert ("a/ex", "a/t") not in got
    assert ("a/noip", "a/t") not in got


def test_host_network_pod_is_an_ordinary_pod_for_policy() -> None:
    np = NetworkPolicy(
        "a", "from-h", sel(app="t"), frozenset({"Ingress"}),
        ingress=(NetworkPolicyRule(peers=(NetworkPolicyPeer(pod_selector=sel(app="h")),)),),
    )
    deny_host = NetworkPolicy("a", "deny-h", sel(app="h"), frozenset({"Ingress"}))
    host = replace(wl("a", "host", kind="Pod", ips=("10.9.0.1",), app="h"), host_network=True)
    c = cluster([ns("a")], [wl("a", "t", app="t"), host], [np, deny_host])
    got = _allowed(reach(c))
    assert ("a/host", "a/t") in got  # selected as a peer
    assert ("a/t", "a/host") not in got  # and isolated as a subject


def test_baseline_applies_only_where_no_network_policy_isolates() -> None:
    banp = ClusterPolicy(
        "BaselineAdminNetworkPolicy", "default", "Baseline", 1001,
        ClusterPolicySubject(namespaces=LabelSelector()),
        ingress=(ClusterPolicyRule("Deny", (ClusterPolicyPeer(namespaces=LabelSelector()),)),),
    )
    np = NetworkPolicy(
        "a", "open", sel(app="open"), frozenset({"Ingress"}), ingress=(NetworkPolicyRule(),),
    )
    c = cluster(
        [ns("a")], [wl("a", "open", app="open"), wl("a", "closed", app="closed")], [np], [banp],
    )
    got = _allowed(reach(c))
    assert ("a/closed", "a/open") in got
    assert ("a/open", "a/closed") not in got
