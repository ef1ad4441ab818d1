"""Loading manifests: files, directories, multi-document YAML, JSON, lists, every workload
kind, defaults (namespace, protocol, policyTypes), undeclared namespaces, skipped kinds."""

from __future__ import annotations

import io
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import (
    BANP_PRIORITY,
    Cluster,
    ContainerPort,
    Labels,
    LabelSelector,
    NetworkPolicyPort,
    Workload,
)

ManifestWriter = Callable[..., str]


def workload(cluster: Cluster, kind: str, name: str) -> Workload:
    (found,) = [w for w in cluster.workloads if w.kind == kind and w.name == name]
    return found


POD_TEMPLATE = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "c", "image": "i",
                             "ports": [{"containerPort": 8080, "name": "http"},
                                       {"containerPort": 53, "protocol": "UDP"}]}]},
}
EXPECTED_PORTS = (ContainerPort(8080, "TCP", "http"), ContainerPort(53, "UDP", None))


@pytest.mark.parametrize(
    ("api_version", "kind", "spec"),
    [
        ("apps/v1", "Deployment", {"template": POD_TEMPLATE}),
        ("apps/v1", "StatefulSet", {"template": POD_TEMPLATE}),
        ("apps/v1", "DaemonSet", {"template": POD_TEMPLATE}),
        ("apps/v1", "ReplicaSet", {"template": POD_TEMPLATE}),
        ("v1", "ReplicationController", {"template": POD_TEMPLATE}),
        ("batch/v1", "Job", {"template": POD_TEMPLATE}),
        ("batch/v1", "CronJob", {"schedule": "@daily",
                                 "jobTemplate": {"spec": {"template": POD_TEMPLATE}}}),
    ],
)
def test_controller_is_one_workload_with_its_pod_template_labels_and_ports(
    write: ManifestWriter, api_version: str, kind: str, spec: dict[str, Any]
) -> None:
    path = write({"apiVersion": api_version, "kind": kind,
                  "metadata": {"name": "w", "namespace": "shop", "labels": {"owner": "x"}},
                  "spec": spec})
    w = workload(load_cluster([path]), kind, "w")
    assert (w.namespace, w.id, w.labels, w.ports, w.ips) == (
        "shop", "shop/w", Labels.of({"app": "web"}), EXPECTED_PORTS, ()
    )


def test_pod_reads_labels_ports_ips_node_and_host_network(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "p", "labels": {"app": "db"}},
                  "spec": {"nodeName": "n1", "hostNetwork": True, **POD_TEMPLATE["spec"]},
                  "status": {"podIP": "10.0.0.7",
                             "podIPs": [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]}})
    p = workload(load_cluster([path]), "Pod", "p")
    assert p.namespace == "default"
    assert p.labels == {"app": "db"}
    assert p.ports == EXPECTED_PORTS
    assert p.ips == (ipaddress.ip_address("10.0.0.7"), ipaddress.ip_address("fd00::7"))
    assert (p.node_name, p.host_network) == ("n1", True)


def test_controller_owner_reference_is_recorded(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "web-7d9f-abcde", "ownerReferences": [
                      {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "1"},
                      {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
                       "uid": "2", "controller": True}]}},
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"}})
    cluster = load_cluster([path])
    assert workload(cluster, "Pod", "web-7d9f-abcde").owner == ("ReplicaSet", "web-7d9f")
    assert workload(cluster, "Pod", "solo").owner is None


def test_sidecar_init_container_ports_count_and_plain_init_containers_do_not(
    write: ManifestWriter,
) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                  "spec": {"containers": [{"name": "c", "image": "i"}],
                           "initContainers": [
                               {"name": "setup", "image": "i",
                                "ports": [{"containerPort": 1}]},
                               {"name": "proxy", "image": "i", "restartPolicy": "Always",
                                "ports": [{"containerPort": 15001, "name": "proxy"}]}]}})
    assert workload(load_cluster([path]), "Pod", "p").ports == (
        ContainerPort(15001, "TCP", "proxy"),
    )


def test_multi_document_yaml_and_empty_documents(write: ManifestWriter) -> None:
    path = write("---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\n"
                 "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n...\n")
    assert [w.name for w in load_cluster([path]).workloads] == ["a", "b"]


def test_kind_list_holds_objects_of_any_kind(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}},
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "x"}}]},
    ]})
    cluster = load_cluster([path])
    assert [n.name for n in cluster.namespaces] == ["x"]
    assert [w.id for w in cluster.workloads] == ["x/a", "x/b"]


def test_typed_lists_give_their_kind_and_api_version_to_items(write: ManifestWriter) -> None:
    path = write(
        {"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "a"}}]},
        {"apiVersion": "v1", "kind": "NamespaceList",
         "items": [{"metadata": {"name": "x", "labels": {"team": "t"}}}]},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList",
         "items": [{"metadata": {"name": "np", "namespace": "x"}, "spec": {}}]},
        {"apiVersion": "apps/v1", "kind": "DeploymentList",
         "items": [{"metadata": {"name": "d"}, "spec": {"template": POD_TEMPLATE}}]},
    )
    cluster = load_cluster([path])
    assert [(w.kind, w.id) for w in cluster.workloads] == [
        ("Pod", "default/a"), ("Deployment", "default/d")
    ]
    assert cluster.namespace("x").labels == {"team": "t", "kubernetes.io/metadata.name": "x"}
    assert [p.id for p in cluster.network_policies] == ["x/np"]


def test_directory_is_read_recursively_and_only_manifest_suffixes(
    write: ManifestWriter, tmp_path: Path
) -> None:
    write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}}, name="d/a.yaml")
    write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}, name="d/sub/b.yml")
    (tmp_path / "d" / "sub" / "c.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c"}})
    )
    (tmp_path / "d" / "notes.txt").write_text("not: [yaml")
    cluster = load_cluster([str(tmp_path / "d")])
    assert [w.name for w in cluster.workloads] == ["a", "b", "c"]
    assert cluster.workloads[2].source == str(tmp_path / "d" / "sub" / "c.json")


def test_same_file_given_twice_is_read_once(write: ManifestWriter, tmp_path: Path) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}})
    assert len(load_cluster([path, str(tmp_path), path]).workloads) == 1


def test_undeclared_namespace_exists_with_only_its_name_label(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "y"}},
                 {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "np", "namespace": "z"}, "spec": {}})
    cluster = load_cluster([path])
    assert [(n.name, n.declared, dict(n.labels)) for n in cluster.namespaces] == [
        ("y", False, {"kubernetes.io/metadata.name": "y"}),
        ("z", False, {"kubernetes.io/metadata.name": "z"}),
    ]


def test_null_label_value_reads_as_empty_string(write: ManifestWriter) -> None:
    path = write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: {flag: }\n")
    assert load_cluster([path]).workloads[0].labels == {"flag": ""}


def test_namespace_name_label_is_always_its_name(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "Namespace",
                  "metadata": {"name": "x", "labels": {"kubernetes.io/metadata.name": "other"}}})
    assert load_cluster([path]).namespace("x").labels == {"kubernetes.io/metadata.name": "x"}


def test_other_kinds_and_unknown_api_versions_are_skipped_with_a_warning(
    write: ManifestWriter,
) -> None:
    path = write({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
                 {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "calico"}, "spec": {"selector": "all()"}},
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}})
    cluster = load_cluster([path])
    assert [w.name for w in cluster.workloads] == ["a"]
    assert cluster.network_policies == ()
    assert cluster.warnings == (
        f"{path}: Service s: skipped: kind not understood",
        f"{path}: NetworkPolicy calico: skipped: apiVersion crd.projectcalico.org/v1 of "
        "NetworkPolicy is not understood",
    )


def test_same_name_in_different_kinds_or_namespaces_is_not_a_duplicate(
    write: ManifestWriter,
) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
                 {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                  "spec": {"template": POD_TEMPLATE}},
                 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "y"}})
    assert len(load_cluster([path]).workloads) == 3


def test_network_policy_defaults_protocol_and_infers_policy_types(write: ManifestWriter) -> None:
    def np(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name}, "spec": spec}

    path = write(
        np("none", {}),
        np("empty-egress", {"egress": []}),
        np("allow-egress", {"egress": [{}], "ingress": [{"ports": [{"port": 80}]}]}),
        np("explicit", {"policyTypes": ["Egress"], "ingress": [{}]}),
        np("empty-types", {"policyTypes": [], "egress": [{}]}),
    )
    got = {p.name: p for p in load_cluster([path]).network_policies}
    assert got["none"].policy_types == {"Ingress"}
    assert got["none"].pod_selector == LabelSelector()
    assert got["empty-egress"].policy_types == {"Ingress"}
    assert got["allow-egress"].policy_types == {"Ingress", "Egress"}
    assert got["allow-egress"].ingress[0].ports == (NetworkPolicyPort("TCP", 80, None),)
    assert got["explicit"].policy_types == {"Egress"}
    assert len(got["explicit"].ingress) == 1  # kept as written, never applied
    assert got["empty-types"].policy_types == {"Ingress", "Egress"}


def test_ip_block_with_host_bits_is_read_as_its_network_with_a_warning(
    write: ManifestWriter,
) -> None:
    path = write({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "np", "namespace": "x"},
                  "spec": {"egress": [{"to": [{"ipBlock": {"cidr": "10.1.2.3/16",
                                                           "except": ["10.1.2.3/24"]}}]}]}})
    cluster = load_cluster([path])
    block = cluster.network_policies[0].egress[0].peers[0].ip_block
    assert block is not None
    assert (block.cidr, block.except_) == (
        ipaddress.ip_network("10.1.0.0/16"), (ipaddress.ip_network("10.1.2.0/24"),)
    )
    assert cluster.warnings == (
        f"{path}: NetworkPolicy x/np: spec.egress[0].to[0].ipBlock.cidr: host bits set, "
        "read as 10.1.0.0/16",
        f"{path}: NetworkPolicy x/np: spec.egress[0].to[0].ipBlock.except[0]: host bits set, "
        "read as 10.1.2.0/24",
    )


def test_peer_selector_absent_and_empty_are_distinguished(write: ManifestWriter) -> None:
    path = write({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "np"},
                  "spec": {"ingress": [{"from": [{"namespaceSelector": {}},
                                                 {"podSelector": {}}]}]}})
    (policy,) = load_cluster([path]).network_policies
    ns_peer, pod_peer = policy.ingress[0].peers
    assert (ns_peer.namespace_selector, ns_peer.pod_selector) == (LabelSelector(), None)
    assert (pod_peer.namespace_selector, pod_peer.pod_selector) == (None, LabelSelector())


def test_cluster_policies_are_mapped_and_put_in_evaluation_order(write: ManifestWriter) -> None:
    subject = {"namespaces": {}}
    rule = {"from": [{"namespaces": {}}]}
    path = write(
        {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
         "metadata": {"name": "default"},
         "spec": {"subject": subject, "ingress": [{"action": "Allow", **rule}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
         "metadata": {"name": "base"},
         "spec": {"tier": "Baseline", "priority": 1000, "subject": subject,
                  "ingress": [{"action": "Deny", **rule}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
         "metadata": {"name": "b-anp"},
         "spec": {"priority": 5, "subject": subject,
                  "ingress": [{"action": "Allow", **rule,
                               "ports": [{"portNumber": {"port": 80}},
                                         {"portRange": {"protocol": "UDP", "start": 1,
                                                        "end": 9}},
                                         {"namedPort": "http"}]}]}},
        {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
         "metadata": {"name": "a-cnp"},
         "spec": {"tier": "Admin", "priority": 5, "subject": subject,
                  "egress": [{"name": "r", "action": "Pass", "to": [{"networks": ["10.1.2.3/8"]}],
                              "protocols": [{"sctp": {"destinationPort": {"number": 9}}}]}]}},
    )
    policies = load_cluster([path]).cluster_policies
    assert [(p.kind, p.name, p.tier, p.priority) for p in policies] == [
        ("ClusterNetworkPolicy", "a-cnp", "Admin", 5),
        ("AdminNetworkPolicy", "b-anp", "Admin", 5),
        ("ClusterNetworkPolicy", "base", "Baseline", 1000),
        ("BaselineAdminNetworkPolicy", "default", "Baseline", BANP_PRIORITY),
    ]
    cnp, anp, _, banp = policies
    assert cnp.egress[0].peers[0].networks == (
        ipaddress.ip_network("10.0.0.0/8"),
    )
    assert (cnp.egress[0].name, cnp.egress[0].action) == ("r", "Pass")
    assert [(p.protocol, p.start, p.end, p.name) for p in cnp.egress[0].ports or ()] == [
        ("SCTP", 9, 9, None)
    ]
    assert anp.ingress[0].action == "Accept"
    assert [(p.protocol, p.start, p.end, p.name) for p in anp.ingress[0].ports or ()] == [
        ("TCP", 80, 80, None), ("UDP", 1, 9, None), (None, None, None, "http")
    ]
    assert banp.ingress[0].action == "Accept"
    assert banp.ingress[0].ports is None


def test_equal_priorities_and_unmodelled_peers_are_warned_about(write: ManifestWriter) -> None:
    def cnp(name: str, egress: list[dict[str, Any]]) -> dict[str, Any]:
        return {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
                "metadata": {"name": name},
                "spec": {"tier": "Admin", "priority": 3, "subject": {"namespaces": {}},
                         "egress": egress}}

    path = write(cnp("one", [{"action": "Deny", "to": [{"nodes": {}}]}]),
                 cnp("two", [{"action": "Accept", "to": [{"domainNames": ["*.example.com"]}]}]))
    assert load_cluster([path]).warnings == (
        f"{path}: ClusterNetworkPolicy one: spec.egress[0].to[0].nodes: nodes peers are not "
        "modelled and match nothing",
        f"{path}: ClusterNetworkPolicy two: spec.egress[0].to[0].domainNames: domainNames peers "
        "are not modelled and match nothing",
        "ClusterNetworkPolicy two: same Admin tier priority 3 as ClusterNetworkPolicy one: "
        "evaluated after it (ties are ordered by name)",
    )


def test_model_objects_are_hashable(write: ManifestWriter) -> None:
    path = write({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
                  "spec": POD_TEMPLATE["spec"]})
    cluster = load_cluster([path])
    assert {cluster.workloads[0]: 1}[workload(cluster, "Pod", "a")] == 1
    assert len({Labels.of({"a": "1", "b": "2"}), Labels.of({"b": "2", "a": "1"})}) == 1


def test_dash_reads_manifests_from_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    cluster = load_cluster(["-", "-"])
    assert [(w.id, w.source) for w in cluster.workloads] == [("default/a", "<stdin>")]
