"""A small cluster for evaluator tests, in the shape of the Kubernetes e2e netpol suite:
namespaces x, y, z (label `ns: NAME`), pods a, b, c in each (label `pod: NAME`), every pod
serving 80 and 81 on TCP, UDP and SCTP under names like `serve-80-tcp`; pods x/a and y/a
have known IPs. Tests add policies as YAML text or dicts."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from vfpnet.k8s.load import load_cluster
from vfpnet.k8s.model import Cluster, Workload
from vfpnet.policy.evaluate import FlowVerdict, evaluate_flow

IPS = {"x/a": "10.0.1.1", "y/a": "10.0.2.1"}


def _pod(ns: str, name: str) -> dict[str, Any]:
    ports = [
        {"containerPort": port, "protocol": proto, "name": f"serve-{port}-{proto.lower()}"}
        for port in (80, 81)
        for proto in ("TCP", "UDP", "SCTP")
    ]
    doc: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"pod": name}},
        "spec": {"containers": [{"name": "c", "image": "agnhost", "ports": ports}]},
    }
    ip = IPS.get(f"{ns}/{name}")
    if ip:
        doc["status"] = {"podIP": ip}
    return doc


def base_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for ns in ("x", "y", "z"):
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"ns": ns}}})
        docs.extend(_pod(ns, name) for name in ("a", "b", "c"))
    return docs


def build(*docs: Any, base: bool = True) -> Cluster:
    """The base cluster (unless base=False) plus `docs` (dicts or YAML text)."""
    texts = [yaml.safe_dump_all(base_docs())] if base else []
    texts += [d if isinstance(d, str) else yaml.safe_dump(d) for d in docs]
    with tempfile.TemporaryDirectory(prefix="vt") as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text("\n---\n".join(texts))
        return load_cluster([str(path)])


def pod(cluster: Cluster, ident: str) -> Workload:
    """The workload `NS/NAME` of `cluster`."""
    ns, name = ident.split("/")
    (found,) = [w for w in cluster.workloads if w.namespace == ns and w.name == name]
    return found


def flow(
    cluster: Cluster, src: str, dst: str, port: int = 80, protocol: str = "TCP"
) -> FlowVerdict:
    """evaluate_flow with ends named `NS/NAME` (a workload) or an IP address."""
    ends = [pod(cluster, e) if "/" in e else e for e in (src, dst)]
    return evaluate_flow(cluster, ends[0], ends[1], protocol, port)


def allowed(cluster: Cluster, src: str, dst: str, port: int = 80, protocol: str = "TCP") -> bool:
    return flow(cluster, src, dst, port, protocol).allowed


Doc = dict[str, Any]
ALL_NS: Doc = {"namespaces": {}}


def netpol(name: str, ns: str, **spec: Any) -> Doc:
    """A NetworkPolicy; keyword arguments are its spec fields (podSelector defaults to
    all pods)."""
    spec.setdefault("podSelector", {})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def cnp(name: str, tier: str, priority: int, subject: Doc | None = None, **rules: Any) -> Doc:
    """A v1alpha2 ClusterNetworkPolicy (subject defaults to every namespace)."""
    return {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name},
            "spec": {"tier": tier, "priority": priority, "subject": subject or ALL_NS, **rules}}


def anp(name: str, priority: int, subject: Doc | None = None, **rules: Any) -> Doc:
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": name},
            "spec": {"priority": priority, "subject": subject or ALL_NS, **rules}}


def banp(subject: Doc | None = None, **rules: Any) -> Doc:
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1",
            "kind": "BaselineAdminNetworkPolicy", "metadata": {"name": "default"},
            "spec": {"subject": subject or ALL_NS, **rules}}


def ns_sel(name: str) -> Doc:
    return {"matchLabels": {"ns": name}}


def pod_sel(name: str) -> Doc:
    return {"matchLabels": {"pod": name}}
