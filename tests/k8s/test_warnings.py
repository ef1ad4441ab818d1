"""What the API server would refuse but analyzers reading manifests accept: loading goes
on, with one warning line naming file, object and field, and the documented reading."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_docs import Doc, anp, cnp, cnp_egress, container_ports, np, pod

from vfpnet.cli.main import main
from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import ContainerPort, Labels, LabelSelector, NamespacedPod

ManifestWriter = Callable[..., str]
NP = "NetworkPolicy x/np"
CNP = "ClusterNetworkPolicy c"
ANP = "AdminNetworkPolicy a"

# (id, documents, expected warnings after "FILE: ")
CASES: list[tuple[str, list[Doc], list[str]]] = [
    ("name not a DNS subdomain", [pod(name="Web_1")],
     ['Pod x/Web_1: metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain '
      "must consist of lower case alphanumeric characters, '-' or '.', and must start and "
      "end with an alphanumeric character"]),
    ("namespace not a DNS label", [pod(ns="a.b")],
     ['Pod a.b/p: metadata.namespace: Invalid value: "a.b": a lowercase RFC 1123 label must '
      "consist of lower case alphanumeric characters or '-', and must start and end with an "
      "alphanumeric character"]),
    ("namespace name too long",
     [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n" * 64}}],
     [f'Namespace {"n" * 64}: metadata.name: Invalid value: "{"n" * 64}": '
      "must be no more than 63 characters"]),
    ("generateName instead of name",
     [{"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}}],
     ['Pod default/web-: metadata.name: Required value: generateName "web-" used as the name',
      'Pod default/web-: metadata.name: Invalid value: "web-": a lowercase RFC 1123 subdomain '
      "must consist of lower case alphanumeric characters, '-' or '.', and must start and "
      "end with an alphanumeric character"]),
    ("document without kind", [{"apiVersion": "v1", "metadata": {"name": "p"}}],
     ["document 1: skipped: not a Kubernetes object (no kind)"]),
    ("known kind without apiVersion", [{"kind": "Pod", "metadata": {"name": "p"}}],
     ["document 1 Pod: apiVersion: Required value: read as v1"]),
    ("unknown kind without apiVersion", [{"kind": "Gadget", "metadata": {"name": "g"}}],
     ["document 1 Gadget: skipped: kind not understood"]),
    ("legacy NetworkPolicy apiVersion",
     [{**np({}), "apiVersion": "extensions/v1beta1"}],
     [f"{NP}: apiVersion: extensions/v1beta1 is read as networking.k8s.io/v1"]),
    ("duplicate workload", [pod(labels={"v": "1"}), pod(labels={"v": "2"})],
     ['Pod x/p: metadata.name: Duplicate value: "p": also defined in {file}; this later '
      "definition is used"]),
    ("selector unknown field", [np({"podSelector": {"matchLabel": {"a": "b"}}})],
     [f'{NP}: spec.podSelector.matchLabel: unknown field "matchLabel": ignored']),
    ("spec unknown field", [np({"podSelecter": {}})],
     [f'{NP}: spec.podSelecter: unknown field "podSelecter": ignored']),
    ("rule unknown field", [np({"ingress": [{"to": []}]})],
     [f'{NP}: spec.ingress[0].to: unknown field "to": ignored']),
    ("containerPort zero", [container_ports({"containerPort": 0})],
     ["Pod x/p: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between "
      "1 and 65535, inclusive: this port entry is ignored"]),
    ("containerPort missing", [container_ports({"name": "http"}, {"containerPort": 80})],
     ["Pod x/p: spec.containers[0].ports[0].containerPort: Required value: this port entry "
      "is ignored"]),
    ("container port name invalid", [container_ports({"containerPort": 80, "name": "Http_Port"})],
     ['Pod x/p: spec.containers[0].ports[0].name: Invalid value: "Http_Port": must contain '
      "only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]),
    ("container port name duplicate",
     [container_ports({"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"})],
     ['Pod x/p: spec.containers[0].ports[1].name: Duplicate value: "web"']),
    ("container port protocol", [container_ports({"containerPort": 80, "protocol": "ICMP"})],
     ['Pod x/p: spec.containers[0].ports[0].protocol: Unsupported value: "ICMP": supported '
      'values: "TCP", "UDP", "SCTP": this port entry is ignored']),
    ("ownerReference without name",
     [{**pod(), "metadata": {"name": "p", "namespace": "x", "ownerReferences": [
         {"kind": "ReplicaSet", "controller": True}]}}],
     ["Pod x/p: metadata.ownerReferences[0].name: Required value: this ownerReference is "
      "ignored"]),
    ("ownerReference without kind",
     [{**pod(), "metadata": {"name": "p", "namespace": "x", "ownerReferences": [
         {"name": "internal-security", "controller": True}]}}],
     ["Pod x/p: metadata.ownerReferences[0].kind: Required value: read as Pod"]),
    ("cnp priority missing", [cnp({"priority": None})],
     [f"{CNP}: spec.priority: Required value: read as 0"]),
    ("cnp pods without podSelector", [cnp({"subject": {"pods": {"namespaceSelector": {}}}})],
     [f"{CNP}: spec.subject.pods.podSelector: Required value: read as {{}} (selects all)"]),
    ("cnp named port with networks",
     [cnp_egress({"to": [{"networks": ["10.0.0.0/8"]}],
                  "protocols": [{"destinationNamedPort": "http"}]})],
     [f"{CNP}: spec.egress[0]: Invalid value: networks/nodes/domainNames peer cannot be set "
      "with namedPorts since there are no namedPorts for networks/nodes/domainNames: the "
      "named ports never match those peers"]),
    ("anp tier field", [anp({"tier": "Admin"})],
     [f'{ANP}: spec.tier: unknown field "tier": ignored']),
    ("anp pods without selectors",
     [anp({"ingress": [{"action": "Deny", "from": [{"pods": {}}]}]})],
     [f"{ANP}: spec.ingress[0].from[0].pods.namespaceSelector: Required value: read as {{}} "
      "(selects all)",
      f"{ANP}: spec.ingress[0].from[0].pods.podSelector: Required value: read as {{}} "
      "(selects all)"]),
    ("ipBlock with host bits",
     [np({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.1/24"}}]}]})],
     [f"{NP}: spec.ingress[0].from[0].ipBlock.cidr: host bits set, read as 10.0.0.0/24"]),
]


@pytest.mark.parametrize(("docs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_accepted_with_one_warning_line_per_problem(
    write: ManifestWriter, docs: list[Doc], expected: list[str]
) -> None:
    path = write(*docs)
    warnings = load_cluster([path]).warnings
    assert list(warnings) == [f"{path}: {w.replace('{file}', path)}" for w in expected]


def test_reach_exits_0_and_prints_warnings_on_stderr(
    write: ManifestWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(pod(name="Web_1"), pod(name="b"))
    assert main(["reach", "-f", path]) == 0
    out, err = capsys.readouterr()
    assert "x/b" in out
    assert f"{path}: Pod x/Web_1: metadata.name: Invalid value" in err


def test_stray_json_list_and_text_are_skipped(write: ManifestWriter) -> None:
    listing = write('[{"src": "a", "dst": "b"}]\n', name="d/connlist_output.json")
    text = write("just some text\n", name="d/notes.yaml")
    write(pod(), name="d/pod.yaml")
    cluster = load_cluster([listing.rpartition("/")[0]])
    assert [w.id for w in cluster.workloads] == ["x/p"]
    assert cluster.warnings == (
        f"{listing}: document 1: skipped: not a Kubernetes object (a list)",
        f"{text}: document 1: skipped: not a Kubernetes object (a string)",
    )


def test_duplicate_workload_keeps_the_last_definition(write: ManifestWriter) -> None:
    path = write(pod(labels={"v": "1"}), pod(labels={"v": "2"}))
    (w,) = load_cluster([path]).workloads
    assert w.labels == Labels.of({"v": "2"})


def test_dropped_and_kept_container_ports(write: ManifestWriter) -> None:
    path = write(container_ports({"name": "a"}, {"containerPort": 70000},
                                 {"containerPort": 80, "name": "Http_Port"},
                                 {"containerPort": 81, "protocol": "ICMP"},
                                 {"containerPort": 82}))
    (w,) = load_cluster([path]).workloads
    assert w.ports == (ContainerPort(80, "TCP", "Http_Port"), ContainerPort(82, "TCP", None))


def test_missing_selectors_and_priority_read_as_empty_and_zero(write: ManifestWriter) -> None:
    path = write(anp({"priority": None, "subject": {"pods": {}}}))
    (policy,) = load_cluster([path]).cluster_policies
    assert policy.priority == 0
    assert policy.subject.pods == NamespacedPod(LabelSelector(), LabelSelector())


def test_owner_without_kind_is_a_pod(write: ManifestWriter) -> None:
    doc: dict[str, Any] = {**pod(), "metadata": {"name": "p", "namespace": "x",
                                                 "ownerReferences": [{"name": "o",
                                                                      "controller": True}]}}
    (w,) = load_cluster([write(doc)]).workloads
    assert w.owner == ("Pod", "o")


def test_legacy_network_policy_is_enforced(write: ManifestWriter) -> None:
    path = write({**np({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
                  "apiVersion": "extensions/v1beta1"})
    (policy,) = load_cluster([path]).network_policies
    block = policy.ingress[0].peers[0].ip_block
    assert block is not None and block.cidr == ipaddress.ip_network("10.0.0.0/8")


def test_directory_without_manifests_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("not a manifest\n")
    cluster = load_cluster([str(tmp_path)])
    assert cluster.workloads == ()
    assert cluster.warnings == (f"{tmp_path}: no manifests (.yaml, .yml, .json) in directory",)


def test_fifo_in_a_directory_is_passed_over_not_read(write: ManifestWriter) -> None:
    path = write(pod(), name="d/pod.yaml")
    directory = path.rpartition("/")[0]
    # Opening a FIFO with no writer blocks forever: the load would hang if it read it.
    os.mkfifo(f"{directory}/pipe.yaml")
    cluster = load_cluster([directory])
    assert [w.id for w in cluster.workloads] == ["x/p"]
    assert cluster.warnings == ()
